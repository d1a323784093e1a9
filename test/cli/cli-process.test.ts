// The built `roost` command as users run it (a child process): through links, with global
// options after the verb, Dovecot's CLI habits (doveconf, doveadm pw -l, doveadm mailbox status,
// dovecot-lda -m), and configuration problems reported with file and line before anything starts.
import { jest } from '@jest/globals';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VERB_NAMES } from '../../src/cli/cli.js';
import { buildCli, MAIN, roost, ROOT, run } from './built-roost.js';

// Each test spawns the command several times; on a busy machine a spawn can take seconds.
jest.setTimeout(180_000);

let dir: string;
let conf: string;

beforeAll(() => {
  buildCli();
}, 120_000);

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'roost-cli-proc-'));
  conf = join(dir, 'roost.conf');
  writeFileSync(conf, `data_dir = ${dir}/data\nssl = no\n`);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const MSG = 'From: a@remote.test\r\nMessage-ID: <lda-1@remote.test>\r\nSubject: lda\r\n\r\nbody\r\n';

describe('the roost command through links', () => {
  test('a symlink to the entry file runs the command (node_modules/.bin, npx)', async () => {
    const link = join(dir, 'roost');
    symlinkSync(MAIN, link);
    const r = await run(process.execPath, [link, 'version']);
    expect(r).toEqual({ code: 0, stdout: expect.stringMatching(/^roost \d+\.\d+\.\d+\n$/), stderr: '' });
  });

  test('npx roost in the package folder (npx links the package into its cache and runs the bin link)', async () => {
    // --offline and a private cache: nothing is fetched, the user's npm cache is left alone.
    const r = await run('npx', ['--offline', '--cache', join(dir, 'npm-cache'), 'roost', '-c', conf, 'user', 'list'], { cwd: ROOT });
    expect(r).toEqual({ code: 0, stdout: '', stderr: '' });
    const v = await run('npx', ['--offline', '--cache', join(dir, 'npm-cache'), 'roost', 'version'], { cwd: ROOT });
    expect(v.stdout).toMatch(/^roost \d+\.\d+\.\d+\n$/);
  });

  test('npm link / npm install -g layout: bin link into a linked package folder, run by its shebang', async () => {
    // <prefix>/lib/node_modules/roost -> the package; <prefix>/bin/roost -> ../lib/node_modules/roost/dist/src/cli/main.js
    mkdirSync(join(dir, 'lib/node_modules'), { recursive: true });
    mkdirSync(join(dir, 'bin'));
    symlinkSync(ROOT, join(dir, 'lib/node_modules/roost'));
    symlinkSync('../lib/node_modules/roost/dist/src/cli/main.js', join(dir, 'bin/roost'));
    chmodSync(MAIN, 0o755); // npm makes bin targets executable when it links them
    const r = await run(join(dir, 'bin/roost'), ['-c', conf, 'user', 'list']);
    expect(r).toEqual({ code: 0, stdout: '', stderr: '' });
    const add = await run(join(dir, 'bin/roost'), ['user', 'add', 'alice', '-p', 'pw', '-c', conf]);
    expect(add).toEqual({ code: 0, stdout: 'Added user alice\n', stderr: '' });
  });
});

describe('npm run roost', () => {
  test('runs the built command without compiling it again; with -s stdout is the command output only', async () => {
    const { mtimeMs } = statSync(MAIN);
    expect((await roost(['-c', conf, 'user', 'add', 'erin', '-p', 'pw'])).code).toBe(0);
    const r = await run('npm', ['run', '-s', 'roost', '--', 'user', 'list', '-c', conf], { cwd: ROOT });
    expect(r).toEqual({ code: 0, stdout: 'erin\n', stderr: '' });
    // scripts/build-if-stale.mjs found dist/ current: nothing was rewritten.
    expect(statSync(MAIN).mtimeMs).toBe(mtimeMs);
  });
});

