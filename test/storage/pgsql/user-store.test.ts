// The pgsql UserStore as two nodes see it: two stores of one user, each with its own pool and
// change-feed listener (another application_name makes another process's pool), on one database.
// What the contract suites (test/storage/*.test.ts) cannot show with one store: UIDs handed out
// at the same moment on both nodes, UIDVALIDITY staying put, and a change made on one node
// reaching the other through LISTEN/NOTIFY and the catch-up by modseq.
import { afterEach, beforeEach, expect, test } from '@jest/globals';
import { logHub } from '../../../src/log/logger.js';
import { openUserStore, type ChangeNotice, type SharedBody, type UserStore } from '../../../src/storage/index.js';
import { PgsqlChangeFeed } from '../../../src/storage/pgsql/change-feed.js';
import { usePostgres, type PgDatabase } from '../../pg/harness.js';
import { waitUntil } from '../../poll.js';
import { errorCode, msg } from '../helpers/backends.js';

const pgsql = usePostgres();
let db: PgDatabase;
const opened: UserStore[] = [];

beforeEach(async () => {
  logHub.setDefaultOutput(false);
  db = await pgsql.server.createDatabase();
});
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
  await db.drop();
});

/** The store of `user` as node `node` serves it. */
function node(node: string, user = 'ivy'): UserStore {
  const s = openUserStore({ username: user, home: '/nonexistent', location: `pgsql:${db.connectString} application_name=${node}`, separator: '/' });
  opened.push(s);
  return s;
}

const increasing = (xs: number[]) => xs.every((x, i) => i === 0 || x > xs[i - 1]!);

