// LMTP has no HELO or EHLO (RFC 2033 §4.1): the refusal carries an enhanced status code, since
// the server announces ENHANCEDSTATUSCODES (RFC 2034 §3), with Dovecot 2.3.19's text.
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { lmtpEnv, RawClient, type LmtpEnv } from './helpers.js';

let env: LmtpEnv;
beforeAll(async () => {
  env = await lmtpEnv({ users: [{ username: 'alice@example.com' }] });
});
afterAll(async () => env.close());

test('HELO and EHLO get 500 5.5.1 Unknown command; LHLO then works', async () => {
  const c = await RawClient.connect({ port: env.port });
  await c.replies(1);
  expect(await c.command('HELO client.test')).toBe('500 5.5.1 Unknown command');
  expect(await c.command('EHLO client.test')).toBe('500 5.5.1 Unknown command');
  c.send('LHLO client.test\r\n');
  expect((await c.replyLines()).pop()).toMatch(/^250 /);
  expect(await c.command('QUIT')).toMatch(/^221 2\.0\.0 /);
  c.close();
});
