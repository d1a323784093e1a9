// mail_lua_script from the configuration, seen from real clients: it runs on an IMAP login and on
// each LMTP recipient, logs with the user's name and service, and what it writes with
// user:metadata_set is what IMAP GETMETADATA "" returns (and the reverse) — spec §5, §7.6, §16.6.
import { message, re, startRoost, type Roost } from './harness.js';

const SCRIPT = String.raw`
function mail_user_created(user)
  dovecot.i_info('e2e created user=' .. user.username .. ' service=' .. user.service)
  local ev = dovecot.event()
  ev:add_str('e2e', 'yes')
  ev:log_info('e2e event user=' .. user.username .. ' service=' .. user.service)
  return 0
end

function mail_user_deinit_pre(user)
  local note = user:metadata_get('/private/e2e/note')
  user:metadata_set('/private/e2e/last-service', user.service .. ' ' .. user.username)
  dovecot.i_info('e2e deinit_pre service=' .. user.service .. ' note=' .. tostring(note))
end
`;

const ALICE = 'alice@example.com';
let roost: Roost;

beforeAll(async () => {
  roost = await startRoost({
    files: { 'user.lua': SCRIPT },
    config: 'mail_plugins = $mail_plugins mail_lua\nplugin {\n  mail_lua_script = {DIR}/user.lua\n}',
    users: [{ username: ALICE }],
  });
});
afterAll(() => roost?.stop());

/** Lines with the user's session prefix, e.g. `imap(alice@example.com)<pid><session>: Info: ...`. */
function prefixRe(service: string): string {
  return `^${service}\\(${re(ALICE)}\\)<\\d+><[^>]+>: `;
}

test('the script runs on LMTP delivery and IMAP login; metadata flows both ways', async () => {
  // 1. An LMTP delivery creates a mail user for the recipient: the script logs and, at deinit,
  //    stores metadata.
  const d1 = await roost.deliver([ALICE], message('first'));
  expect(d1.rcpt).toEqual([expect.stringMatching(/^250 /)]);
  expect(d1.data).toEqual([expect.stringMatching(new RegExp(`^250 2\\.0\\.0 <${re(ALICE)}> \\S+ Saved$`))]);
  await roost.waitForLine(new RegExp(`${prefixRe('lmtp')}Info: e2e created user=${re(ALICE)} service=lmtp$`));
  await roost.waitForLine(new RegExp(`${prefixRe('lmtp')}Info: e2e event user=${re(ALICE)} service=lmtp$`));
  await roost.waitForLine(new RegExp(`${prefixRe('lmtp')}Info: e2e deinit_pre service=lmtp note=nil$`));

  // 2. IMAP sees what the LMTP session's script wrote; the client then writes a note.
  const raw = await roost.raw({ username: ALICE });
  await roost.waitForLine(new RegExp(`${prefixRe('imap')}Info: e2e created user=${re(ALICE)} service=imap$`));
  await roost.waitForLine(new RegExp(`${prefixRe('imap')}Info: e2e event user=${re(ALICE)} service=imap$`));
  expect(await raw.command('g1', 'GETMETADATA "" /private/e2e/last-service')).toEqual([
    `* METADATA "" (/private/e2e/last-service "lmtp ${ALICE}")`,
    'g1 OK Getmetadata completed.',
  ]);
  expect((await raw.command('s1', 'SETMETADATA "" (/private/e2e/note "hello from imap")')).at(-1)).toMatch(/^s1 OK /);
  expect((await raw.command('z', 'LOGOUT')).at(-1)).toMatch(/^z OK /);
  await raw.waitClosed();
  // The same session's deinit_pre already sees it.
  await roost.waitForLine(new RegExp(`${prefixRe('imap')}Info: e2e deinit_pre service=imap note=hello from imap$`));

  // 3. A later session (imapflow this time) reads the note from its script, and the message the
  //    first delivery stored is there.
  const before = roost.lines.length;
  const flow = await roost.imapflow(ALICE);
  const status = await flow.status('INBOX', { messages: true });
  expect(status.messages).toBe(1);
  await flow.mailboxOpen('INBOX');
  const msg = await flow.fetchOne('1', { envelope: true });
  expect(msg && msg.envelope?.subject).toBe('first');
  await flow.logout();
  await expectEventually(() => roost.lines.slice(before).some((l) => new RegExp(`${prefixRe('imap')}Info: e2e deinit_pre service=imap note=hello from imap$`).test(l)));

  // 4. And so does a later LMTP session; its deinit_pre writes last-service again.
  const mark = roost.lines.length;
  const d2 = await roost.deliver([ALICE], message('second'));
  expect(d2.data[0]).toMatch(/^250 2\.0\.0 /);
  await expectEventually(() =>
    roost.lines.slice(mark).some((l) => new RegExp(`${prefixRe('lmtp')}Info: e2e deinit_pre service=lmtp note=hello from imap$`).test(l)),
  );
  const raw2 = await roost.raw({ username: ALICE });
  const got = await raw2.command('g2', 'GETMETADATA "" (/private/e2e/last-service /private/e2e/note)');
  expect(got).toEqual([
    `* METADATA "" (/private/e2e/last-service "lmtp ${ALICE}" /private/e2e/note "hello from imap")`,
    'g2 OK Getmetadata completed.',
  ]);
  await raw2.command('z', 'LOGOUT');
  // No script errors anywhere.
  expect(roost.lines.filter((l) => / Error: /.test(l))).toEqual([]);
});

async function expectEventually(pred: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`condition not met; last lines:\n${roost.lines.slice(-10).join('\n')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
