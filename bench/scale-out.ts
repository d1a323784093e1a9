// Scale-out figures (issue #15): the same load on three set-ups, on the same machine in one run,
//   - sqlite:       one `roost serve`, the default SQLite store;
//   - pgsql 1 node: one `roost serve` with mail_location = pgsql:...;
//   - pgsql 2 nodes: two `roost serve` processes on the same PostgreSQL database, the load
//     spread over both (LMTP connections alternate between the nodes; FETCH and SEARCH run on
//     each node and both medians are printed).
// Figures:
//   - LMTP deliveries/s: 1 KB, 1 recipient, 4 connections, 20 users round robin;
//   - `FETCH 1:* (FLAGS)` over 10,000 messages, one client, median;
//   - `SEARCH TEXT "<word>"` over the same 10,000 messages (1 in 50 carries the word), median;
//   - with two nodes, the change feed across nodes: a delivery through node B until IDLE on node A
//     announces it (`* n EXISTS`), median of 20 (the bound: 1 s).
// PostgreSQL is the test harness's private server (test/pg/harness.ts) started durable: fsync
// and synchronous_commit on, as SQLite's mail_fsync = optimized, so an acknowledged delivery is on
// disk in every set-up. Servers, PostgreSQL and this driver share the machine's cores.
//
// Run: npm run build && node dist/bench/scale-out.js
//   Env: SCALE_OUT_SECONDS (LMTP seconds per round, default 5), SCALE_OUT_ROUNDS (default 2),
//   SCALE_OUT_ONLY=sqlite|pgsql1|pgsql2, SCALE_OUT_MESSAGES (default 10000).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPostgres, type PgServer } from '../test/pg/harness.js';
import { performance } from 'node:perf_hooks';
import { benchMessage, commandMedian, fillInbox, freePort, Imap, lmtpConnect, lmtpDeliver, lmtpQuit, lmtpRate, median, waitForPort } from './lib/load-driver.js';

const SECONDS = Number(process.env.SCALE_OUT_SECONDS ?? 5);
const ROUNDS = Number(process.env.SCALE_OUT_ROUNDS ?? 2);
const MESSAGES = Number(process.env.SCALE_OUT_MESSAGES ?? 10_000);
const ONLY = process.env.SCALE_OUT_ONLY;
const CONNECTIONS = 4;
const LMTP_USERS = 20;
const QUERY_ROUNDS = 15;
const WORD = 'quetzalcoatl';
const ROOST_MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

type SetUp = 'sqlite' | 'pgsql1' | 'pgsql2';

interface Node {
  imap: number;
  lmtp: number;
  child: ChildProcess;
}

function usersFile(dir: string): string {
  const names = [...Array.from({ length: LMTP_USERS }, (_, i) => `d${i + 1}`), 'big'];
  return names.map((u) => `${u}:{PLAIN}secret::::${dir}/home/${u}::\n`).join('');
}

function config(dir: string, node: string, location: string, imap: number, lmtp: number): string {
  return [
    'protocols = imap lmtp',
    'listen = 127.0.0.1',
    `data_dir = ${dir}/${node}`,
    `log_path = ${dir}/${node}/roost.log`,
    'ssl = no',
    'disable_plaintext_auth = no',
    `mail_home = ${dir}/home/%n`,
    `mail_location = ${location}`,
    'mail_fsync = optimized',
    'mail_max_userip_connections = 100',
    'auth_failure_delay = 0',
    'passdb {',
    '  driver = passwd-file',
    `  args = ${dir}/users`,
    '}',
    'userdb {',
    '  driver = passwd-file',
    `  args = ${dir}/users`,
    '}',
    'service imap-login {',
    '  inet_listener imap {',
    `    port = ${imap}`,
    '  }',
    '  inet_listener imaps {',
    '    port = 0',
    '  }',
    '}',
    'service lmtp {',
    '  inet_listener lmtp {',
    `    port = ${lmtp}`,
    '  }',
    '}',
    '',
  ].join('\n');
}

async function startNode(dir: string, name: string, location: string): Promise<Node> {
  mkdirSync(join(dir, name), { recursive: true });
  const imap = await freePort();
  const lmtp = await freePort();
  const conf = join(dir, name, 'roost.conf');
  writeFileSync(conf, config(dir, name, location, imap, lmtp));
  const child = spawn(process.execPath, [ROOST_MAIN, 'serve', '-c', conf], { stdio: ['ignore', 'ignore', 'inherit'], cwd: dir });
  await waitForPort(imap, child);
  await waitForPort(lmtp, child);
  return { imap, lmtp, child };
}

async function stopNode(n: Node): Promise<void> {
  if (n.child.exitCode !== null) return;
  const exited = new Promise((r) => n.child.once('exit', r));
  n.child.kill('SIGTERM');
  await exited;
}

interface Figures {
  lmtp: number[];
  fetch: number[];
  search: number[];
  /** Two nodes: ms from a delivery's 250 on node B to IDLE's EXISTS on node A (median). */
  idleAcross?: number;
}

const IDLE_ROUNDS = 20;

