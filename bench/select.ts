// SELECT and small-FETCH benchmark over real sockets (server in a child process, raw clients here).
// Prints:
//   - SELECT latency on mailboxes of 0, 20,000 and 100,000 messages: the first SELECT of the user
//     since the server started, the SELECT of a new session when no other session of the user is
//     open (what a LOGIN+SELECT+LOGOUT client sees), and a repeated SELECT on one connection
//     (median of 20);
//   - STATUS (MESSAGES UNSEEN RECENT) latency on the same mailboxes (median of 20);
//   - LOGIN + SELECT + LOGOUT per second, 4 concurrent clients, with an empty INBOX and one of
//     20,000 messages;
//   - `FETCH 1:* (UID FLAGS RFC822.SIZE)` over 2,000 messages (one client, median of 300) and the
//     per-command cost of a one-message `FETCH n (FLAGS)` (median of 1,000).
// The mailboxes are filled through the store with \Recent already taken except for the last 10
// messages (after an LMTP run the first session would claim them all, once).
// ROOST_BENCH_SELECT_DATA=DIR keeps the filled data folder in DIR and reuses it on the next run
// (copied, so each run starts from the same store; an older store is migrated on open).
// Asserts nothing. Run: npm run build && node dist/bench/select.js
import { fork, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Imap, median, timed } from './lib/load-driver.js';

const USERS: [string, number][] = [
  ['empty', 0],
  ['mid', 20_000],
  ['huge', 100_000],
  ['fetch2k', 2_000],
];
const LOGIN_SECONDS = 3;
const SELECT_REPEATS = 20;
const FETCH_ROUNDS = 300;
const SMALL_FETCH_ROUNDS = 1_000;

type ServerMessage = { type: 'ready'; port: number };

// ---------------------------------------------------------------- server side (child process)

async function fill(dataDir: string): Promise<void> {
  const { createServerContext } = await import('../src/cli/context.js');
  const { defaultSettings } = await import('../src/config/index.js');
  const { hashPassword } = await import('../src/auth/index.js');
  const { logHub } = await import('../src/log/logger.js');
  logHub.setDefaultOutput(false);
  const settings = defaultSettings();
  settings.data_dir = dataDir;
  settings.mail_home = `${dataDir}/home/%d/%n`;
  const ctx = createServerContext(settings);
  for (const [username, count] of USERS) {
    ctx.serverDb.addUser({ username, password: await hashPassword('pw', 'PLAIN') });
    const user = await ctx.mailUsers.createUser({ username, service: 'bench' });
    const store = user.getStore();
    for (let start = 0; start < count; start += 10_000) {
      const inputs = [];
      for (let i = start; i < Math.min(count, start + 10_000); i++) {
        const content = Buffer.from(`From: s${i}@example.org\r\nTo: ${username}@example.org\r\nSubject: Bench ${i}\r\n\r\nBody of message ${i}.\r\n`);
        // Mostly read, a few flagged; the unread ones are the newest (a typical INBOX).
        const flags = i < count - 50 ? (i % 17 === 0 ? ['\\Seen', '\\Flagged'] : ['\\Seen']) : [];
        inputs.push({ content, flags, recentForSession: i < count - 10 });
      }
      store.appendMany('INBOX', inputs);
    }
    await ctx.mailUsers.destroyUser(user);
  }
  await ctx.close();
}

async function serverMain(dataDir: string): Promise<void> {
  const { startBenchServer } = await import('./server-child.js');
  const { server } = await startBenchServer(dataDir);
  process.on('message', (m: { type: string }) => {
    if (m.type === 'stop') void server.close().then(() => process.exit(0));
  });
  process.on('disconnect', () => process.exit(1));
  process.send!({ type: 'ready', port: server.port('imap') } satisfies ServerMessage);
}

// ---------------------------------------------------------------- client side (bench/lib/load-driver.ts)

/** A logged-in raw IMAP session (the users' password is `pw`). */
function session(port: number, user: string): Promise<Imap> {
  return Imap.login(port, user, 'pw');
}

