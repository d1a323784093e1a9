// The pgsql backend's change feed (../change-feed.ts) across nodes: LISTEN/NOTIFY.
//
// One channel for all users, CHANGE_CHANNEL, with the user as the payload: a channel name is an
// identifier (63 bytes at most, folded to lower case unless quoted), a user name is not, and one
// LISTEN per process is cheaper than one per user. A user name longer than a payload should carry
// is sent as its SHA-256 (both ends compute the same).
//
// Each process (per connect string) keeps one dedicated listening connection, outside the pool
// (a pooled connection goes back to others, and LISTEN belongs to a session). When it is lost the
// listener says so in the log and reconnects with a growing delay; once it listens again it
// signals every watcher: NOTIFY is not replayed, so whatever was announced meanwhile must be found
// by the stores' catch-up (changes since their last modseq). A slow safety poll signals every
// watcher now and then as well, as the SQLite feed does.
//
// Announcing: inside the transaction that makes the change, notifyChange(client, user) (the
// notification then leaves at COMMIT, and only if it commits; PostgreSQL folds repeats within one
// transaction); or afterwards, PgsqlChangeFeed.announce().
import { createHash } from 'node:crypto';
import pg from 'pg';
import { Logger } from '../../log/logger.js';
import type { ChangeFeed } from '../change-feed.js';
import { parsePgsqlConnect, type PgsqlConnectSettings } from './connect.js';
import { acquirePgsqlPool, clientConfig, isOwnPgsqlBackend, type PgsqlPool } from './pool.js';

export const CHANGE_CHANNEL = 'roost_mail_changes';
/** User names up to this many bytes travel as they are (PostgreSQL's payload limit is 8000). */
const PAYLOAD_NAME_MAX = 1000;
/** Reconnect delays of the listening connection: from the first to the most, doubling. */
export const LISTEN_RETRY_FIRST_MS = 100;
export const LISTEN_RETRY_MAX_MS = 5000;
/** The safety poll's default (the SQLite feed's changePollIntervalMs). */
export const DEFAULT_SAFETY_POLL_MS = 30_000;

/** The NOTIFY payload that names `username`. */
export function changePayload(username: string): string {
  return Buffer.byteLength(username) <= PAYLOAD_NAME_MAX ? username : `sha256:${createHash('sha256').update(username).digest('hex')}`;
}

/** Announces a change of `username`'s mail when the caller's transaction commits. */
export async function notifyChange(client: { query(text: string, params?: unknown[]): Promise<unknown> }, username: string): Promise<void> {
  await client.query('SELECT pg_notify($1, $2)', [CHANGE_CHANNEL, changePayload(username)]);
}

export interface ListenerOptions {
  logger?: Logger;
  /**
   * Notifications from these server processes are this process's own (its pool's connections):
   * its sessions heard of those commits at once, so they signal nobody.
   */
  ownBackend?: (pid: number) => boolean;
  /** Signal every watcher this often even without a notification; 0: never. */
  safetyPollMs?: number;
}

/** The process's listening connection for one connect string, shared by every user's feed. */
export class PgsqlChangeListener {
  private readonly subscribers = new Map<string, Set<() => void>>();
  private client: pg.Client | null = null;
  private retryMs = LISTEN_RETRY_FIRST_MS;
  private retryTimer: NodeJS.Timeout | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private everListened = false;
  private readonly pending = new Set<string>();
  private scheduled = false;
  private readonly logger: Logger;
  private readonly prefix: string;
  /** Resolves once the first LISTEN is in place (tests; a feed works before, it only misses). */
  readonly ready: Promise<void>;
  private markReady!: () => void;
  /** Connections made so far (1 + reconnects). */
  connects = 0;
  private readonly ownBackend: ((pid: number) => boolean) | undefined;

  constructor(
    private readonly settings: PgsqlConnectSettings,
    opts: ListenerOptions = {},
  ) {
    this.logger = opts.logger ?? new Logger('storage: ');
    this.ownBackend = opts.ownBackend;
    this.prefix = `pgsql(${settings.host}): `;
    this.ready = new Promise((resolve) => (this.markReady = resolve));
    const pollMs = opts.safetyPollMs ?? DEFAULT_SAFETY_POLL_MS;
    if (pollMs > 0) {
      this.pollTimer = setInterval(() => this.signalAll(), pollMs);
      this.pollTimer.unref();
    }
    void this.connect();
  }

  /** The backend pid of the listening connection (tests end it to show the reconnect). */
  async backendPid(): Promise<number> {
    await this.ready;
    const { rows } = await this.client!.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    return rows[0]!.pid;
  }

  subscribe(username: string, onSignal: () => void): () => void {
    const key = changePayload(username);
    let set = this.subscribers.get(key);
    if (!set) this.subscribers.set(key, (set = new Set()));
    set.add(onSignal);
    return () => {
      set.delete(onSignal);
      if (set.size === 0 && this.subscribers.get(key) === set) this.subscribers.delete(key);
    };
  }

