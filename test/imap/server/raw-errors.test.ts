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
  expect(c.greeting).toBe('* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN] Roost ready.');
  const r = await c.command('a', 'LOGIN alice pw');
  expect(r[r.length - 1]).toMatch(/^a OK \[CAPABILITY IMAP4rev1 .*MOVE.*METADATA\] Logged in$/);
  const bye = await c.command('z', 'LOGOUT');
  expect(bye).toEqual(['* BYE Logging out', 'z OK Logout completed.']);
  await c.waitClosed();
});

test('wrong password, wrong state, unknown command, bad syntax', async () => {
  const c = await RawClient.connect(t.port);
  expect(await c.command('a', 'LOGIN alice nope')).toEqual(['a NO [AUTHENTICATIONFAILED] Authentication failed.']);
  expect(await c.command('b', 'SELECT INBOX')).toEqual(['b BAD Please login first']);
  expect(await c.command('c', 'FROBNICATE')).toEqual(['c BAD Unknown command.']);
  await c.command('d', 'LOGIN alice pw');
  expect(await c.command('e', 'FETCH 1 FLAGS')).toEqual(['e BAD No mailbox selected.']);
  expect(await c.command('f', 'SELECT "unterminated')).toHaveLength(1);
  expect((await c.command('g', 'SELECT Nope'))[0]).toBe("g NO [NONEXISTENT] Mailbox doesn't exist: Nope");
  await c.command('h', 'SELECT INBOX');
  expect(await c.command('i', 'FETCH 5 FLAGS')).toEqual(['i BAD Invalid messageset']);
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
  expect(rest).toEqual(['x5 BAD Unknown command.', '* BYE Too many invalid IMAP commands.']);
  await c.waitClosed();
});
