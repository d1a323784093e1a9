// `roost who` and `roost kick` against the real `roost serve` process with an IMAP session and an
// LMTP transaction held open between RCPT TO and DATA (raw protocol lines, so the transaction is
// in flight for as long as the test wants, without sleeps): who lists both, as `doveadm who` lists
// Dovecot's imap and lmtp (its lmtp registers recipients with anvil, without an IP); the recipient
// leaves the list once DATA is answered; kick ends the LMTP connection with Dovecot's
// `421 4.3.2 <hostname> Shutting down` (what doveadm kick's SIGTERM makes Dovecot's lmtp send),
// nothing of that transaction is stored, and the kicked user's IMAP session gets its BYE.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatTable } from '../../src/cli/commands/admin.js';
import { RawClient } from '../imap/server/helpers.js';
import { RawClient as RawLmtp } from '../lmtp/helpers.js';
import { waitUntil } from '../poll.js';
import { buildCli, roost } from './built-roost.js';
import { startServeChild, type ServeChild } from './serve-child.js';

let dir: string;
let serve: ServeChild | null = null;
const clients: { socket: { destroy(): void } }[] = [];

beforeAll(() => {
  buildCli();
  dir = mkdtempSync(join(tmpdir(), 'roost-who-'));
}, 180_000);

