// The IMAP layer over a store whose every call answers with a promise (as the PostgreSQL backend's
// does): the same sessions, over real sockets, give the same responses in the same order as over
// the synchronous SQLite store, and one session's untagged updates still come before its tagged
// reply while other connections and deliveries run in between the store's answers. The same
// sessions over the PostgreSQL backend (its own asynchronous store, on a private server) too.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AuthService, hashPassword } from '../../../src/auth/index.js';
import { accountStoreFor, authSettingsFrom, createServerContext, type CreatedContext } from '../../../src/cli/context.js';
import { parseConfigText } from '../../../src/config/index.js';
import { logHub } from '../../../src/log/logger.js';
import { startImapServer, type ImapServer } from '../../../src/imap/server.js';
import type { ServerContext } from '../../../src/mail-user/context.js';
import { MailUserService } from '../../../src/mail-user/service.js';
import { mailUserSettings } from '../../../src/mail-user/settings.js';
import { openSyncUserStore, openUserStore } from '../../../src/storage/index.js';
import type { UserStore } from '../../../src/storage/types.js';
import { asyncStore, type AsyncStoreStats } from '../async-store.js';
import { usePostgres } from '../../pg/harness.js';
import { RawClient } from './helpers.js';

interface Server {
  port: number;
  stats: AsyncStoreStats;
  stop(): Promise<void>;
}

