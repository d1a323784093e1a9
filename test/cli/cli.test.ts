import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { runCli } from '../../src/cli/cli.js';
import type { CliIo } from '../../src/cli/cli-context.js';

interface Run {
  code: number;
  out: string;
  err: string;
}

let dir: string;
let conf: string;

async function roost(...argv: string[]): Promise<Run> {
  let out = '';
  let err = '';
  const io: CliIo = {
    out: (t) => void (out += t),
    err: (t) => void (err += t),
    stdin: () => Readable.from([]),
    promptSecret: async () => null,
  };
  const code = await runCli(['-c', conf, ...argv], io);
  return { code, out, err };
}

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'roost-cli-'));
  conf = path.join(dir, 'roost.conf');
  writeFileSync(conf, `data_dir = ${dir}/data\nnamespace inbox {\n  inbox = yes\n  separator = /\n}\n`);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

test('user add, list, show, passwd, auth test and del', async () => {
  expect((await roost('user', 'add', 'alice', '-p', 'secret')).code).toBe(0);
  expect((await roost('user', 'list')).out).toBe('alice\n');
  const dup = await roost('user', 'add', 'alice', '-p', 'x');
  expect(dup.code).not.toBe(0);
  expect(dup.err).toMatch(/already exists/);
  expect((await roost('user', 'set', 'alice', 'quota_rule=*:storage=1M', 'mail_lua_script=/srv/a.lua')).code).toBe(0);
  const fields = await roost('user', 'alice');
  expect(fields.out).toContain('quota_rule\t*:storage=1M\n');
  expect(fields.out).toContain('mail_lua_script\t/srv/a.lua\n');
  expect((await roost('user', 'set', 'alice', 'uid=abc')).err).toMatch(/uid must be a number/);
  const show = await roost('user', 'show', 'alice');
  expect(show.out).toMatch(/password scheme\s*: SHA512-CRYPT/);
  const ok = await roost('auth', 'test', 'alice', 'secret');
  expect(ok.code).toBe(0);
  expect(ok.out).toMatch(/^passdb: alice auth succeeded/);
  const bad = await roost('auth', 'test', 'alice', 'wrong');
  expect(bad.code).toBe(77);
  expect(bad.out).toMatch(/auth failed/);
  expect((await roost('user', 'passwd', 'alice', '-p', 'new')).code).toBe(0);
  expect((await roost('auth', 'test', 'alice', 'new')).code).toBe(0);
  expect((await roost('user', 'del', 'alice')).code).toBe(0);
  expect((await roost('user', 'list')).out).toBe('');
}, 60000);

