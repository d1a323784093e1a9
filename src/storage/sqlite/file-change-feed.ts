// The SQLite backend's change feed (change-feed.ts): a small file beside the database,
// `<mail.db>-changes`, that every writer touches after each commit and that one watcher per user
// and process watches with inotify (fs.watch), as Dovecot's IDLE watches dovecot.index.log.
//
// Cost: a writer pays one open+pwrite+close after a commit (next to the commit's fsync). An idle
// user costs one inotify watch and no wake-ups; a slow poll (StorageSettings.changePollIntervalMs)
// is the safety net, and where the filesystem cannot be watched (fs.watch fails) the poll runs
// every FALLBACK_POLL_MS so IDLE still hears of changes within a second. What changed is never
// read from the file: the store asks its database (UserStore.refreshChanges).
import { closeSync, constants, fchmodSync, fchownSync, openSync, statSync, watch, writeSync, type FSWatcher } from 'node:fs';
import { Logger } from '../../log/logger.js';
import type { ChangeFeed } from '../change-feed.js';

const log = new Logger('storage: ');
/** The poll interval when the change file cannot be watched. */
export const FALLBACK_POLL_MS = 1000;
const TOUCH = Buffer.from('.');
let watchFailureLogged = false;

/** The change file of the database at `dbPath`. */
export function changeFilePath(dbPath: string): string {
  return `${dbPath}-changes`;
}

/** Creates the file if needed (0600, like the database); throws what open throws. */
function touch(path: string): void {
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT, 0o600);
  try {
    writeSync(fd, TOUCH, 0, 1, 0);
  } finally {
    closeSync(fd);
  }
}

/**
 * Polls share one timer per interval, so that a thousand watched users cost one wake-up per
 * interval rather than a thousand timers firing at scattered moments.
 */
const tickers = new Map<number, { timer: NodeJS.Timeout; members: Set<SharedWatcher> }>();

function joinTicker(ms: number, w: SharedWatcher): void {
  let t = tickers.get(ms);
  if (!t) {
    const members = new Set<SharedWatcher>();
    const timer = setInterval(() => {
      for (const m of members) m.signal();
    }, ms);
    timer.unref();
    t = { timer, members };
    tickers.set(ms, t);
  }
  t.members.add(w);
}

function leaveTicker(ms: number, w: SharedWatcher): void {
  const t = tickers.get(ms);
  if (!t) return;
  t.members.delete(w);
  if (t.members.size === 0) {
    clearInterval(t.timer);
    tickers.delete(ms);
  }
}

function createLike(path: string, like: string): void {
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  } catch {
    return; // it exists (or cannot be made: announce() says so)
  }
  try {
    const st = statSync(like);
    fchmodSync(fd, st.mode & 0o666);
    if (process.getuid?.() === 0 && st.uid !== 0) fchownSync(fd, st.uid, st.gid);
  } catch (e) {
    log.warning(`Cannot give ${path} the owner and mode of ${like}: ${(e as Error).message}`);
  } finally {
    closeSync(fd);
  }
}

/** The one watcher of a change file in this thread, shared by every store and session of the user. */
class SharedWatcher {
  readonly subscribers = new Set<() => void>();
  private fsWatcher: FSWatcher | null = null;
  private pollMs = 0;
  private scheduled = false;
  private closed = false;

  constructor(
    private readonly path: string,
    private readonly safetyPollMs: number,
  ) {
    this.startWatch();
  }

  private startWatch(): void {
    let interval = this.safetyPollMs;
    try {
      // The file must exist to be watched: a user nobody has written to yet still gets one.
      closeSync(openSync(this.path, constants.O_RDONLY | constants.O_CREAT, 0o600));
      const w = watch(this.path, { persistent: false }, (event) => {
        // `rename`: the file was removed or replaced (a restore, a cleanup): watch the new one.
        if (event === 'rename') this.restartWatch();
        this.signal();
      });
      w.on('error', () => this.restartWatch());
      this.fsWatcher = w;
    } catch (e) {
      // Once per thread: past the kernel's inotify limit every further user would say the same.
      if (!watchFailureLogged) {
        watchFailureLogged = true;
        log.warning(`Cannot watch ${this.path} (${(e as Error).message}): polling every ${FALLBACK_POLL_MS} ms instead (said once; other files may follow)`);
      }
      interval = Math.min(interval, FALLBACK_POLL_MS);
    }
    this.setPoll(interval);
  }

  private restartWatch(): void {
    if (this.closed) return;
    this.fsWatcher?.close();
    this.fsWatcher = null;
    this.startWatch();
  }

  private setPoll(ms: number): void {
    if (ms === this.pollMs) return;
    if (this.pollMs) leaveTicker(this.pollMs, this);
    this.pollMs = ms;
    joinTicker(ms, this);
  }

  /** Several events in one turn (a burst of commits) make one signal. */
  signal(): void {
    if (this.scheduled || this.closed) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      for (const s of [...this.subscribers]) {
        try {
          s();
        } catch (e) {
          log.error(`change feed subscriber for ${this.path} failed: ${(e as Error).stack ?? String(e)}`);
        }
      }
    });
  }

  close(): void {
    this.closed = true;
    this.fsWatcher?.close();
    if (this.pollMs) leaveTicker(this.pollMs, this);
  }
}

const watchers = new Map<string, SharedWatcher>();

export class FileChangeFeed implements ChangeFeed {
  private readonly unsubscribes = new Set<() => void>();
  private warned = false;

  /**
   * `like`: the database file. A change file created here gets its mode and, when running as
   * root, its owner, as SQLite does for `-wal` and `-shm` (so that `roost deliver` run by root
   * leaves a file the server's user can still write and watch).
   */
  constructor(
    readonly path: string,
    private readonly pollMs: number,
    like?: string,
  ) {
    if (like) createLike(path, like);
  }

  announce(): void {
    try {
      // Opened each time: a watcher that re-created the file must see the write.
      touch(this.path);
    } catch (e) {
      // The commit stands; other processes then learn of it on their next command only.
      if (!this.warned) log.warning(`Cannot update ${this.path}: ${(e as Error).message}`);
      this.warned = true;
    }
  }

  watch(onSignal: () => void): () => void {
    let w = watchers.get(this.path);
    if (!w) {
      w = new SharedWatcher(this.path, this.pollMs);
      watchers.set(this.path, w);
    }
    const shared = w;
    shared.subscribers.add(onSignal);
    const unsubscribe = () => {
      if (!this.unsubscribes.delete(unsubscribe)) return;
      shared.subscribers.delete(onSignal);
      if (shared.subscribers.size === 0 && watchers.get(this.path) === shared) {
        watchers.delete(this.path);
        shared.close();
      }
    };
    this.unsubscribes.add(unsubscribe);
    return unsubscribe;
  }

  close(): void {
    for (const u of [...this.unsubscribes]) u();
  }
}

/** Change files watched in this thread (bench/ and tests count them: one per user, not per session). */
export function watchedChangeFiles(): number {
  return watchers.size;
}
