// Large message bodies as files under the user's home, `<home>/bodies/<1 hex>/<name>` (storage
// setting bodyFileThresholdBytes; smaller bodies stay in SQLite). 16 folders, not 256: every new
// folder costs a mkdir and an fsync of its parent, which with 256 a young mailbox paid for most of
// its first few hundred large messages (LMTP bench, 100 KB: 360/s with 256 folders, 420-460/s with
// 16); ext4's hashed directories keep lookups fast at any size. A body file is written once,
// never changed, and made durable (file fsync, then directory fsync) *before* the transaction that
// refers to it commits: a crash leaves at most an orphan file, never a row without its file.
// It is unlinked only after the commit that dropped its last reference is durable.
//
// The other recipients of one LMTP message get a hard link (link(2)) of the first recipient's file
// instead of a rewrite, as Dovecot's LMTP does; across filesystems (EXDEV) the file is copied.
// Writing ahead runs in the libuv threadpool (stage()); the synchronous path (append() without
// staging: writeSync()) does the same work on the calling thread.
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants as fsConstants,
  copyFileSync,
  fdatasync as fdatasyncCb,
  fdatasyncSync,
  fsync as fsyncCb,
  fsyncSync,
  mkdirSync,
  openSync,
  readSync,
  readdirSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { copyFile, link, mkdir, open, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { StorageError, type SharedBody, type StagedBody, type SpooledContent, type SyncBodyReader } from '../types.js';

/**
 * The SQLite backend's SharedBody: a body file another store may hard-link (stageBody linkFrom):
 * its path, and a promise that resolves once its data is durable (rejects if that failed).
 */
export interface BodyLinkSource extends SharedBody {
  readonly path: string;
}

/** A SharedBody this backend made (another backend's handle is not a file to link). */
export function isBodyLinkSource(s: SharedBody | undefined): s is BodyLinkSource {
  return s !== undefined && typeof (s as Partial<BodyLinkSource>).path === 'string';
}

/** A staged body of one store: durable on disk, waiting for the append that refers to it. */
export class StagedBodyFile implements StagedBody, BodyLinkSource {
  readonly kind = 'staged' as const;
  /** Staged means durable already. */
  readonly durable = Promise.resolve();
  /** Set once a committed transaction refers to the file (discard() then leaves it alone). */
  committed = false;
  /** Set while an open transaction refers to it (a second append of the same staged body is refused). */
  inUse = false;
  private discarded = false;
  constructor(
    readonly files: BodyFiles,
    readonly name: string,
    readonly size: number,
  ) {}

  get path(): string {
    return this.files.pathOf(this.name);
  }

  async discard(): Promise<void> {
    if (this.committed || this.discarded) return;
    this.discarded = true;
    await unlink(this.path).catch(() => {});
  }
}

export class BodyFiles {
  /** Fan-out folders known to exist with a durable entry in the root. */
  private readonly knownDirs = new Set<string>();
  /** Folders being created in the threadpool (concurrent writers wait for the same promise). */
  private readonly creating = new Map<string, Promise<void>>();
  /** Group syncs of directories: concurrent writers into one folder share one fsync. */
  private readonly dirSyncs = new Map<string, GroupSync>();

  constructor(
    /** `<home>/bodies` */
    readonly root: string,
  ) {}

  static newName(): string {
    return randomBytes(16).toString('hex');
  }

  pathOf(name: string): string {
    if (!/^[0-9a-f]{32}$/.test(name)) throw new StorageError('SERVERBUG', `Invalid body file name ${JSON.stringify(name)}`);
    return join(this.root, name.slice(0, 1), name);
  }

  /**
   * Writes `content` to a new file on this thread, durably (file, then directory). For append()
   * outside of staging: the same guarantee, paid on the calling thread.
   */
  writeSync(content: Buffer | SpooledContent): string {
    const name = BodyFiles.newName();
    const path = this.pathOf(name);
    this.ensureDir(dirname(path));
    try {
      if (Buffer.isBuffer(content)) {
        const fd = openSync(path, 'wx', 0o600);
        try {
          for (let off = 0; off < content.length; ) off += writeSync(fd, content, off, content.length - off);
          fdatasyncSync(fd);
        } finally {
          closeSync(fd);
        }
      } else {
        copyFileSync(content.path, path, fsConstants.COPYFILE_EXCL);
        const fd = openSync(path, 'r');
        try {
          fdatasyncSync(fd);
        } finally {
          closeSync(fd);
        }
      }
      fsyncDirSync(dirname(path));
    } catch (e) {
      this.unlinkQuiet(name);
      throw new StorageError('SERVERBUG', `Cannot write message body ${path}: ${(e as Error).message}`);
    }
    return name;
  }

  /**
   * Writes `content` durably in the threadpool. With `linkFrom` (a body file of another store, the
   * same bytes) hard-links it instead; copies it across filesystems; writes `content` when the
   * link source is gone or cannot be linked.
   */
  async stage(
    content: Buffer | SpooledContent,
    size: number,
    opts: { linkFrom?: BodyLinkSource; onWritten?: (file: BodyLinkSource) => void },
  ): Promise<StagedBodyFile> {
    const name = BodyFiles.newName();
    const path = this.pathOf(name);
    const dir = dirname(path);
    await this.ensureDirAsync(dir);
    // Creating a name (open O_CREAT, link) can wait for a journal commit in progress, so it runs in
    // the threadpool (profiled: 16% of the event loop when done here); a write into the page cache
    // does not, and queued behind fsyncs on the pool's few threads it would take milliseconds.
    try {
      const from = opts.linkFrom;
      if (from) {
        let linked = false;
        try {
          await link(from.path, path);
          linked = true;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'EXDEV') {
            await copyFile(from.path, path, fsConstants.COPYFILE_EXCL);
            await Promise.all([syncFile(path), this.syncDir(dir)]);
            return new StagedBodyFile(this, name, size);
          }
          // ENOENT (the source was discarded meanwhile), EPERM, EMLINK, ...: write our own copy
        }
        if (linked) {
          try {
            // Our directory entry, and the (shared) inode's data, synced by whoever wrote it.
            await Promise.all([this.syncDir(dir), from.durable]);
            return new StagedBodyFile(this, name, size);
          } catch {
            await unlink(path); // the source's sync failed: write and sync our own copy
          }
        }
      }
      const announce = (durable: Promise<void>) => {
        durable.catch(() => {}); // awaited below; linkers get the error through their own await
        opts.onWritten?.({ path, durable });
        return durable;
      };
      if (Buffer.isBuffer(content) && content.length <= SYNC_WRITE_MAX) {
        const fh = await open(path, 'wx', 0o600);
        try {
          for (let off = 0; off < content.length; ) off += writeSync(fh.fd, content, off, content.length - off);
          // The data and the directory entry are independent: sync both at once.
          await announce(Promise.all([fdatasyncAsync(fh.fd), this.syncDir(dir)]).then(() => {}));
        } finally {
          await fh.close();
        }
      } else if (Buffer.isBuffer(content)) {
        const fh = await open(path, 'wx', 0o600);
        try {
          await fh.writeFile(content);
          await announce(Promise.all([fh.datasync(), this.syncDir(dir)]).then(() => {}));
        } finally {
          await fh.close();
        }
      } else {
        await copyFile(content.path, path, fsConstants.COPYFILE_EXCL);
        await announce(Promise.all([syncFile(path), this.syncDir(dir)]).then(() => {}));
      }
    } catch (e) {
      await unlink(path).catch(() => {});
      throw new StorageError('SERVERBUG', `Cannot write message body ${path}: ${(e as Error).message}`);
    }
    return new StagedBodyFile(this, name, size);
  }



  /**
   * Removes body files no row refers to and older than `minAgeMs`: left behind when a crash came
   * between writing a staged body and committing the message that refers to it. The age keeps a
   * body that another process (a `roost deliver`) is staging right now. Returns the count removed.
   */
  sweepOrphans(isReferenced: (name: string) => boolean, minAgeMs: number, now = Date.now()): number {
    let removed = 0;
    let dirs: string[];
    try {
      dirs = readdirSync(this.root);
    } catch {
      return 0; // no body files yet
    }
    for (const d of dirs) {
      if (!/^[0-9a-f]$/.test(d)) continue;
      for (const name of readdirSync(join(this.root, d))) {
        if (!/^[0-9a-f]{32}$/.test(name) || isReferenced(name)) continue;
        const path = join(this.root, d, name);
        try {
          if (now - statSync(path).mtimeMs < minAgeMs) continue;
          unlinkSync(path);
          removed++;
        } catch {
          // vanished meanwhile
        }
      }
    }
    return removed;
  }

  /** Removes a body file; one already gone is fine (an orphan left behind is only wasted space). */
  unlinkQuiet(name: string): void {
    try {
      unlinkSync(this.pathOf(name));
    } catch {
      // gone already, or never written
    }
  }

  /** Resolves once an fsync of `dir` that started after this call has completed (group sync). */
  private syncDir(dir: string): Promise<void> {
    let g = this.dirSyncs.get(dir);
    if (!g) {
      g = new GroupSync(() => fsyncDir(dir), () => this.dirSyncs.delete(dir));
      this.dirSyncs.set(dir, g);
    }
    return g.sync();
  }

  /**
   * Creates a fan-out folder (and the root) in the threadpool the first time it is needed; each
   * created level gets a durable entry in its parent (concurrent creations share the root's fsync).
   */
  private ensureDirAsync(dir: string): Promise<void> | void {
    if (this.knownDirs.has(dir)) return;
    let p = this.creating.get(dir);
    if (!p) {
      p = (async () => {
        const created = await mkdir(dir, { recursive: true });
        if (created !== undefined) {
          for (let d = dir; ; d = dirname(d)) {
            await this.syncDir(dirname(d));
            if (d === created || dirname(d) === d) break;
          }
        }
        this.knownDirs.add(dir);
      })().finally(() => this.creating.delete(dir));
      this.creating.set(dir, p);
    }
    return p;
  }

  /** ensureDirAsync() on the calling thread. */
  private ensureDir(dir: string): void {
    if (this.knownDirs.has(dir)) return;
    let created = mkdirSync(dir, { recursive: true });
    // A threadpool creation of the same folder may still be syncing its parents: sync them here.
    if (created === undefined && this.creating.has(dir)) created = this.root;
    if (created !== undefined) {
      for (let d = dir; ; d = dirname(d)) {
        fsyncDirSync(dirname(d));
        if (d === created || dirname(d) === d) break;
      }
    }
    this.knownDirs.add(dir);
  }
}

