// Error paths and exact response texts over raw protocol lines.
import { RawClient, startTestServer, type TestServer } from './helpers.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer((s) => {
    s.imap_max_bad_commands = 5;
    s.mail_max_message_size = 2048;
  });
});
afterAll(async () => t.stop());

test('greeting carries the pre-login capabilities', async () => {
  const c = await RawClient.connect(t.port);
  expect(c.greeting).toBe('* OK [CAPABILITY IMAP4rev1 IMAP4rev2 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN] Roost ready.');
  const r = await c.command('a', 'LOGIN alice pw');
  expect(r[r.length - 1]).toMatch(/^a OK \[CAPABILITY IMAP4rev1 .*MOVE.*METADATA\] Logged in$/);
  const bye = await c.command('z', 'LOGOUT');
  expect(bye).toEqual(['* BYE Logging out', 'z OK Logout completed.']);
  await c.waitClosed();
});

test('wrong password, wrong state, unknown command, bad syntax', async () => {
  const c = await RawClient.connect(t.port);
  expect(await c.command('a', 'LOGIN alice nope')).toEqual(['a NO [AUTHENTICATIONFAILED] Authentication failed.']);
  // Dovecot's imap-login gives no details before login.
  expect(await c.command('b', 'SELECT INBOX')).toEqual(['b BAD Error in IMAP command received by server.']);
  expect(await c.command('b2', 'LOGIN alice')).toEqual(['b2 BAD Error in IMAP command received by server.']);
  expect(await c.command('c', 'FROBNICATE')).toEqual(['c BAD Error in IMAP command received by server.']);
  await c.command('d', 'LOGIN alice pw');
  c.send('e FETCH 1 FLAGS\r\n');
  expect(await c.readRawLine()).toMatch(/^e BAD No mailbox selected \(\d\.\d{3} \+ 0\.000 secs\)\.$/);
  expect(await c.command('e2', 'LOGIN alice pw')).toEqual(['e2 BAD Error in IMAP command LOGIN: Unknown command.']);
  expect(await c.command('f', 'SELECT "unterminated')).toHaveLength(1);
  expect((await c.command('g', 'SELECT Nope'))[0]).toBe("g NO [NONEXISTENT] Mailbox doesn't exist: Nope.");
  await c.command('h', 'SELECT INBOX');
  expect(await c.command('i', 'FETCH 5 FLAGS')).toEqual(['i BAD Error in IMAP command FETCH: Invalid messageset.']);
  expect(await c.command('i2', 'UID FETCH x FLAGS')).toEqual(['i2 BAD Error in IMAP command UID FETCH: Invalid uidset.']);
  expect(await c.command('j', 'NOOP')).toEqual(['j OK NOOP completed.']);
  c.close();
});

test('an over-limit APPEND literal is refused before it is sent', async () => {
  const c = await RawClient.connect(t.port);
  await c.command('a', 'LOGIN alice pw');
  const r = await c.command('b', 'APPEND INBOX {5000}');
  expect(r).toEqual(['b NO [TOOBIG] Mail size is larger than the maximum size allowed by server configuration']);
  expect(await c.command('c', 'NOOP')).toEqual(['c OK NOOP completed.']);
  c.close();
});

test('too many invalid commands close the connection', async () => {
  const c = await RawClient.connect(t.port);
  for (let i = 0; i < 4; i++) await c.command(`x${i}`, 'BLAH');
  c.send('x5 BLAH\r\n');
  const rest = await c.until((l) => l.startsWith('* BYE'));
  expect(rest).toEqual(['x5 BAD Error in IMAP command received by server.', '* BYE Too many invalid IMAP commands.']);
  await c.waitClosed();
});

describe('session lifecycle edges', () => {
  let u: TestServer;
  beforeAll(async () => {
    u = await startTestServer((s) => {
      s.imap_login_timeout = 300;
    });
    // A plugin whose created hook fails for bob (as a failing mail_user_created Lua hook would).
    u.ctx.mailUsers.addHooks('test-plugin', {
      async created(user) {
        if (user.username === 'bob') throw new Error('script failed');
      },
    });
  });
  afterAll(async () => u.stop());

  test('a failing plugin: OK Logged in, but initialization failed, then BYE', async () => {
    const c = await RawClient.connect(u.port);
    expect(await c.command('a', 'LOGIN bob pw')).toEqual(['a OK Logged in, but initialization failed.']);
    c.send('b NOOP\r\n');
    expect(await c.readLine()).toBe('* BYE Internal error occurred. Refer to server log for more information.');
    await c.waitClosed();
  });

  test('pre-login inactivity closes the connection', async () => {
    const c = await RawClient.connect(u.port);
    expect(await c.readLine(3000)).toBe('* BYE Disconnected for inactivity.');
    await c.waitClosed();
  });

  test('APPEND to a missing mailbox asks to create it; MULTIAPPEND gives consecutive UIDs', async () => {
    const c = await RawClient.connect(u.port);
    await c.command('a', 'LOGIN alice pw');
    c.send('b APPEND Missing {3}\r\n');
    expect(await c.readLine()).toBe('+ OK');
    c.send('a\r\n\r\n');
    expect(await c.readLine()).toBe("b NO [TRYCREATE] Mailbox doesn't exist: Missing.");
    c.send('c APPEND INBOX (\\Seen) {3+}\r\nx\r\n {3+}\r\ny\r\n\r\n');
    expect(await c.readLine()).toMatch(/^c OK \[APPENDUID \d+ 1:2\] Append completed\.$/);
    c.close();
  });
});
