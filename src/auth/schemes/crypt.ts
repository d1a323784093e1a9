// CRYPT: whatever the system crypt(3) understands, recognised by the setting prefix — $1$ MD5,
// $5$/$6$ SHA-crypt, $2a$/$2b$/$2y$ bcrypt, 13-character traditional DES. New CRYPT passwords are
// bcrypt, as Dovecot 2.3.19 on Debian (libxcrypt) writes them (`doveadm pw -s CRYPT` → $2y$05$).
import { bcryptCheck, bcryptHash } from './bcrypt.js';
import { desCrypt, DES_CRYPT_RE } from './des-crypt.js';
import { md5Crypt } from './md5-crypt.js';
import { constantTimeEquals, shaCrypt } from './sha-crypt.js';
import { PasswordDataError, type PasswordScheme } from './types.js';

export async function cryptVerify(plain: Buffer, stored: string): Promise<boolean> {
  if (stored.startsWith('$1$')) return constantTimeEquals(md5Crypt(plain, stored), stored);
  if (stored.startsWith('$5$') || stored.startsWith('$6$')) return constantTimeEquals(await shaCrypt(plain, stored), stored);
  if (/^\$2[abxy]\$/.test(stored)) return bcryptCheck(plain, stored);
  if (DES_CRYPT_RE.test(stored)) return constantTimeEquals(desCrypt(plain, stored), stored);
  throw new PasswordDataError('Unsupported crypt() setting');
}

export const cryptScheme: PasswordScheme = {
  name: 'CRYPT',
  encoding: 'none',
  rawLength: 0,
  offThread: true,
  generate: async (plain, ctx) => Buffer.from(await bcryptHash(plain, ctx.rounds)),
  verify: async (plain, raw) => cryptVerify(plain, raw.toString('latin1')),
};

export const desCryptScheme: PasswordScheme = {
  name: 'DES-CRYPT',
  encoding: 'none',
  rawLength: 0,
  generate: async () => {
    // Traditional DES crypt keeps 8 characters of 7 bits each: never worth creating.
    throw new PasswordDataError('DES-CRYPT is verify-only in Roost');
  },
  verify: async (plain, raw) => {
    const stored = raw.toString('latin1');
    if (!DES_CRYPT_RE.test(stored)) throw new PasswordDataError('Invalid DES crypt string');
    return constantTimeEquals(desCrypt(plain, stored), stored);
  },
};
