// Per-user scripts (spec §5.1: userdb can override mail_lua_script): two users with different
// scripts each run their own, on IMAP logins and within one LMTP transaction, and each session
// gets its own script_init → mail_user_created → deinit → script_deinit cycle (spec §16.4).
import { message, re, startRoost, type Roost } from './harness.js';

const script = (tag: string) => String.raw`
function script_init() dovecot.i_info('${tag} init') return 0 end
function script_deinit() dovecot.i_info('${tag} script_deinit') end
function mail_user_created(user)
  dovecot.i_info('${tag} created ' .. user.username .. ' ' .. user.service .. ' ' .. user:plugin_getenv('mail_lua_script'))
  return 0
end
function mail_user_deinit(user) dovecot.i_info('${tag} deinit ' .. user.username) end
`;

const ANNA = 'anna@example.com';
const BEN = 'ben@example.com';
let roost: Roost;
let scripts: Record<string, string>;

beforeAll(async () => {
  roost = await startRoost({
    files: { 'a.lua': script('A'), 'b.lua': script('B') },
    config: 'mail_plugins = $mail_plugins mail_lua',
  });
  scripts = { [ANNA]: `${roost.dir}/a.lua`, [BEN]: `${roost.dir}/b.lua` };
  await roost.addUser({ username: ANNA, fields: { mail_lua_script: scripts[ANNA]! } });
  await roost.addUser({ username: BEN, fields: { mail_lua_script: scripts[BEN]! } });
});
afterAll(() => roost?.stop());

/** The script lines of one user's sessions, as `<service>: <message>`. */
function scriptLines(user: string, from: number): string[] {
  const prefix = new RegExp(`^(imap|lmtp)\\(${re(user)}\\)(?:<[^>]*>)+: Info: ([AB] .*)$`);
  return roost.lines.slice(from).flatMap((l) => {
    const m = prefix.exec(l);
    return m ? [`${m[1]}: ${m[2]}`] : [];
  });
}

async function settle(pred: () => boolean): Promise<void> {
  for (let i = 0; i < 250 && !pred(); i++) await new Promise((r) => setTimeout(r, 20));
}

test('IMAP logins: each user runs its own script', async () => {
  const mark = roost.lines.length;
  const anna = await roost.imapflow(ANNA);
  const ben = await roost.imapflow(BEN);
  await anna.noop();
  await ben.noop();
  await anna.logout();
  await ben.logout();
  await settle(() => scriptLines(BEN, mark).length >= 4 && scriptLines(ANNA, mark).length >= 4);
  expect(scriptLines(ANNA, mark)).toEqual([
    'imap: A init',
    `imap: A created ${ANNA} imap ${scripts[ANNA]}`,
    `imap: A deinit ${ANNA}`,
    'imap: A script_deinit',
  ]);
  expect(scriptLines(BEN, mark)).toEqual([
    'imap: B init',
    `imap: B created ${BEN} imap ${scripts[BEN]}`,
    `imap: B deinit ${BEN}`,
    'imap: B script_deinit',
  ]);
});

test('one LMTP transaction to both: two separate cycles, each with its own script', async () => {
  const mark = roost.lines.length;
  const r = await roost.deliver([ANNA, BEN], message('for both'));
  expect(r.data).toEqual([expect.stringMatching(/^250 2\.0\.0 /), expect.stringMatching(/^250 2\.0\.0 /)]);
  await settle(() => scriptLines(BEN, mark).length >= 4 && scriptLines(ANNA, mark).length >= 4);
  expect(scriptLines(ANNA, mark)).toEqual([
    'lmtp: A init',
    `lmtp: A created ${ANNA} lmtp ${scripts[ANNA]}`,
    `lmtp: A deinit ${ANNA}`,
    'lmtp: A script_deinit',
  ]);
  expect(scriptLines(BEN, mark)).toEqual([
    'lmtp: B init',
    `lmtp: B created ${BEN} lmtp ${scripts[BEN]}`,
    `lmtp: B deinit ${BEN}`,
    'lmtp: B script_deinit',
  ]);
});
