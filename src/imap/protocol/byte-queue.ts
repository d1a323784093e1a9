// A growable FIFO of bytes: socket chunks are appended, the reader consumes from the front.
// Amortised O(1) per byte even when a client sends one byte per TCP segment.
export class ByteQueue {
  private data = Buffer.alloc(0);
  private start = 0;
  private end = 0;

  get length(): number {
    return this.end - this.start;
  }

  append(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.end + chunk.length > this.data.length) {
      const live = this.length;
      const needed = live + chunk.length;
      if (needed <= this.data.length && this.start > 0) {
        this.data.copy(this.data, 0, this.start, this.end);
      } else {
        const grown = Buffer.allocUnsafe(Math.max(needed, this.data.length * 2, 1024));
        this.data.copy(grown, 0, this.start, this.end);
        this.data = grown;
      }
      this.start = 0;
      this.end = live;
    }
    chunk.copy(this.data, this.end);
    this.end += chunk.length;
  }

  /** Index (relative to the front) of the first `byte` at or after `from`, or -1. */
  indexOf(byte: number, from = 0): number {
    const i = this.data.indexOf(byte, this.start + from);
    return i === -1 || i >= this.end ? -1 : i - this.start;
  }

  /** A copy of the first `n` bytes (safe to keep after later appends). */
  peek(n: number): Buffer {
    return Buffer.from(this.data.subarray(this.start, this.start + Math.min(n, this.length)));
  }

  /** Removes and returns (as a copy) the first `n` bytes. */
  take(n: number): Buffer {
    const out = this.peek(n);
    this.skip(n);
    return out;
  }

  skip(n: number): void {
    this.start += Math.min(n, this.length);
    if (this.start === this.end) {
      this.start = 0;
      this.end = 0;
      // Give back the memory of a big burst once it has been consumed.
      if (this.data.length > 1 << 20) this.data = Buffer.alloc(0);
    }
  }
}
