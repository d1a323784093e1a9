// Streaming command reader: fed socket chunks in any split, it yields complete commands with their
// arguments, or errors as values. It sends the `+ OK` continuation for synchronizing literals
// (RFC 3501 §7.5) only once it has accepted the literal, handles LITERAL+/LITERAL- (RFC 7888) and
// literal8 (RFC 3516), enforces Dovecot-like line and literal limits, and streams big APPEND
// literals into a sink. Pull model: `push()` bytes, then call `next()` until it returns null, so the
// caller can switch to raw-line mode (IDLE's DONE, AUTHENTICATE responses) between events.
import type { ImapArg, ProtocolError } from './args.js';
import { ByteQueue } from './byte-queue.js';
import { tokenizeFragment, trailingLiteralMarker, type LiteralMarker, type TokenizeState } from './fragment-tokenizer.js';
import { tempFileSinkFactory, type LiteralSink, type LiteralSinkFactory } from './literal.js';

export interface CommandReaderOptions {
  /** Dovecot's imap_max_line_length: bytes of a command outside its literals. */
  maxLineLength?: number;
  /** Largest APPEND literal accepted; bigger ones get `NO [TOOBIG]` before the client sends them. */
  maxLiteralSize?: number;
  /** APPEND literals above this size go to the sink instead of memory. */
  spoolThreshold?: number;
  /** Which non-synchronizing literal extension the server advertises. */
  nonSyncLiterals?: 'LITERAL+' | 'LITERAL-';
  /** Writes the continuation request (`+ OK\r\n`) to the client. */
  sendContinuation: () => void;
  sinkFactory?: LiteralSinkFactory;
}

export type ReaderEvent =
  | { kind: 'command'; tag: string; name: string; args: ImapArg[] }
  | { kind: 'error'; error: ProtocolError }
  /** A whole line in raw-line mode (IDLE `DONE`, SASL responses), without its line end. */
  | { kind: 'line'; text: string };

export const DEFAULT_MAX_LINE_LENGTH = 64 * 1024;
export const DEFAULT_MAX_LITERAL_SIZE = 64 * 1024 * 1024;
export const DEFAULT_SPOOL_THRESHOLD = 256 * 1024;
/** RFC 7888 §4: with LITERAL- only, non-synchronizing literals may carry at most 4096 octets. */
export const LITERAL_MINUS_MAX = 4096;

const LF = 0x0a;
const TOO_LONG = 'Too long argument.';
export const APPEND_TOO_BIG_TEXT = 'Mail size is larger than the maximum size allowed by server configuration';

type Mode =
  | { kind: 'line' }
  | { kind: 'skip-line' }
  | { kind: 'literal'; remaining: number; marker: LiteralMarker; parts: Buffer[]; sink: LiteralSink | null }
  | { kind: 'discard-literal'; remaining: number };

interface CommandState extends TokenizeState {
  tag: string | null;
  name: string | null;
  lineBytes: number;
  /** Set once the command has failed: the rest of it is skipped, then this error is reported. */
  failure: ProtocolError | null;
}

export class CommandReader {
  private readonly queue = new ByteQueue();
  private readonly maxLineLength: number;
  private readonly maxLiteralSize: number;
  private readonly spoolThreshold: number;
  private readonly nonSyncLiterals: 'LITERAL+' | 'LITERAL-';
  private readonly sendContinuation: () => void;
  private readonly sinkFactory: LiteralSinkFactory;
  private mode: Mode = { kind: 'line' };
  private cmd: CommandState = freshCommand();
  private rawLines = false;
  /** Where the LF search resumes, so a line arriving byte by byte is scanned once. */
  private scanFrom = 0;

  constructor(options: CommandReaderOptions) {
    this.maxLineLength = options.maxLineLength ?? DEFAULT_MAX_LINE_LENGTH;
    this.maxLiteralSize = options.maxLiteralSize ?? DEFAULT_MAX_LITERAL_SIZE;
    this.spoolThreshold = options.spoolThreshold ?? DEFAULT_SPOOL_THRESHOLD;
    this.nonSyncLiterals = options.nonSyncLiterals ?? 'LITERAL+';
    this.sendContinuation = options.sendContinuation;
    this.sinkFactory = options.sinkFactory ?? tempFileSinkFactory();
  }

  push(chunk: Buffer): void {
    this.queue.append(chunk);
  }

  /** In raw-line mode every complete line between commands comes back as `{ kind: 'line' }`. */
  setRawLineMode(on: boolean): void {
    this.rawLines = on;
  }

  /** Bytes received but not yet consumed. */
  get bufferedBytes(): number {
    return this.queue.length;
  }

  /** Resolves when the active literal sink can take more data (pause the socket meanwhile). */
  async sinkDrained(): Promise<void> {
    if (this.mode.kind === 'literal' && this.mode.sink) await this.mode.sink.drain();
  }