test('user lookup prints userdb fields and the resolved home; unknown user exits 67', async () => {
  await roost('user', 'add', 'bob@example.org', '-p', 'pw');
  const r = await roost('user', 'bob@example.org');
  expect(r.code).toBe(0);
  expect(r.out).toContain('user\tbob@example.org\n');
  expect(r.out).toContain(`home\t${dir}/data/home/example.org/bob\n`);
  const it = await roost('user', '*');
  expect(it.out).toBe('bob@example.org\n');
  const missing = await roost('user', 'nobody');
  expect(missing.code).toBe(67);
  expect(missing.err).toMatch(/doesn't exist/);
});

test('mailbox create, list, rename, status and delete', async () => {
  await roost('user', 'add', 'carol', '-p', 'pw');
  expect((await roost('mailbox', 'create', '-u', 'carol', 'Work/Projects')).code).toBe(0);
  expect((await roost('mailbox', 'list', '-u', 'carol')).out.split('\n').filter(Boolean).sort()).toEqual(['INBOX', 'Work', 'Work/Projects']);
  expect((await roost('mailbox', 'rename', '-u', 'carol', 'Work', 'Jobs')).code).toBe(0);
  expect((await roost('mailbox', 'list', '-u', 'carol', 'Jobs*')).out.split('\n').filter(Boolean).sort()).toEqual(['Jobs', 'Jobs/Projects']);
  const st = await roost('mailbox', 'status', '-u', 'carol', 'messages unseen uidnext', 'INBOX');
  expect(st.out).toBe('INBOX messages=0 unseen=0 uidnext=1\n');
  const dupe = await roost('mailbox', 'create', '-u', 'carol', 'Jobs/Projects');
  expect(dupe.code).not.toBe(0);
  expect(dupe.err).toMatch(/exists/i);
  expect((await roost('mailbox', 'delete', '-u', 'carol', 'Jobs/Projects')).code).toBe(0);
  const missing = await roost('mailbox', 'status', '-u', 'nobody', 'messages', 'INBOX');
  expect(missing.code).toBe(67);
});

test('metadata set, get, list and unset on the server and a mailbox', async () => {
  await roost('user', 'add', 'dave', '-p', 'pw');
  expect((await roost('metadata', 'set', '-u', 'dave', '', '/private/vendor/x', 'hello')).code).toBe(0);
  expect((await roost('metadata', 'get', '-u', 'dave', '', '/private/vendor/x')).out).toBe('hello\n');
  expect((await roost('metadata', 'set', '-u', 'dave', 'INBOX', '/shared/comment', 'inbox note')).code).toBe(0);
  expect((await roost('metadata', 'list', '-u', 'dave', 'INBOX')).out).toContain('/shared/comment');
  expect((await roost('metadata', 'unset', '-u', 'dave', '', '/private/vendor/x')).code).toBe(0);
  expect((await roost('metadata', 'get', '-u', 'dave', '', '/private/vendor/x')).out).toBe('');
  const bad = await roost('metadata', 'get', '-u', 'dave', '', 'nope');
  expect(bad.code).toBe(64);
  expect(bad.err).toMatch(/must begin with \/private or \/shared/);
});

test('config prints the effective settings; a bad config names file and line', async () => {
  const r = await roost('config');
  expect(r.code).toBe(0);
  expect(r.out).toContain(`data_dir = ${dir}/data`);
  writeFileSync(conf, 'data_dir = /tmp/x\nbogus_setting = 1\n');
  const bad = await roost('config');
  expect(bad.code).toBe(78);
  expect(bad.err).toMatch(/roost\.conf line 2: .*bogus_setting/);
});

test('pw hashes and verifies; bad usage exits non-zero with a message, not a stack', async () => {
  const h = await roost('pw', '-s', 'SSHA256', '-p', 'pass');
  expect(h.out).toMatch(/^\{SSHA256\}\S+\n$/);
  const t = await roost('pw', '-p', 'pass', '-t', h.out.trim());
  expect(t.out).toContain('(verified)');
  const bad = await roost('mailbox', 'list');
  expect(bad.code).toBe(64);
  expect(bad.err).toBe('roost: Missing user (-u)\n');
  const unknown = await roost('frobnicate');
  expect(unknown.code).toBe(64);
  expect(unknown.err).toMatch(/^roost: Unknown command: frobnicate/);
  expect((await roost('-o', 'nonsense', 'config')).err).toMatch(/-o needs key=value/);
});

test('version', async () => {
  expect((await runCli(['version'], { out: (t) => expect(t).toMatch(/^roost \d+\.\d+\.\d+\n$/), err: () => {}, stdin: () => Readable.from([]), promptSecret: async () => null })))
    .toBe(0);
});

test('migrate reports the server database and each user store, then finds them up to date', async () => {
  expect((await roost('user', 'add', 'alice', '-p', 'secret')).code).toBe(0);
  expect((await roost('user', 'add', 'bob', '-p', 'secret')).code).toBe(0);
  // Only alice has a store yet (bob has never received or logged in).
  expect((await roost('mailbox', 'create', '-u', 'alice', 'Work')).code).toBe(0);
  const data = path.join(dir, 'data');
  const r = await roost('migrate');
  expect(r).toEqual({ code: 0, out: `${data}/roost.db: up to date\n${data}/home/alice/mail.db: up to date\n`, err: '' });
});