  get watchedUsers(): number {
    return this.subscribers.size;
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const client = new pg.Client(clientConfig(this.settings));
    this.client = client;
    let failed = false;
    const lost = (err?: Error) => {
      if (failed || this.closed) return;
      failed = true;
      if (this.client === client) this.client = null;
      client.removeAllListeners('notification');
      void client.end().catch(() => undefined);
      this.logger.warning(`${this.prefix}Change feed connection to database ${this.settings.database} lost${err ? `: ${err.message}` : ''} (reconnecting in ${this.retryMs} ms)`);
      this.scheduleReconnect();
    };
    client.on('error', lost);
    client.on('end', () => lost());
    client.on('notification', (n) => {
      if (n.channel !== CHANGE_CHANNEL || n.payload === undefined) return;
      if (this.ownBackend?.(n.processId)) return;
      this.signal(n.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANGE_CHANNEL}`);
    } catch (err) {
      lost(err as Error);
      return;
    }
    if (failed || this.closed) return;
    this.connects++;
    this.retryMs = LISTEN_RETRY_FIRST_MS;
    if (this.everListened) {
      this.logger.info(`${this.prefix}Change feed reconnected to database ${this.settings.database}; every watcher catches up`);
      // Notifications sent while nobody listened are gone: everyone looks again.
      this.signalAll();
    }
    this.everListened = true;
    this.markReady();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.retryTimer) return;
    const delay = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, LISTEN_RETRY_MAX_MS);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.connect();
    }, delay);
    this.retryTimer.unref();
  }

  private signal(key: string): void {
    if (!this.subscribers.has(key)) return;
    this.pending.add(key);
    // Several notifications in one turn (a burst of commits) make one signal per user.
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      const keys = [...this.pending];
      this.pending.clear();
      for (const k of keys) for (const s of [...(this.subscribers.get(k) ?? [])]) this.call(s);
    });
  }

  private signalAll(): void {
    for (const key of this.subscribers.keys()) this.signal(key);
  }

  private call(s: () => void): void {
    try {
      s();
    } catch (e) {
      this.logger.error(`change feed subscriber failed: ${(e as Error).stack ?? String(e)}`);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.pollTimer) clearInterval(this.pollTimer);
    const c = this.client;
    this.client = null;
    if (c) await c.end().catch(() => undefined);
  }
}

const listeners = new Map<string, { listener: PgsqlChangeListener; feeds: number }>();

/** A user's change feed: announces through the pool, watches through the process's listener. */
export class PgsqlChangeFeed implements ChangeFeed {
  private readonly pool: PgsqlPool;
  private readonly unsubscribes = new Set<() => void>();
  private listenerHeld = false;
  private closed = false;
  private announcing: Promise<void> = Promise.resolve();

  constructor(
    private readonly connect: string,
    readonly username: string,
    private readonly opts: ListenerOptions = {},
  ) {
    this.pool = acquirePgsqlPool(connect, opts.logger);
  }

  /** The process's listener for this connect string (created by the first watch()). */
  get listener(): PgsqlChangeListener | undefined {
    return listeners.get(this.connect)?.listener;
  }

  announce(): void {
    if (this.closed) return;
    // The commit stands either way; other nodes then learn of it from their safety poll.
    const sent = this.pool.query('SELECT pg_notify($1, $2)', [CHANGE_CHANNEL, changePayload(this.username)]).then(
      () => undefined,
      (err) => (this.opts.logger ?? new Logger('storage: ')).warning(`pgsql(${this.pool.settings.host}): Cannot announce a change of ${this.username}: ${(err as Error).message}`),
    );
    this.announcing = this.announcing.then(() => sent);
  }

  /** Resolves when the announcements made so far have reached the server (or failed). */
  flushed(): Promise<void> {
    return this.announcing;
  }

  watch(onSignal: () => void): () => void {
    if (!this.listenerHeld) {
      this.listenerHeld = true;
      let entry = listeners.get(this.connect);
      if (!entry) {
        const connect = this.connect;
        entry = { listener: new PgsqlChangeListener(parsePgsqlConnect(connect), { ownBackend: (pid) => isOwnPgsqlBackend(connect, pid), ...this.opts }), feeds: 0 };
        listeners.set(this.connect, entry);
      }
      entry.feeds++;
    }
    const off = this.listener!.subscribe(this.username, onSignal);
    const unsubscribe = () => {
      if (this.unsubscribes.delete(unsubscribe)) off();
    };
    this.unsubscribes.add(unsubscribe);
    return unsubscribe;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const u of [...this.unsubscribes]) u();
    if (this.listenerHeld) {
      const entry = listeners.get(this.connect);
      if (entry && --entry.feeds === 0) {
        listeners.delete(this.connect);
        void entry.listener.close();
      }
    }
    // The pool goes once the last announcement is out.
    void this.announcing.then(() => this.pool.release());
  }
}