test('two nodes appending to one mailbox at once: unique UIDs, increasing on each node, one UIDVALIDITY', async () => {
  const a = node('nodeA');
  const b = node('nodeB');
  const before = (await a.getMailbox('INBOX'))!;
  const appendMany = async (s: UserStore, tag: string) => {
    const out = [];
    for (let i = 0; i < 25; i++) out.push(await s.append('INBOX', { content: msg(`${tag} ${i}`) }));
    return out;
  };
  const [fromA, fromB] = await Promise.all([appendMany(a, 'A'), appendMany(b, 'B')]);
  const uidsA = fromA.map((r) => r.uid);
  const uidsB = fromB.map((r) => r.uid);
  expect(increasing(uidsA) && increasing(uidsB)).toBe(true);
  expect([...uidsA, ...uidsB].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  expect(new Set([...fromA, ...fromB].map((r) => r.uidValidity))).toEqual(new Set([before.uidValidity]));
  // Both nodes list the same 50 messages under the same UIDVALIDITY.
  for (const s of [a, b]) {
    const box = (await s.getMailbox('INBOX'))!;
    expect(box.uidValidity).toBe(before.uidValidity);
    expect(box.uidNext).toBe(51);
    expect((await s.listMessages(box.id)).map((m) => m.uid)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  }
  // Modseqs: one per append, all different.
  expect(new Set([...fromA, ...fromB].map((r) => r.modseq)).size).toBe(50);
});

test('an expunge on node B reaches node A: an elsewhere notice from the feed, then changesSince', async () => {
  const a = node('nodeA');
  const b = node('nodeB');
  const appended = await a.appendMany('INBOX', [{ content: msg('1') }, { content: msg('2') }, { content: msg('3') }]);
  const inbox = appended[0]!.mailboxId;
  const seen = (await a.getMailbox('INBOX'))!.highestModseq;
  const notices: ChangeNotice[] = [];
  a.onChange((n) => notices.push(n));
  // A's listening connection is up once a NOTIFY from B reaches it; B's commits are announced at COMMIT.
  let expunged: number[] = [];
  await waitUntil('node A to be told of a change on node B', async () => {
    if (expunged.length === 0) expunged = await b.expunge(inbox, [2]);
    else await b.setMetadata('INBOX', '/private/poke', Buffer.from(String(notices.length)));
    return notices.some((n) => n.kind === 'elsewhere');
  });
  expect(expunged).toEqual([2]);
  const changes = await a.changesSince(inbox, seen);
  expect(changes.filter((c) => c.kind === 'expunge').map((c) => c.uid)).toEqual([2]);
  expect((await a.listMessages(inbox)).map((m) => m.uid)).toEqual([1, 3]);
});

test("a node's own commits are not echoed back to it as changes made elsewhere", async () => {
  const a = node('nodeA');
  const b = node('nodeB');
  // Node A's feed as its stores watch it (store.onChange would also carry node B's signals: both
  // "nodes" share this process's in-thread bus, which two real processes do not).
  const feedA = new PgsqlChangeFeed(`${db.connectString} application_name=nodeA`, 'ivy');
  let signalsOnA = 0;
  const unwatch = feedA.watch(() => signalsOnA++);
  try {
    // A hears of B's commits once its LISTEN is up.
    await waitUntil('node A to hear of node B', async () => {
      await b.createMailbox(`Box${signalsOnA}-${Date.now()}`);
      return signalsOnA > 0;
    });
    const before = signalsOnA;
    // Five commits on A, then one on B: once A heard of B's, A's own five signalled nothing
    // (echoes would make six or more; one more than B's is allowed for a catch-up signal).
    for (let i = 0; i < 5; i++) await a.createMailbox(`Own${i}`);
    await b.createMailbox('FromB');
    await waitUntil('node A to hear of node B again', () => signalsOnA > before);
    expect(signalsOnA - before).toBeLessThanOrEqual(2);
  } finally {
    unwatch();
    await feedA.close();
  }
});

test('COPY and MOVE in opposite directions on two nodes at once neither deadlock nor lose a message', async () => {
  const a = node('nodeA');
  const b = node('nodeB');
  await a.createMailbox('Other');
  const inbox = (await a.getMailbox('INBOX'))!.id;
  const other = (await a.getMailbox('Other'))!.id;
  await a.appendMany('INBOX', Array.from({ length: 10 }, (_, i) => ({ content: msg(`in ${i}`) })));
  await a.appendMany('Other', Array.from({ length: 10 }, (_, i) => ({ content: msg(`other ${i}`) })));
  const shuffle = async (s: UserStore, from: number, to: string) => {
    for (let i = 0; i < 10; i++) {
      await s.move(from, (await s.listMessages(from)).map((m) => m.uid).slice(0, 2), to);
      await s.copy(from, (await s.listMessages(from)).map((m) => m.uid).slice(0, 1), to);
    }
  };
  await Promise.all([shuffle(a, inbox, 'Other'), shuffle(b, other, 'INBOX')]);
  const total = (await a.status('INBOX')).messages + (await a.status('Other')).messages;
  const listed = (await a.listMessages(inbox)).length + (await a.listMessages(other)).length;
  expect(listed).toBe(total);
  expect(await b.quotaUsage()).toMatchObject({ messages: total });
});

test('the recipients of one message share one body row; a share whose row went is not used', async () => {
  const alice = node('nodeA', 'alice');
  const bob = node('nodeA', 'bob');
  const carol = node('nodeA', 'carol');
  const content = msg('to three', 'z'.repeat(100_000));
  let shared: SharedBody | undefined;
  const a = await alice.append('INBOX', { content: await alice.stageBody(content, { onWritten: (s) => (shared = s) }) });
  const b = await bob.append('INBOX', { content: await bob.stageBody(content, { linkFrom: shared }) });
  expect(b.bodyId).toBe(a.bodyId);
  expect((await db.query('SELECT count(*)::int AS n FROM body')).rows[0]!.n).toBe(1);
  // Both messages gone: the row goes; a late recipient writes its own copy.
  await alice.expunge(a.mailboxId, [a.uid]);
  await bob.expunge(b.mailboxId, [b.uid]);
  const c = await carol.append('INBOX', { content: await carol.stageBody(content, { linkFrom: shared }) });
  expect(c.bodyId).not.toBe(a.bodyId);
  expect((await (await carol.openBody(c.bodyId)).read(0, content.length)).equals(content)).toBe(true);
  // A user cannot read another user's body, nor list or follow another user's mailbox, by its id.
  expect(await errorCode(() => alice.openBody(c.bodyId))).toBe('EXPUNGEISSUED');
  expect(await alice.listMessages(c.mailboxId)).toEqual([]);
  expect(await alice.changesSince(c.mailboxId, 0)).toEqual([]);
  expect(await alice.getMailboxById(c.mailboxId)).toBeUndefined();
});

test("a SELECT listing kept on node A catches up with node B's appends, flag changes and expunges", async () => {
  const a = node('nodeA');
  const b = node('nodeB');
  await a.appendMany('INBOX', Array.from({ length: 6 }, (_, i) => ({ content: msg(`m${i}`) })));
  const listing = async () => {
    const view = await a.openMailboxView('INBOX', false);
    return Array.from({ length: view.columns.length }, (_, i) => [view.columns.uidAt(i), view.columns.flagsAt(i).join(' ')]);
  };
  const fromRows = async () => (await a.listMessages((await a.getMailbox('INBOX'))!.id)).map((m) => [m.uid, m.flags.join(' ')]);
  expect(await listing()).toEqual(await fromRows());
  const inbox = (await b.getMailbox('INBOX'))!.id;
  await b.expunge(inbox, [2, 5]);
  await b.storeFlags(inbox, { uids: [3], operation: 'add', flags: ['\\Seen', 'Later'] });
  await b.append('INBOX', { content: msg('new'), flags: ['\\Flagged'] });
  expect(await listing()).toEqual([
    [1, ''],
    [3, '\\Seen Later'],
    [4, ''],
    [6, ''],
    [7, '\\Flagged'],
  ]);
  expect(await listing()).toEqual(await fromRows());
});
