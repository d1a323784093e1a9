// Metadata names only the Lua API can write (`*`, `//`, a trailing `/`): IMAP lists them and
// refuses to address them, as Dovecot 2.3.19 does (checked on the real one:
// `* METADATA INBOX (... "/private/a*b" {1}` ... and `BAD ... Entry name can't contain '*'`).
import { startRoost, type Roost } from '../e2e/harness.js';

let roost: Roost;
beforeAll(async () => {
  roost = await startRoost({ users: [{ username: 'alice' }] });
});
afterAll(async () => {
  await roost.stop();
});

test('GETMETADATA lists Lua-written names (quoted where needed) and refuses to address them', async () => {
  const user = await roost.ctx.mailUsers.createUser({ username: 'alice', service: 'imap' });
  try {
    const store = user.getStore();
    for (const e of ['/private/a*b', '/private/a//b', '/private/a/']) await store.setMetadata('INBOX', e, Buffer.from('v'), { anyName: true });
  } finally {
    await roost.ctx.mailUsers.destroyUser(user);
  }
  const c = await roost.raw({ username: 'alice' });
  try {
    const listed = (await c.command('g', 'GETMETADATA (DEPTH infinity) INBOX (/private)')).join('\n');
    expect(listed).toMatch(/"\/private\/a\*b" (?:"v"|\{1\}\nv)/);
    expect(listed).toMatch(/\/private\/a\/\/b (?:"v"|\{1\}\nv)/);
    expect(listed).toMatch(/\/private\/a\/ (?:"v"|\{1\}\nv)/);
    expect(listed).toMatch(/^g OK/m);
    expect((await c.command('b', 'GETMETADATA INBOX /private/a*b')).at(-1)).toMatch(/^b BAD /);
  } finally {
    c.close();
  }
});
