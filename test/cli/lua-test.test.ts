// `roost lua test` and `roost lua check` as a user runs them: the built CLI in its own process
// (built-roost.ts), on copies of config/examples and the fixture scripts.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildCli, MAIN, ROOT, roost as runRoost } from './built-roost.js';

const EXAMPLES = path.join(ROOT, 'config/examples');
const FIXTURES = path.join(ROOT, 'test/fixtures/lua-scripts');

/** `roost ARGS` as a user runs it, in ROOT unless `cwd` is given. */
async function roost(args: string[], cwd = ROOT): Promise<{ code: number; out: string; err: string }> {
  const r = await runRoost(args, { cwd });
  return { code: r.code, out: r.stdout, err: r.stderr };
}

beforeAll(() => buildCli());

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'roost-lua-test-cli-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function copyExamples(): string {
  const to = path.join(dir, 'examples');
  cpSync(EXAMPLES, to, { recursive: true });
  return to;
}

function edit(file: string, from: string, to: string): void {
  const text = readFileSync(file, 'utf8');
  if (!text.includes(from)) throw new Error(`${file} does not contain ${from}`);
  writeFileSync(file, text.replace(from, to));
}

/** The 1-based line of `needle` in `file`. */
function lineOf(file: string, needle: string): number {
  const i = readFileSync(file, 'utf8').split('\n').findIndex((l) => l.includes(needle));
  if (i < 0) throw new Error(`${needle} not in ${file}`);
  return i + 1;
}