afterAll(async () => {
  for (const c of clients) c.socket.destroy();
  await serve?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** LHLO, MAIL FROM and RCPT TO for `rcpt`: the transaction then waits for DATA. */
async function openTransaction(port: number, rcpt: string): Promise<RawLmtp> {
  const lmtp = await RawLmtp.connect({ port });
  clients.push(lmtp);
  expect((await lmtp.replies(1))[0]).toMatch(/^220 /);
  expect(await lmtp.command('LHLO mta.test')).toMatch(/^250 /);
  expect(await lmtp.command('MAIL FROM:<sender@example.net>')).toMatch(/^250 /);
  expect(await lmtp.command(`RCPT TO:<${rcpt}>`)).toMatch(/^250 /);
  return lmtp;
}

test('who lists IMAP sessions and LMTP recipients in flight; kick ends an LMTP transaction with 421', async () => {
  serve = await startServeChild(dir, ['alice', 'bob']);
  const { conf, imapPort, lmtpPort } = serve;
  const alice = await RawClient.connect(imapPort);
  clients.push(alice);
  expect((await alice.command('a', 'LOGIN alice secret')).pop()).toMatch(/^a OK /);
  const bobImap = await RawClient.connect(imapPort);
  clients.push(bobImap);
  expect((await bobImap.command('b', 'LOGIN bob secret')).pop()).toMatch(/^b OK /);

  const lmtp = await openTransaction(lmtpPort, 'bob@example.com');
  const who = await roost(['-c', conf, 'who']);
  expect(who.code).toBe(0);
  const pid = /\((\d+)\)/.exec(who.stdout)![1]!;
  const headers = [{ title: 'username' }, { title: '#', right: true }, { title: 'proto' }, { title: '(pids)' }, { title: '(ips)' }];
  expect(who.stdout).toBe(
    formatTable(headers, [
      ['alice', '1', 'imap', `(${pid})`, '(127.0.0.1)'],
      ['bob', '1', 'imap', `(${pid})`, '(127.0.0.1)'],
      ['bob', '1', 'lmtp', `(${pid})`, '()'],
    ]),
  );
  // One line per session: the LMTP recipient has no IP (as in Dovecot) and its recipient id.
  const one = (await roost(['-c', conf, 'who', '-1', 'bob'])).stdout.split('\n');
  expect(one[0]).toMatch(/^username +proto +pid +ip +session +connected *$/);
  expect(one[1]).toMatch(new RegExp(`^bob +imap +${pid} +127\\.0\\.0\\.1 +\\S+ +\\d+s *$`));
  expect(one[2]).toMatch(new RegExp(`^bob +lmtp +${pid} {2,}\\S+ +\\d+s *$`));
  expect(one.slice(3)).toEqual(['']);
  // An IP mask selects connections from that network: the LMTP recipient has none.
  const byIp = (await roost(['-c', conf, 'who', '-1', '127.0.0.0/8'])).stdout.trim().split('\n');
  expect(byIp.slice(1).map((l) => l.split(/ +/).slice(0, 2).join(' '))).toEqual(['alice imap', 'bob imap']);

  // DATA answered: the recipient is no longer listed; the connection stays open.
  lmtp.send('DATA\r\n');
  expect((await lmtp.replies(1))[0]).toMatch(/^354 /);
  lmtp.send('Subject: first\r\n\r\nhello\r\n.\r\n');
  expect((await lmtp.replies(1))[0]).toMatch(/^250 2\.0\.0 <bob@example\.com> \S+ Saved$/);
  const after = (await roost(['-c', conf, 'who', '-1'])).stdout;
  expect(after).not.toMatch(/ lmtp /);

  // kick bob: the IMAP session gets its BYE, the open LMTP transaction Dovecot's 421.
  const second = await openTransaction(lmtpPort, 'bob@example.com');
  const kicked = await roost(['-c', conf, 'kick', 'bob']);
  expect(kicked).toEqual({ code: 0, stdout: 'bob kicked connections from the following users:\n\n', stderr: '' });
  expect((await second.replies(1))[0]).toMatch(/^421 4\.3\.2 \S+ Shutting down$/);
  await expect(second.replies(1)).rejects.toThrow(/connection closed/);
  expect(await bobImap.readLine()).toBe('* BYE Server shutting down.');
  // The first connection had no open transaction: it is left alone and still delivers.
  expect(await lmtp.command('MAIL FROM:<sender@example.net>')).toMatch(/^250 /);
  expect(await lmtp.command('RCPT TO:<alice@example.com>')).toMatch(/^250 /);
  lmtp.send('DATA\r\n');
  expect((await lmtp.replies(1))[0]).toMatch(/^354 /);
  lmtp.send('Subject: to alice\r\n\r\nhi\r\n.\r\n');
  expect((await lmtp.replies(1))[0]).toMatch(/^250 2\.0\.0 <alice@example\.com> /);
  // Nothing of the kicked transaction was stored: bob has the first message only.
  const bobAgain = await RawClient.connect(imapPort);
  clients.push(bobAgain);
  expect((await bobAgain.command('c', 'LOGIN bob secret')).pop()).toMatch(/^c OK /);
  expect(await bobAgain.command('s', 'SELECT INBOX')).toContain('* 1 EXISTS');
  // alice was not kicked.
  expect((await alice.command('n', 'NOOP')).pop()).toMatch(/^n OK /);
  const none = await roost(['-c', conf, 'kick', 'nobody']);
  expect(none).toEqual({ code: 68, stdout: '', stderr: 'no users kicked\n' });
}, 180_000);

test('kick while a message is being stored: the recipient gets its reply first, then the 421', async () => {
  // carol's delivery waits inside its mail_user_created hook (a dovecot.http request the test
  // answers when it wants): the message has arrived whole and is being stored.
  let held: ServerResponse | null = null;
  const hold = createServer((_req, res) => (held = res));
  await new Promise<void>((resolve) => hold.listen(0, '127.0.0.1', resolve));
  const holdUrl = `http://127.0.0.1:${(hold.address() as AddressInfo).port}/`;
  const dir2 = mkdtempSync(join(tmpdir(), 'roost-who-store-'));
  writeFileSync(
    join(dir2, 'user.lua'),
    `function mail_user_created(user)
  if user.service == 'lmtp' then
    dovecot.http.client({ request_timeout_msecs = 120000 }):request({ url = "${holdUrl}" }):submit()
  end
  return 0
end
`,
  );
  const server = await startServeChild(dir2, ['carol'], ['lua_call_timeout = 2 min', `plugin {\n  mail_lua_script = ${dir2}/user.lua\n}`]);
  try {
    const lmtp = await openTransaction(server.lmtpPort, 'carol@example.com');
    lmtp.send('DATA\r\n');
    expect((await lmtp.replies(1))[0]).toMatch(/^354 /);
    lmtp.send('Subject: stored\r\n\r\nhello\r\n.\r\n');
    await waitUntil('the delivery to reach the hook', () => held !== null);
    // Still listed while it is stored; the kick names carol and waits for the replies.
    expect((await roost(['-c', server.conf, 'who', '-1'])).stdout).toMatch(/^carol +lmtp /m);
    const kicked = await roost(['-c', server.conf, 'kick', 'carol']);
    expect(kicked.stdout).toBe('carol kicked connections from the following users:\n\n');
    held!.end('ok');
    expect(await lmtp.replies(2)).toEqual([
      expect.stringMatching(/^250 2\.0\.0 <carol@example\.com> \S+ Saved$/),
      expect.stringMatching(/^421 4\.3\.2 \S+ Shutting down$/),
    ]);
    await expect(lmtp.replies(1)).rejects.toThrow(/connection closed/);
    // The message acknowledged is there.
    const carol = await RawClient.connect(server.imapPort);
    clients.push(carol);
    expect((await carol.command('c', 'LOGIN carol secret')).pop()).toMatch(/^c OK /);
    expect(await carol.command('s', 'SELECT INBOX')).toContain('* 1 EXISTS');
  } finally {
    await server.stop();
    hold.closeAllConnections();
    await new Promise((resolve) => hold.close(resolve));
    rmSync(dir2, { recursive: true, force: true });
  }
}, 180_000);