async function startServer(kind: 'sync' | 'async' | 'pgsql', mailLocation?: string): Promise<Server> {
  logHub.setDefaultOutput(false);
  const dataDir = mkdtempSync(path.join(tmpdir(), `roost-${kind}-`));
  const { settings } = parseConfigText(
    `data_dir = ${dataDir}
mail_home = ${dataDir}/home/%n
${mailLocation ? `mail_location = ${mailLocation}` : ''}
base_dir = ${dataDir}/run
state_dir = ${dataDir}/state
auth_failure_delay = 0
imap_metadata = yes
namespace inbox {
  inbox = yes
  separator = /
  mailbox Sent {
    special_use = \\Sent
    auto = subscribe
  }
  mailbox Trash {
    special_use = \\Trash
    auto = create
  }
}
plugin {
  quota_rule = *:storage=1G
}
`,
    'async-store.conf',
  );
  const base: CreatedContext = createServerContext(settings);
  const auth = new AuthService(authSettingsFrom(settings), { accounts: accountStoreFor(base.serverDb), sleep: async () => undefined });
  const stats: AsyncStoreStats = { calls: 0 };
  const asyncUsers = new MailUserService<UserStore>((service) => mailUserSettings(settings, service), (opts) => asyncStore(openSyncUserStore(opts), stats));
  // pgsql: the backend's own asynchronous store, as the main thread opens it (openUserStore).
  const pgsqlUsers = new MailUserService<UserStore>((service) => mailUserSettings(settings, service), openUserStore);
  const ctx: ServerContext = { ...base, auth, mailUsers: kind === 'async' ? asyncUsers : kind === 'pgsql' ? pgsqlUsers : base.mailUsers };
  await base.serverDb.addUser({ username: 'alice', password: await hashPassword('pw', 'PLAIN') });
  const server: ImapServer = await startImapServer(ctx, { listeners: [{ name: 'imap', address: '127.0.0.1', port: 0, ssl: false }] });
  return {
    port: server.port('imap'),
    stats,
    async stop() {
      await server.close();
      await asyncUsers.shutdown();
      await pgsqlUsers.shutdown();
      await base.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

const crlf = (lines: string[]) => lines.join('\r\n') + '\r\n';
const PLAIN = crlf(['From: Carol <carol@example.org>', 'To: alice@example.org', 'Subject: plain needle', 'Date: Mon, 7 Feb 2022 21:52:25 -0800', '', 'a body with a zebra in it']);
const MULTIPART = crlf([
  'From: Dave <dave@example.org>',
  'Subject: =?UTF-8?Q?caf=C3=A9?= parts',
  'Date: Tue, 8 Feb 2022 08:00:00 +0100',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="b1"',
  '',
  '--b1',
  'Content-Type: text/plain; charset=utf-8',
  '',
  'first part needle',
  '--b1',
  'Content-Type: application/octet-stream',
  'Content-Transfer-Encoding: base64',
  '',
  'AAECAwQFBgc=',
  '--b1--',
]);
const LARGE = crlf(['Subject: large', '', ...Array.from({ length: 3000 }, (_, i) => `line ${i} of a body that spans several storage chunks`)]);

/** Timing cut by readLine; UIDVALIDITY (a clock value) and what derives from it differ per store. */
function normalise(lines: string[]): string[] {
  return lines.map((l) =>
    l
      .replace(/UIDVALIDITY \d+/g, 'UIDVALIDITY V')
      .replace(/(APPENDUID|COPYUID) \d+/g, '$1 V')
      .replace(/MAILBOXID \(F[0-9a-f]+-(\d+)\)/g, 'MAILBOXID (F-$1)'),
  );
}

/** One user's day, two connections of alice; every line both received, in order. */
async function scenario(port: number): Promise<string[]> {
  const a = await RawClient.connect(port);
  const b = await RawClient.connect(port);
  const out: string[] = [];
  const run = async (c: RawClient, tag: string, command: string) => out.push(...(await c.command(tag, command)));
  // The configured mailboxes exist for the command right after the login.
  a.send('a1 LOGIN alice pw\r\na2 LIST "" "*" RETURN (SPECIAL-USE SUBSCRIBED)\r\n');
  out.push(...(await a.until((l) => l.startsWith('a2 '))));
  await run(b, 'b1', 'LOGIN alice pw');
  await run(a, 'a3', `APPEND INBOX (\\Seen) {${PLAIN.length}+}\r\n${PLAIN}`);
  await run(a, 'a4', `APPEND INBOX () {${MULTIPART.length}+}\r\n${MULTIPART}`);
  await run(a, 'a5', `APPEND INBOX (\\Flagged) {${LARGE.length}+}\r\n${LARGE}`);
  await run(a, 'a6', 'SELECT INBOX (CONDSTORE)');
  await run(a, 'a7', 'FETCH 1:* (UID FLAGS RFC822.SIZE MODSEQ)');
  await run(a, 'a8', 'FETCH 2 (BODYSTRUCTURE ENVELOPE BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY.PEEK[1] BINARY.PEEK[2] BINARY.SIZE[2])');
  await run(a, 'a9', 'FETCH 3 (BODY[TEXT]<100.40> RFC822.SIZE)');
  await run(a, 'a10', 'FETCH 1 (BODY.PEEK[])');
  await run(a, 'a10b', 'FETCH 3 (BODY.PEEK[]<150000.60>)');
  await run(a, 'a11', 'UID SEARCH TEXT needle');
  await run(a, 'a12', 'SEARCH OR BODY zebra FROM dave');
  await run(a, 'a13', 'SEARCH RETURN (ALL COUNT) BODY "line 2999"');
  await run(a, 'a14', 'SORT (REVERSE SUBJECT) UTF-8 ALL');
  await run(a, 'a15', 'FETCH 1:* (PREVIEW)');
  // Another connection changes the selected mailbox: announced on the next command, before its reply.
  await run(b, 'b2', 'SELECT INBOX');
  await run(b, 'b3', 'STORE 2 +FLAGS (\\Answered $Work)');
  await run(b, 'b4', `APPEND INBOX {${PLAIN.length}+}\r\n${PLAIN}`);
  await run(a, 'a16', 'NOOP');
  await run(a, 'a17', 'STORE 1 +FLAGS (\\Deleted)');
  await run(a, 'a18', 'COPY 2 Sent');
  await run(a, 'a19', 'MOVE 3 Trash');
  await run(a, 'a20', 'EXPUNGE');
  await run(b, 'b5', 'NOOP');
  await run(a, 'a21', 'STATUS Sent (MESSAGES UIDNEXT UNSEEN SIZE MAILBOXID)');
  await run(a, 'a22', 'SETMETADATA INBOX (/private/comment "hello")');
  await run(a, 'a23', 'GETMETADATA INBOX /private/comment');
  await run(a, 'a24', 'GETQUOTAROOT INBOX');
  await run(a, 'a25', 'CREATE Work/Later');
  await run(a, 'a26', 'RENAME Work Projects');
  await run(a, 'a27', 'LIST "" "*"');
  await run(a, 'a28', 'UID EXPUNGE 1:*');
  // Pipelined: the replies come in order, each command's updates before its own tagged reply.
  a.send('p1 STORE 1 +FLAGS (\\Seen)\r\np2 FETCH 1:* (FLAGS)\r\np3 UID SEARCH ALL\r\n');
  out.push(...(await a.until((l) => l.startsWith('p3 '))));
  // IDLE: a change by the other connection is announced at once.
  a.send('i1 IDLE\r\n');
  out.push(await a.readLine());
  await run(b, 'b6', `APPEND INBOX {${PLAIN.length}+}\r\n${PLAIN}`);
  out.push(...(await a.until((l) => l.endsWith(' EXISTS'))));
  a.send('DONE\r\n');
  out.push(...(await a.until((l) => l.startsWith('i1 '))));
  // NOTIFY: other mailboxes' changes arrive unasked between commands.
  await run(a, 'n1', 'NOTIFY SET STATUS (selected (MessageNew (UID FLAGS) MessageExpunge FlagChange)) (personal (MessageNew MessageExpunge MailboxName SubscriptionChange))');
  await run(b, 'b8', 'CREATE Box');
  out.push(await a.readLine());
  await run(b, 'b9', `APPEND Sent {${PLAIN.length}+}\r\n${PLAIN}`);
  out.push(await a.readLine());
  await run(b, 'b10', `APPEND INBOX {${PLAIN.length}+}\r\n${PLAIN}`);
  out.push(...(await a.until((l) => l.includes(' FETCH '))));
  await run(a, 'a29', 'CLOSE');
  await run(a, 'a30', 'LOGOUT');
  await run(b, 'b7', 'LOGOUT');
  a.close();
  b.close();
  return normalise(out);
}

let sync: Server;
let async: Server;
beforeAll(async () => {
  sync = await startServer('sync');
  async = await startServer('async');
});
afterAll(async () => {
  await sync.stop();
  await async.stop();
});

test('the same sessions give the same responses, in the same order, over an asynchronous store', async () => {
  const expected = await scenario(sync.port);
  const before = async.stats.calls;
  const got = await scenario(async.port);
  // Every storage call of the IMAP layer went through the store's promises.
  expect(async.stats.calls - before).toBeGreaterThan(100);
  expect(got).toEqual(expected);
  // What those responses are (so that both servers answering the same wrong thing fails too).
  expect(got).toEqual(
    expect.arrayContaining([
      '* LIST (\\HasNoChildren \\Subscribed \\Sent) "/" Sent',
      '* LIST (\\HasNoChildren \\Trash) "/" Trash',
      '* 1 FETCH (UID 1 FLAGS (\\Seen \\Recent) RFC822.SIZE 146 MODSEQ (2))',
      '* SORT 1 3 2',
      '* ESEARCH (TAG "a13") ALL 3 COUNT 1',
      '* 2 FETCH (PREVIEW "first part needle")',
      '* 3 FETCH (BODY[]<150000> {60}',
      '* STATUS Sent (MESSAGES 1 UIDNEXT 2 UNSEEN 1 SIZE 347 MAILBOXID (F-2))',
      '* METADATA INBOX (/private/comment "hello")',
      '* LIST (\\HasNoChildren) "/" Projects/Later',
      '* LIST () "/" Box',
      '* STATUS Sent (MESSAGES 2 UIDNEXT 3 UNSEEN 2 HIGHESTMODSEQ 3)',
      '* 4 FETCH (UID 6 FLAGS ())',
    ]),
  );
  // The other connection's STORE and APPEND reach this one's NOOP, before its tagged reply.
  const noop = got.indexOf('a16 OK NOOP completed.');
  expect(got.slice(noop - 4, noop + 1)).toEqual([
    '* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work)',
    '* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work \\*)] Flags permitted.',
    '* 2 FETCH (MODSEQ (6) FLAGS (\\Answered $Work \\Recent))',
    '* 4 EXISTS',
    'a16 OK NOOP completed.',
  ]);
  // IDLE announced the delivery made meanwhile.
  const idle = got.indexOf('+ idling');
  expect(got.slice(idle + 1).find((l) => l.endsWith(' EXISTS'))).toBe('* 3 EXISTS');
  const tagged = got.filter((l) => /^(p\d|i1) /.test(l));
  expect(tagged).toEqual(['p1 OK Store completed.', 'p2 OK Fetch completed.', 'p3 OK Search completed.', 'i1 OK Idle completed.']);
});

describe('on PostgreSQL', () => {
  const pg = usePostgres();

  test('the same sessions over the PostgreSQL backend\'s asynchronous store', async () => {
    const db = await pg.server.createDatabase();
    const server = await startServer('pgsql', `pgsql:${db.connectString}`);
    // A fresh SQLite server for the reference (the scenario expects empty mailboxes).
    const reference = await startServer('sync');
    try {
      const expected = await scenario(reference.port);
      const got = await scenario(server.port);
      expect(got).toEqual(expected);
      // The mail is in PostgreSQL: alice's mailboxes, and the messages the scenario left.
      const boxes = await db.query<{ name: string }>('SELECT name FROM mailbox ORDER BY name');
      expect(boxes.rows.map((r) => r.name)).toEqual(['Box', 'INBOX', 'Projects', 'Projects/Later', 'Sent', 'Trash']);
      expect(Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM message')).rows[0]!.n)).toBeGreaterThan(0);
    } finally {
      await server.stop();
      await reference.stop();
    }
  });
});
