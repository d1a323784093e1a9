// A delivery over LMTP wakes the recipient's IDLE-ing IMAP session at once (RFC 2177), and a
// second session of the same user sees the new message on its next NOOP.
import { message, startRoost, type Roost } from './harness.js';

let roost: Roost;
beforeAll(async () => {
  roost = await startRoost({ users: [{ username: 'alice' }] });
});
afterAll(() => roost?.stop());

test('LMTP delivery wakes IDLE with EXISTS, no client command needed', async () => {
  const idler = await roost.raw({ username: 'alice' });
  const other = await roost.raw({ username: 'alice' });
  expect((await idler.command('s', 'SELECT INBOX')).join('\n')).toContain('* 0 EXISTS');
  await other.command('s', 'SELECT INBOX');
  idler.send('i IDLE\r\n');
  expect(await idler.readLine()).toBe('+ idling');
  const r = await roost.deliver(['alice'], message('wake up'));
  expect(r.data).toEqual([expect.stringMatching(/^250 2\.0\.0 /)]);
  // The idler sends nothing: EXISTS can only come from the change feed waking the session (the
  // latency is a figure in bench/change-feed.ts, not a test's business on a busy machine).
  const pushed = await idler.until((l) => /^\* \d+ (EXISTS|RECENT)$/.test(l));
  expect(pushed).toContain('* 1 EXISTS');
  idler.send('DONE\r\n');
  expect((await idler.until((l) => l.startsWith('i '))).pop()).toMatch(/^i OK Idle completed/);
  // The other session learns about it at its next command; \Recent went to the first selector.
  const noop = await other.command('n', 'NOOP');
  expect(noop).toContain('* 1 EXISTS');
  idler.close();
  other.close();
});