async function clientMain(): Promise<void> {
  const keep = process.env['ROOST_BENCH_SELECT_DATA'];
  const dataDir = mkdtempSync(path.join(tmpdir(), 'roost-bench-select-'));
  let t = performance.now();
  if (keep && existsSync(path.join(keep, 'done'))) {
    cpSync(keep, dataDir, { recursive: true });
    console.log(`setup: data copied from ${keep} in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  } else {
    await fill(dataDir);
    console.log(`setup: ${USERS.map(([u, n]) => `${u} ${n}`).join(', ')} messages filled in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    if (keep) {
      rmSync(keep, { recursive: true, force: true });
      cpSync(dataDir, keep, { recursive: true });
      writeFileSync(path.join(keep, 'done'), ""); // marks a complete copy
    }
  }
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['--server', dataDir], { stdio: 'inherit' });
  const port = await new Promise<number>((resolve) => child.once('message', (m: ServerMessage) => resolve(m.port)));

  // 1. SELECT: first of the user since start, in a fresh session, repeated.
  for (const [user, count] of USERS.slice(0, 3)) {
    const a = await session(port, user);
    const first = await timed(() => a.cmd('SELECT INBOX'));
    await a.logout();
    const fresh: number[] = [];
    for (let i = 0; i < 5; i++) {
      const b = await session(port, user);
      fresh.push(await timed(() => b.cmd('SELECT INBOX')));
      await b.logout();
    }
    const c = await session(port, user);
    const repeated: number[] = [];
    for (let i = 0; i < SELECT_REPEATS; i++) repeated.push(await timed(() => c.cmd('SELECT INBOX')));
    await c.cmd('UNSELECT');
    const status: number[] = [];
    for (let i = 0; i < SELECT_REPEATS; i++) status.push(await timed(() => c.cmd('STATUS INBOX (MESSAGES UNSEEN RECENT)')));
    await c.logout();
    console.log(
      `SELECT, ${count} messages: first since start ${first.toFixed(2)} ms, new session median ${median(fresh).toFixed(2)} ms, ` +
        `repeated median ${median(repeated).toFixed(2)} ms; STATUS median ${median(status).toFixed(2)} ms`,
    );
  }

  // 2. LOGIN + SELECT + LOGOUT, 4 concurrent clients.
  for (const [user, count] of USERS.slice(0, 2)) {
    let sessions = 0;
    const until = performance.now() + LOGIN_SECONDS * 1000;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (performance.now() < until) {
          const c = await session(port, user);
          await c.cmd('SELECT INBOX');
          await c.logout();
          sessions++;
        }
      }),
    );
    console.log(`LOGIN+SELECT+LOGOUT, INBOX of ${count}: ${(sessions / LOGIN_SECONDS).toFixed(0)} sessions/s (4 concurrent clients)`);
  }

  // 3. Small FETCHes on 2,000 messages.
  const f = await session(port, 'fetch2k');
  await f.cmd('SELECT INBOX');
  const fetches: number[] = [];
  let responses = 0;
  for (let i = 0; i < FETCH_ROUNDS; i++) {
    const t0 = performance.now();
    responses = (await f.cmd('FETCH 1:* (UID FLAGS RFC822.SIZE)')).length - 1; // the tagged OK
    fetches.push(performance.now() - t0);
  }
  const singles: number[] = [];
  for (let i = 0; i < SMALL_FETCH_ROUNDS; i++) singles.push(await timed(() => f.cmd(`FETCH ${1 + (i % 2000)} (FLAGS)`)));
  await f.logout();
  console.log(
    `FETCH 1:* (UID FLAGS RFC822.SIZE), ${responses} messages: median ${median(fetches).toFixed(2)} ms; ` +
      `FETCH n (FLAGS): median ${(median(singles) * 1000).toFixed(0)} µs`,
  );

  child.send({ type: 'stop' });
  await new Promise((r) => child.once('exit', r));
  rmSync(dataDir, { recursive: true, force: true });

}

if (process.argv[2] === '--server') await serverMain(process.argv[3]!);
else await clientMain();
