// MD5-CRYPT ($1$): Poul-Henning Kamp's FreeBSD MD5 crypt, as in glibc and Dovecot's md5crypt.c.
import { createHash, randomBytes } from 'node:crypto';
import { cryptB64Groups, randomCryptSalt } from './crypt-alphabet.js';
import { constantTimeEquals } from './sha-crypt.js';
import { PasswordDataError, type PasswordScheme } from './types.js';

const ORDER = [[0, 6, 12], [1, 7, 13], [2, 8, 14], [3, 9, 15], [4, 10, 5], [11]] as const;
const MAGIC = '$1$';

export function md5Crypt(password: Buffer, setting: string): string {
  if (!setting.startsWith(MAGIC)) throw new PasswordDataError('Not a $1$ crypt string');
  const salt = Buffer.from(setting.slice(3).split('$')[0]!.slice(0, 8), 'latin1');
  const md5 = () => createHash('md5');
  const alt = md5().update(password).update(salt).update(password).digest();
  const ctx = md5().update(password).update(MAGIC).update(salt);
  for (let n = password.length; n > 0; n -= 16) ctx.update(alt.subarray(0, Math.min(n, 16)));
  for (let n = password.length; n > 0; n >>= 1) ctx.update(n & 1 ? Buffer.of(0) : password.subarray(0, 1));
  let final = ctx.digest();
  for (let i = 0; i < 1000; i++) {
    const h = md5().update(i & 1 ? password : final);
    if (i % 3) h.update(salt);
    if (i % 7) h.update(password);
    h.update(i & 1 ? final : password);
    final = h.digest();
  }
  return `${MAGIC}${salt.toString('latin1')}$${cryptB64Groups(final, ORDER)}`;
}

export function md5CryptScheme(name: string): PasswordScheme {
  return {
    name,
    encoding: 'none',
    rawLength: 0,
    generate: async (plain) => Buffer.from(md5Crypt(plain, MAGIC + randomCryptSalt(8, randomBytes(8)))),
    verify: async (plain, raw) => {
      const stored = raw.toString('latin1');
      return constantTimeEquals(md5Crypt(plain, stored), stored);
    },
  };
}
