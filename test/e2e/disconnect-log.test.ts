// imap-login's `Disconnected (no auth attempts in N secs)` is for connections that never logged
// in. A clean login + LOGOUT logs the session's `Disconnected: Logged out` line only (as Dovecot
// does), and a connection that leaves without logging in still gets imap-login's line.
import { startRoost, type Roost } from './harness.js';

let roost: Roost;
beforeAll(async () => {
  roost = await startRoost({ users: [{ username: 'alice' }] });
});
afterAll(() => roost?.stop());

test('LOGOUT after login: one Disconnected line, no false imap-login line', async () => {
  const c = await roost.raw({ username: 'alice' });
  expect(await c.command('z', 'LOGOUT')).toEqual(['* BYE Logging out', 'z OK Logout completed.']);
  await c.waitClosed();
  const loggedOut = await roost.waitForLine(/imap\(alice\).*Disconnected: Logged out/);
  // The pre-login line would come from the socket's close, after LOGOUT: a second client's
  // pre-login line proves the first one's close was handled before the check.
  const anon = await roost.raw();
  anon.close();
  await roost.waitForLine(/imap-login: Info: Disconnected \(no auth attempts in \d+ secs\): user=<>/);
  const session = /session=<([^>]+)>/.exec(roost.lines.find((l) => l.includes('Login: user=<alice>'))!)![1]!;
  expect(loggedOut).toContain(session);
  expect(roost.lines.filter((l) => l.includes(session) && l.includes('Disconnected'))).toEqual([loggedOut]);
});
