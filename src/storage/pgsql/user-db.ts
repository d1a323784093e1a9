// The built-in user database (the `roost` passdb/userdb) in PostgreSQL: the `users` and
// `user_fields` tables of the backend's schema, on the same connection as the mail (issue #15:
// every node sees a `roost user add` at once). The same operations and rules as the SQLite
// server database (../server-db.ts, ServerDb in ../types.ts), asynchronous.
// The rules are the shared ones of ../user-records.ts.
import { StorageError, type NewUser, type UserFieldChanges, type UserRecord } from '../types.js';
import {
  DEFAULT_MAX_USERNAME_BYTES,
  userRecord as record,
  validateFieldName,
  validateId,
  validatePassword,
  validateUsername,
  type UserRow,
} from '../user-records.js';
import type { Queryable } from './bodies.js';
import type { PgsqlPool } from './pool.js';

export interface PgsqlUserDbOptions {
  /** Longest username accepted (bytes, UTF-8). */
  maxUsernameBytes?: number;
}

export class PgsqlUserDb {
  private readonly maxUsernameBytes: number;

  /** `pool`: a migrated database's pool (migratePgsql); the caller releases it. */
  constructor(
    private readonly pool: PgsqlPool,
    opts: PgsqlUserDbOptions = {},
  ) {
    this.maxUsernameBytes = opts.maxUsernameBytes ?? DEFAULT_MAX_USERNAME_BYTES;
  }

  /** ALREADYEXISTS for a taken username, PARAMETERS for a bad name or a password not in `{SCHEME}` form. */
  async addUser(user: NewUser): Promise<UserRecord> {
    validateUsername(user.username, this.maxUsernameBytes);
    validatePassword(user.password);
    validateId('uid', user.uid);
    validateId('gid', user.gid);
    return this.pool.transaction(async (c) => {
      const { rows } = await c.query<{ id: number }>(
        `INSERT INTO users (username, password, uid, gid, home, quota_rule, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (username) DO NOTHING RETURNING id`,
        [user.username, user.password ?? null, user.uid ?? null, user.gid ?? null, user.home ?? null, user.quotaRule ?? null, Date.now()],
      );
      if (!rows[0]) throw new StorageError('ALREADYEXISTS', `User already exists: ${user.username}`);
      await writeFields(c, rows[0].id, user.fields ?? {});
      return toRecord(c, (await row(c, user.username))!);
    });
  }

  /** NONEXISTENT if there is no such user. Does not touch the user's mail. */
  async deleteUser(username: string): Promise<void> {
    const r = await this.pool.query('DELETE FROM users WHERE username = $1', [username]);
    if (r.rowCount === 0) throw new StorageError('NONEXISTENT', `User doesn't exist: ${username}`);
  }

  /** Exact (case-sensitive) lookup. */
  async getUser(username: string): Promise<UserRecord | undefined> {
    const r = await row(this.pool, username);
    return r && toRecord(this.pool, r);
  }

  /** All users sorted by username, bytewise as SQLite sorts (whatever the database's collation). */
  async listUsers(): Promise<UserRecord[]> {
    const users = await this.pool.query<UserRow>('SELECT * FROM users ORDER BY username COLLATE "C"');
    const fields = await this.pool.query<{ user_id: number; key: string; value: string }>('SELECT user_id, key, value FROM user_fields ORDER BY user_id, key COLLATE "C"');
    const byUser = new Map<number, Record<string, string>>();
    for (const f of fields.rows) {
      let m = byUser.get(f.user_id);
      if (!m) byUser.set(f.user_id, (m = {}));
      m[f.key] = f.value;
    }
    return users.rows.map((r) => record(r, byUser.get(r.id) ?? {}));
  }

  /** null removes the password (the account cannot log in with a password). */
  async setPassword(username: string, passwordHash: string | null): Promise<void> {
    validatePassword(passwordHash);
    const r = await this.pool.query('UPDATE users SET password = $1 WHERE username = $2', [passwordHash, username]);
    if (r.rowCount === 0) throw new StorageError('NONEXISTENT', `User doesn't exist: ${username}`);
  }

  async setFields(username: string, changes: UserFieldChanges): Promise<UserRecord> {
    validateId('uid', changes.uid);
    validateId('gid', changes.gid);
    return this.pool.transaction(async (c) => {
      const r = await row(c, username, true);
      if (!r) throw new StorageError('NONEXISTENT', `User doesn't exist: ${username}`);
      const columns: [string, unknown][] = [];
      if (changes.uid !== undefined) columns.push(['uid', changes.uid]);
      if (changes.gid !== undefined) columns.push(['gid', changes.gid]);
      if (changes.home !== undefined) columns.push(['home', changes.home]);
      if (changes.quotaRule !== undefined) columns.push(['quota_rule', changes.quotaRule]);
      if (columns.length > 0) {
        await c.query(`UPDATE users SET ${columns.map(([col], i) => `${col} = $${i + 2}`).join(', ')} WHERE id = $1`, [r.id, ...columns.map(([, v]) => v)]);
      }
      await writeFields(c, r.id, changes.fields ?? {});
      return toRecord(c, (await row(c, username))!);
    });
  }

}



async function row(db: Queryable, username: string, forUpdate = false): Promise<UserRow | undefined> {
  const { rows } = await db.query<UserRow & Record<string, unknown>>(`SELECT * FROM users WHERE username = $1${forUpdate ? ' FOR UPDATE' : ''}`, [username]);
  return rows[0];
}


async function toRecord(db: Queryable, r: UserRow): Promise<UserRecord> {
  const { rows } = await db.query<{ key: string; value: string }>('SELECT key, value FROM user_fields WHERE user_id = $1 ORDER BY key COLLATE "C"', [r.id]);
  return record(r, Object.fromEntries(rows.map((f) => [f.key, f.value])));
}

async function writeFields(db: Queryable, userId: number, fields: Record<string, string | null>): Promise<void> {
  for (const [key, value] of Object.entries(fields)) {
    validateFieldName(key);
    if (value === null) await db.query('DELETE FROM user_fields WHERE user_id = $1 AND key = $2', [userId, key]);
    else await db.query('INSERT INTO user_fields (user_id, key, value) VALUES ($1, $2, $3) ON CONFLICT (user_id, key) DO UPDATE SET value = EXCLUDED.value', [userId, key, String(value)]);
  }
}
