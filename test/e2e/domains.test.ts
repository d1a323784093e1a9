// How account names meet addresses (README "Users and domains"): an account is the name it was
// added with, and logins and LMTP recipients reach it through auth_username_format and
// auth_default_realm, as in Dovecot. Over real sockets, for each of the three set-ups README shows.
import { startRoost, type Roost } from './harness.js';

const RCPTS = ['alice', 'alice@example.com', 'bob@example.com', 'bob', 'bob+lists@example.com'];
const LOGINS = ['alice', 'alice@example.com', 'bob', 'bob@example.com'];

async function probe(config: string): Promise<{ rcpt: Record<string, boolean>; login: Record<string, boolean> }> {
  // Failed logins raise the IP's auth penalty; its waits are skipped here (imap-penalty.test.ts).
  const roost: Roost = await startRoost({ config, users: [{ username: 'alice' }, { username: 'bob@example.com' }], authSleep: async () => undefined });
  try {
    const rcpt: Record<string, boolean> = {};
    for (const r of RCPTS) rcpt[r] = (await roost.deliver([r])).rcpt[0]!.startsWith('250 ');
    const login: Record<string, boolean> = {};
    for (const u of LOGINS) {
      const c = await roost.raw();
      login[u] = (await c.command('L', `LOGIN "${u}" pw`)).at(-1)!.startsWith('L OK');
      c.close();
    }
    return { rcpt, login };
  } finally {
    await roost.stop();
  }
}

test('defaults (%Lu): the whole name; a domainless account takes RCPT TO:<alice>', async () => {
  expect(await probe('')).toEqual({
    rcpt: { alice: true, 'alice@example.com': false, 'bob@example.com': true, bob: false, 'bob+lists@example.com': true },
    login: { alice: true, 'alice@example.com': false, bob: false, 'bob@example.com': true },
  });
});

test('auth_username_format = %Ln: the domain is dropped', async () => {
  expect(await probe('auth_username_format = %Ln')).toEqual({
    rcpt: { alice: true, 'alice@example.com': true, 'bob@example.com': false, bob: false, 'bob+lists@example.com': false },
    login: { alice: true, 'alice@example.com': true, bob: false, 'bob@example.com': false },
  });
});

test('auth_default_realm: a name without a domain gets it', async () => {
  expect(await probe('auth_default_realm = example.com')).toEqual({
    rcpt: { alice: false, 'alice@example.com': false, 'bob@example.com': true, bob: true, 'bob+lists@example.com': true },
    login: { alice: false, 'alice@example.com': false, bob: true, 'bob@example.com': true },
  });
});
