// Plain and salted digests: SHA/SHA256/SHA512 (base64), PLAIN-MD5 (hex), LDAP-MD5 (base64) and the
// salted SSHA/SSHA256/SSHA512/SMD5 family: base64(H(password + salt) + salt) (RFC 2307 style,
// Dovecot password-scheme.c).
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { PasswordDataError, type PasswordScheme, type SchemeEncoding } from './types.js';

type Algorithm = 'md5' | 'sha1' | 'sha256' | 'sha512';
const LENGTH: Record<Algorithm, number> = { md5: 16, sha1: 20, sha256: 32, sha512: 64 };

export function digestScheme(name: string, algorithm: Algorithm, encoding: SchemeEncoding): PasswordScheme {
  return {
    name,
    encoding,
    rawLength: LENGTH[algorithm],
    generate: async (plain) => createHash(algorithm).update(plain).digest(),
  };
}

/** Dovecot uses 4-byte salts for new salted digests; any salt length verifies. */
const SALT_LENGTH = 4;

export function saltedDigestScheme(name: string, algorithm: Algorithm): PasswordScheme {
  const hashLength = LENGTH[algorithm];
  return {
    name,
    encoding: 'base64',
    rawLength: 0,
    generate: async (plain) => {
      const salt = randomBytes(SALT_LENGTH);
      return Buffer.concat([createHash(algorithm).update(plain).update(salt).digest(), salt]);
    },
    verify: async (plain, raw) => {
      if (raw.length <= hashLength) throw new PasswordDataError(`${name} password is too short`);
      const salt = raw.subarray(hashLength);
      const computed = createHash(algorithm).update(plain).update(salt).digest();
      return timingSafeEqual(computed, raw.subarray(0, hashLength));
    },
  };
}
