import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import {
  DEFAULT_PASSWORD_SCHEME,
  credentialsFor,
  hashPassword,
  verifyPassword,
} from '../../src/auth/schemes/registry.js';
import { hmacMd5FromContext } from '../../src/auth/schemes/cram-md5.js';

interface Fixture {
  scheme: string;
  password: string;
  hash: string;
  command: string;
}
const fixtures: Fixture[] = JSON.parse(readFileSync(new URL('../fixtures/auth/doveadm-pw.json', import.meta.url), 'utf8')).hashes;

describe('hashes written by doveadm pw verify in Roost', () => {
  test.each(fixtures.map((f) => [f.command, f] as const))('%s', async (_cmd, f) => {
    expect(await verifyPassword(f.password, f.hash)).toEqual({ ok: true });
    // Prepended, not appended: DES crypt reads only the first 8 characters.
    expect(await verifyPassword('x' + f.password, f.hash)).toEqual({ ok: false });
  });
});

// Schemes Roost can create; ARGON2 with small memory so the suite stays fast.
const CREATABLE = ['PLAIN', 'CLEAR', 'CRYPT', 'MD5-CRYPT', 'SHA256-CRYPT', 'SHA512-CRYPT', 'BLF-CRYPT', 'ARGON2I', 'ARGON2ID', 'PBKDF2',
  'SSHA', 'SSHA256', 'SSHA512', 'SHA', 'SHA256', 'SHA512', 'SHA.HEX', 'SHA256.HEX', 'SSHA.B64', 'PLAIN-MD5', 'LDAP-MD5', 'SMD5',
  'CRAM-MD5', 'SCRAM-SHA-1', 'SCRAM-SHA-256'];
const lowCost = { memoryKiB: 1024, rounds: undefined as number | undefined };
const optsFor = (s: string) => (s.startsWith('ARGON2') ? { ...lowCost, rounds: 3 } : s.includes('BLF') || s === 'CRYPT' ? { rounds: 4 } : {});
const password = 'pässwörd with spaces & ünïcode';

describe('Roost-made hashes', () => {
  test.each(CREATABLE)('%s round-trips and rejects a wrong password', async (scheme) => {
    const stored = await hashPassword(password, scheme, optsFor(scheme));
    expect(stored.startsWith(`{${scheme}}`)).toBe(true);
    expect(await verifyPassword(password, stored)).toEqual({ ok: true });
    expect(await verifyPassword('wrong', stored)).toEqual({ ok: false });
  });

  const doveadm = ['/usr/bin/doveadm', '/usr/local/bin/doveadm'].find((p) => existsSync(p));
  // Skipped (not silently passed) where Dovecot is not installed: `apt-get install dovecot-core`.
  (doveadm ? test : test.skip)('every Roost-made hash verifies with `doveadm pw -t` (Dovecot 2.3)', async () => {
    const run = promisify(execFile);
    const failures: string[] = [];
    for (const scheme of CREATABLE) {
      const stored = await hashPassword(password, scheme, optsFor(scheme));
      try {
        const { stdout } = await run(doveadm!, ['pw', '-t', stored, '-p', password]);
        if (!stdout.includes('(verified)')) failures.push(`${scheme}: ${stdout}`);
      } catch (err) {
        failures.push(`${scheme}: ${(err as Error).message}`);
      }
    }
    expect(failures).toEqual([]);
  });

  test(`the default scheme is ${DEFAULT_PASSWORD_SCHEME}`, async () => {
    expect(await hashPassword('x')).toMatch(/^\{SHA512-CRYPT\}\$6\$[./0-9A-Za-z]{16}\$[./0-9A-Za-z]{86}$/);
  });
});

describe('errors as Lua req:password_verify reports them', () => {
  test('unknown scheme', async () => {
    expect(await verifyPassword('x', '{NOPE}abc')).toEqual({ error: 'Unknown scheme NOPE', unknownScheme: true });
  });
  test('bad data', async () => {
    expect(await verifyPassword('x', '{SHA256}!!!')).toEqual({
      error: "Password data is not valid for scheme SHA256: Input isn't valid base64 encoded data",
    });
    expect(await verifyPassword('x', '{SHA256.HEX}abcd')).toEqual({
      error: "Password data is not valid for scheme SHA256.HEX: Input length isn't valid (2 instead of 32)",
    });
    expect(await verifyPassword('x', '{PBKDF2}nonsense')).toEqual({ error: 'Password data is not valid for scheme PBKDF2: Invalid PBKDF2 format' });
  });
  test('no prefix means PLAIN, or the given default scheme', async () => {
    expect(await verifyPassword('secret', 'secret')).toEqual({ ok: true });
    expect(await verifyPassword('secret', 'CnXYrzahUbPO6', { defaultScheme: 'CRYPT' })).toEqual({ ok: true });
  });
  test('creating an unknown scheme throws', async () => {
    await expect(hashPassword('x', 'nope')).rejects.toThrow('Unknown scheme NOPE');
  });
});

describe('credentialsFor', () => {
  test('CRAM-MD5 from doveadm context and from plaintext compute RFC 2195 responses', async () => {
    // RFC 2195 §2 example (the shared secret there is "tanstaaftanstaaf").
    const challenge = Buffer.from('<1896.697170952@postoffice.reston.mci.net>');
    const fromPlain = await credentialsFor('{PLAIN}tanstaaftanstaaf', 'CRAM-MD5');
    if (!('credentials' in fromPlain)) throw new Error(fromPlain.error);
    expect(hmacMd5FromContext(fromPlain.credentials, challenge).toString('hex')).toBe('b913a602c7eda7a495b4e6e7334d3890');
    const stored = fixtures.find((f) => f.scheme === 'CRAM-MD5' && f.password === 'secret')!.hash;
    const fromStored = await credentialsFor(stored, 'CRAM-MD5');
    const fromSecret = await credentialsFor('{PLAIN}secret', 'CRAM-MD5');
    expect(fromStored).toEqual(fromSecret);
  });
  test('a hash of another scheme cannot give CRAM-MD5 credentials', async () => {
    expect(await credentialsFor('{SHA512-CRYPT}$6$x$y', 'CRAM-MD5')).toEqual({ error: 'Requested CRAM-MD5 scheme, but we have only SHA512-CRYPT' });
  });
});