describe('options and help', () => {
  test('-c and -o work before and after the verb', async () => {
    expect((await roost(['user', 'add', 'bob', '-p', 'pw', '-c', conf])).code).toBe(0);
    expect((await roost(['-c', conf, 'user', 'list'])).stdout).toBe('bob\n');
    expect((await roost(['user', 'list', '--config', conf])).stdout).toBe('bob\n');
    const over = await roost(['config', 'mail_max_userip_connections', '-c', conf, '-o', 'mail_max_userip_connections=3']);
    expect(over).toEqual({ code: 0, stdout: 'mail_max_userip_connections = 3\n', stderr: '' });
  });

  test('--help lists every verb', async () => {
    const r = await roost(['--help']);
    expect(r.code).toBe(0);
    for (const verb of VERB_NAMES) expect(r.stdout).toMatch(new RegExp(`^  ${verb}\\b`, 'm'));
    expect((await roost(['help'])).stdout).toBe(r.stdout);
  });

  test('a reader that closes the pipe early (`roost help | head -0`) ends the command quietly', async () => {
    const child = spawn(process.execPath, [MAIN, 'help'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy(); // the reader is gone before the command writes: its write gets EPIPE
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  });
});

describe('like doveconf', () => {
  test('config -n, config SETTING, -h, sections by path; an unknown name gets a suggestion', async () => {
    writeFileSync(conf, `data_dir = ${dir}/data\nssl = no\nimap_metadata = yes\n`);
    const n = await roost(['-c', conf, 'config', '-n']);
    expect(n.stdout).toBe(`data_dir = ${dir}/data\nimap_metadata = yes\nssl = no\n`);
    expect((await roost(['-c', conf, 'config'])).stdout).toBe(n.stdout);
    expect((await roost(['-c', conf, 'config', 'imap_metadata', 'mail_max_userip_connections'])).stdout).toBe(
      'imap_metadata = yes\nmail_max_userip_connections = 10\n',
    );
    expect((await roost(['-c', conf, 'config', '-h', 'imap_metadata'])).stdout).toBe('yes\n');
    expect((await roost(['-c', conf, 'config', 'service/imap-login/inet_listener/imap/port'])).stdout).toBe(
      'service/imap-login/inet_listener/imap/port = 1143\n',
    );
    expect((await roost(['-c', conf, 'config', 'service/lmtp'])).stdout).toMatch(/^service lmtp \{\n[^]*  inet_listener lmtp \{\n    address =\n    port = 2424\n/);
    const typo = await roost(['-c', conf, 'config', 'imap_metdata']);
    expect(typo).toEqual({ code: 1, stdout: '', stderr: 'roost: Unknown setting: imap_metdata (did you mean imap_metadata?)\n' });
  });

  test('-o reaches nested settings by doveconf path, and its errors name the -o', async () => {
    const port = await roost(['-c', conf, '-o', 'service/imap-login/inet_listener/imap/port=21143', '-o', 'plugin/foo=bar', 'config', '-n']);
    expect(port.stdout).toContain('service imap-login {\n  inet_listener imap {\n    port = 21143\n  }\n}\n');
    expect(port.stdout).toContain('plugin {\n  foo = bar\n}\n');
    const filter = await roost(['-c', conf, '-o', 'protocol/imap/imap_metadata=yes', 'config', '-n']);
    expect(filter.stdout).toContain('protocol imap {\n  imap_metadata = yes\n}\n');
    const bad = await roost(['-c', conf, '-o', 'service/imap-login/inet_listener/imap/port=abc', 'config']);
    expect(bad).toEqual({ code: 78, stdout: '', stderr: 'roost: Fatal: -o service/imap-login/inet_listener/imap/port=abc: port: Invalid port number abc\n' });
    const unknown = await roost(['-c', conf, '-o', 'mail_max_userip_conections=3', 'config']);
    expect(unknown.stderr).toBe(
      'roost: Fatal: -o mail_max_userip_conections=3: Unknown setting: mail_max_userip_conections (did you mean mail_max_userip_connections?)\n',
    );
  });
});

describe('configuration problems stop start-up with file and line', () => {
  test("Debian's stock dovecot.conf (passdb driver = pam): roost config and roost serve exit 78 naming the line", async () => {
    const debian = join(ROOT, 'test/fixtures/config/debian/dovecot.conf');
    const want = `roost: Fatal: ${ROOT}/test/fixtures/config/debian/conf.d/auth-system.conf.ext line 11: Unknown passdb driver 'pam' (Roost has: roost, passwd-file, static, lua, sql)\n`;
    const cfg = await roost(['-c', debian, 'config']);
    expect(cfg).toEqual({ code: 78, stdout: '', stderr: want });
    const serve = await roost(['serve', '-c', debian, '-o', `data_dir=${dir}/data`], { cwd: dir });
    expect(serve.code).toBe(78);
    expect(serve.stdout).not.toContain('listening');
    expect(serve.stderr).toContain(want);
  });

  test('an unknown userdb driver, a misspelled setting', async () => {
    writeFileSync(conf, `data_dir = ${dir}/data\nuserdb {\n  driver = ldap\n}\n`);
    expect((await roost(['-c', conf, 'config'])).stderr).toBe(
      `roost: Fatal: ${conf} line 3: Unknown userdb driver 'ldap' (Roost has: roost, passwd-file, static, lua, sql)\n`,
    );
    writeFileSync(conf, `data_dir = ${dir}/data\nmail_max_userip_conections = 3\n`);
    expect((await roost(['-c', conf, 'config'])).stderr).toBe(
      `roost: Fatal: ${conf} line 2: Unknown setting: mail_max_userip_conections (did you mean mail_max_userip_connections?)\n`,
    );
    writeFileSync(conf, `data_dir = ${dir}/data\nservice imap-login {\n  inet_listener imap {\n    prot = 1\n  }\n}\n`);
    expect((await roost(['-c', conf, 'config'])).stderr).toBe(`roost: Fatal: ${conf} line 4: Unknown setting: prot (did you mean port?)\n`);
  });

  test('ssl_cert / ssl_key that cannot be read, or one without the other, name the setting', async () => {
    writeFileSync(join(dir, 'key.pem'), 'not really a key\n');
    writeFileSync(conf, `data_dir = ${dir}/data\nssl_cert = <${dir}/missing.pem\nssl_key = <${dir}/key.pem\n`);
    const r = await roost(['serve', '-c', conf]);
    expect(r.code).toBe(78);
    expect(r.stderr).toBe(`roost: Fatal: ${conf} line 2: ssl_cert: Can't open file ${dir}/missing.pem: No such file or directory\n`);
    writeFileSync(conf, `data_dir = ${dir}/data\nssl_key = <${dir}/key.pem\n`);
    expect((await roost(['config', '-c', conf])).stderr).toBe(
      `roost: Fatal: ${conf} line 2: ssl_key is set but ssl_cert is not: set both, or neither for a generated self-signed certificate\n`,
    );
    // ssl = no: the certificate is not used, so not checked (as Dovecot).
    writeFileSync(conf, `data_dir = ${dir}/data\nssl = no\nssl_cert = <${dir}/missing.pem\nssl_key = <${dir}/key.pem\n`);
    expect((await roost(['config', '-c', conf])).code).toBe(0);
  });

  test('a mail_lua_script that does not exist', async () => {
    writeFileSync(conf, `data_dir = ${dir}/data\nssl = no\nplugin {\n  mail_lua_script = ${dir}/nope.lua\n}\n`);
    const r = await roost(['serve', '-c', conf]);
    expect(r).toEqual({ code: 78, stdout: '', stderr: `roost: Fatal: ${conf} line 4: mail_lua_script: Can't open file ${dir}/nope.lua: No such file or directory\n` });
  });
});

describe('like doveadm and dovecot-lda', () => {
  test('pw -l lists the schemes', async () => {
    const r = await roost(['pw', '-l']);
    expect(r.code).toBe(0);
    const schemes = r.stdout.trim().split(' ');
    expect(schemes).toEqual(expect.arrayContaining(['SHA512-CRYPT', 'BLF-CRYPT', 'ARGON2ID', 'PLAIN', 'CRAM-MD5', 'SCRAM-SHA-256', 'SSHA512']));
    // Every listed scheme hashes.
    const h = await roost(['pw', '-s', schemes.includes('SSHA256') ? 'SSHA256' : schemes[0]!, '-p', 'x']);
    expect(h.code).toBe(0);
  });

  test('mailbox status of a missing mailbox is an error (exit 68); a pattern matching nothing is not', async () => {
    expect((await roost(['-c', conf, 'user', 'add', 'carol', '-p', 'pw'])).code).toBe(0);
    const missing = await roost(['-c', conf, 'mailbox', 'status', '-u', 'carol', 'messages', 'Missing']);
    expect(missing).toEqual({ code: 68, stdout: '', stderr: "roost: Error: Mailbox Missing: Failed to lookup mailbox status: Mailbox doesn't exist: Missing\n" });
    const both = await roost(['-c', conf, 'mailbox', 'status', '-u', 'carol', 'messages', 'INBOX', 'Missing']);
    expect(both.code).toBe(68);
    expect(both.stdout).toBe('INBOX messages=0\n');
    expect(await roost(['-c', conf, 'mailbox', 'status', '-u', 'carol', 'messages', 'Miss*'])).toEqual({ code: 0, stdout: '', stderr: '' });
  });

  test('deliver -m Missing saves to INBOX with dovecot-lda log lines; lda_mailbox_autocreate/autosubscribe create it', async () => {
    expect((await roost(['-c', conf, 'user', 'add', 'dave', '-p', 'pw'])).code).toBe(0);
    const r = await roost(['-c', conf, 'deliver', '-u', 'dave', '-m', 'Missing'], { input: MSG });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    // The same two lines dovecot-lda 2.3.19 logs (checked with a private configuration), each
    // after log_timestamp (dovecot-lda writes it to stderr too).
    expect(r.stderr).toMatch(
      /^\w{3} \d\d \d\d:\d\d:\d\d lda\(dave\)<\d+><[^>]+>: Info: msgid=<lda-1@remote\.test>: save failed to open mailbox Missing: Mailbox doesn't exist: Missing\n\w{3} \d\d \d\d:\d\d:\d\d lda\(dave\)<\d+><[^>]+>: Info: msgid=<lda-1@remote\.test>: saved mail to INBOX\n$/m,
    );
    expect((await roost(['-c', conf, 'mailbox', 'status', '-u', 'dave', 'messages', 'INBOX'])).stdout).toBe('INBOX messages=1\n');
    expect((await roost(['-c', conf, 'mailbox', 'list', '-u', 'dave'])).stdout).toBe('INBOX\n');

    const auto = ['-o', 'lda_mailbox_autocreate=yes', '-o', 'lda_mailbox_autosubscribe=yes'];
    const created = await roost(['-c', conf, ...auto, 'deliver', '-u', 'dave', '-m', 'Lists/New'], { input: MSG });
    expect(created.code).toBe(0);
    expect(created.stderr).toMatch(/Info: msgid=<lda-1@remote\.test>: saved mail to Lists\/New\n$/);
    expect((await roost(['-c', conf, 'mailbox', 'status', '-u', 'dave', 'messages', 'Lists/New'])).stdout).toBe('Lists/New messages=1\n');
    expect((await roost(['-c', conf, 'mailbox', 'list', '-u', 'dave', '-s'])).stdout).toBe('Lists/New\n');
    // Created but not subscribed without lda_mailbox_autosubscribe.
    const quiet = await roost(['-c', conf, '-o', 'lda_mailbox_autocreate=yes', 'deliver', '-u', 'dave', '-m', 'Other'], { input: MSG });
    expect(quiet.code).toBe(0);
    expect((await roost(['-c', conf, 'mailbox', 'list', '-u', 'dave', '-s'])).stdout).toBe('Lists/New\n');
    expect((await roost(['-c', conf, 'mailbox', 'list', '-u', 'dave', 'Other'])).stdout).toBe('Other\n');
  });
});