/**
 * Group commit for one fsync target: a caller waits for a sync that *started* after its call (its
 * own change is then covered); callers arriving while one runs share the next.
 */
class GroupSync {
  private waiting: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private running = false;
  constructor(
    private readonly run: () => Promise<void>,
    private readonly idle: () => void,
  ) {}

  sync(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    while (this.waiting.length > 0) {
      const batch = this.waiting.splice(0);
      try {
        await this.run();
        for (const w of batch) w.resolve();
      } catch (e) {
        for (const w of batch) w.reject(e);
      }
    }
    this.running = false;
    this.idle();
  }
}

/** fsync of a file or directory by path (a directory: makes its entries durable). */
export function fsyncDirSync(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** fsync of a directory: the open and close on this thread (microseconds), the sync in the threadpool. */
async function fsyncDir(dir: string): Promise<void> {
  const fd = openSync(dir, 'r');
  try {
    await new Promise<void>((resolve, reject) => fsyncCb(fd, (err) => (err ? reject(err) : resolve())));
  } finally {
    closeSync(fd);
  }
}

function fdatasyncAsync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fdatasyncCb(fd, (err) => (err ? reject(err) : resolve())));
}

/** Buffers up to this size are written on the calling thread (into the page cache), larger ones in the threadpool. */
const SYNC_WRITE_MAX = 1024 * 1024;

