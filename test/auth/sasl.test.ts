import { logHub } from '../../src/log/logger.js';
import { AuthService } from '../../src/auth/service.js';
import { createMechanism, decodeClientResponse } from '../../src/auth/sasl/index.js';
import { cramMd5Mechanism } from '../../src/auth/sasl/cram-md5.js';
import { scramMechanism } from '../../src/auth/sasl/scram.js';
import { formatScramCredentials, scramCredentialsFromPlain } from '../../src/auth/schemes/scram.js';
import { info, memoryAccounts } from './helpers.js';

logHub.setDefaultOutput(false);
const sleep = async () => {};
const scram1 = formatScramCredentials(scramCredentialsFromPlain('sha1', Buffer.from('pencil'), Buffer.from('QSXCR+Q6sek8bf92', 'base64'), 4096));
const scram256 = formatScramCredentials(scramCredentialsFromPlain('sha256', Buffer.from('pencil'), Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'), 4096));
const accounts = memoryAccounts([
  { username: 'user', password: `{SCRAM-SHA-1}${scram1}`, fields: {} },
  { username: 'user256', password: `{SCRAM-SHA-256}${scram256}`, fields: {} },
  { username: 'tim', password: '{PLAIN}tanstaaftanstaaf', fields: {} },
  { username: 'alice', password: '{PLAIN}wonderland', fields: {} },
]);
const auth = new AuthService(
  { passdbs: [{ driver: 'roost', args: '' }], userdbs: [], auth_username_format: '%u', auth_failure_delay: 0 },
  { accounts, sleep },
);
const b = (s: string) => Buffer.from(s, 'latin1');

test('PLAIN with initial response, and with an empty challenge first', async () => {
  const m = createMechanism('PLAIN', auth, info)!;
  expect(await m.step(b('\0alice\0wonderland'))).toMatchObject({ done: { ok: true, user: 'alice' } });
  const m2 = createMechanism('plain', auth, info)!;
  expect(await m2.step(null)).toEqual({ challenge: Buffer.alloc(0) });
  expect(await m2.step(b('\0alice\0bad'))).toMatchObject({ done: { ok: false, reason: 'mismatch' } });
  expect(await createMechanism('PLAIN', auth, info)!.step(b('garbage'))).toMatchObject({ done: { ok: false } });
});

test('LOGIN', async () => {
  const m = createMechanism('LOGIN', auth, info)!;
  expect(await m.step(null)).toEqual({ challenge: b('Username:') });
  expect(await m.step(b('alice'))).toEqual({ challenge: b('Password:') });
  expect(await m.step(b('wonderland'))).toMatchObject({ done: { ok: true, user: 'alice' } });
});

test('CRAM-MD5: RFC 2195 example', async () => {
  const m = cramMd5Mechanism({ auth, info }, '<1896.697170952@postoffice.reston.mci.net>');
  expect(await m.step(null)).toEqual({ challenge: b('<1896.697170952@postoffice.reston.mci.net>') });
  expect(await m.step(b('tim b913a602c7eda7a495b4e6e7334d3890'))).toMatchObject({ done: { ok: true, user: 'tim' } });
  const bad = cramMd5Mechanism({ auth, info }, '<x@y>');
  await bad.step(null);
  expect(await bad.step(b('tim b913a602c7eda7a495b4e6e7334d3890'))).toMatchObject({ done: { ok: false, reason: 'mismatch' } });
});

test('SCRAM-SHA-1: RFC 5802 §5 example', async () => {
  const m = scramMechanism({ auth, info }, 'sha1', { serverNonce: '3rfcNHYJY1ZVvWVs7j' });
  expect((await m.step(b('n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL'))) as { challenge: Buffer }).toEqual({
    challenge: b('r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096'),
  });
  expect(await m.step(b('c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts='))).toEqual({
    challenge: b('v=rmF9pqV8S7suAoZWja4dJRkFsKQ='),
  });
  expect(await m.step(Buffer.alloc(0))).toMatchObject({ done: { ok: true, user: 'user' } });
});

test('SCRAM-SHA-256: RFC 7677 §3 example; a wrong proof fails', async () => {
  // The RFC's user is "user"; a static passdb holds the RFC's SCRAM-SHA-256 credentials.
  const ok = scramMechanism({ auth, info }, 'sha256', { serverNonce: '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0' });
  const accounts256 = new AuthService({ passdbs: [{ driver: 'static', args: `password={SCRAM-SHA-256}${scram256}` }], userdbs: [], auth_failure_delay: 0 }, { sleep });
  const rfc = scramMechanism({ auth: accounts256, info }, 'sha256', { serverNonce: '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0' });
  expect(await rfc.step(b('n,,n=user,r=rOprNGfwEbeRWgbNEkqO'))).toEqual({
    challenge: b('r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096'),
  });
  expect(await rfc.step(b('c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ='))).toEqual({
    challenge: b('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4='),
  });
  expect(await rfc.step(Buffer.alloc(0))).toMatchObject({ done: { ok: true, user: 'user' } });
  await ok.step(b('n,,n=user256,r=abc'));
  expect(await ok.step(b('c=biws,r=abc%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ='))).toMatchObject({ done: { ok: false, reason: 'mismatch' } });
});

test('SCRAM from a plaintext password; channel binding refused', async () => {
  const m = createMechanism('SCRAM-SHA-256', auth, info)!;
  const first = (await m.step(b('n,,n=alice,r=nonce'))) as { challenge: Buffer };
  expect(first.challenge.toString()).toMatch(/^r=nonce.+,s=.+,i=4096$/);
  expect(await createMechanism('SCRAM-SHA-1', auth, info)!.step(b('p=tls-unique,,n=alice,r=x'))).toMatchObject({ done: { ok: false } });
});

test('OAUTHBEARER and XOAUTH2 pass the token to the passdb as the password', async () => {
  const tokenAuth = new AuthService({ passdbs: [{ driver: 'static', args: 'password=tok123' }], userdbs: [], auth_failure_delay: 0 }, { sleep });
  const ob = createMechanism('OAUTHBEARER', tokenAuth, info)!;
  expect(await ob.step(b('n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer tok123\x01\x01'))).toMatchObject({ done: { ok: true, user: 'user@example.com' } });
  const bad = createMechanism('OAUTHBEARER', tokenAuth, info)!;
  const ch = (await bad.step(b('n,a=u,\x01auth=Bearer nope\x01\x01'))) as { challenge: Buffer };
  expect(JSON.parse(ch.challenge.toString())).toMatchObject({ status: 'invalid_token' });
  expect(await bad.step(b('\x01'))).toMatchObject({ done: { ok: false } });
  const xo = createMechanism('XOAUTH2', tokenAuth, info)!;
  expect(await xo.step(b('user=someone\x01auth=Bearer tok123\x01\x01'))).toMatchObject({ done: { ok: true, user: 'someone' } });
});

test('client response decoding: abort and bad base64; unknown mechanism', () => {
  expect(decodeClientResponse('*')).toEqual({ aborted: true });
  expect(decodeClientResponse('!!')).toEqual({ error: 'Invalid base64 data in continued response' });
  expect(decodeClientResponse('AGFsaWNl')).toEqual({ data: b('\0alice') });
  expect(createMechanism('GSSAPI', auth, info)).toBeUndefined();
});