  /** Releases a half-received spooled literal (connection closed). */
  close(): void {
    if (this.mode.kind === 'literal') this.mode.sink?.abort();
    this.cmd.root.forEach(disposeSpooled);
    this.mode = { kind: 'line' };
    this.cmd = freshCommand();
  }

  /** The next complete event, or null when more input is needed. */
  next(): ReaderEvent | null {
    for (;;) {
      const mode = this.mode;
      switch (mode.kind) {
        case 'skip-line': {
          const lf = this.queue.indexOf(LF);
          if (lf < 0) {
            this.queue.skip(this.queue.length);
            return null;
          }
          this.queue.skip(lf + 1);
          this.mode = { kind: 'line' };
          continue;
        }
        case 'discard-literal': {
          const n = Math.min(mode.remaining, this.queue.length);
          this.queue.skip(n);
          mode.remaining -= n;
          if (mode.remaining > 0) return null;
          this.mode = { kind: 'line' };
          continue;
        }
        case 'literal': {
          const n = Math.min(mode.remaining, this.queue.length);
          if (n > 0) {
            const bytes = this.queue.take(n);
            if (mode.sink) mode.sink.write(bytes);
            else mode.parts.push(bytes);
            mode.remaining -= n;
          }
          if (mode.remaining > 0) return null;
          const arg: ImapArg = mode.sink
            ? { type: 'spooled', body: mode.sink.end(), binary: mode.marker.binary }
            : { type: 'literal', data: Buffer.concat(mode.parts), binary: mode.marker.binary };
          currentList(this.cmd).push(arg);
          this.mode = { kind: 'line' };
          continue;
        }
        case 'line': {
          const event = this.readLine();
          if (event === 'need-more') return null;
          if (event === 'continue') continue;
          return event;
        }
      }
    }
  }

  private readLine(): ReaderEvent | 'need-more' | 'continue' {
    const lf = this.queue.indexOf(LF, this.scanFrom);
    const budget = this.maxLineLength - this.cmd.lineBytes;
    if (lf < 0) {
      this.scanFrom = this.queue.length;
      if (this.queue.length > budget) return this.lineTooLong(false);
      return 'need-more';
    }
    this.scanFrom = 0;
    const contentLength = lf > 0 && this.queue.peek(lf)[lf - 1] === 0x0d ? lf - 1 : lf;
    if (contentLength > budget) return this.lineTooLong(true, lf);
    const frag = this.queue.peek(contentLength);
    this.queue.skip(lf + 1);
    this.cmd.lineBytes += lf + 1;

    if (this.rawLines && this.cmd.tag === null && this.cmd.failure === null) {
      return { kind: 'line', text: frag.toString('utf8') };
    }
    if (this.cmd.failure) return this.skipRestOfCommand(frag);
    return this.parseFragment(frag);
  }

  private parseFragment(frag: Buffer): ReaderEvent | 'continue' {
    let pos = 0;
    if (this.cmd.tag === null) {
      if (frag.length === 0) {
        this.cmd = freshCommand(); // Dovecot ignores empty lines between commands.
        return 'continue';
      }
      const head = readTagAndName(frag);
      if ('reason' in head) return this.fail(frag, { tag: head.tag, status: 'BAD', text: head.reason });
      this.cmd.tag = head.tag;
      this.cmd.name = head.name;
      pos = head.next;
    }
    const result = tokenizeFragment(frag, pos, this.cmd);
    if (!result.ok) return this.fail(frag, { tag: this.cmd.tag, status: 'BAD', text: result.reason });
    if (result.literal) return this.startLiteral(result.literal);
    if (this.cmd.stack.length > 0) return this.finish({ kind: 'error', error: { tag: this.cmd.tag, status: 'BAD', text: "Missing ')'" } });
    return this.finish({ kind: 'command', tag: this.cmd.tag!, name: this.cmd.name!, args: this.cmd.root });
  }

