// A failing mail_user_created fails that user's session exactly as Dovecot does (spec §5.2,
// §16.3): IMAP answers "OK Logged in, but initialization failed." and the next command gets BYE;
// LMTP refuses only that recipient with 451 4.3.0 while another recipient of the same
// transaction is delivered. Each failing user has its own script (userdb field override).
import { message, re, startRoost, waitFor, type Roost } from './harness.js';

const GOOD = 'good@example.com';
const GOOD_SCRIPT = `function mail_user_created(user) dovecot.i_info('good script ran for ' .. user.username) return 0 end\n`;

/** name → [script, expected error after the user prefix (a RegExp source)]. */
const CASES: Record<string, [string, (path: string) => string]> = {
  'returns -1 with a message': [
    'function mail_user_created(user)\n  return -1, "e2e says no"\nend\n',
    () => re('mail_user_created(user) failed: e2e says no') + '$',
  ],
  'raises an error': [
    'function mail_user_created(user)\n  error("e2e boom")\nend\n',
    (p) => re(`mail_user_created(user) failed: lua_pcall(mail_user_created, 1, 2) failed: ${p}:2: e2e boom\nstack traceback:`),
  ],
  'script_init returns a non-number': [
    'function script_init() end\nfunction mail_user_created(user) return 0 end\n',
    (p) => re(`dlua_script_init(${p}) failed: script_init() returned non-number`) + '$',
  ],
  'has a syntax error': [
    'function mail_user_created(user)\n  return 0\n',
    (p) => re(`dlua_script_create_file(${p}) failed: lua_load(${p}) failed: ${p}:3: 'end' expected (to close 'function' at line 1) near <eof>`) + '$',
  ],
};
const names = Object.keys(CASES);
const userOf = (i: number) => `bad${i}@example.com`;

let roost: Roost;
const paths: string[] = [];
beforeAll(async () => {
  roost = await startRoost({
    files: { 'good.lua': GOOD_SCRIPT },
    config: 'mail_plugins = $mail_plugins mail_lua\nplugin {\n  mail_lua_script = {DIR}/good.lua\n}',
    users: [{ username: GOOD }],
  });
  for (const [i, name] of names.entries()) {
    const path = roost.file(`bad${i}.lua`, CASES[name]![0]);
    paths.push(path);
    await roost.addUser({ username: userOf(i), fields: { mail_lua_script: path } });
  }
});
afterAll(() => roost?.stop());

describe.each(names.map((n, i) => [n, i] as const))('mail_user_created that %s', (name, i) => {
  const user = userOf(i);
  const expected = () => CASES[name]![1](paths[i]!);

  test('IMAP: login OK with "initialization failed", then BYE; the error is logged', async () => {
    const c = await roost.raw();
    expect(await c.command('a', `LOGIN ${user} pw`)).toEqual(['a OK Logged in, but initialization failed.']);
    c.send('b NOOP\r\n');
    expect(await c.readLine()).toBe('* BYE Internal error occurred. Refer to server log for more information.');
    await c.waitClosed();
    await roost.waitForLine(new RegExp(`^imap\\(${re(user)}\\)<\\d+>(?:<[^>]*>)?: Error: ${expected()}`));
  });

  test('LMTP: that recipient gets 451 4.3.0, the other one of the transaction 250', async () => {
    const mark = roost.lines.length;
    const r = await roost.deliver([user, GOOD], message(`to ${user}`));
    expect(r.rcpt).toEqual([expect.stringMatching(/^250 /), expect.stringMatching(/^250 /)]);
    expect(r.data).toEqual([`451 4.3.0 <${user}> Temporary internal error`, expect.stringMatching(new RegExp(`^250 2\\.0\\.0 <${re(GOOD)}> `))]);
    // Dovecot 2.3.19 (checked on the real one): `lmtp(<pid>): Error: lmtp-server: conn <ip>:<port> [<n>]: rcpt <address>: ...`.
    await roost.waitForLine(
      new RegExp(`^lmtp\\(\\d+\\): Error: lmtp-server: conn 127\\.0\\.0\\.1:\\d+ \\[\\d+\\]: rcpt ${re(user)}: Failed to initialize user: ${expected()}`),
    );
    expect(roost.lines.slice(mark).some((l) => l.endsWith(`Info: good script ran for ${GOOD}`))).toBe(true);
  });
});

// Dovecot's mail-lua only sets user->error; the caller logs it once (IMAP: the error,
// LMTP: "Failed to initialize user: <error>"). An admin must not see every failure twice.
test('a failed session logs the error once', async () => {
  const user = userOf(0);
  const error = new RegExp(`Error: (?:lmtp-server: conn \\S+ \\[\\d+\\]: rcpt \\S+: Failed to initialize user: )?${CASES[names[0]!]![1](paths[0]!)}`);
  const mark = roost.lines.length;
  const c = await roost.raw();
  await c.command('a', `LOGIN ${user} pw`);
  c.close();
  await roost.deliver([user], message('once'));
  await waitFor(() => roost.lines.slice(mark).some((l) => l.includes('Failed to initialize user: ')), 'the LMTP error line');
  await new Promise((r) => setTimeout(r, 100));
  const errors = roost.lines.slice(mark).filter((l) => error.test(l));
  expect(errors.map((l) => l.replace(/(?:<[^>]*>)*: Error: [\s\S]*/, ''))).toEqual([`imap(${user})`, `lmtp(${process.pid})`]);
});

test('the good user got every message and can log in', async () => {
  const flow = await roost.imapflow(GOOD);
  const status = await flow.status('INBOX', { messages: true });
  expect(status.messages).toBe(names.length);
  await flow.logout();
});
