import { mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { captureLogs, logHub } from '../../src/log/logger.js';
import { AuthService } from '../../src/auth/service.js';
import { hashPassword } from '../../src/auth/schemes/registry.js';
import type { AuthSettings } from '../../src/auth/settings.js';
import { info, memoryAccounts } from './helpers.js';

logHub.setDefaultOutput(false);
const dir = mkdtempSync(join(tmpdir(), 'roost-auth-'));
const sleeps: number[] = [];
const sleep = async (ms: number) => void sleeps.push(ms);

function service(settings: Partial<AuthSettings>, accounts = memoryAccounts([])) {
  return new AuthService({ passdbs: [], userdbs: [], ...settings }, { accounts, sleep });
}

const accounts = memoryAccounts([
  { username: 'alice', password: '{PLAIN}wonderland', uid: 1000, home: '/srv/mail/alice', fields: { quota_rule: '*:storage=1G' } },
  { username: 'bob', password: '{SHA256.HEX}2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b', fields: {} },
]);
const roost = { passdbs: [{ driver: 'roost', args: '' }], userdbs: [{ driver: 'roost', args: '' }] };

describe('roost driver', () => {
  test('success returns userdb fields; mismatch and unknown fail with Dovecot log lines', async () => {
    const logs = captureLogs();
    const auth = service(roost, accounts);
    expect(await auth.authenticatePlain({ ...info, user: 'Alice', password: 'wonderland' })).toEqual({
      ok: true, user: 'alice', masterUser: undefined, originalUser: 'Alice', passdbFields: { quota_rule: '*:storage=1G' },
      userdbFields: { uid: '1000', home: '/srv/mail/alice', quota_rule: '*:storage=1G' },
    });
    expect(await auth.authenticatePlain({ ...info, user: 'bob', password: 'nope' })).toEqual({ ok: false, reason: 'mismatch', message: 'Authentication failed.', user: 'bob' });
    expect(await auth.authenticatePlain({ ...info, user: 'carol', password: 'x' })).toMatchObject({ ok: false, reason: 'unknown' });
    logs.stop();
    expect(logs.lines).toContain('auth: Info: roost(bob,192.0.2.7): Password mismatch');
    expect(logs.lines).toContain('auth: Info: roost(carol,192.0.2.7): unknown user');
  });
  test('lookupUser and iterateUsers', async () => {
    const auth = service(roost, accounts);
    expect(await auth.lookupUser('ALICE', 'lmtp')).toMatchObject({ found: true, user: 'alice', fields: { home: '/srv/mail/alice' } });
    expect(await auth.lookupUser('zed', 'lmtp')).toEqual({ found: false, reason: 'unknown' });
    const users: string[] = [];
    for await (const u of auth.iterateUsers()) users.push(u);
    expect(users).toEqual(['alice', 'bob']);
  });
  test('auth_failure_delay is applied to failures only', async () => {
    sleeps.length = 0;
    const auth = service({ ...roost, auth_failure_delay: 2 }, accounts);
    await auth.authenticatePlain({ ...info, remoteIp: '198.51.100.1', user: 'alice', password: 'wonderland' });
    expect(sleeps).toEqual([]);
    await auth.authenticatePlain({ ...info, remoteIp: '198.51.100.1', user: 'alice', password: 'bad' });
    expect(sleeps).toEqual([2000]);
  });
});

describe('passwd-file driver', () => {
  const file = join(dir, 'users');
  test('format, scheme=, extra fields, userdb_ fields and reload on change', async () => {
    const hash = await hashPassword('pw1', 'SHA512-CRYPT');
    writeFileSync(file, `# comment\njo:${hash.slice('{SHA512-CRYPT}'.length)}:500:600::/home/jo::userdb_mail=sqlite:~/x.db quota_rule=*:bytes=5M\n`);
    const auth = service({
      passdbs: [{ driver: 'passwd-file', args: `scheme=SHA512-CRYPT ${file}` }],
      userdbs: [{ driver: 'passwd-file', args: file }],
    });
    const ok = await auth.authenticatePlain({ ...info, user: 'jo', password: 'pw1' });
    expect(ok).toMatchObject({ ok: true, user: 'jo', userdbFields: { uid: '500', gid: '600', home: '/home/jo', mail: 'sqlite:~/x.db', quota_rule: '*:bytes=5M' } });
    writeFileSync(file, `jo:{PLAIN}pw2:500:600::/home/jo::\n`);
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    expect(await auth.authenticatePlain({ ...info, user: 'jo', password: 'pw1' })).toMatchObject({ ok: false, reason: 'mismatch' });
    expect(await auth.authenticatePlain({ ...info, user: 'jo', password: 'pw2' })).toMatchObject({ ok: true });
  });
  test('per-domain path with %d; missing file is unknown user', async () => {
    writeFileSync(join(dir, 'example.org.passwd'), 'ann:{PLAIN}x\n');
    const auth = service({ passdbs: [{ driver: 'passwd-file', args: `${dir}/%d.passwd username_format=%n` }] });
    expect(await auth.authenticatePlain({ ...info, user: 'ann@example.org', password: 'x' })).toMatchObject({ ok: true, user: 'ann@example.org' });
    expect(await auth.authenticatePlain({ ...info, user: 'ann@nowhere.test', password: 'x' })).toMatchObject({ reason: 'unknown' });
  });
});

describe('static driver and extra fields', () => {
  test('static userdb expands variables; static passdb password; nopassword', async () => {
    const auth = service({
      passdbs: [{ driver: 'static', args: 'password=sesame' }],
      userdbs: [{ driver: 'static', args: 'uid=vmail gid=vmail home=/srv/%d/%n' }],
    });
    expect(await auth.authenticatePlain({ ...info, user: 'u@d.test', password: 'sesame' })).toMatchObject({
      ok: true, userdbFields: { uid: 'vmail', gid: 'vmail', home: '/srv/d.test/u' },
    });
    const open = service({ passdbs: [{ driver: 'static', args: 'nopassword' }] });
    expect(await open.authenticatePlain({ ...info, user: 'x', password: 'anything' })).toMatchObject({ ok: true });
  });
  test('nologin with reason, allow_nets', async () => {
    const auth = service({ passdbs: [{ driver: 'static', args: 'password=p nologin reason=Moved' }] });
    expect(await auth.authenticatePlain({ ...info, user: 'x', password: 'p' })).toEqual({ ok: false, reason: 'nologin', message: 'Moved' });
    const nets = service({ passdbs: [{ driver: 'static', args: 'password=p allow_nets=10.0.0.0/8,::1' }] });
    expect(await nets.authenticatePlain({ ...info, remoteIp: '10.1.2.3', user: 'x', password: 'p' })).toMatchObject({ ok: true });
    expect(await nets.authenticatePlain({ ...info, remoteIp: '192.0.2.1', user: 'x', password: 'p' })).toMatchObject({ ok: false, reason: 'mismatch' });
  });
});

describe('chaining', () => {
  test('result_failure=continue tries the next passdb; deny passdb refuses listed users', async () => {
    writeFileSync(join(dir, 'deny'), 'bob\n');
    const auth = service({
      passdbs: [
        { driver: 'passwd-file', args: join(dir, 'deny'), deny: true },
        { driver: 'static', args: 'password=first' },
        { driver: 'roost', args: '' },
      ],
    }, accounts);
    expect(await auth.authenticatePlain({ ...info, user: 'alice', password: 'wonderland' })).toMatchObject({ ok: true });
    expect(await auth.authenticatePlain({ ...info, user: 'alice', password: 'first' })).toMatchObject({ ok: true });
    expect(await auth.authenticatePlain({ ...info, user: 'bob', password: 'secret' })).toMatchObject({ ok: false, reason: 'disabled' });
  });
  test('result_success=continue + skip=unauthenticated: the second passdb only adds fields', async () => {
    const auth = service({
      passdbs: [
        { driver: 'roost', args: '', result_success: 'continue' },
        { driver: 'static', args: 'userdb_mail=sqlite:~/other.db', skip: 'unauthenticated' },
      ],
    }, accounts);
    expect(await auth.authenticatePlain({ ...info, user: 'alice', password: 'wonderland' })).toMatchObject({ ok: true, userdbFields: { mail: 'sqlite:~/other.db' } });
    expect(await auth.authenticatePlain({ ...info, user: 'alice', password: 'wrong' })).toMatchObject({ ok: false, reason: 'mismatch' });
  });
  test('result_failure=return-fail stops the chain', async () => {
    const auth = service({
      passdbs: [{ driver: 'roost', args: '', result_failure: 'return-fail' }, { driver: 'static', args: 'password=x' }],
    }, accounts);
    expect(await auth.authenticatePlain({ ...info, user: 'alice', password: 'x' })).toMatchObject({ ok: false });
  });
  test('unknown result_* values are rejected at startup', () => {
    expect(() => service({ passdbs: [{ driver: 'static', args: '', result_success: 'maybe' }] })).toThrow('Unknown result_success value: maybe');
    expect(() => service({ passdbs: [{ driver: 'nope', args: '' }] })).toThrow("Unknown passdb driver 'nope'");
  });
  test('userdb chain: first unknown, second found; override_fields', async () => {
    const auth = service({
      passdbs: [{ driver: 'static', args: 'nopassword' }],
      userdbs: [{ driver: 'roost', args: '' }, { driver: 'static', args: 'home=/h/%u', override_fields: 'mail=sqlite:/m/%u.db' }],
    }, accounts);
    expect(await auth.authenticatePlain({ ...info, user: 'zed', password: '' })).toMatchObject({ ok: true, userdbFields: { home: '/h/zed', mail: 'sqlite:/m/zed.db' } });
  });
});

describe('username handling and master users', () => {
  test('auth_username_format, default realm, disallowed characters', async () => {
    const auth = service({ ...roost, auth_default_realm: 'example.org', auth_username_format: '%Ln' }, accounts);
    expect(await auth.authenticatePlain({ ...info, user: 'ALICE', password: 'wonderland' })).toMatchObject({ ok: true, user: 'alice' });
    expect(await auth.authenticatePlain({ ...info, user: 'al ice', password: 'x' })).toMatchObject({ ok: false, reason: 'invalid-user' });
  });
  const masterSettings: Partial<AuthSettings> = {
    passdbs: [{ driver: 'static', args: 'password=masterpw', master: true }, { driver: 'roost', args: '' }],
    userdbs: [{ driver: 'roost', args: '' }],
    auth_master_user_separator: '*',
  };
  test('user*master logs in as user with the master password', async () => {
    const auth = service(masterSettings, accounts);
    expect(await auth.authenticatePlain({ ...info, user: 'alice*admin', password: 'masterpw' })).toMatchObject({ ok: true, user: 'alice', masterUser: 'admin', userdbFields: { home: '/srv/mail/alice' } });
    expect(await auth.authenticatePlain({ ...info, user: 'alice*admin', password: 'wonderland' })).toMatchObject({ ok: false });
  });
  test('pass=yes requires the target user to exist in the normal passdbs', async () => {
    const auth = service({ ...masterSettings, passdbs: [{ driver: 'static', args: 'password=masterpw', master: true, pass: true }, { driver: 'roost', args: '' }] }, accounts);
    expect(await auth.authenticatePlain({ ...info, user: 'alice*admin', password: 'masterpw' })).toMatchObject({ ok: true, user: 'alice' });
    expect(await auth.authenticatePlain({ ...info, user: 'ghost*admin', password: 'masterpw' })).toMatchObject({ ok: false, reason: 'unknown' });
  });
  test('authzid without master passdbs fails', async () => {
    const auth = service(roost, accounts);
    expect(await auth.authenticatePlain({ ...info, user: 'bob', authzid: 'alice', password: 'secret' })).toMatchObject({ ok: false });
  });
});
