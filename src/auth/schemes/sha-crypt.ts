// SHA256-CRYPT ($5$) and SHA512-CRYPT ($6$): Ulrich Drepper's "Unix crypt using SHA-256 and
// SHA-512" (https://www.akkadia.org/drepper/SHA-crypt.txt), as glibc/libxcrypt implement it.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { cryptB64Groups, randomCryptSalt } from './crypt-alphabet.js';
import { PasswordDataError, type PasswordScheme } from './types.js';

const DEFAULT_ROUNDS = 5000;
const MIN_ROUNDS = 1000;
const MAX_ROUNDS = 999_999_999;

const SHA256_ORDER = [
  [0, 10, 20], [21, 1, 11], [12, 22, 2], [3, 13, 23], [24, 4, 14],
  [15, 25, 5], [6, 16, 26], [27, 7, 17], [18, 28, 8], [9, 19, 29], [31, 30],
] as const;
const SHA512_ORDER = [
  [0, 21, 42], [22, 43, 1], [44, 2, 23], [3, 24, 45], [25, 46, 4], [47, 5, 26], [6, 27, 48],
  [28, 49, 7], [50, 8, 29], [9, 30, 51], [31, 52, 10], [53, 11, 32], [12, 33, 54], [34, 55, 13],
  [56, 14, 35], [15, 36, 57], [37, 58, 16], [59, 17, 38], [18, 39, 60], [40, 61, 19], [62, 20, 41], [63],
] as const;

type Variant = { id: '5' | '6'; alg: 'sha256' | 'sha512'; size: number; order: ReadonlyArray<readonly number[]> };
const VARIANTS = {
  '5': { id: '5', alg: 'sha256', size: 32, order: SHA256_ORDER },
  '6': { id: '6', alg: 'sha512', size: 64, order: SHA512_ORDER },
} as const satisfies Record<string, Variant>;

function repeatTo(src: Buffer, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i += src.length) src.copy(out, i, 0, Math.min(src.length, length - i));
  return out;
}

/** Computes the full `$5$...`/`$6$...` string for a setting string (`$6$[rounds=N$]salt[$...]`). */
export function shaCrypt(password: Buffer, setting: string): string {
  const m = /^\$([56])\$(?:rounds=(\d+)\$)?([^$]*)/.exec(setting);
  if (!m) throw new PasswordDataError('Invalid SHA-crypt setting');
  const v: Variant = VARIANTS[m[1] as '5' | '6'];
  const customRounds = m[2] !== undefined;
  const rounds = customRounds ? Math.min(MAX_ROUNDS, Math.max(MIN_ROUNDS, Number(m[2]))) : DEFAULT_ROUNDS;
  const salt = Buffer.from(m[3]!.slice(0, 16), 'latin1');
  const H = () => createHash(v.alg);

  const b = H().update(password).update(salt).update(password).digest();
  const a = H().update(password).update(salt).update(repeatTo(b, password.length));
  for (let n = password.length; n > 0; n >>= 1) a.update(n & 1 ? b : password);
  let c = a.digest();

  const dp = H();
  for (let i = 0; i < password.length; i++) dp.update(password);
  const p = repeatTo(dp.digest(), password.length);
  const ds = H();
  for (let i = 0; i < 16 + c[0]!; i++) ds.update(salt);
  const s = repeatTo(ds.digest(), salt.length);

  for (let i = 0; i < rounds; i++) {
    const h = H().update(i & 1 ? p : c);
    if (i % 3) h.update(s);
    if (i % 7) h.update(p);
    h.update(i & 1 ? c : p);
    c = h.digest();
  }
  const roundsPart = customRounds ? `rounds=${rounds}$` : '';
  return `$${v.id}$${roundsPart}${salt.toString('latin1')}$${cryptB64Groups(c, v.order)}`;
}

export function shaCryptScheme(name: string, id: '5' | '6'): PasswordScheme {
  return {
    name,
    encoding: 'none',
    rawLength: 0,
    // ~10 ms of CPU per verify at 5000 rounds (measured, bench/auth.ts): off the network thread.
    offThread: true,
    generate: async (plain, ctx) => {
      const rounds = ctx.rounds && ctx.rounds !== DEFAULT_ROUNDS ? `rounds=${ctx.rounds}$` : '';
      return Buffer.from(shaCrypt(plain, `$${id}$${rounds}${randomCryptSalt(16, randomBytes(16))}`));
    },
    verify: async (plain, raw) => {
      const stored = raw.toString('latin1');
      if (!stored.startsWith(`$${id}$`)) throw new PasswordDataError(`Not a $${id}$ crypt string`);
      return constantTimeEquals(shaCrypt(plain, stored), stored);
    },
  };
}

export function constantTimeEquals(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