async function syncFile(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.datasync();
  } finally {
    await fh.close();
  }
}

function expunged(bodyId: number): StorageError {
  return new StorageError('EXPUNGEISSUED', `Message body ${bodyId} has been expunged`);
}

/** Positional reads of a body file; each read opens the file (a reader holds no descriptor). */
export class FileBodyReader implements SyncBodyReader {
  constructor(
    readonly bodyId: number,
    readonly size: number,
    private readonly path: string,
    private readonly sliceBytes: number,
  ) {}

  read(offset: number, length: number): Buffer {
    const end = this.check(offset, length);
    if (offset >= end) return Buffer.alloc(0);
    return this.pread(offset, end - offset);
  }

  *slices(offset: number, length: number): IterableIterator<Buffer> {
    const end = this.check(offset, length);
    for (let pos = offset; pos < end; ) {
      // Slices aligned like the chunked reader's, so a streamed FETCH sees the same pieces.
      const next = Math.min(end, (Math.floor(pos / this.sliceBytes) + 1) * this.sliceBytes);
      yield this.pread(pos, next - pos);
      pos = next;
    }
  }

  private check(offset: number, length: number): number {
    if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0) {
      throw new StorageError('PARAMETERS', `Invalid body range ${offset}+${length}`);
    }
    return Math.min(this.size, offset + length);
  }

  private pread(offset: number, length: number): Buffer {
    let fd: number;
    try {
      fd = openSync(this.path, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw expunged(this.bodyId);
      throw new StorageError('SERVERBUG', `Cannot open message body ${this.path}: ${(e as Error).message}`);
    }
    try {
      const buf = Buffer.allocUnsafe(length);
      let got = 0;
      while (got < length) {
        const n = readSync(fd, buf, got, length - got, offset + got);
        if (n === 0) throw new StorageError('SERVERBUG', `Message body ${this.path} is shorter than ${this.size} bytes`);
        got += n;
      }
      return buf;
    } finally {
      closeSync(fd);
    }
  }
}
