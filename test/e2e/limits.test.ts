// A user's script that loops forever or eats memory in mail_user_created costs that login only
// (DESIGN.md decision 3): it is stopped by lua_call_timeout (1 s here) / lua_memory_limit (16M),
// the login fails cleanly, and meanwhile another client's NOOPs keep being answered.
import { message, re, startRoost, type RawImapClient, type Roost } from './harness.js';

const OK_USER = 'carol@example.com';
const SPIN = 'spin@example.com';
const BOMB = 'bomb@example.com';

let roost: Roost;
beforeAll(async () => {
  roost = await startRoost({
    files: {
      'ok.lua': "function mail_user_created(user) dovecot.i_info('ok script ran for ' .. user.username) return 0 end\n",
      'spin.lua': 'function mail_user_created(user)\n  while true do end\nend\n',
      'bomb.lua': "function mail_user_created(user)\n  local s = 'x'\n  while true do s = s .. s end\nend\n",
    },
    config: 'mail_plugins = $mail_plugins mail_lua\nplugin {\n  mail_lua_script = {DIR}/ok.lua\n}',
  });
  await roost.addUser({ username: OK_USER });
  await roost.addUser({ username: SPIN, fields: { mail_lua_script: `${roost.dir}/spin.lua` } });
  await roost.addUser({ username: BOMB, fields: { mail_lua_script: `${roost.dir}/bomb.lua` } });
});
afterAll(() => roost?.stop());

/**
 * Sends LOGIN for `user` on a fresh connection and, until its reply arrives, keeps sending NOOPs
 * on the already logged-in `other` connection; returns the reply and how many NOOPs were
 * answered before it. Counting answers instead of timing them holds on a busy machine.
 */
async function loginWhilePinging(user: string, other: RawImapClient): Promise<{ reply: string[]; answeredMeanwhile: number }> {
  const c = await roost.raw();
  let reply: string[] | null = null;
  const login = c.command('a', `LOGIN ${user} pw`).then((r) => {
    reply = r;
    return r;
  });
  let answeredMeanwhile = 0;
  for (let i = 0; reply === null && i < 10_000; i++) {
    const r = await other.command(`n${i}`, 'NOOP');
    expect(r.at(-1)).toMatch(new RegExp(`^n${i} OK `));
    if (reply === null) answeredMeanwhile++;
    await new Promise((res) => setTimeout(res, 20)); // pacing, not waiting for anything
  }
  const r = await login;
  c.send('b NOOP\r\n');
  expect(await c.readLine()).toBe('* BYE Internal error occurred. Refer to server log for more information.');
  await c.waitClosed();
  return { reply: r, answeredMeanwhile };
}

test('an endless loop in mail_user_created is stopped after lua_call_timeout; others keep answering', async () => {
  const other = await roost.raw({ username: OK_USER });
  const { reply, answeredMeanwhile } = await loginWhilePinging(SPIN, other);
  expect(reply).toEqual(['a OK Logged in, but initialization failed.']);
  // The loop runs until lua_call_timeout (the log line below names it); the other session
  // was answered all along.
  expect(answeredMeanwhile).toBeGreaterThanOrEqual(3);
  await roost.waitForLine(
    new RegExp(`^imap\\(${re(SPIN)}\\)(?:<[^>]*>)+: Error: mail_user_created\\(user\\) failed: lua_pcall\\(mail_user_created, 1, 2\\) failed: Lua script exceeded lua_call_timeout \\(1000 ms\\)`),
  );
  await other.command('z', 'LOGOUT');
});

test('a memory bomb in mail_user_created fails with "not enough memory"; others keep answering', async () => {
  const other = await roost.raw({ username: OK_USER });
  const { reply } = await loginWhilePinging(BOMB, other);
  expect(reply).toEqual(['a OK Logged in, but initialization failed.']);
  await roost.waitForLine(
    new RegExp(`^imap\\(${re(BOMB)}\\)(?:<[^>]*>)+: Error: mail_user_created\\(user\\) failed: lua_pcall\\(mail_user_created, 1, 2\\) failed: not enough memory`),
  );
  await other.command('z', 'LOGOUT');
});

test('after both, the server still runs scripts: IMAP login and LMTP delivery work, the bad users get 451', async () => {
  const mark = roost.lines.length;
  const flow = await roost.imapflow(OK_USER);
  expect((await flow.status('INBOX', { messages: true })).messages).toBe(0);
  await flow.logout();
  const r = await roost.deliver([SPIN, OK_USER, BOMB], message('after the limits'));
  expect(r.data).toEqual([
    `451 4.3.0 <${SPIN}> Temporary internal error`,
    expect.stringMatching(new RegExp(`^250 2\\.0\\.0 <${re(OK_USER)}> `)),
    `451 4.3.0 <${BOMB}> Temporary internal error`,
  ]);
  const ran = roost.lines.slice(mark).filter((l) => l.endsWith(`Info: ok script ran for ${OK_USER}`));
  expect(ran.map((l) => l.slice(0, 4))).toEqual(['imap', 'lmtp']);
}, 20000);
