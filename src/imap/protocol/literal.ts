// Literal payloads. Small literals live in memory; big ones (an APPEND of 50 MB) are streamed into
// a sink as they arrive so that no single string or Buffer ever holds the whole message.
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

/** A literal's payload, wherever it lives. */
export interface LiteralBody {
  readonly size: number;
  /** The bytes in order, chunk by chunk. */
  chunks(): AsyncIterable<Buffer>;
  /** The whole payload in one Buffer. Only for callers that know it is small. */
  toBuffer(): Promise<Buffer>;
  /** Frees the storage behind a spooled literal (deletes the temp file). Idempotent. */
  dispose(): Promise<void>;
  /** A spooled literal's file (complete once `ready()` resolved), so storage can read it in place. */
  readonly path?: string;
  ready?(): Promise<void>;
}

/** Receives a big literal while it arrives; `end()` hands back the finished body. */
export interface LiteralSink {
  /** Returns false when the caller should wait for `drain()` before feeding more (backpressure). */
  write(chunk: Buffer): boolean;
  drain(): Promise<void>;
  end(): LiteralBody;
  /** The command failed or the connection closed before the literal completed. */
  abort(): void;
}

export type LiteralSinkFactory = (size: number) => LiteralSink;

export class BufferLiteral implements LiteralBody {
  constructor(readonly data: Buffer) {}
  get size(): number {
    return this.data.length;
  }
  async *chunks(): AsyncIterable<Buffer> {
    if (this.data.length > 0) yield this.data;
  }
  async toBuffer(): Promise<Buffer> {
    return this.data;
  }
  async dispose(): Promise<void> {}
}

/** A literal written to a temp file; readable once the write stream has flushed. */
class TempFileLiteral implements LiteralBody {
  private disposed = false;
  constructor(
    readonly path: string,
    readonly size: number,
    private readonly written: Promise<void>,
  ) {}
  async *chunks(): AsyncIterable<Buffer> {
    await this.written;
    if (this.size === 0) return;
    for await (const chunk of createReadStream(this.path)) yield chunk as Buffer;
  }
  ready(): Promise<void> {
    return this.written;
  }
  async toBuffer(): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const chunk of this.chunks()) parts.push(chunk);
    return Buffer.concat(parts, this.size);
  }
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.written.catch(() => undefined);
    await unlink(this.path).catch(() => undefined);
  }
}

/**
 * Default sink factory: one temp file per big literal (in `dir`, default the OS temp dir, looked
 * up when a literal needs it: every connection gets a factory, few ever use it).
 */
export function tempFileSinkFactory(dir?: string): LiteralSinkFactory {
  return (size: number) => {
    const path = join(dir ?? tmpdir(), `roost-literal-${process.pid}-${randomBytes(8).toString('hex')}`);
    const stream: WriteStream = createWriteStream(path, { mode: 0o600 });
    const written = new Promise<void>((resolve, reject) => {
      stream.once('finish', () => resolve());
      stream.once('error', reject);
    });
    // Surfaced through chunks()/toBuffer(); keep an unobserved failure from crashing the process.
    written.catch(() => undefined);
    return {
      write: (chunk) => stream.write(chunk),
      drain: () =>
        stream.writableNeedDrain ? new Promise<void>((resolve) => stream.once('drain', () => resolve())) : Promise.resolve(),
      end: () => {
        stream.end();
        return new TempFileLiteral(path, size, written);
      },
      abort: () => {
        // The file may still be opening; delete it only once the stream has let go of it.
        const remove = () => void unlink(path).catch(() => undefined);
        if (stream.closed) remove();
        else stream.once('close', remove);
        stream.destroy();
      },
    };
  };
}

/** A sink that keeps chunks in memory (tests, or callers that want a chunk callback). */
export function memorySinkFactory(onChunk?: (chunk: Buffer) => void): LiteralSinkFactory {
  return () => {
    const parts: Buffer[] = [];
    return {
      write: (chunk) => {
        parts.push(chunk);
        onChunk?.(chunk);
        return true;
      },
      drain: () => Promise.resolve(),
      end: () => new BufferLiteral(Buffer.concat(parts)),
      abort: () => {
        parts.length = 0;
      },
    };
  };
}
