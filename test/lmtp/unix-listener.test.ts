// `service lmtp { unix_listener PATH { mode user group } }` as Postfix needs it
// (`lmtp:unix:private/dovecot-lmtp` inside its queue): the socket gets the configured mode and,
// when Roost runs as root like Dovecot's master, the configured owner; a relative path lives
// under base_dir; delivery works over it.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { defaultUnixListener } from '../../src/config/settings.js';
import { greet, lmtpEnv, RawClient } from './helpers.js';

const asRoot = process.getuid?.() === 0;

test('mode, user and group of an LMTP unix listener; a relative path is under base_dir', async () => {
  const env = await lmtpEnv({
    configure: (s) => {
      s.service.lmtp!.unix_listener = [
        { ...defaultUnixListener('dovecot-lmtp'), mode: 0o660, ...(asRoot ? { user: 'nobody', group: 'nogroup' } : {}) },
      ];
    },
    server: { unix: undefined, inet: [] },
  });
  try {
    const path = join(env.dir, 'run', 'dovecot-lmtp');
    expect(env.server.addresses).toEqual([{ path }]);
    const st = statSync(path);
    expect(st.mode & 0o777).toBe(0o660);
    if (asRoot) expect([st.uid, st.gid]).toEqual([65534, 65534]);
    const c = await RawClient.connect({ path });
    await greet(c);
    expect(await c.command('MAIL FROM:<a@example.net>')).toMatch(/^250/);
    expect(await c.command('RCPT TO:<alice@example.com>')).toMatch(/^250/);
    expect(await c.command('DATA')).toMatch(/^354/);
    c.send('Subject: via unix\r\n\r\nhi\r\n.\r\n');
    expect((await c.replies(1))[0]).toMatch(/^250 2\.0\.0 <alice@example\.com> \S+ Saved/);
    c.close();
    expect(await env.messages('alice@example.com')).toHaveLength(1);
  } finally {
    await env.close();
  }
});
