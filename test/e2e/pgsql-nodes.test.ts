// Two Roost nodes on one PostgreSQL database (issue #15): two built `roost serve` processes with
// the same `mail_location = pgsql:...`, each with its own listeners and data_dir, as behind a TCP
// load balancer. A user's mail is the same on both: IDLE on one node wakes up with a delivery made
// through the other; APPENDs racing on both nodes get unique UIDs under one UIDVALIDITY; an
// expunge on one node is announced on the other; `kill -9` of a node under LMTP load loses no
// message it acknowledged, and the other node keeps serving throughout.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { usePostgres } from '../pg/harness.js';
import { buildCli } from '../cli/built-roost.js';
import { startServeChild, type ServeChild } from '../cli/serve-child.js';
import { RawClient as RawImap } from '../imap/server/helpers.js';
import { RawClient as RawLmtp, greet } from '../lmtp/helpers.js';
import { waitUntil } from '../poll.js';

const pg = usePostgres();
let dir: string;
let location: string;
let nodes: ServeChild[] = [];

async function startNode(name: string): Promise<ServeChild> {
  const auth = [`passdb {\n  driver = passwd-file\n  args = ${dir}/users\n}`, `userdb {\n  driver = passwd-file\n  args = ${dir}/users\n}`];
  const node = await startServeChild(dir, [], [`mail_location = ${location}`, `mail_home = ${dir}/home/%n`, 'mail_max_userip_connections = 100'], { node: name, auth });
  nodes.push(node);
  return node;
}

beforeAll(async () => {
  buildCli();
  dir = mkdtempSync(join(tmpdir(), 'roost-nodes-'));
  writeFileSync(join(dir, 'users'), ['alice', 'bob', 'carol', 'dave'].map((u) => `${u}:{PLAIN}secret::::${dir}/home/${u}::\n`).join(''));
  location = `pgsql:${(await pg.server.createDatabase()).connectString}`;
}, 120_000);