/** Median ms from the 250 of a delivery through `via` to the EXISTS that IDLE on `watch` sends. */
async function idleAcrossNodes(watch: Node, via: Node, user: string): Promise<number> {
  const idler = await Imap.login(watch.imap, user);
  const sel = await idler.cmd('SELECT INBOX');
  let exists = Number(sel.find((l) => / EXISTS$/.test(l))?.split(' ')[1] ?? 0);
  const lmtp = await lmtpConnect(via.lmtp);
  const times: number[] = [];
  for (let i = 0; i < IDLE_ROUNDS; i++) {
    await idler.conn.exchange('i IDLE\r\n', (l) => l.startsWith('+ '));
    await lmtpDeliver(lmtp, user, benchMessage(i, 1024));
    const acknowledged = performance.now();
    exists++;
    await idler.conn.exchange('', (l) => l === `* ${exists} EXISTS`);
    times.push(performance.now() - acknowledged);
    await idler.conn.exchange('DONE\r\n', (l) => l.startsWith('i '));
  }
  await lmtpQuit(lmtp);
  await idler.logout();
  return median(times);
}

async function measure(setUp: SetUp, pg: PgServer | null, root: string): Promise<Figures> {
  const dir = join(root, setUp);
  mkdirSync(join(dir, 'home'), { recursive: true });
  writeFileSync(join(dir, 'users'), usersFile(dir));
  let location = 'sqlite:~/mail.db';
  if (setUp !== 'sqlite') location = `pgsql:${(await pg!.createDatabase()).connectString}`;
  const nodes: Node[] = [await startNode(dir, 'a', location)];
  if (setUp === 'pgsql2') nodes.push(await startNode(dir, 'b', location));
  try {
    const lmtp: number[] = [];
    const msg = benchMessage(1, 1024);
    for (let r = 0; r < ROUNDS; r++) {
      lmtp.push(await lmtpRate({ ports: nodes.map((n) => n.lmtp), connections: CONNECTIONS, seconds: SECONDS, msg, rcpt: (k) => `d${(k % LMTP_USERS) + 1}` }));
    }
    await fillInbox(nodes[0]!.imap, 'big', MESSAGES, (i) => benchMessage(i, 300 + (i % 7) * 40, i % 50 === 0 ? `the word ${WORD} is here` : ''));
    const fetch: number[] = [];
    const search: number[] = [];
    for (const n of nodes) {
      fetch.push(await commandMedian(n.imap, 'big', 'FETCH 1:* (FLAGS)', QUERY_ROUNDS));
      search.push(await commandMedian(n.imap, 'big', `SEARCH TEXT "${WORD}"`, QUERY_ROUNDS));
    }
    const idleAcross = nodes.length > 1 ? await idleAcrossNodes(nodes[0]!, nodes[1]!, 'd1') : undefined;
    return { lmtp, fetch, search, idleAcross };
  } finally {
    await Promise.all(nodes.map(stopNode));
  }
}

const range = (xs: number[], digits = 0) => {
  const lo = Math.min(...xs).toFixed(digits);
  const hi = Math.max(...xs).toFixed(digits);
  return lo === hi ? lo : `${lo}–${hi}`;
};

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'roost-scale-out-'));
  const setUps: SetUp[] = (['sqlite', 'pgsql1', 'pgsql2'] as const).filter((s) => !ONLY || s === ONLY);
  const pg = setUps.some((s) => s !== 'sqlite') ? await startPostgres({ durable: true }) : null;
  const rows: string[] = [];
  let idleLine = '';
  try {
    for (const s of setUps) {
      const f = await measure(s, pg, root);
      const label = s === 'sqlite' ? 'SQLite, 1 node' : s === 'pgsql1' ? 'PostgreSQL, 1 node' : 'PostgreSQL, 2 nodes';
      rows.push(`| ${label} | ${range(f.lmtp)} | ${f.fetch.map((x) => x.toFixed(1)).join(' / ')} | ${f.search.map((x) => x.toFixed(1)).join(' / ')} |`);
      console.log(`${label}: LMTP ${range(f.lmtp)}/s; FETCH 1:* (FLAGS) ${f.fetch.map((x) => x.toFixed(1)).join(' / ')} ms; SEARCH TEXT ${f.search.map((x) => x.toFixed(1)).join(' / ')} ms`);
      if (f.idleAcross !== undefined) idleLine = `IDLE on node A announcing a delivery made through node B: median ${f.idleAcross.toFixed(1)} ms over ${IDLE_ROUNDS}`;
    }
  } finally {
    await pg?.destroy();
    rmSync(root, { recursive: true, force: true });
  }
  console.log(`\n${MESSAGES} messages for FETCH/SEARCH; LMTP ${ROUNDS} rounds of ${SECONDS} s; load average ${loadavg()[0]!.toFixed(1)}`);
  console.log('| Set-up | LMTP deliveries/s | FETCH 1:* (FLAGS), ms (per node) | SEARCH TEXT, ms (per node) |');
  console.log('|---|---|---|---|');
  for (const r of rows) console.log(r);
  if (idleLine) console.log(`\n${idleLine}`);
}

await main();