describe('roost lua test on config/examples', () => {
  test('every example test passes: exit 0, one line per test, a summary', async () => {
    const r = await roost(['lua', 'test', 'config/examples']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('config/examples/user_test.lua\n');
    expect(r.out).toContain('config/examples/push-new-mail_test.lua\n');
    expect(r.out).toMatch(/✓ an IMAP login is counted in the user's server metadata \(\d+ ms\)/);
    expect(r.out).toMatch(/✓ a delivered message is POSTed as JSON/);
    expect(r.out).not.toContain('✗');
    expect(r.out).toMatch(/\n8 tests: 8 passed, 0 failed \(\d+\.\d\d s\)\n$/);
  });

  test('a broken user.lua fails with the test line and a diff: exit 1', async () => {
    const ex = copyExamples();
    edit(path.join(ex, 'user.lua'), 'user:metadata_set(key, n + 1)', 'user:metadata_set(key, n + 2)');
    const r = await roost(['lua', 'test', ex]);
    expect(r.code).toBe(1);
    const line = lineOf(path.join(ex, 'user_test.lua'), 't.eq(alice:metadata("", "/private/vendor/roost/logins"), "2")');
    expect(r.out).toContain(`✗ an IMAP login is counted in the user's server metadata`);
    expect(r.out).toContain(`user_test.lua:${line}: values differ\n        expected: "2"\n        actual:   "4"`);
    expect(r.out).toMatch(/\n8 tests: 7 passed, 1 failed/);
  });

  test('a broken push-new-mail.lua fails with a deep diff of the JSON sent: exit 1', async () => {
    const ex = copyExamples();
    edit(path.join(ex, 'push-new-mail.lua'), "subject = event.subject or '',", "subject = event.from_address,");
    const r = await roost(['lua', 'test', ex]);
    expect(r.code).toBe(1);
    const line = lineOf(path.join(ex, 'push-new-mail_test.lua'), 't.eq(sent, {');
    expect(r.out).toContain(`✗ a delivered message is POSTed as JSON`);
    expect(r.out).toContain(`push-new-mail_test.lua:${line}: values differ\n        value.subject: expected "Café plans", got "alice@example.com"`);
    expect(r.out).toMatch(/\n8 tests: 7 passed, 1 failed/);
  });

  test('a syntax error in a script under test: exit 2 with file:line', async () => {
    const ex = copyExamples();
    edit(path.join(ex, 'user.lua'), 'function mail_user_deinit(user)', 'function mail_user_deinit(user');
    const line = lineOf(path.join(ex, 'user.lua'), 'function mail_user_deinit(user');
    const report = path.join(dir, 'report.xml');
    const r = await roost(['lua', 'test', '--junit', report, ex]);
    expect(r.code).toBe(2);
    expect(r.out).toMatch(new RegExp(`load error: \\S*examples/user\\.lua:${line + 1}: '\\)' expected`));
    // the other file still ran
    expect(r.out).toContain('✓ a delivered message is POSTed as JSON');
    // JUnit: the load error is an <error> of its file's suite
    const py = spawnSync('python3', ['-c', `
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
s = [s for s in root.findall('testsuite') if s.get('name').endswith('user_test.lua')][0]
print(root.get('errors'), s.get('errors'), s.find('testcase').get('name'), s.find('testcase/error').get('message'))
`, report], { encoding: 'utf8' });
    expect(py.stdout).toMatch(new RegExp(`^1 1 \\(load\\) \\S*user\\.lua:${line + 1}: '\\)' expected`));
  });

  test('a syntax error in a test file: exit 2 with file:line', async () => {
    const ex = copyExamples();
    appendFileSync(path.join(ex, 'user_test.lua'), '\nt.test("oops", function() end\n');
    const lines = readFileSync(path.join(ex, 'user_test.lua'), 'utf8').split('\n').length;
    const r = await roost(['lua', 'test', path.join(ex, 'user_test.lua')]);
    expect(r.code).toBe(2);
    expect(r.out).toMatch(new RegExp(`load error: \\S*user_test\\.lua:${lines}: '\\)' expected`));
  });

  test('--filter runs the matching tests only', async () => {
    const r = await roost(['lua', 'test', '--filter', 'JSON', 'config/examples']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('✓ a delivered message is POSTed as JSON');
    expect(r.out).not.toContain('IMAP login');
    expect(r.out).toMatch(/\n1 tests: 1 passed, 0 failed, 7 skipped/);
  });

  test('--junit writes JUnit XML that an XML parser reads, with the failure in it', async () => {
    const ex = copyExamples();
    edit(path.join(ex, 'user.lua'), 'user:metadata_set(key, n + 1)', 'user:metadata_set(key, n + 2)');
    const report = path.join(dir, 'report.xml');
    const r = await roost(['lua', 'test', '--junit', report, ex]);
    expect(r.code).toBe(1);
    // python3's XML parser: a real, independent check that the file is well-formed XML.
    const py = spawnSync('python3', ['-c', `
import sys, json, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = root.findall('testsuite')
print(json.dumps({
  'root': root.tag, 'tests': root.get('tests'), 'failures': root.get('failures'), 'errors': root.get('errors'),
  'suites': [{'name': s.get('name'), 'tests': s.get('tests'), 'failures': s.get('failures'),
              'cases': [{'name': c.get('name'), 'time': float(c.get('time')),
                         'failure': (c.find('failure').text if c.find('failure') is not None else None)}
                        for c in s.findall('testcase')]} for s in suites]}))
`, report], { encoding: 'utf8' });
    expect(py.stderr).toBe('');
    const doc = JSON.parse(py.stdout) as {
      root: string;
      tests: string;
      failures: string;
      errors: string;
      suites: Array<{ name: string; tests: string; failures: string; cases: Array<{ name: string; time: number; failure: string | null }> }>;
    };
    expect(doc).toMatchObject({ root: 'testsuites', tests: '8', failures: '1', errors: '0' });
    expect(doc.suites.map((s) => [path.basename(s.name), s.tests, s.failures])).toEqual([
      ['push-new-mail_test.lua', '5', '0'],
      ['user_test.lua', '3', '1'],
    ]);
    const failed = doc.suites[1]!.cases.find((c) => c.failure !== null)!;
    expect(failed.name).toBe("an IMAP login is counted in the user's server metadata");
    expect(failed.failure).toContain('expected: "2"');
  });

  test('usage errors exit 2', async () => {
    expect((await roost(['lua', 'test', path.join(dir, 'missing')])).code).toBe(2);
    expect((await roost(['lua', 'test', '--bogus'])).code).toBe(2);
    expect((await roost(['lua'])).code).toBe(2);
    const empty = await roost(['lua', 'test', dir]);
    expect(empty.code).toBe(2);
    expect(empty.err).toContain('no *_test.lua files');
  });
});

describe('roost lua test on the fixture scripts', () => {
  test('the push (JSON over dovecot.http) and app-password passdb fixtures pass', async () => {
    const r = await roost(['lua', 'test', FIXTURES]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('✓ FlagsSet posts the flags and keywords that were added');
    expect(r.out).toContain('✓ a valid app password logs in, with the service\'s fields');
    expect(r.out).toContain('✓ connection refused and timeouts are temporary failures too');
    // static and run-time compatibility warnings, with file:line
    expect(r.out).toContain('compat/storage-too-early.lua:2: warning: metadata_get() in mail_user_created crashes Dovecot 2.3');
    expect(r.out).toContain('note: test/fixtures/lua-scripts/compat/storage-too-early.lua:2: Dovecot compatibility: storage access in mail_user_created');
  });

  test('requests leave the machine only when a test allows them', async () => {
    let received = 0;
    const server = http.createServer((req, res) => {
      received++;
      res.end('pong');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/ping`;
    writeFileSync(
      path.join(dir, 'ping.lua'),
      `function mail_user_created(user)
  local r = dovecot.http.client({}):request({ url = user:plugin_getenv("ping_url") }):submit()
  dovecot.i_info("ping: " .. r:status() .. " " .. r:payload())
  return 0
end
`,
    );
    writeFileSync(
      path.join(dir, 'ping_test.lua'),
      `local t = require "roost.test"
t.setup { mail_lua_script = "ping.lua", plugin = { ping_url = "${url}" } }
t.test("blocked", function()
  t.user("alice"):login("imap")
  t.match(t.logs(), "ping: 9003 $")
  t.eq(t.http.requests()[1].answer, "blocked")
end)
t.test("allowed", function()
  t.http.allow("http://127.0.0.1:*")
  t.user("alice"):login("imap")
  t.match(t.logs(), "ping: 200 pong")
  t.eq(t.http.requests()[1].answer, "allowed")
end)
`,
    );
    try {
      const r = await roost(['lua', 'test', dir]);
      expect(r.out).toContain('✓ blocked');
      expect(r.out).toContain('note: roost lua test: no stub for GET ' + url);
      expect(r.out).toContain('✓ allowed');
      expect(r.code).toBe(0);
      expect(received).toBe(1);
    } finally {
      server.close();
    }
  });
});

describe('README', () => {
  test('the example of "Testing your Lua scripts" runs as printed', async () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Testing your Lua scripts'));
    const [script, tests] = [...section.matchAll(/```lua\n([\s\S]*?)```/g)].map((m) => m[1]!);
    writeFileSync(path.join(dir, 'welcome.lua'), script!);
    writeFileSync(path.join(dir, 'welcome_test.lua'), tests!);
    const r = await roost(['lua', 'test', '.'], dir);
    expect(r.out).toMatch(/^welcome_test\.lua\n  ✓ an IMAP login leaves a note \(\d+ ms\)\n  ✓ a delivery is POSTed \(\d+ ms\)\n  ✓ a web service that is down is logged \(\d+ ms\)\n3 tests: 3 passed, 0 failed/);
    expect(r.code).toBe(0);
  });
});

describe('how failures read', () => {
  test('deep diffs, messages, Lua errors with their traceback, all at the test file line', async () => {
    const r = await roost(['lua', 'test', 'test/fixtures/lua-failing']);
    expect(r.code).toBe(1);
    const f = 'test/fixtures/lua-failing/failing_test.lua';
    expect(r.out).toMatch(/✗ deep diff \(\d+ ms\)\n/);
    expect(r.out).toContain(
      `      ${f}:5: values differ\n` +
        '        value.n: expected 1.5, got 1\n' +
        '        value.tags[2]: expected nil, got "b"\n' +
        '        value.user: expected "alice", got "bob"\n' +
        '        expected: { n = 1.5, tags = { "a" }, user = "alice" }\n' +
        '        actual:   { n = 1, tags = { "a", "b" }, user = "bob" }\n',
    );
    expect(r.out).toContain(`      ${f}:9: the subject: values differ\n        expected: "expected text"\n        actual:   "actual text"\n`);
    expect(r.out).toContain(`      ${f}:13: the flag should be set, got nil\n`);
    expect(r.out).toContain(`      ${f}:17: no match for pattern "^three" in\n        { "one", "two" }\n`);
    expect(r.out).toContain(`      ${f}:21: expected an error, none was raised\n`);
    expect(r.out).toContain(
      `      ${f}:26: attempt to index a nil value (local 'x')\n      stack traceback:\n      \t${f}:26: in function <${f}:24>\n`,
    );
    expect(r.out).toContain(`      ${f}:30: user:mailbox(name): string expected, got nil\n`);
    expect(r.out).toMatch(/\n7 tests: 0 passed, 7 failed/);
  });
});

describe('roost lua check', () => {
  test('examples: syntax ok, entry points listed, exit 0', async () => {
    const r = await roost(['lua', 'check', 'config/examples/user.lua', 'config/examples/push-new-mail.lua']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('config/examples/user.lua: syntax ok\n  entry points: script_init, mail_user_created, mail_user_deinit_pre, mail_user_deinit\n');
    expect(r.out).toContain(
      'config/examples/push-new-mail.lua: syntax ok\n  entry points: dovecot_lua_notify_begin_txn, dovecot_lua_notify_event_message_new, dovecot_lua_notify_end_txn\n',
    );
  });

  test('every Dovecot crash case and 2.4 change is a warning with file:line', async () => {
    const file = 'test/fixtures/lua-scripts/compat/compat.lua';
    const r = await roost(['lua', 'check', file]);
    expect(r.code).toBe(0);
    const full = path.join(ROOT, file);
    const at = (needle: string) => `${file}:${lineOf(full, needle)}: warning: `;
    expect(r.out).toContain(`${at('return 1 -- 2.4')}script_init's return value decides success only in Dovecot 2.3`);
    expect(r.out).toContain(`${at('saved = user')}the mail_user object of mail_user_created is kept in 'saved'`);
    expect(r.out).toContain(`${at('user:metadata_get(')}metadata_get() in mail_user_created crashes Dovecot 2.3`);
    expect(r.out).toContain(`${at('box:metadata_set(')}box:metadata_set() on a mailbox that was not opened`);
    expect(r.out).toContain(`${at('box:status(')}box:status() after box:free()`);
    expect(r.out).toContain(`${at('local b = dovecot.event():passthrough_event()')}a second passthrough event while 'a' is not logged yet`);
    expect(r.out).toContain(`${at('os.exit(1)')}os.exit() ends the whole Dovecot process`);
    expect(r.out).toContain(`${at('local function mail_user_deinit')}local function mail_user_deinit is never called`);
    expect(r.out).toContain(`${at('message_arrived')}dovecot_lua_notify_event_message_arrived is not a function Dovecot calls`);
    expect(r.out.match(/warning:/g)).toHaveLength(9);
  });

  test('a syntax error: file:line from the Lua compiler, exit 1; a missing file: exit 2', async () => {
    writeFileSync(path.join(dir, 'bad.lua'), 'function f()\n  return 1 +\nend\n');
    const r = await roost(['lua', 'check', path.join(dir, 'bad.lua')]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/bad\.lua:3: unexpected symbol near 'end'/);
    const missing = await roost(['lua', 'check', path.join(dir, 'nope.lua')]);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('No such file or directory');
  });
});

describe('roost lua test --watch', () => {
  let child: ChildProcess | null = null;
  afterEach(() => {
    child?.kill();
    child = null;
  });

  test('reruns when a test file or a script under test changes', async () => {
    const ex = copyExamples();
    child = spawn(process.execPath, [MAIN, 'lua', 'test', '--watch', path.join(ex, 'user_test.lua')], { cwd: ROOT });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const waitFor = async (re: RegExp) => {
      while (!re.test(out)) await new Promise((r) => setTimeout(r, 50));
    };
    await waitFor(/3 tests: 3 passed[^\n]*\nwatching for changes/);
    // the script under test changes: the run fails
    edit(path.join(ex, 'user.lua'), 'user:metadata_set(key, n + 1)', 'user:metadata_set(key, n + 2)');
    await waitFor(/3 tests: 2 passed, 1 failed[^\n]*\nwatching for changes/);
    // the test file changes: a new test runs
    appendFileSync(path.join(ex, 'user_test.lua'), '\nt.test("added", function() end)\n');
    await waitFor(/4 tests: 3 passed, 1 failed[^\n]*\nwatching for changes/);
    expect(out).toContain('change detected, running again');
  });
});