afterEach(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  nodes = [];
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function message(id: string): string {
  return `From: sender@example.net\r\nTo: someone@example.com\r\nSubject: ${id}\r\nMessage-ID: <${id}@nodes.test>\r\n\r\nHello from ${id}.\r\n`;
}

async function login(node: ServeChild, user: string): Promise<RawImap> {
  const c = await RawImap.connect(node.imapPort);
  const r = await c.command('l', `LOGIN ${user} secret`);
  expect(r.at(-1)).toMatch(/^l OK/);
  return c;
}

/** One LMTP transaction to `rcpt` on `node`; resolves with the DATA reply. */
async function deliverVia(c: RawLmtp, rcpt: string, id: string): Promise<string> {
  c.send(`MAIL FROM:<sender@example.net>\r\nRCPT TO:<${rcpt}>\r\nDATA\r\n`);
  const env = await c.replies(3, 60_000);
  if (!env[2]!.startsWith('354')) return env.join(' | ');
  c.send(`${message(id)}.\r\n`);
  return (await c.replies(1, 60_000))[0]!;
}

async function lmtp(node: ServeChild): Promise<RawLmtp> {
  const c = await RawLmtp.connect({ port: node.lmtpPort });
  await greet(c);
  return c;
}

/** Every Message-ID in `user`'s INBOX, read through `node`. */
async function messageIds(node: ServeChild, user: string): Promise<string[]> {
  const c = await login(node, user);
  await c.command('s', 'SELECT INBOX');
  const lines = await c.command('f', 'UID FETCH 1:* (BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])');
  c.close();
  return lines.map((l) => /^Message-ID: <([^@>]+)@/i.exec(l)?.[1]).filter((x): x is string => !!x);
}

test('IDLE on node A sees a delivery made through node B; an expunge on B is announced on A', async () => {
  const [a, b] = [await startNode('a'), await startNode('b')];
  const idler = await login(a, 'alice');
  const sel = await idler.command('s', 'SELECT INBOX');
  expect(sel).toContain('* 0 EXISTS');
  idler.send('i IDLE\r\n');
  expect(await idler.readLine()).toMatch(/^\+ /);

  const via = await lmtp(b);
  expect(await deliverVia(via, 'alice', 'first')).toMatch(/^250 /);
  await waitUntil('EXISTS on node A', () => idler.lines.includes('* 1 EXISTS'));
  idler.send('DONE\r\n');
  await idler.until((l) => l.startsWith('i '));
  const fetched = await idler.command('f', 'FETCH 1 (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])');
  expect(fetched.join('\n')).toContain('Subject: first');

  // A second message, then node B expunges the first: node A announces sequence 1 expunged.
  expect(await deliverVia(via, 'alice', 'second')).toMatch(/^250 /);
  via.close();
  const other = await login(b, 'alice');
  await other.command('s', 'SELECT INBOX');
  expect((await other.command('d', 'UID STORE 1 +FLAGS.SILENT (\\Deleted)')).at(-1)).toMatch(/^d OK/);
  expect((await other.command('e', 'EXPUNGE')).at(-1)).toMatch(/^e OK/);
  other.close();
  await waitUntil('node A sees the expunge', async () => {
    const r = await idler.command(`n${Date.now()}`, 'NOOP');
    return idler.lines.includes('* 1 EXPUNGE') || r.includes('* 1 EXPUNGE');
  });
  const left = await idler.command('u', 'UID SEARCH ALL');
  expect(left).toContain('* SEARCH 2');
  idler.close();
}, 120_000);

test('APPENDs racing on both nodes get unique, increasing UIDs under one UIDVALIDITY', async () => {
  const [a, b] = [await startNode('a'), await startNode('b')];
  const setup = await login(a, 'bob');
  expect((await setup.command('c', 'CREATE Shared')).at(-1)).toMatch(/^c OK/);
  setup.close();
  const PER_CLIENT = 15;
  const clients = await Promise.all([login(a, 'bob'), login(a, 'bob'), login(b, 'bob'), login(b, 'bob')]);
  const appended = await Promise.all(
    clients.map(async (c, ci) => {
      const got: { validity: number; uid: number }[] = [];
      for (let i = 0; i < PER_CLIENT; i++) {
        const m = message(`c${ci}-${i}`);
        c.send(`a${i} APPEND Shared {${Buffer.byteLength(m)}+}\r\n${m}\r\n`);
        const done = await c.until((l) => l.startsWith(`a${i} `));
        const ok = /^a\d+ OK \[APPENDUID (\d+) (\d+)\]/.exec(done.at(-1)!);
        expect(ok).not.toBeNull();
        got.push({ validity: Number(ok![1]), uid: Number(ok![2]) });
      }
      c.close();
      return got;
    }),
  );
  const all = appended.flat();
  expect(new Set(all.map((x) => x.validity)).size).toBe(1);
  const uids = all.map((x) => x.uid).sort((x, y) => x - y);
  expect(new Set(uids).size).toBe(clients.length * PER_CLIENT);
  // Each client saw its own UIDs increase.
  for (const got of appended) expect(got.map((x) => x.uid)).toEqual([...got.map((x) => x.uid)].sort((x, y) => x - y));
  // Both nodes list the same messages under the same UIDVALIDITY.
  for (const node of [a, b]) {
    const c = await login(node, 'bob');
    const sel = await c.command('s', 'SELECT Shared');
    expect(sel).toContain(`* OK [UIDVALIDITY ${all[0]!.validity}] UIDs valid`);
    expect(await c.command('u', 'UID SEARCH ALL')).toContain(`* SEARCH ${uids.join(' ')}`);
    c.close();
  }
}, 120_000);

test('kill -9 of node A under LMTP load loses no acknowledged message; node B serves throughout', async () => {
  const [a, b] = [await startNode('a'), await startNode('b')];
  const acknowledged: string[] = [];
  let killed = false;
  let afterKillOnB = 0;

  // Three connections keep delivering to node A until it dies.
  const loadOnA = Array.from({ length: 3 }, async (_, ci) => {
    const c = await lmtp(a);
    for (let i = 0; ; i++) {
      const id = `a${ci}-${i}`;
      let reply: string;
      try {
        reply = await deliverVia(c, 'carol', id);
      } catch {
        return; // the connection died with the node: whatever was not acknowledged may be lost
      }
      if (reply.startsWith('250 ')) acknowledged.push(id);
      else return;
    }
  });
  // Node B delivers the whole time, and must go on after A died.
  const loadOnB = (async () => {
    const c = await lmtp(b);
    for (let i = 0; !killed || afterKillOnB < 10; i++) {
      const id = `b-${i}`;
      const reply = await deliverVia(c, 'carol', id);
      expect(reply).toMatch(/^250 /);
      acknowledged.push(id);
      if (killed) afterKillOnB++;
    }
    c.close();
  })();

  await waitUntil('30 deliveries acknowledged by node A', () => acknowledged.filter((x) => x.startsWith('a')).length >= 30, 120_000);
  await a.kill();
  killed = true;
  await Promise.all(loadOnA);
  await loadOnB;
  expect(afterKillOnB).toBeGreaterThanOrEqual(10);

  const stored = new Set(await messageIds(b, 'carol'));
  const lost = acknowledged.filter((id) => !stored.has(id));
  expect(lost).toEqual([]);
  // Node B also still answers IMAP for another user.
  const c = await login(b, 'dave');
  expect((await c.command('s', 'SELECT INBOX')).at(-1)).toMatch(/^s OK/);
  c.close();
}, 180_000);

test('PostgreSQL restarting under a node: sessions get errors, not a crash, and go on once it is back', async () => {
  const a = await startNode('a');
  const c = await login(a, 'dave');
  expect((await c.command('s', 'SELECT INBOX')).at(-1)).toMatch(/^s OK/);
  const via = await lmtp(a);
  expect(await deliverVia(via, 'dave', 'before')).toMatch(/^250 /);

  await pg.server.stop('fast');
  // While the database is down: a temporary failure for the delivery, a NO for the command.
  expect(await deliverVia(via, 'dave', 'while-down')).toMatch(/^4\d\d /);
  const down = await c.command('n', 'STATUS INBOX (MESSAGES)');
  expect(down.at(-1)).toMatch(/^n NO \[UNAVAILABLE\] /);
  await pg.server.start();

  // The same connections go on: the pool reconnects (with a log line) and nothing was lost.
  await waitUntil('the session answers again', async () => (await c.command(`r${Date.now()}`, 'STATUS INBOX (MESSAGES)')).at(-1)!.includes(' OK '));
  expect(await deliverVia(via, 'dave', 'after')).toMatch(/^250 /);
  via.close();
  expect(await c.command('o', 'NOOP')).toContain('* 2 EXISTS');
  expect(await c.command('f', 'UID FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])')).toEqual(
    expect.arrayContaining(['Subject: before', 'Subject: after']),
  );
  c.close();
  expect(a.output()).toMatch(/Connection to database \S+ lost/);
}, 120_000);
