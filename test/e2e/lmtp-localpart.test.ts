// Dovecot's LMTP takes a recipient without a domain (rcpt_domain_optional): `roost user add alice`
// (what `roost serve` suggests for the first account) must be reachable as RCPT TO:<alice>.
import { message, startRoost, type Roost } from './harness.js';

let roost: Roost;
beforeAll(async () => {
  roost = await startRoost({ users: [{ username: 'alice' }] });
});
afterAll(() => roost?.stop());

test('RCPT TO:<alice> delivers to the account "alice"', async () => {
  const r = await roost.deliver(['alice'], message('domainless'));
  expect(r.rcpt).toEqual([expect.stringMatching(/^250 2\.1\.5 /)]);
  expect(r.data).toEqual([expect.stringMatching(/^250 2\.0\.0 <alice> \S+ Saved$/)]);
  const flow = await roost.imapflow('alice');
  expect((await flow.status('INBOX', { messages: true })).messages).toBe(1);
  await flow.logout();
});
