// Session ids and the order of the mail_user hooks across sessions, as a real Dovecot 2.3.19.1
// shows them (Debian packages; IMAP and LMTP over loopback, a mail_lua_script logging each hook).
import { newLoginSessionId } from '../../src/mail-user/session-id.js';
import { message, startRoost, type Roost } from '../e2e/harness.js';
import { waitUntil } from '../poll.js';

const SCRIPT = `
function mail_user_created(user) dovecot.i_info("created " .. user.username .. " " .. tostring(user.session_id) .. " " .. user:var_expand("%{session}")) end
function mail_user_deinit_pre(user) dovecot.i_info("deinit_pre " .. user.username .. " " .. tostring(user.session_id)) end
function mail_user_deinit(user) dovecot.i_info("deinit " .. user.username .. " " .. tostring(user.session_id)) end
`;

let roost: Roost;
beforeAll(async () => {
  roost = await startRoost({
    users: ['alice', 'bob', 'carol', 'dave'].map((username) => ({ username })),
    files: { 's.lua': SCRIPT },
    config: ['mail_plugins = mail_lua', 'plugin {', '  mail_lua_script = {DIR}/s.lua', '}'].join('\n'),
  });
});
afterAll(async () => {
  await roost.stop();
});

const hookLines = (user: string) =>
  roost.records.filter((r) => r.level === 'Info' && new RegExp(`^(created|deinit_pre|deinit) ${user} `).test(r.message)).map((r) => r.message);

const waitFor = (pred: () => boolean) => waitUntil('the hook lines', pred);

test('an IMAP session id has 16 characters (12 bytes: time, port, IPv4 address); an LMTP one 22', async () => {
  const c = await roost.raw({ username: 'alice' });
  await c.command('o', 'LOGOUT');
  c.close();
  await waitFor(() => hookLines('alice').length >= 3);
  const [created] = hookLines('alice');
  const [, , id, expanded] = created!.split(' ');
  expect(id).toMatch(/^[A-Za-z0-9+/]{16}$/);
  expect(expanded).toBe(id);
  // The address is the last 4 bytes, as in Dovecot's client_get_session_id().
  expect([...Buffer.from(id!, 'base64').subarray(8)]).toEqual([127, 0, 0, 1]);
  expect(roost.lines.some((l) => l.includes(`imap-login: Info: Login: user=<alice>`) && l.includes(`session=<${id}>`))).toBe(true);

  await roost.deliver(['alice'], message('id'));
  await waitFor(() => hookLines('alice').length >= 6);
  expect(hookLines('alice')[3]!.split(' ')[2]).toMatch(/^[A-Za-z0-9+/]{22}$/);
});

test('an IPv6 client gets 32 characters (24 bytes), as in Dovecot', () => {
  const id = newLoginSessionId('2001:db8::1', 0x1234);
  expect(id).toMatch(/^[A-Za-z0-9+/]{32}$/);
  const bytes = Buffer.from(id, 'base64');
  expect([...bytes.subarray(6, 8)]).toEqual([0x34, 0x12]); // the port, little endian
  expect(bytes.subarray(8).toString('hex')).toBe('20010db8000000000000000000000001');
});

test('after LOGOUT the deinit hooks have run when the server closes the connection', async () => {
  const c = await roost.raw({ username: 'dave' });
  await c.command('o', 'LOGOUT');
  await c.waitClosed();
  // No waiting here: the close comes after mail_user_deinit (Dovecot's client_destroy order).
  expect(hookLines('dave').map((l) => l.split(' ')[0])).toEqual(['created', 'deinit_pre', 'deinit']);
});

test('LOGOUT then an immediate new login: the first session ends before the next one starts', async () => {
  const rounds = 8;
  for (let i = 0; i < rounds; i++) {
    const c = await roost.raw({ username: 'bob' });
    const bye = await c.command('o', 'LOGOUT');
    expect(bye.at(-1)).toMatch(/^o OK Logout completed/);
    c.close();
  }
  await waitFor(() => hookLines('bob').length >= rounds * 3);
  const kinds = hookLines('bob').map((l) => l.split(' ')[0]);
  expect(kinds).toEqual(new Array<string[]>(rounds).fill(['created', 'deinit_pre', 'deinit']).flat());
});

test('an LMTP transaction: recipients one after the other, the first one ends last (Dovecot lmtp-local.c)', async () => {
  const r = await roost.deliver(['carol', 'dave', 'alice'], message('order'));
  expect(r.data.every((d) => d.startsWith('250'))).toBe(true);
  const lines = roost.records
    .filter((x) => x.level === 'Info' && /^(created|deinit_pre|deinit) (carol|dave|alice) /.test(x.message) && x.prefix.startsWith('lmtp('))
    .map((x) => x.message.split(' ').slice(0, 2).join(' '))
    .filter((l, i, all) => !(l.endsWith('alice') && all.indexOf('created carol') > i)); // the earlier test's alice lines
  expect(lines).toEqual([
    'created carol',
    'created dave', 'deinit_pre dave', 'deinit dave',
    'created alice', 'deinit_pre alice', 'deinit alice',
    'deinit_pre carol', 'deinit carol',
  ]);
});
