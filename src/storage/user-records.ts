// The built-in user database's rules, the same for every backend (sqlite/server-db.ts,
// pgsql/user-db.ts): what a username, a password and a uid/gid may be, the stored row, and the
// record the auth layer sees.
import { StorageError, type UserRecord } from './types.js';

/** A row of the `users` table (both backends' schemas name the columns alike). */
export interface UserRow {
  id: number;
  username: string;
  password: string | null;
  uid: number | null;
  gid: number | null;
  home: string | null;
  quota_rule: string | null;
  created_at: number;
}

export const DEFAULT_MAX_USERNAME_BYTES = 255;

/** Dovecot password strings carry their scheme: `{SHA512-CRYPT}$6$...`, `{PLAIN}secret`, ... */
const SCHEME_PREFIX = /^\{[A-Za-z0-9._-]+\}/;

export function validateUsername(username: string, maxBytes: number): void {
  if (typeof username !== 'string' || username.length === 0) throw new StorageError('PARAMETERS', 'Username is empty');
  if (Buffer.byteLength(username, 'utf8') > maxBytes) throw new StorageError('PARAMETERS', `Username longer than ${maxBytes} bytes`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0020\u007f]/.test(username)) {
    throw new StorageError('PARAMETERS', `Invalid username ${JSON.stringify(username)}: whitespace or control character`);
  }
}

export function validatePassword(password: string | null | undefined): void {
  if (password == null) return;
  if (!SCHEME_PREFIX.test(password)) {
    throw new StorageError('PARAMETERS', 'Password must be a hash in Dovecot {SCHEME} form, e.g. {SHA512-CRYPT}$6$...');
  }
}

export function validateId(what: string, v: number | null | undefined): void {
  if (v != null && (!Number.isInteger(v) || v < 0 || v > 0xffffffff)) throw new StorageError('PARAMETERS', `Invalid ${what} ${String(v)}`);
}

/** userdb extra fields: a name with no whitespace and no `=`. */
export function validateFieldName(key: string): void {
  if (key.length === 0 || /[\s=]/.test(key)) throw new StorageError('PARAMETERS', `Invalid userdb field name ${JSON.stringify(key)}`);
}

export function userRecord(r: UserRow, fields: Record<string, string>): UserRecord {
  return { username: r.username, password: r.password, uid: r.uid, gid: r.gid, home: r.home, quotaRule: r.quota_rule, fields, createdAt: new Date(r.created_at) };
}
