// Where the store reports how long its commits and WAL syncs take (the metrics layer plugs in
// here; the storage layer imports nothing above it). No observer: nothing is measured.
export interface StorageTimings {
  /** An outermost transaction: the work inside, the commit and, with async-fsync, its WAL sync. */
  commit?(seconds: number): void;
  /** One fdatasync of a WAL, on the event loop (`sync`) or in the threadpool (`async`). */
  walSync?(mode: 'sync' | 'async', seconds: number): void;
}

export const storageTimings: StorageTimings = {};
