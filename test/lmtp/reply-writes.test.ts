// Replies to pipelined LMTP commands answered in one burst share one write (RFC 2920 PIPELINING,
// as Dovecot's lib-smtp corks its output): MAIL, RCPT and DATA's 354 leave in one writev.
import { testBackend } from '../backend.js';
import { serverWrites } from '../socket-writes.js';
import { greet, lmtpEnv, RawClient, type LmtpEnv } from './helpers.js';

let env: LmtpEnv;
beforeAll(async () => {
  env = await lmtpEnv();
});
afterAll(async () => {
  await env.close();
});

test('MAIL, RCPT and DATA sent together are answered in one write; the message is stored', async () => {
  const c = await RawClient.connect({ port: env.port });
  try {
    await greet(c);
    const r = await serverWrites(env.port, async () => {
      c.send('MAIL FROM:<a@example.com>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n');
      expect(await c.replies(3)).toEqual(['250 2.1.0 Accepted', '250 2.1.5 Accepted', expect.stringMatching(/^354 /)]);
    });
    expect(r.bytes).toMatch(/^250 2\.1\.0 Accepted\r\n250 2\.1\.5 Accepted\r\n354 [^\r]*\r\n$/);
    // With PostgreSQL the RCPT's user lookup is a query: MAIL's reply leaves before it, RCPT's and DATA's together.
    expect(r.writes).toBe(testBackend === 'pgsql' ? 2 : 1);
    c.send('Subject: pipelined\r\n\r\nhello\r\n.\r\n');
    expect((await c.replies(1))[0]).toMatch(/^250 2\.0\.0 <alice@example\.com> \S+ Saved$/);
    const stored = await env.messages('alice@example.com');
    expect(stored.map((m) => m.toString('latin1'))).toEqual([expect.stringContaining('Subject: pipelined\r\n\r\nhello\r\n')]);
  } finally {
    c.socket.destroy();
  }
});
