// Durability of WAL commits made with `synchronous=NORMAL` (storage setting durability =
// 'async-fsync'): the commit writes its WAL frames, and this class makes them durable by
// fdatasync()ing the `-wal` file, either right away on the calling thread (syncNow: the same cost
// and guarantee as synchronous=FULL) or in the libuv threadpool (whenDurable: the event loop stays
// free and the copies of one LMTP message, which go to different users' files, sync in parallel).
//
// Why this is as durable as synchronous=FULL (https://www.sqlite.org/pragma.html#pragma_synchronous,
// https://www.sqlite.org/wal.html):
// - In WAL mode a commit is "append frames to the -wal file; the last frame carries the commit
//   mark". FULL adds one sync of the WAL file after those writes and before the commit returns.
//   NORMAL leaves that sync out; SQLite still syncs the WAL before every checkpoint copies it into
//   the database, syncs the database after the checkpoint, and syncs the new WAL header when the
//   WAL is reused from the start. So the only difference is that one fsync, which we do ourselves,
//   after the commit and before anyone is told about it (250 / APPENDUID).
// - fsync/fdatasync act on the file (inode), not on the descriptor: our own descriptor of `-wal`
//   flushes the frames SQLite wrote through its descriptor. fdatasync also flushes the file size
//   (needed to read appended frames back), which is all a commit needs (SQLite's unix VFS uses
//   fdatasync itself when built with HAVE_FDATASYNC; better-sqlite3's build calls fsync, which
//   also writes back timestamps nobody reads). Checked with strace: the commit's pwrite64()s of
//   the -wal, then fdatasync() on a threadpool thread, then the reply. A later sync covers every earlier write to the file, so one fsync that starts after
//   the newest commit makes all earlier commits of this database durable (group commit).
// - No padding is lost: FULL only pads the last frame to a sector when the device lacks
//   POWERSAFE_OVERWRITE, which SQLite's unix VFS assumes by default.
// - On power loss, recovery replays WAL frames while their salts and cumulative checksums match and
//   stops at the last valid commit frame, so an unsynced tail is dropped whole: the database is
//   consistent, it only lacks commits nobody was told about. A kill -9 loses nothing at all (the
//   frames are in the OS page cache once write() returned).
// - The `-wal` file keeps its inode while a connection is open: SQLite resets it in place (new
//   header and salts, writes from offset 0), truncates it in place (wal_checkpoint(TRUNCATE),
//   journal_size_limit), and deletes it only when the last connection closes (which needs the
//   exclusive lock that our open connection prevents) or when journal_mode leaves WAL. We still
//   compare inodes before each sync and reopen if it ever changed (checked in test/storage).
// - A checkpoint that runs inside a commit (wal_autocheckpoint) syncs the WAL first, then the
//   database; the commits it copied are then durable in the database file whatever the WAL does next.
//
// Ordering: replies wait for a sync that *started* after their commit; syncs of one file are
// serialized, and each covers every commit made before it started, so a reply for a later commit
// can never be sent while an earlier commit of the same database is not yet durable.
//
// Errors: if an fsync fails, the kernel may have dropped the dirty pages and a later fsync can
// succeed without them ("fsyncgate"), so a failure is sticky: every later wait on this store fails
// too (the caller answers with a temporary error) until the store is reopened.
import { storageTimings } from '../timings.js';
import { closeSync, fdatasync, fdatasyncSync, fstatSync, openSync, statSync } from 'node:fs';
import { StorageError } from '../types.js';

interface Waiter {
  target: number;
  resolve: () => void;
  reject: (e: Error) => void;
}

export class WalSync {
  private fd: number | null = null;
  private ino = -1;
  private dev = -1;
  /** Descriptors replaced while a sync was using them; closed when it ends. */
  private retired: number[] = [];
  /** Commits made (numbered 1..); commits up to durableSeq are known durable. */
  private commitSeq = 0;
  private durableSeq = 0;
  private inFlight = false;
  private waiters: Waiter[] = [];
  private failed: StorageError | null = null;
  private closed = false;

