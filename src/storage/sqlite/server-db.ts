// The server database (<data_dir>/roost.db): accounts for the built-in passdb/userdb.
import { applyMigrations } from './migrations.js';
import { DEFAULT_SQLITE_SETTINGS } from './options.js';
import { openDb, StatementCache, type Db } from './sqlite.js';
import {
  StorageError,
  type NewUser,
  type ServerDbOptions,
  type SyncServerDb,
  type UserFieldChanges,
  type UserRecord,
} from '../types.js';
import {
  DEFAULT_MAX_USERNAME_BYTES,
  userRecord,
  validateFieldName,
  validateId,
  validatePassword,
  validateUsername,
  type UserRow,
} from '../user-records.js';

export class SqliteServerDb implements SyncServerDb {
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
    return userRecord(r, fields);
  }

  private writeFields(userId: number, fields: Record<string, string | null>): void {
    for (const [key, value] of Object.entries(fields)) {
      validateFieldName(key);
      if (value === null) this.stmts.get('DELETE FROM user_fields WHERE user_id = ? AND key = ?').run(userId, key);
      else this.stmts.get('INSERT OR REPLACE INTO user_fields (user_id, key, value) VALUES (?, ?, ?)').run(userId, key, String(value));
    }
  }

  addUser(user: NewUser): UserRecord {
    validateUsername(user.username, this.maxUsernameBytes);
    validatePassword(user.password);
    validateId('uid', user.uid);
    validateId('gid', user.gid);
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
    validatePassword(passwordHash);
    const r = this.stmts.get('UPDATE users SET password = ? WHERE username = ?').run(passwordHash, username);
    if (r.changes === 0) throw new StorageError('NONEXISTENT', `User doesn't exist: ${username}`);
  }

  setFields(username: string, changes: UserFieldChanges): UserRecord {
    validateId('uid', changes.uid);
    validateId('gid', changes.gid);
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
