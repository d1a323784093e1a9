// `roost serve` with stores kept open after their last session or delivery (mail_store_idle_time):
// SIGTERM still ends the process, and the idle stores are closed on the way out (SQLite removes a
// database's -wal file when its last connection closes cleanly).
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RawClient as ImapClient } from '../imap/server/helpers.js';
import { RawClient as LmtpClient, greet } from '../lmtp/helpers.js';
import { buildCli } from './built-roost.js';
import { startServeChild, type ServeChild } from './serve-child.js';

let dir: string;
let serve: ServeChild | undefined;
beforeAll(() => buildCli());
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'roost-idle-'));
});
afterEach(async () => {
  await serve?.stop();
  serve = undefined;
  rmSync(dir, { recursive: true, force: true });
});

function mailDbs(): string[] {
  return (readdirSync(join(dir, 'data'), { recursive: true }) as string[]).filter((f) => f.endsWith('mail.db')).map((f) => join(dir, 'data', f));
}

test('SIGTERM ends roost serve while stores are idle (an hour of mail_store_idle_time), and closes them', async () => {
  serve = await startServeChild(dir, ['alice', 'bob'], ['mail_store_idle_time = 3600 secs']);
  const imap = await ImapClient.connect(serve.imapPort);
  expect((await imap.command('l', 'LOGIN alice secret')).pop()).toMatch(/^l OK /);
  expect(await imap.command('s', 'SELECT INBOX')).toContain('* 0 EXISTS');
  expect((await imap.command('o', 'LOGOUT')).pop()).toMatch(/^o OK /);

  const lmtp = await LmtpClient.connect({ port: serve.lmtpPort });
  await greet(lmtp);
  expect(await lmtp.command('MAIL FROM:<a@remote.test>')).toMatch(/^250 /);
  expect(await lmtp.command('RCPT TO:<bob>')).toMatch(/^250 /);
  expect(await lmtp.command('DATA')).toMatch(/^354 /);
  lmtp.send('Subject: hi\r\n\r\nhello\r\n.\r\n');
  expect((await lmtp.replies(1))[0]).toMatch(/^250 /);
  expect(await lmtp.command('QUIT')).toMatch(/^221 /);
  lmtp.close();

  const dbs = mailDbs();
  expect(dbs).toHaveLength(2);
  expect(dbs.every((db) => existsSync(`${db}-wal`))).toBe(true); // still open, unused

  const child = serve;
  serve = undefined;
  await child.stop(); // resolves when the process has exited (jest's timeout would catch a hang)
  expect(dbs.filter((db) => existsSync(`${db}-wal`))).toEqual([]);
});