  constructor(
    readonly walPath: string,
    /** The sync call; replaceable in tests. */
    private readonly syncAsync: (fd: number, cb: (err: Error | null) => void) => void = fdatasync,
  ) {}

  /** Records a commit that wrote WAL frames (call right after it returned). */
  noteCommit(): void {
    this.commitSeq++;
  }

  /** True when every recorded commit is known durable. */
  get idle(): boolean {
    return this.durableSeq >= this.commitSeq && !this.inFlight;
  }

  /** Makes every commit so far durable on this thread (synchronous=FULL's cost and guarantee). */
  syncNow(): void {
    if (this.failed) throw this.failed;
    if (this.durableSeq >= this.commitSeq) return;
    const covers = this.commitSeq;
    try {
      const started = storageTimings.walSync ? performance.now() : 0;
      fdatasyncSync(this.descriptor());
      storageTimings.walSync?.('sync', (performance.now() - started) / 1000);
    } catch (e) {
      throw this.fail(e);
    }
    this.advance(covers);
  }

  /** Resolves once every commit made so far is durable (fsync in the libuv threadpool). */
  whenDurable(): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    const target = this.commitSeq;
    if (this.durableSeq >= target) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ target, resolve, reject });
      this.kick();
    });
  }

  /** Syncs what is left, then closes the descriptor (at once, or when the running sync ends). */
  close(): void {
    if (this.closed) return;
    try {
      this.syncNow();
    } catch {
      // already failed: the waiters are rejected below
    }
    this.closed = true;
    this.settle();
    const err = this.failed ?? new StorageError('SERVERBUG', `Store closed before ${this.walPath} was synced`);
    for (const w of this.waiters.splice(0)) w.reject(err);
    if (this.fd !== null) this.retire(this.fd);
    this.fd = null;
  }

  private kick(): void {
    if (this.inFlight || this.waiters.length === 0 || this.closed) return;
    let fd: number;
    try {
      fd = this.descriptor();
    } catch (e) {
      this.fail(e);
      return;
    }
    const covers = this.commitSeq;
    this.inFlight = true;
    const started = storageTimings.walSync ? performance.now() : 0;
    this.syncAsync(fd, (err) => {
      this.inFlight = false;
      if (!err) storageTimings.walSync?.('async', (performance.now() - started) / 1000);
      this.closeRetired();
      if (err) {
        this.fail(err);
        return;
      }
      this.advance(covers);
      this.kick(); // commits made while this sync ran need another one
    });
  }

  private advance(covers: number): void {
    if (covers > this.durableSeq) this.durableSeq = covers;
    this.settle();
  }

  private settle(): void {
    if (this.waiters.length === 0) return;
    const left: Waiter[] = [];
    for (const w of this.waiters) {
      if (w.target <= this.durableSeq) w.resolve();
      else left.push(w);
    }
    this.waiters = left;
  }

  private fail(e: unknown): StorageError {
    if (!this.failed) {
      this.failed = new StorageError('SERVERBUG', `fdatasync(${this.walPath}) failed: ${(e as Error).message}`);
    }
    for (const w of this.waiters.splice(0)) w.reject(this.failed);
    return this.failed;
  }

  /** An open descriptor of the current `-wal` file (reopened if the file was ever replaced). */
  private descriptor(): number {
    if (this.closed) throw new StorageError('SERVERBUG', `Store of ${this.walPath} is closed`);
    const st = statSync(this.walPath); // ENOENT would mean no WAL: a commit always has one
    if (this.fd !== null && st.ino === this.ino && st.dev === this.dev) return this.fd;
    if (this.fd !== null) this.retire(this.fd);
    this.fd = null;
    const fd = openSync(this.walPath, 'r');
    const own = fstatSync(fd);
    this.fd = fd;
    this.ino = own.ino;
    this.dev = own.dev;
    return fd;
  }

  private retire(fd: number): void {
    if (this.inFlight) this.retired.push(fd);
    else closeSync(fd);
  }

  private closeRetired(): void {
    for (const fd of this.retired.splice(0)) closeSync(fd);
  }

  /** For tests: the inode of the descriptor in use (-1 before the first sync). */
  get inode(): number {
    return this.ino;
  }
}
