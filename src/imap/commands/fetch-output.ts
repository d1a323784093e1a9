// Where FETCH/SEARCH responses go: a sink with backpressure (the connection's socket writer) and a
// batcher that packs many short response lines into one write, so `FETCH 1:* (UID FLAGS)` over a
// large mailbox costs one socket write per ~64 KB instead of one per message.
import { once } from 'node:events';
import type { Writable } from 'node:stream';

/**
 * The output the engines write to. `write` returns false when the sink is full (as a Node stream
 * does): the engine then awaits `waitForDrain()` before writing more. A returned Promise is awaited.
 */
export interface ResponseSink {
  write(chunk: Buffer): boolean | Promise<void>;
  waitForDrain(): Promise<void>;
}

/** A sink over a Node writable (the client socket). */
export function writableSink(stream: Writable): ResponseSink {
  return {
    write: (chunk) => stream.write(chunk),
    async waitForDrain() {
      if (stream.destroyed) throw new Error('Connection closed while writing a response');
      // Rejects on 'error'; a close without drain would hang, so race it.
      await Promise.race([once(stream, 'drain'), once(stream, 'close').then(() => {
        throw new Error('Connection closed while writing a response');
      })]);
    },
  };
}

export const DEFAULT_BATCH_BYTES = 64 * 1024;

/**
 * Accumulates response text (latin1 "binary strings": one char per byte, as the BODYSTRUCTURE and
 * ENVELOPE formatters produce) and writes it in batches; raw Buffers (literal bytes) go straight
 * through after the pending text. Call flush() before the tagged reply.
 */
export class ResponseBatcher {
  private pending = '';

  constructor(
    private readonly sink: ResponseSink,
    private readonly batchBytes = DEFAULT_BATCH_BYTES,
  ) {}

  /** Appends text; writes once the batch is full. Await the result only when it is a Promise. */
  text(s: string): void | Promise<void> {
    this.pending += s;
    if (this.pending.length >= this.batchBytes) return this.flush();
  }

  /** Writes pending text and then `chunk`, honouring backpressure. */
  async bytes(chunk: Buffer): Promise<void> {
    if (this.pending.length > 0) await this.flush();
    await this.send(chunk);
  }

  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const chunk = Buffer.from(this.pending, 'latin1');
    this.pending = '';
    await this.send(chunk);
  }

  private async send(chunk: Buffer): Promise<void> {
    const r = this.sink.write(chunk);
    if (r === false) await this.sink.waitForDrain();
    else if (r !== true) await r;
  }
}