  private startLiteral(marker: LiteralMarker): ReaderEvent | 'continue' {
    const tag = this.cmd.tag;
    // APPEND and RFC 8508 REPLACE / UID REPLACE carry a message literal.
    const name = this.cmd.name?.toUpperCase();
    const first = this.cmd.root[0];
    const isAppend = name === 'APPEND' || name === 'REPLACE' || (name === 'UID' && first?.type === 'atom' && first.value.toUpperCase() === 'REPLACE');
    let error: ProtocolError | null = null;
    if (marker.nonSync && this.nonSyncLiterals === 'LITERAL-' && marker.size > LITERAL_MINUS_MAX) {
      // RFC 7888 §4: tagged BAD with [TOOBIG]; the octets are already on their way, so swallow them.
      error = { tag, status: 'BAD', code: 'TOOBIG', text: 'Non-synchronizing literal size too large' };
    } else if (isAppend && marker.size > this.maxLiteralSize) {
      error = { tag, status: 'NO', code: 'TOOBIG', text: APPEND_TOO_BIG_TEXT };
    } else if (!isAppend && marker.size > this.maxLineLength - this.cmd.lineBytes) {
      // Outside APPEND a literal counts against the line limit, as in Dovecot.
      error = { tag, status: 'BAD', text: 'Literal size too large' };
    }
    if (error) {
      if (!marker.nonSync) {
        // Refused before the client sends it: no `+`, the client gives up on the literal.
        return this.finish({ kind: 'error', error });
      }
      this.cmd.failure = error;
      this.mode = { kind: 'discard-literal', remaining: marker.size };
      return 'continue';
    }
    if (!marker.nonSync) this.sendContinuation();
    const sink = isAppend && marker.size > this.spoolThreshold ? this.sinkFactory(marker.size) : null;
    this.mode = { kind: 'literal', remaining: marker.size, marker, parts: [], sink };
    return 'continue';
  }

  /** Ends the command with `error`, first swallowing a non-synchronizing literal the fragment announced. */
  private fail(frag: Buffer, error: ProtocolError): ReaderEvent | 'continue' {
    const marker = trailingLiteralMarker(frag);
    if (marker?.nonSync) {
      this.cmd.failure = error;
      this.mode = { kind: 'discard-literal', remaining: marker.size };
      return 'continue';
    }
    return this.finish({ kind: 'error', error });
  }

  private skipRestOfCommand(frag: Buffer): ReaderEvent | 'continue' {
    const marker = trailingLiteralMarker(frag);
    if (marker?.nonSync) {
      this.mode = { kind: 'discard-literal', remaining: marker.size };
      return 'continue';
    }
    return this.finish({ kind: 'error', error: this.cmd.failure! });
  }

  private lineTooLong(haveLineEnd: boolean, lf = 0): ReaderEvent {
    const tag = this.cmd.tag ?? tagFromPrefix(this.queue.peek(Math.min(this.queue.length, 256)));
    const error: ProtocolError = { tag, status: 'BAD', text: TOO_LONG };
    if (haveLineEnd) this.queue.skip(lf + 1);
    else {
      // Drop what we have and everything up to the line end, without buffering it.
      this.queue.skip(this.queue.length);
      this.mode = { kind: 'skip-line' };
    }
    this.scanFrom = 0;
    this.finish({ kind: 'error', error });
    return { kind: 'error', error };
  }

  private finish(event: ReaderEvent): ReaderEvent {
    if (event.kind === 'error') {
      for (const arg of this.cmd.root) disposeSpooled(arg);
    }
    this.cmd = freshCommand();
    return event;
  }
}

function freshCommand(): CommandState {
  return { tag: null, name: null, lineBytes: 0, failure: null, root: [], stack: [] };
}

function currentList(state: TokenizeState): ImapArg[] {
  return state.stack.length > 0 ? state.stack[state.stack.length - 1]! : state.root;
}

/** Deletes the spool files of a command that will not run. */
export function disposeSpooled(arg: ImapArg): void {
  if (arg.type === 'spooled') void arg.body.dispose();
  else if (arg.type === 'list') arg.items.forEach(disposeSpooled);
}

/** RFC 3501 §9: tag = 1*<any ASTRING-CHAR except "+">. */
export function isValidTag(tag: string): boolean {
  return tag.length > 0 && /^[\x21-\x7e]+$/.test(tag) && !/[+(){"\\%*]/.test(tag);
}

function tagFromPrefix(bytes: Buffer): string | null {
  const sp = bytes.indexOf(0x20);
  if (sp <= 0) return null;
  const tag = bytes.toString('latin1', 0, sp);
  return isValidTag(tag) ? tag : null;
}

function readTagAndName(frag: Buffer): { tag: string; name: string; next: number } | { tag: string | null; reason: string } {
  let sp = frag.indexOf(0x20);
  const tagEnd = sp < 0 ? frag.length : sp;
  const tag = frag.toString('latin1', 0, tagEnd);
  if (!isValidTag(tag)) return { tag: null, reason: 'Invalid tag.' };
  let i = tagEnd;
  while (frag[i] === 0x20) i++;
  const nameStart = i;
  while (i < frag.length && frag[i] !== 0x20) i++;
  const name = frag.toString('latin1', nameStart, i);
  if (name.length === 0) return { tag, reason: 'Missing command.' };
  if (!/^[A-Za-z0-9._-]+$/.test(name)) return { tag, reason: 'Unknown command.' };
  sp = i;
  return { tag, name: name.toUpperCase(), next: sp };
}
