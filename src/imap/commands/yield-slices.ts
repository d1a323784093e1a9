// Long synchronous steps of a command (sorting 10,000 messages, say) cut into slices of bounded
// work with a turn of the event loop between them, so that another connection's command waits for
// one slice, not for the whole step. Results are those of the unsliced step.
import { performance } from 'node:perf_hooks';

/** Lets the event loop run I/O and other connections' commands before the caller goes on. */
export const nextTurn = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Milliseconds of work per slice for SORT and THREAD. A garbage collection that lands in a slice
 * adds to it: bench/imap-extensions.ts prints the CPU time of the longest turn.
 */
export const SORT_SLICE_MS = 4;

/** Items Array.prototype.sort orders in one piece; merging then moves this many between clock looks. */
const SORT_RUN = 512;

export interface SliceOptions {
  /** Milliseconds of work between two turns of the event loop. */
  sliceMs: number;
  /** sortInSlices: items sorted in one piece, and merged between two looks at the clock. */
  run?: number;
}

/** A clock that says when the current slice is used up; `pause()` yields only then. */
export class SliceClock {
  private deadline: number;

  constructor(private readonly sliceMs: number) {
    this.deadline = performance.now() + sliceMs;
  }

  async pause(): Promise<void> {
    if (performance.now() < this.deadline) return;
    await nextTurn();
    this.deadline = performance.now() + this.sliceMs;
  }
}

/**
 * `items` sorted by `compare` (a new array; `items` is left as it was), as a bottom-up merge sort
 * whose runs and merges are cut into slices. Stable, like Array.prototype.sort: the result is
 * exactly that of `[...items].sort(compare)`.
 */
export async function sortInSlices<T>(items: readonly T[], compare: (a: T, b: T) => number, options: SliceOptions): Promise<T[]> {
  const clock = new SliceClock(options.sliceMs);
  const runLength = options.run ?? SORT_RUN;
  let src: T[] = [];
  for (let i = 0; i < items.length; i += runLength) {
    await clock.pause();
    const run = items.slice(i, i + runLength).sort(compare);
    for (const item of run) src.push(item);
  }
  let dst: T[] = new Array<T>(src.length);
  for (let width = runLength; width < src.length; width *= 2) {
    for (let lo = 0; lo < src.length; lo += 2 * width) {
      const mid = Math.min(lo + width, src.length);
      const hi = Math.min(lo + 2 * width, src.length);
      let i = lo;
      let j = mid;
      let k = lo;
      while (k < hi) {
        if (k % runLength === 0) await clock.pause();
        dst[k++] = j >= hi || (i < mid && compare(src[i]!, src[j]!) <= 0) ? src[i++]! : src[j++]!;
      }
    }
    [src, dst] = [dst, src];
  }
  return src;
}
