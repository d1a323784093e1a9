// One client socket: bytes in → CommandReader → one event at a time to the session (strictly in
// order, the next command is read only when the previous one has answered and its output has
// drained), bytes out through a write path with backpressure. STARTTLS swaps the socket underneath;
// COMPRESS=DEFLATE puts raw deflate streams between the socket and the reader / the write path.
import type net from 'node:net';
import tls from 'node:tls';
import zlib from 'node:zlib';
import type { Writable } from 'node:stream';
import { CommandReader, type ReaderEvent } from './protocol/index.js';
import type { ResponseSink } from './commands/fetch-output.js';
import { Logger } from '../log/logger.js';
import { corkForBurst } from '../listeners/write-burst.js';

const log = new Logger('imap: ');

/** Reading pauses when this much unprocessed input is queued behind a running command. */
const MAX_BUFFERED_INPUT = 1024 * 1024;
/** Output written by one command between two turns of the event loop. */
const YIELD_BYTES = 64 * 1024;

export interface ConnectionLimits {
  maxLineLength: number;
  maxLiteralSize: number;
  literalMinus: boolean;
}

export interface ConnectionEvents {
  /** A command or a protocol error, handled to completion before the next one is read. */
  onEvent(ev: ReaderEvent): Promise<void>;
  /** The socket closed (by either side). Called once. */
  onClose(): void;
  /** No input or output for the current timeout. */
  onTimeout(): void;
}

export class ImapConnection {
  private socket: net.Socket;
  private reader: CommandReader;
  private pumping = false;
  private lineWaiter: ((line: string | null) => void) | null = null;
  private closed = false;
  private needDrain = false;
  private events: ConnectionEvents | null = null;
  /** RFC 4978: output goes through this deflate stream (piped to the socket) once COMPRESS is on. */
  private deflate: zlib.DeflateRaw | null = null;
  private flushScheduled = false;
  bytesIn = 0;
  bytesOut = 0;
  secured: boolean;
  readonly remoteIp: string;
  readonly remotePort: number;
  readonly localIp: string;
  readonly localPort: number;

  constructor(
    socket: net.Socket,
    private readonly limits: ConnectionLimits,
    tlsFromStart: boolean,
  ) {
    this.socket = socket;
    this.secured = tlsFromStart;
    this.remoteIp = stripV4Mapped(socket.remoteAddress ?? '');
    this.remotePort = socket.remotePort ?? 0;
    this.localIp = stripV4Mapped(socket.localAddress ?? '');
    this.localPort = socket.localPort ?? 0;
    this.reader = this.newReader();
  }

