// Reading a message without holding it whole: a chunk window over a Buffer or a storage BodyReader.
import type { MessageSource } from './types.js';

const CHUNK_SIZE = 256 * 1024;

export function toSource(input: MessageSource | Buffer): MessageSource {
  if (Buffer.isBuffer(input)) {
    const buf = input;
    return { size: buf.length, read: (offset, length) => buf.subarray(offset, Math.min(buf.length, offset + length)) };
  }
  return input;
}

/** Sequential access with one cached chunk; a Buffer source is used directly (no copy). */
export class ChunkedReader {
  readonly size: number;
  private chunk: Buffer = Buffer.alloc(0);
  private chunkStart = 0;
  private readonly whole: Buffer | null;

  constructor(private readonly source: MessageSource | Buffer) {
    this.whole = Buffer.isBuffer(source) ? source : null;
    this.size = Buffer.isBuffer(source) ? source.length : source.size;
  }

  /** Offset of the next LF at or after `from`, or -1. */
  indexOfLf(from: number): number {
    if (this.whole) return this.whole.indexOf(10, from);
    let pos = from;
    while (pos < this.size) {
      this.load(pos);
      const i = this.chunk.indexOf(10, pos - this.chunkStart);
      if (i >= 0) return this.chunkStart + i;
      pos = this.chunkStart + this.chunk.length;
    }
    return -1;
  }

  byteAt(pos: number): number {
    if (this.whole) return this.whole[pos] ?? -1;
    if (pos >= this.size) return -1;
    this.load(pos);
    return this.chunk[pos - this.chunkStart] ?? -1;
  }

  /** Bytes [start, end); a view when possible. */
  slice(start: number, end: number): Buffer {
    if (this.whole) return this.whole.subarray(start, end);
    if (start >= this.chunkStart && end <= this.chunkStart + this.chunk.length) {
      return this.chunk.subarray(start - this.chunkStart, end - this.chunkStart);
    }
    return readRange(this.source as MessageSource, start, end);
  }

  private load(pos: number): void {
    if (pos >= this.chunkStart && pos < this.chunkStart + this.chunk.length) return;
    this.chunkStart = pos;
    this.chunk = (this.source as MessageSource).read(pos, CHUNK_SIZE);
  }
}

/** Reads [start, end) from a source, looping over short reads. */
export function readRange(source: MessageSource | Buffer, start: number, end: number): Buffer {
  if (Buffer.isBuffer(source)) return source.subarray(start, end);
  const parts: Buffer[] = [];
  let pos = start;
  while (pos < end) {
    const got = source.read(pos, end - pos);
    if (got.length === 0) break;
    parts.push(got);
    pos += got.length;
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}
