// The server database (<data_dir>/roost.db): accounts for the built-in passdb/userdb.
import { applyMigrations } from './migrations.js';
import { DEFAULT_SQLITE_SETTINGS } from './options.js';
import { openDb, StatementCache, type Db } from './sqlite.js';
import {
  StorageError,
  type NewUser,
  type ServerDb,
  type UserFieldChanges,
  type UserRecord,
} from '../types.js';

interface UserRow {
  id: number;
  username: string;
  password: string | null;
  uid: number | null;
  gid: number | null;
  home: string | null;
  quota_rule: string | null;
  created_at: number;
}

export interface ServerDbOptions {
  busyTimeoutMs?: number;
  migrationsDir?: string;
  /** Longest username accepted (bytes, UTF-8). */
  maxUsernameBytes?: number;
}

const DEFAULT_MAX_USERNAME_BYTES = 255;

/** Dovecot password strings carry their scheme: `{SHA512-CRYPT}$6$...`, `{PLAIN}secret`, ... */
const SCHEME_PREFIX = /^\{[A-Za-z0-9._-]+\}/;

export class SqliteServerDb implements ServerDb {
  private readonly db: Db;
  private readonly stmts: StatementCache;
  private readonly maxUsernameBytes: number;

  constructor(path: string, opts: ServerDbOptions = {}) {
    this.maxUsernameBytes = opts.maxUsernameBytes ?? DEFAULT_MAX_USERNAME_BYTES;
    this.db = openDb(path, { busyTimeoutMs: opts.busyTimeoutMs ?? DEFAULT_SQLITE_SETTINGS.busyTimeoutMs, durability: 'full' });
    try {
      applyMigrations(this.db, 'server', opts.migrationsDir);
    } catch (e) {
      this.db.close();
      throw e;
    }
    this.stmts = new StatementCache(this.db);
  }

  private validateUsername(username: string): void {
    if (typeof username !== 'string' || username.length === 0) throw new StorageError('PARAMETERS', 'Username is empty');
    if (Buffer.byteLength(username, 'utf8') > this.maxUsernameBytes) {
      throw new StorageError('PARAMETERS', `Username longer than ${this.maxUsernameBytes} bytes`);
    }
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u0020\u007f]/.test(username)) {
      throw new StorageError('PARAMETERS', `Invalid username ${JSON.stringify(username)}: whitespace or control character`);
    }
  }

  private validatePassword(password: string | null | undefined): void {
    if (password == null) return;
    if (!SCHEME_PREFIX.test(password)) {
      throw new StorageError('PARAMETERS', 'Password must be a hash in Dovecot {SCHEME} form, e.g. {SHA512-CRYPT}$6$...');
    }
  }

  private validateId(what: string, v: number | null | undefined): void {
    if (v != null && (!Number.isInteger(v) || v < 0 || v > 0xffffffff)) {
      throw new StorageError('PARAMETERS', `Invalid ${what} ${String(v)}`);
    }
  }

  private row(username: string): UserRow | undefined {
    return this.stmts.get('SELECT * FROM users WHERE username = ?').get(username) as UserRow | undefined;
  }

  private mustRow(username: string): UserRow {
    const r = this.row(username);
    if (!r) throw new StorageError('NONEXISTENT', `User doesn't exist: ${username}`);
    return r;
  }

  private toRecord(r: UserRow): UserRecord {
    const fields: Record<string, string> = {};
    for (const f of this.stmts.get('SELECT key, value FROM user_fields WHERE user_id = ? ORDER BY key').all(r.id) as {
      key: string;
      value: string;
    }[]) {
      fields[f.key] = f.value;
    }
    return {
      username: r.username,
      password: r.password,
      uid: r.uid,
      gid: r.gid,
      home: r.home,
      quotaRule: r.quota_rule,
      fields,
      createdAt: new Date(r.created_at),
    };
  }

  private writeFields(userId: number, fields: Record<string, string | null>): void {
    for (const [key, value] of Object.entries(fields)) {
      if (key.length === 0 || /[\s=]/.test(key)) throw new StorageError('PARAMETERS', `Invalid userdb field name ${JSON.stringify(key)}`);
      if (value === null) this.stmts.get('DELETE FROM user_fields WHERE user_id = ? AND key = ?').run(userId, key);
      else this.stmts.get('INSERT OR REPLACE INTO user_fields (user_id, key, value) VALUES (?, ?, ?)').run(userId, key, String(value));
    }
  }

  addUser(user: NewUser): UserRecord {
    this.validateUsername(user.username);
    this.validatePassword(user.password);
    this.validateId('uid', user.uid);
    this.validateId('gid', user.gid);
    return this.db
      .transaction(() => {
        if (this.row(user.username)) throw new StorageError('ALREADYEXISTS', `User already exists: ${user.username}`);
        const r = this.stmts
          .get('INSERT INTO users (username, password, uid, gid, home, quota_rule, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
          .run(user.username, user.password ?? null, user.uid ?? null, user.gid ?? null, user.home ?? null, user.quotaRule ?? null, Date.now());
        this.writeFields(Number(r.lastInsertRowid), user.fields ?? {});
        return this.toRecord(this.mustRow(user.username));
      })
      .immediate();
  }

  deleteUser(username: string): void {
    const r = this.stmts.get('DELETE FROM users WHERE username = ?').run(username);
    if (r.changes === 0) throw new StorageError('NONEXISTENT', `User doesn't exist: ${username}`);
  }

  getUser(username: string): UserRecord | undefined {
    const r = this.row(username);
    return r && this.toRecord(r);
  }

  listUsers(): UserRecord[] {
    return (this.stmts.get('SELECT * FROM users ORDER BY username').all() as UserRow[]).map((r) => this.toRecord(r));
  }

  setPassword(username: string, passwordHash: string | null): void {
    this.validatePassword(passwordHash);
    const r = this.stmts.get('UPDATE users SET password = ? WHERE username = ?').run(passwordHash, username);
    if (r.changes === 0) throw new StorageError('NONEXISTENT', `User doesn't exist: ${username}`);
  }

  setFields(username: string, changes: UserFieldChanges): UserRecord {
    this.validateId('uid', changes.uid);
    this.validateId('gid', changes.gid);
    return this.db
      .transaction(() => {
        const row = this.mustRow(username);
        const columns: [string, unknown][] = [];
        if (changes.uid !== undefined) columns.push(['uid', changes.uid]);
        if (changes.gid !== undefined) columns.push(['gid', changes.gid]);
        if (changes.home !== undefined) columns.push(['home', changes.home]);
        if (changes.quotaRule !== undefined) columns.push(['quota_rule', changes.quotaRule]);
        for (const [col, value] of columns) this.stmts.get(`UPDATE users SET ${col} = ? WHERE id = ?`).run(value, row.id);
        this.writeFields(row.id, changes.fields ?? {});
        return this.toRecord(this.mustRow(username));
      })
      .immediate();
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