  private newReader(): CommandReader {
    return new CommandReader({
      maxLineLength: this.limits.maxLineLength,
      maxLiteralSize: this.limits.maxLiteralSize,
      nonSyncLiterals: this.limits.literalMinus ? 'LITERAL-' : 'LITERAL+',
      sendContinuation: () => this.write('+ OK\r\n'),
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  start(events: ConnectionEvents): void {
    this.events = events;
    this.attach(this.socket);
  }

  private attach(socket: net.Socket): void {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.onSocketClose());
    socket.on('timeout', () => this.events?.onTimeout());
  }

  private onData(chunk: Buffer): void {
    this.bytesIn += chunk.length;
    this.reader.push(chunk);
    if (this.pumping && this.reader.bufferedBytes > MAX_BUFFERED_INPUT) this.socket.pause();
    if (this.lineWaiter) this.deliverLine();
    else void this.pump();
  }

  /** Hands complete events to the session one by one; re-entered on each data chunk, runs once. */
  private async pump(): Promise<void> {
    if (this.pumping || this.closed) return;
    this.pumping = true;
    try {
      while (!this.closed) {
        let ev = this.reader.next();
        if (!ev) {
          // A big APPEND literal going to disk: stop taking input until the file catches up.
          await this.reader.sinkDrained();
          ev = this.reader.next();
          if (!ev) break;
        }
        await this.handle(ev);
      }
    } catch (err) {
      // The reader itself failed (handle() catches the session's errors): this connection only.
      log.error(`${this.remoteIp}: reading input failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      this.close('* BYE Internal error occurred. Refer to server log for more information.\r\n');
    } finally {
      this.pumping = false;
      if (!this.closed && this.socket.isPaused()) this.socket.resume();
    }
  }

  private async handle(ev: ReaderEvent): Promise<void> {
    if (ev.kind === 'line') return; // A stray line in raw mode with nobody waiting (cannot happen).
    if (this.reader.bufferedBytes > MAX_BUFFERED_INPUT) this.socket.pause();
    try {
      await this.events!.onEvent(ev);
    } catch (err) {
      // A bug must cost this connection only, never the process.
      log.error(`${this.remoteIp}: command handling failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      this.close('* BYE Internal error occurred. Refer to server log for more information.\r\n');
      return;
    }
    // Responses the client does not read must not pile up in memory: wait before the next command.
    await this.drain();
    if (this.socket.isPaused() && !this.closed) this.socket.resume();
  }

  /**
   * The next raw line (IDLE's DONE, a SASL response), or null when the connection closed. Only
   * for the command being handled; lines already received are returned at once.
   */
  readLine(): Promise<string | null> {
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve) => {
      this.lineWaiter = resolve;
      this.reader.setRawLineMode(true);
      this.deliverLine();
    });
  }

  private deliverLine(): void {
    const waiter = this.lineWaiter;
    if (!waiter) return;
    const ev = this.reader.next();
    if (!ev) return;
    this.lineWaiter = null;
    this.reader.setRawLineMode(false);
    // In raw mode only a line-too-long error can come back; treat it as an unusable line.
    waiter(ev.kind === 'line' ? ev.text : '');
  }

  /** Stops waiting for a raw line (IDLE ended by a timeout); the waiter gets null. */
  cancelReadLine(): void {
    const waiter = this.lineWaiter;
    this.lineWaiter = null;
    this.reader.setRawLineMode(false);
    waiter?.(null);
  }

  /** Response text is latin1 "binary strings" (one char per byte), ASCII in practice. */
  write(data: string | Buffer): void {
    if (this.closed || this.socket.destroyed || this.socket.writableEnded) return;
    const bytes = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
    this.bytesOut += bytes.length;
    if (this.deflate) {
      if (!this.deflate.write(bytes)) this.needDrain = true;
      this.scheduleFlush();
      return;
    }
    // A command's responses leave in one write (write-burst.ts).
    corkForBurst(this.socket);
    if (!this.socket.write(bytes)) this.needDrain = true;
  }

  /** Where responses go: the socket, or the deflate stream in front of it. */
  private get output(): Writable {
    return this.deflate ?? this.socket;
  }

  /**
   * RFC 4978 §4: each burst of responses is flushed (Z_SYNC_FLUSH) so the client can decode it at
   * once; one flush per turn of the event loop keeps a large FETCH compressing well.
   */
  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      if (this.deflate && !this.deflate.writableEnded && !this.deflate.destroyed) this.deflate.flush(zlib.constants.Z_SYNC_FLUSH);
    });
  }

  /** COMPRESS=DEFLATE is on for this connection. */
  get compressed(): boolean {
    return this.deflate !== null;
  }

  /**
   * RFC 4978 §3: after the tagged OK of COMPRESS DEFLATE both directions are raw deflate (RFC
   * 1951, no zlib header). A client that sends data that does not inflate loses its connection.
   */
  startCompression(): void {
    if (this.deflate || this.closed) return;
    const socket = this.socket;
    const deflate = zlib.createDeflateRaw({ level: zlib.constants.Z_DEFAULT_COMPRESSION });
    const inflate = zlib.createInflateRaw();
    deflate.pipe(socket);
    deflate.on('error', () => socket.destroy());
    inflate.on('error', () => socket.destroy());
    socket.removeAllListeners('data');
    socket.on('data', (chunk: Buffer) => {
      if (!inflate.write(chunk)) socket.pause();
    });
    inflate.on('drain', () => {
      if (!this.pumping && !this.closed) socket.resume();
    });
    inflate.on('data', (chunk: Buffer) => this.onData(chunk));
    this.deflate = deflate;
  }

  /** Resolves when the output buffers have room again (or the connection closed). */
  async drain(): Promise<void> {
    while (this.needDrain && !this.closed && !this.socket.destroyed) {
      const out = this.output;
      await new Promise<void>((resolve) => {
        const done = () => {
          out.off('drain', done);
          this.socket.off('close', done);
          resolve();
        };
        out.once('drain', done);
        this.socket.once('close', done);
      });
      this.needDrain = out.writableNeedDrain;
    }
    this.needDrain = false;
  }

  /**
   * The engines' output (FETCH/SEARCH): backpressure through drain(), and a turn of the event loop
   * every YIELD_BYTES so one big FETCH cannot stall every other connection (DESIGN.md §6).
   */
  sink(): ResponseSink {
    let sinceYield = 0;
    return {
      write: (chunk) => {
        this.write(chunk);
        if (this.needDrain) return false;
        sinceYield += chunk.length;
        if (sinceYield < YIELD_BYTES) return true;
        sinceYield = 0;
        return new Promise<void>((resolve) => setImmediate(resolve));
      },
      waitForDrain: async () => {
        if (this.closed) throw new Error('Connection closed while writing a response');
        await this.drain();
        if (this.closed) throw new Error('Connection closed while writing a response');
      },
    };
  }

  setTimeout(ms: number): void {
    this.socket.setTimeout(ms);
  }

  /**
   * RFC 3501 §6.2.1 STARTTLS: the TLS handshake starts right after the tagged OK. Input already
   * buffered in plaintext is discarded (RFC 2595 §3.1: no commands injected before TLS).
   */
  startTls(context: tls.SecureContext): Promise<void> {
    const plain = this.socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('close');
    plain.removeAllListeners('timeout');
    this.reader.close();
    this.reader = this.newReader();
    const secure = new tls.TLSSocket(plain, { isServer: true, secureContext: context });
    this.socket = secure;
    this.attach(secure);
    secure.setTimeout(plain.timeout ?? 0);
    return new Promise((resolve) => {
      secure.once('secure', () => {
        this.secured = true;
        resolve();
      });
      secure.once('close', () => resolve());
    });
  }

  /** Sends `text` (if any) and closes once it is written. */
  close(text?: string): void {
    if (this.closed) return;
    if (text) this.write(text);
    // The deflate stream flushes what is left and then ends the socket it is piped to.
    if (this.deflate) this.deflate.end();
    else this.socket.end();
    // A client that never reads must not keep the socket open.
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onSocketClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.reader.close();
    const waiter = this.lineWaiter;
    this.lineWaiter = null;
    waiter?.(null);
    this.events?.onClose();
  }
}

function stripV4Mapped(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}
