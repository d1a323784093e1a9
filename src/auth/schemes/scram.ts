// SCRAM-SHA-1 / SCRAM-SHA-256 stored credentials (RFC 5802 §3, RFC 7677):
// `<iterations>,<salt b64>,<StoredKey b64>,<ServerKey b64>` as Dovecot's password-scheme-scram.c.
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { PasswordDataError, type PasswordScheme } from './types.js';

export type ScramHash = 'sha1' | 'sha256';
const DEFAULT_ITERATIONS = 4096;

export interface ScramCredentials {
  iterations: number;
  salt: Buffer;
  storedKey: Buffer;
  serverKey: Buffer;
}

export function scramSaltedPassword(hash: ScramHash, plain: Buffer, salt: Buffer, iterations: number): Buffer {
  return pbkdf2Sync(plain, salt, iterations, hash === 'sha1' ? 20 : 32, hash);
}

export function scramKeysFromSalted(hash: ScramHash, salted: Buffer): { storedKey: Buffer; serverKey: Buffer } {
  const clientKey = createHmac(hash, salted).update('Client Key').digest();
  return {
    storedKey: createHash(hash).update(clientKey).digest(),
    serverKey: createHmac(hash, salted).update('Server Key').digest(),
  };
}

export function scramCredentialsFromPlain(hash: ScramHash, plain: Buffer, salt: Buffer, iterations: number): ScramCredentials {
  return { iterations, salt, ...scramKeysFromSalted(hash, scramSaltedPassword(hash, plain, salt, iterations)) };
}

export function parseScramCredentials(name: string, hash: ScramHash, data: string): ScramCredentials {
  const parts = data.split(',');
  const bad = () => new PasswordDataError(`Invalid ${name} passdb entry format`);
  if (parts.length !== 4) throw bad();
  const iterations = Number(parts[0]);
  if (!Number.isInteger(iterations) || iterations < 1) throw new PasswordDataError(`Invalid ${name} iteration count: ${parts[0]}`);
  const [salt, storedKey, serverKey] = parts.slice(1).map((p) => Buffer.from(p, 'base64'));
  const len = hash === 'sha1' ? 20 : 32;
  if (!salt?.length || storedKey?.length !== len || serverKey?.length !== len) throw bad();
  return { iterations, salt, storedKey, serverKey };
}

export function formatScramCredentials(c: ScramCredentials): string {
  return [c.iterations, c.salt.toString('base64'), c.storedKey.toString('base64'), c.serverKey.toString('base64')].join(',');
}

export function scramScheme(name: string, hash: ScramHash): PasswordScheme {
  return {
    name,
    encoding: 'none',
    rawLength: 0,
    generate: async (plain, ctx) =>
      Buffer.from(formatScramCredentials(scramCredentialsFromPlain(hash, plain, randomBytes(16), ctx.rounds ?? DEFAULT_ITERATIONS))),
    verify: async (plain, raw) => {
      const c = parseScramCredentials(name, hash, raw.toString('latin1'));
      const { storedKey } = scramCredentialsFromPlain(hash, plain, c.salt, c.iterations);
      return timingSafeEqual(storedKey, c.storedKey);
    },
  };
}
