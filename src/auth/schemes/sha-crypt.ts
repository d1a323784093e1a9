// SHA256-CRYPT ($5$) and SHA512-CRYPT ($6$): Ulrich Drepper's "Unix crypt using SHA-256 and
// SHA-512" (https://www.akkadia.org/drepper/SHA-crypt.txt), as glibc/libxcrypt implement it.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createSHA256, createSHA512, type IHasher } from 'hash-wasm';
import { cryptB64Groups, randomCryptSalt } from './crypt-alphabet.js';
import { PasswordDataError, type PasswordScheme } from './types.js';

const DEFAULT_ROUNDS = 5000;
const MIN_ROUNDS = 1000;
const MAX_ROUNDS = 999_999_999;

export const SHA256_ORDER = [
  [0, 10, 20], [21, 1, 11], [12, 22, 2], [3, 13, 23], [24, 4, 14],
  [15, 25, 5], [6, 16, 26], [27, 7, 17], [18, 28, 8], [9, 19, 29], [31, 30],
] as const;
export const SHA512_ORDER = [
  [0, 21, 42], [22, 43, 1], [44, 2, 23], [3, 24, 45], [25, 46, 4], [47, 5, 26], [6, 27, 48],
  [28, 49, 7], [50, 8, 29], [9, 30, 51], [31, 52, 10], [53, 11, 32], [12, 33, 54], [34, 55, 13],
  [56, 14, 35], [15, 36, 57], [37, 58, 16], [59, 17, 38], [18, 39, 60], [40, 61, 19], [62, 20, 41], [63],
] as const;

type Variant = { id: '5' | '6'; alg: 'sha256' | 'sha512'; size: number; order: ReadonlyArray<readonly number[]> };
const VARIANTS = {
  '5': { id: '5', alg: 'sha256', size: 32, order: SHA256_ORDER },
  '6': { id: '6', alg: 'sha512', size: 64, order: SHA512_ORDER },
} as const satisfies Record<string, Variant>;

function repeatTo(src: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i += src.length) out.set(src.subarray(0, Math.min(src.length, length - i)), i);
  return out;
}

// One hash-wasm hasher per algorithm and thread, reused for every step: shaCrypt never awaits
// between init() and digest(), so calls on one thread cannot interleave on a hasher.
let hashers: Promise<Record<Variant['alg'], IHasher>> | undefined;
const loadHashers = () => (hashers ??= Promise.all([createSHA256(), createSHA512()]).then(([sha256, sha512]) => ({ sha256, sha512 })));

function digestOf(h: IHasher, ...parts: Uint8Array[]): Uint8Array {
  h.init();
  for (const part of parts) h.update(part);
  return h.digest('binary');
}

/**
 * Round i hashes (i odd ? P : C) [S if i%3] [P if i%7] (i odd ? C : P). Only C changes, so each
 * of the 8 shapes is laid out once with P and S in place and C is copied in at `at` per round:
 * one update per round and no allocation besides the digest (glibc does the same work with
 * ~4 updates; the bytes hashed are identical).
 */
function shaCryptRounds(h: IHasher, c: Uint8Array, p: Uint8Array, s: Uint8Array, rounds: number): Uint8Array {
  const size = c.length;
  const layouts: { buf: Uint8Array; at: number }[] = [];
  for (let shape = 0; shape < 8; shape++) {
    const odd = (shape & 1) !== 0;
    const withS = (shape & 2) !== 0;
    const withP = (shape & 4) !== 0;
    const buf = new Uint8Array(size + p.length + (withS ? s.length : 0) + (withP ? p.length : 0));
    let o = 0;
    const put = (part: Uint8Array) => {
      buf.set(part, o);
      o += part.length;
    };
    if (odd) put(p);
    else o += size;
    if (withS) put(s);
    if (withP) put(p);
    layouts.push({ buf, at: odd ? o : 0 });
    if (!odd) put(p);
  }
  for (let i = 0; i < rounds; i++) {
    const { buf, at } = layouts[(i & 1) | (i % 3 ? 2 : 0) | (i % 7 ? 4 : 0)]!;
    buf.set(c, at);
    h.init();
    h.update(buf);
    c = h.digest('binary');
  }
  return c;
}

/** Computes the full `$5$...`/`$6$...` string for a setting string (`$6$[rounds=N$]salt[$...]`). */
export async function shaCrypt(password: Uint8Array, setting: string): Promise<string> {
  const m = /^\$([56])\$(?:rounds=(\d+)\$)?([^$]*)/.exec(setting);
  if (!m) throw new PasswordDataError('Invalid SHA-crypt setting');
  const v: Variant = VARIANTS[m[1] as '5' | '6'];
  const customRounds = m[2] !== undefined;
  const rounds = customRounds ? Math.min(MAX_ROUNDS, Math.max(MIN_ROUNDS, Number(m[2]))) : DEFAULT_ROUNDS;
  const salt = Buffer.from(m[3]!.slice(0, 16), 'latin1');
  const h = (await loadHashers())[v.alg];

  const b = digestOf(h, password, salt, password);
  h.init();
  h.update(password);
  h.update(salt);
  h.update(repeatTo(b, password.length));
  for (let n = password.length; n > 0; n >>= 1) h.update(n & 1 ? b : password);
  const a = h.digest('binary');

  h.init();
  for (let i = 0; i < password.length; i++) h.update(password);
  const p = repeatTo(h.digest('binary'), password.length);
  h.init();
  for (let i = 0; i < 16 + a[0]!; i++) h.update(salt);
  const s = repeatTo(h.digest('binary'), salt.length);

  const c = shaCryptRounds(h, a, p, s, rounds);
  const roundsPart = customRounds ? `rounds=${rounds}$` : '';
  return `$${v.id}$${roundsPart}${salt.toString('latin1')}$${cryptB64Groups(c, v.order)}`;
}

export function shaCryptScheme(name: string, id: '5' | '6'): PasswordScheme {
  return {
    name,
    encoding: 'none',
    rawLength: 0,
    // ~3.6 ms of CPU per verify at 5000 rounds (measured, bench/auth.ts): off the network thread.
    offThread: true,
    generate: async (plain, ctx) => {
      const rounds = ctx.rounds && ctx.rounds !== DEFAULT_ROUNDS ? `rounds=${ctx.rounds}$` : '';
      return Buffer.from(await shaCrypt(plain, `$${id}$${rounds}${randomCryptSalt(16, randomBytes(16))}`));
    },
    verify: async (plain, raw) => {
      const stored = raw.toString('latin1');
      if (!stored.startsWith(`$${id}$`)) throw new PasswordDataError(`Not a $${id}$ crypt string`);
      return constantTimeEquals(await shaCrypt(plain, stored), stored);
    },
  };
}

export function constantTimeEquals(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
