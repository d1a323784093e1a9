// BLF-CRYPT: bcrypt ($2y$), verified and created with hash-wasm. $2a$/$2b$/$2y$ compute the same
// hash for every password hash-wasm accepts, so only the prefix differs (Dovecot writes $2y$).
import { randomBytes } from 'node:crypto';
import { bcrypt, bcryptVerify } from 'hash-wasm';
import { PasswordDataError, type PasswordScheme } from './types.js';

const DEFAULT_COST = 5; // Dovecot 2.3's BLF-CRYPT default (doveadm pw -s BLF-CRYPT writes $2y$05$)
const BCRYPT_RE = /^\$2[abxy]\$(\d\d)\$[./A-Za-z0-9]{53}$/;
/** bcrypt only reads 72 bytes (libxcrypt truncates; hash-wasm rejects longer input). */
const MAX_PASSWORD_BYTES = 72;

export async function bcryptHash(plain: Buffer, cost = DEFAULT_COST): Promise<string> {
  const encoded = await bcrypt({
    password: plain.subarray(0, MAX_PASSWORD_BYTES),
    salt: randomBytes(16),
    costFactor: cost,
    outputType: 'encoded',
  });
  return '$2y$' + encoded.slice(4);
}

export async function bcryptCheck(plain: Buffer, stored: string): Promise<boolean> {
  if (!BCRYPT_RE.test(stored)) throw new PasswordDataError('Invalid bcrypt string');
  if (stored[2] === 'x') throw new PasswordDataError('$2x$ (buggy pre-2011 bcrypt) is not supported');
  return bcryptVerify({ password: plain.subarray(0, MAX_PASSWORD_BYTES), hash: '$2a$' + stored.slice(4) });
}

export function bcryptScheme(name: string): PasswordScheme {
  return {
    name,
    encoding: 'none',
    rawLength: 0,
    offThread: true,
    generate: async (plain, ctx) => Buffer.from(await bcryptHash(plain, ctx.rounds ?? DEFAULT_COST)),
    verify: async (plain, raw) => bcryptCheck(plain, raw.toString('latin1')),
  };
}
