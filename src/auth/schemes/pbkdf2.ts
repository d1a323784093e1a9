// PBKDF2: Dovecot's own format `$1$<salt>$<rounds>$<hex>`: PBKDF2-HMAC-SHA1 (RFC 8018) over the
// salt *string*, 20-byte key, default 5000 rounds (Dovecot password-scheme-pbkdf2.c).
import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { constantTimeEquals } from './sha-crypt.js';
import { PasswordDataError, type PasswordScheme } from './types.js';

const DEFAULT_ROUNDS = 5000;
const SALT_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

function derive(plain: Buffer, salt: string, rounds: number): string {
  return pbkdf2Sync(plain, salt, rounds, 20, 'sha1').toString('hex');
}

export const pbkdf2Scheme: PasswordScheme = {
  name: 'PBKDF2',
  encoding: 'none',
  rawLength: 0,
  generate: async (plain, ctx) => {
    const salt = Array.from(randomBytes(16), (b) => SALT_CHARS[b % SALT_CHARS.length]).join('');
    const rounds = ctx.rounds ?? DEFAULT_ROUNDS;
    return Buffer.from(`$1$${salt}$${rounds}$${derive(plain, salt, rounds)}`);
  },
  verify: async (plain, raw) => {
    const fields = raw.toString('utf8').split('$');
    if (fields.length !== 5 || fields[0] !== '' || fields[1] !== '1') throw new PasswordDataError('Invalid PBKDF2 format');
    const rounds = Number(fields[3]);
    if (!Number.isInteger(rounds) || rounds < 1) throw new PasswordDataError('Invalid PBKDF2 rounds');
    return constantTimeEquals(derive(plain, fields[2]!, rounds), fields[4]!.toLowerCase());
  },
};
