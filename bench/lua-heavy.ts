// The Lua-heavy profile (issue #18): Roost and, when /usr/sbin/dovecot exists, a real Dovecot
// 2.3.19 on loopback, driven by the same load driver (this file), with the same users and the
// same scripts (bench/dovecot-lua-heavy/): a mail_lua_script whose three hooks each append a line
// to a log file, a Lua push-notification driver with a handler for every event, and a Lua
// passdb/userdb consulted after passwd-file ones (result_success = continue-ok). Each server also
// runs without any Lua. Figures:
//   - LMTP deliveries/s: 1 KB, 1 recipient, 4 connections (LUA_HEAVY_CONNECTIONS; 20 users round robin);
//   - LOGIN + SELECT INBOX + LOGOUT sessions/s, 4 clients (the same variable), empty INBOX and 20,000-message INBOX;
//   - FETCH 1:* (UID FLAGS RFC822.SIZE) over 2,000 messages, one client, median;
//   - SELECT latency at 0, 20,000 and 100,000 messages: first SELECT of a session, and again
//     after UNSELECT on the same session (medians).
// Servers run as child processes: Roost as the built `roost serve -c <temp>/roost.conf`,
// Dovecot as `dovecot -c <temp>/dovecot.conf` (own base_dir, log and mail under the temp dir,
// non-default ports; mail owned by nobody). The driver and the servers share the machine's cores
// (2 on the reference machine): every figure includes the driver's own CPU.
// Configurations run alternately (Roost, Dovecot, Roost with Lua, Dovecot with Lua) for
// LUA_HEAVY_ROUNDS rounds (default 2), so the ranges show the noise of a shared machine.
//
// Run: npm run build && node dist/bench/lua-heavy.js [--quick|--full]
//   --quick (default): 3 s per throughput figure; --full: 10 s.
//   Env: LUA_HEAVY_SECONDS, LUA_HEAVY_ROUNDS, LUA_HEAVY_SIZES (SELECT sizes, default
//   0,20000,100000), LUA_HEAVY_ONLY=roost|dovecot, LUA_HEAVY_LUA=on|off|both (default both),
//   LUA_HEAVY_FIGURES=lmtp,login,fetch,select (default all), LUA_HEAVY_NODE_ARGS (extra node options for the Roost child, e.g. --cpu-prof),
//   LUA_HEAVY_THREADS=1 (the server's CPU per unit by thread name, Dovecot's by process name), LUA_HEAVY_KEEP=1 (keep the temp dir),
//   LUA_HEAVY_GC=1 (Roost's JavaScript allocation per unit for each V8 isolate: the main thread and
//   each worker, from --trace-gc-nvp's `allocated=`, which a collection reports for the time since
//   the one before, so the figure is approximate by one collection per isolate).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { benchMessage, commandMedian, fillInbox, freePort, Imap, lmtpConnect, lmtpDeliver, lmtpQuit, lmtpRate as lmtpRateOver, median, timed, waitForPort } from './lib/load-driver.js';

const args = new Set(process.argv.slice(2));
const SECONDS = Number(process.env.LUA_HEAVY_SECONDS ?? (args.has('--full') ? 10 : 3));
const ROUNDS = Number(process.env.LUA_HEAVY_ROUNDS ?? 2);
const SIZES = (process.env.LUA_HEAVY_SIZES ?? '0,20000,100000').split(',').map(Number);
const ONLY = process.env.LUA_HEAVY_ONLY;
const LUA_MODES = process.env.LUA_HEAVY_LUA === 'on' ? [true] : process.env.LUA_HEAVY_LUA === 'off' ? [false] : [false, true];
/** Which figures to take (default all): lmtp, login, fetch, select. */
const FIGURES = new Set((process.env.LUA_HEAVY_FIGURES ?? 'lmtp,login,fetch,select').split(','));
const DOVECOT = '/usr/sbin/dovecot';
const CONNECTIONS = Number(process.env.LUA_HEAVY_CONNECTIONS ?? 4);
const LMTP_USERS = 20;
const FETCH_MESSAGES = 2000;
const FETCH_ROUNDS = 40;
const SELECT_ROUNDS = 15;
const PROFILE = fileURLToPath(new URL('../../bench/dovecot-lua-heavy/', import.meta.url));
const ROOST_MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const NOBODY = 65534;

// ---- the load driver (the same for both servers) ----

/** LMTP: deliveries/s with 1 KB messages, 1 recipient, CONNECTIONS connections, for SECONDS. */
function lmtpRate(port: number): Promise<number> {
  return lmtpRateOver({ ports: [port], connections: CONNECTIONS, seconds: SECONDS, msg: benchMessage(1, 1024), rcpt: (k) => `d${(k % LMTP_USERS) + 1}` });
}

/** One delivery to each LMTP user (their stores exist afterwards). */
async function lmtpWarmUp(port: number): Promise<void> {
  const c = await lmtpConnect(port);
  for (let i = 1; i <= LMTP_USERS; i++) await lmtpDeliver(c, `d${i}`, benchMessage(0, 1024));
  await lmtpQuit(c);
}

/** LOGIN + SELECT INBOX + LOGOUT, CONNECTIONS clients back to back, for SECONDS. */
async function loginRate(port: number, user: (client: number) => string): Promise<number> {
  let sessions = 0;
  const deadline = performance.now() + SECONDS * 1000;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async (_, client) => {
      while (performance.now() < deadline) {
        const c = await Imap.login(port, user(client));
        await c.cmd('SELECT INBOX');
        await c.logout();
        sessions++;
      }
    }),
  );
  return sessions / ((performance.now() - start) / 1000);
}

/** Median ms of `FETCH 1:* (UID FLAGS RFC822.SIZE)` over FETCH_MESSAGES messages. */
function fetchMedian(port: number): Promise<number> {
  return commandMedian(port, 'f2k', 'FETCH 1:* (UID FLAGS RFC822.SIZE)', FETCH_ROUNDS, 5);
}

/** SELECT latency (ms, medians): first SELECT of a fresh session, and repeated after UNSELECT. */
async function selectLatency(port: number, user: string): Promise<{ first: number; again: number }> {
  const first: number[] = [];
  for (let i = 0; i < SELECT_ROUNDS; i++) {
    const c = await Imap.login(port, user);
    first.push(await timed(() => c.cmd('SELECT INBOX')));
    await c.logout();
  }
  const c = await Imap.login(port, user);
  const again: number[] = [];
  for (let i = 0; i < SELECT_ROUNDS; i++) {
    await c.cmd('SELECT INBOX');
    again.push(await timed(() => c.cmd('UNSELECT').then(() => c.cmd('SELECT INBOX'))));
  }
  await c.logout();
  return { first: median(first), again: median(again) };
}

/** Fills `user`'s INBOX up to `count` messages with MULTIAPPEND (RFC 3502) batches. */
function fill(port: number, user: string, count: number): Promise<void> {
  return fillInbox(port, user, count, (i) => benchMessage(i, 300 + (i % 7) * 40));
}

/** utime + stime (and, with `children`, the reaped children's cutime + cstime) of a /proc stat line, in ms, with its name. */
function parseStat(stat: string, children = false): { name: string; ppid: number; ms: number } {
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
  const ticks = Number(f[11]) + Number(f[12]) + (children ? Number(f[13]) + Number(f[14]) : 0);
  return { name, ppid: Number(f[1]), ms: (ticks * 1000) / 100 }; // USER_HZ = 100
}

/** A server's CPU time so far (ms): its main thread (Dovecot: the master), all of it, and by thread or process name. */
type CpuSample = { main: number; total: number; byName: Record<string, number> };

/** CPU time (ms) of a process so far: its main thread, all its threads, and per thread name (Linux /proc). */
function cpuOf(pid: number): CpuSample | null {
  try {
    const byName: Record<string, number> = {};
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const t = parseStat(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'));
        const name = tid === String(pid) ? 'main' : `${t.name}:${tid}`;
        byName[name] = (byName[name] ?? 0) + t.ms;
      } catch {
        // the thread ended
      }
    }
    return { main: parseStat(readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8')).ms, total: parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8')).ms, byName };
  } catch {
    return null;
  }
}

/**
 * CPU time (ms) of a process tree so far (Dovecot: the master and every process it started, by
 * process name). A process that exits moves its CPU into its parent's reaped-children time, so
 * each process counts its own time plus its reaped children's, and the difference of two samples
 * holds the work of processes that came and went in between ("main" is the master itself).
 */
function cpuOfTree(rootPid: number): CpuSample | null {
  const procs = new Map<number, { name: string; ppid: number; ms: number }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      procs.set(Number(entry), parseStat(readFileSync(`/proc/${entry}/stat`, 'utf8'), true));
    } catch {
      // exited meanwhile
    }
  }
  const root = procs.get(rootPid);
  if (!root) return null;
  const inTree = (pid: number): boolean => {
    for (let p = pid, hops = 0; p > 1 && hops < 16; hops++) {
      if (p === rootPid) return true;
      p = procs.get(p)?.ppid ?? 0;
    }
    return false;
  };
  const byName: Record<string, number> = {};
  let total = 0;
  for (const [pid, p] of procs) {
    if (!inTree(pid)) continue;
    const name = pid === rootPid ? 'master and exited processes' : p.name;
    byName[name] = (byName[name] ?? 0) + p.ms;
    total += p.ms;
  }
  return { main: root.ms, total, byName };
}

/** CPU ms per unit of a figure (delivery or login). */
type Cpu = CpuSample & { allocatedKb?: number[]; /** the load driver's own CPU per unit */ driver: number };

/** LUA_HEAVY_GC: bytes each isolate of the Roost child has reported allocated so far, by isolate address. */
const allocated = new Map<string, number>();
const TRACE_GC = Boolean(process.env.LUA_HEAVY_GC);

/** Runs `f` (returning a rate per second over about SECONDS) and the server's CPU ms per unit of that rate. */
async function withCpu(sample: () => CpuSample | null, f: () => Promise<number>): Promise<{ rate: number; cpu: Cpu | null }> {
  const before = sample();
  const driverBefore = process.cpuUsage();
  const allocatedBefore = new Map(allocated);
  const t = performance.now();
  const rate = await f();
  const after = sample();
  const driver = process.cpuUsage(driverBefore);
  const units = (rate * (performance.now() - t)) / 1000;
  if (!before || !after || units <= 0) return { rate, cpu: null };
  const byName: Record<string, number> = {};
  // Threads that ended during the figure are lost (the total keeps them); Dovecot's exited
  // processes are in their parent's line.
  for (const [name, ms] of Object.entries(after.byName)) byName[name] = (ms - (before.byName[name] ?? 0)) / units;
  const cpu: Cpu = {
    main: (after.main - before.main) / units,
    total: (after.total - before.total) / units,
    byName,
    driver: (driver.user + driver.system) / 1000 / units,
  };
  if (TRACE_GC) {
    cpu.allocatedKb = [...allocated]
      .map(([isolate, bytes]) => (bytes - (allocatedBefore.get(isolate) ?? 0)) / 1024 / units)
      .filter((kb) => kb >= 0.1)
      .sort((a, b) => b - a);
  }
  return { rate, cpu };
}

// ---- the servers ----

interface Ports {
  imap: number;
  lmtp: number;
}

type Kind = 'roost' | 'dovecot';

interface Server {
  kind: Kind;
  /** The server process (Roost's, or Dovecot's master). */
  pid(): number | undefined;
  /** The server's CPU so far: Roost's threads, or Dovecot's master and the processes it started. */
  cpu(): CpuSample | null;
  dir: string;
  ports: Ports;
  start(lua: boolean): Promise<void>;
  stop(): Promise<void>;
  /** Stops the server at once, without waiting (on an interrupt). */
  kill(): void;
}

function usersFile(dir: string): string {
  const names = [
    ...Array.from({ length: LMTP_USERS }, (_, i) => `d${i + 1}`),
    ...Array.from({ length: CONNECTIONS }, (_, i) => `l${i + 1}`),
    'f2k',
    ...SIZES.map((n) => `s${n}`),
  ];
  return names.map((u) => `${u}:secret:${NOBODY}:${NOBODY}::${dir}/home/${u}::\n`).join('');
}

function writeConfig(template: string, dir: string, ports: Ports, out: string): void {
  const text = readFileSync(join(PROFILE, template), 'utf8')
    .replaceAll('@DIR@', dir)
    .replaceAll('@IMAP_PORT@', String(ports.imap))
    .replaceAll('@LMTP_PORT@', String(ports.lmtp))
    .replaceAll('@HOOKS@', join(PROFILE, 'hooks.lua'))
    .replaceAll('@HOOK_LOG@', join(dir, 'hooks.log'))
    .replaceAll('@PUSH@', join(PROFILE, 'push.lua'))
    .replaceAll('@AUTH@', join(PROFILE, 'auth.lua'))
    .replaceAll('@USERS@', join(dir, 'users'));
  writeFileSync(out, text);
}

async function makeServer(kind: Kind, root: string): Promise<Server> {
  const dir = join(root, kind);
  mkdirSync(join(dir, 'home'), { recursive: true });
  // Dovecot's mail processes run as nobody: the homes and the hook log must be theirs to write.
  chmodSync(root, 0o755);
  chmodSync(dir, 0o755);
  chmodSync(join(dir, 'home'), 0o1777);
  writeFileSync(join(dir, 'users'), usersFile(dir));
  writeFileSync(join(dir, 'hooks.log'), '');
  chmodSync(join(dir, 'hooks.log'), 0o666);
  const ports = { imap: await freePort(), lmtp: await freePort() };
  let child: ChildProcess | null = null;
  const pid = (): number | undefined => {
    if (kind === 'roost') return child?.pid;
    try {
      return Number(readFileSync(join(dir, 'run', 'master.pid'), 'utf8').trim());
    } catch {
      return undefined;
    }
  };
  return {
    kind,
    dir,
    ports,
    pid,
    cpu() {
      const p = pid();
      if (p === undefined) return null;
      return kind === 'roost' ? cpuOf(p) : cpuOfTree(p);
    },
    async start(lua) {
      if (kind === 'roost') {
        const conf = join(dir, 'roost.conf');
        writeConfig(lua ? 'roost.conf' : 'roost-nolua.conf', dir, ports, conf);
        const nodeArgs = (process.env.LUA_HEAVY_NODE_ARGS ?? '').split(' ').filter(Boolean);
        if (TRACE_GC) nodeArgs.push('--trace-gc-nvp');
        child = spawn(process.execPath, [...nodeArgs, ROOST_MAIN, 'serve', '-c', conf], { stdio: ['ignore', TRACE_GC ? 'pipe' : 'ignore', 'inherit'], cwd: dir });
        if (TRACE_GC) {
          allocated.clear();
          let rest = '';
          child.stdout!.setEncoding('latin1').on('data', (chunk: string) => {
            const lines = (rest + chunk).split('\n');
            rest = lines.pop()!;
            for (const line of lines) {
              const m = /^\[\d+:(0x[0-9a-f]+)\].*\ballocated=(\d+)/.exec(line);
              if (m) allocated.set(m[1]!, (allocated.get(m[1]!) ?? 0) + Number(m[2]));
            }
          });
        }
        await waitForPort(ports.imap, child);
        await waitForPort(ports.lmtp, child);
      } else {
        mkdirSync(join(dir, 'run'), { recursive: true });
        mkdirSync(join(dir, 'state'), { recursive: true });
        const conf = join(dir, 'dovecot.conf');
        writeConfig(lua ? 'dovecot.conf' : 'dovecot-nolua.conf', dir, ports, conf);
        const r = spawn(DOVECOT, ['-c', conf], { stdio: 'inherit' });
        await new Promise((res) => r.once('exit', res));
        await waitForPort(ports.imap);
        await waitForPort(ports.lmtp);
      }
    },
    kill() {
      try {
        if (kind === 'roost') child?.kill('SIGKILL');
        else process.kill(pid() ?? NaN, 'SIGTERM');
      } catch {
        // not running
      }
    },
    async stop() {
      if (kind === 'roost') {
        const c = child!;
        child = null;
        if (c.exitCode === null) {
          const exited = new Promise((r) => c.once('exit', r));
          c.kill('SIGTERM');
          await exited;
        }
      } else {
        const master = pid();
        if (master === undefined) throw new Error(`no Dovecot master.pid in ${dir}/run`);
        process.kill(master, 'SIGTERM');
        for (let i = 0; i < 200; i++) {
          try {
            process.kill(master, 0);
          } catch {
            break;
          }
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    },
  };
}

// ---- the run ----

interface Figures {
  /** Roost's CPU ms per delivery / per session (main thread, whole process). */
  cpu: { lmtp?: Cpu | null; login?: Cpu | null };
  lmtp: number;
  loginEmpty: number;
  login20k: number;
  fetch: number;
  select: Record<number, { first: number; again: number }>;
  /** Roost's threads after the figures (main + libuv pool + Lua workers: shows the Lua pool's growth). */
  threads?: string;
  /** The machine's 1-minute load average after the figures. */
  load: number;
}

function threadsOf(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    return Number(/^Threads:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  } catch {
    return undefined;
  }
}

async function measure(s: Server, lua: boolean, filled: Set<Kind>): Promise<Figures> {
  await s.start(lua);
  try {
    const { imap, lmtp } = s.ports;
    if (!filled.has(s.kind)) {
      const t = performance.now();
      await fill(imap, 'f2k', FETCH_MESSAGES);
      for (const n of SIZES) await fill(imap, `s${n}`, n);
      filled.add(s.kind);
      console.log(`  (${s.kind}: mailboxes filled in ${((performance.now() - t) / 1000).toFixed(1)} s)`);
    }
    // A warm-up: every user's first session and delivery (store creation), the JIT.
    await loginRate(imap, (c) => `l${c + 1}`);
    await lmtpWarmUp(lmtp);
    const threadsBefore = s.kind === 'roost' ? threadsOf(s.pid()) : undefined;
    const l = FIGURES.has('lmtp') ? await withCpu(() => s.cpu(), () => lmtpRate(lmtp)) : { rate: NaN, cpu: null };
    const g = FIGURES.has('login') ? await withCpu(() => s.cpu(), () => loginRate(imap, (c) => `l${c + 1}`)) : { rate: NaN, cpu: null };
    const figures: Figures = {
      cpu: { lmtp: l.cpu, login: g.cpu },
      lmtp: l.rate,
      loginEmpty: g.rate,
      login20k: FIGURES.has('login') && SIZES.includes(20000) ? await loginRate(imap, () => 's20000') : NaN,
      fetch: FIGURES.has('fetch') ? await fetchMedian(imap) : NaN,
      select: {},
      load: loadavg()[0]!,
    };
    for (const n of SIZES) figures.select[n] = FIGURES.has('select') ? await selectLatency(imap, `s${n}`) : { first: NaN, again: NaN };
    if (s.kind === 'roost') figures.threads = `${threadsBefore ?? '?'} → ${threadsOf(s.pid()) ?? '?'}`;
    figures.load = loadavg()[0]!;
    return figures;
  } finally {
    await s.stop();
  }
}

const fmt = (n: number, digits = 0) => (Number.isNaN(n) ? '-' : n.toFixed(digits));
const range = (xs: number[], digits = 0) => {
  const v = xs.filter((x) => !Number.isNaN(x));
  if (v.length === 0) return '-';
  const lo = Math.min(...v);
  const hi = Math.max(...v);
  return lo === hi ? fmt(lo, digits) : `${fmt(lo, digits)}–${fmt(hi, digits)}`;
};

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'roost-bench-lua-heavy-'));
  const kinds: Kind[] = [];
  if (ONLY !== 'dovecot') kinds.push('roost');
  if (ONLY !== 'roost' && existsSync(DOVECOT)) kinds.push('dovecot');
  else if (ONLY !== 'roost') console.log(`(${DOVECOT} not found: Roost only)`);
  const servers = await Promise.all(kinds.map((k) => makeServer(k, root)));
  // Interrupted: no Dovecot daemon or roost child may outlive the bench.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      for (const s of servers) s.kill();
      if (!process.env.LUA_HEAVY_KEEP) rmSync(root, { recursive: true, force: true });
      process.exit(130);
    });
  }
  const results = new Map<string, Figures[]>();
  const filled = new Set<Kind>();
  console.log(`lua-heavy: ${SECONDS} s per throughput figure, ${ROUNDS} round(s), SELECT sizes ${SIZES.join('/')}; driver and servers share ${(await import('node:os')).availableParallelism()} cores`);
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      for (const lua of LUA_MODES) {
        for (const s of servers) {
          const key = `${s.kind}${lua ? '+lua' : ''}`;
          const f = await measure(s, lua, filled);
          results.set(key, [...(results.get(key) ?? []), f]);
          const sel = SIZES.map((n) => `${n}: ${fmt(f.select[n]!.first, 2)}/${fmt(f.select[n]!.again, 2)}`).join(', ');
          console.log(
            `round ${round} ${key.padEnd(12)} LMTP ${fmt(f.lmtp)}/s  logins ${fmt(f.loginEmpty)}/s (20k INBOX: ${fmt(f.login20k)}/s)  ` +
              `FETCH ${fmt(f.fetch, 2)} ms  SELECT first/again ms ${sel}  load ${f.load.toFixed(1)}` +
              (f.threads !== undefined ? `  threads after warm-up → after figures ${f.threads}` : ''),
          );
          const c = (x: Cpu | null | undefined) => (x ? `${x.main.toFixed(2)}/${x.total.toFixed(2)} (load driver ${x.driver.toFixed(2)})` : '-');
          if (s.kind === 'roost') console.log(`        ${key} CPU ms main/all threads: per delivery ${c(f.cpu.lmtp)}, per login ${c(f.cpu.login)}`);
          else console.log(`        ${key} CPU ms master/all processes: per delivery ${c(f.cpu.lmtp)}, per login ${c(f.cpu.login)}`);
          // Per thread (name:tid; main, the Lua workers, libuv's pool, V8's helpers): where the "all threads" figure goes.
          const byName = (x: Cpu | null | undefined) =>
            x ? Object.entries(x.byName).filter(([, ms]) => ms >= 0.01).sort((a, b) => b[1] - a[1]).map(([n, ms]) => `${n} ${ms.toFixed(2)}`).join(', ') : '-';
          if (process.env.LUA_HEAVY_THREADS) {
            console.log(`        ${key} CPU ms by ${s.kind === 'roost' ? 'thread' : 'process'}: per delivery ${byName(f.cpu.lmtp)}; per login ${byName(f.cpu.login)}`);
          }
          const kb = (x: Cpu | null | undefined) => x?.allocatedKb?.map((k) => k.toFixed(0)).join(' + ') ?? '-';
          if (s.kind === 'roost' && TRACE_GC) console.log(`        ${key} JS KB allocated by isolate: per delivery ${kb(f.cpu.lmtp)}; per login ${kb(f.cpu.login)}`);
        }
      }
    }
  } finally {
    if (process.env.LUA_HEAVY_KEEP) console.log(`kept ${root}`);
    else rmSync(root, { recursive: true, force: true });
  }

  console.log('\nSummary (ranges over rounds; higher is better for /s, lower for ms)');
  const row = (label: string, pick: (f: Figures) => number, digits: number, higherBetter: boolean) => {
    for (const lua of LUA_MODES) {
      const suffix = lua ? '+lua' : '';
      const r = results.get(`roost${suffix}`) ?? [];
      const d = results.get(`dovecot${suffix}`) ?? [];
      const rv = r.map(pick);
      const dv = d.map(pick);
      let ratio = '';
      if (rv.length && dv.length) {
        // Roost/Dovecot as "times better" (rate ratio, or inverse time ratio), within each round:
        // the two ran minutes apart, under the same load from the rest of the machine.
        const ratios = rv.map((x, i) => (higherBetter ? x / dv[i]! : dv[i]! / x)).filter((x) => Number.isFinite(x));
        const r2 = (x: number) => Number(x.toPrecision(2)).toString();
        const lo = Math.min(...ratios);
        const hi = Math.max(...ratios);
        ratio = ratios.length ? `  Roost/Dovecot ${lo === hi ? r2(lo) : `${r2(lo)}–${r2(hi)}`}×` : '';
      }
      console.log(`${(label + (lua ? ', with Lua' : ', no Lua')).padEnd(52)} Roost ${range(rv, digits).padEnd(14)} Dovecot ${range(dv, digits).padEnd(14)}${ratio}`);
    }
  };
  row(`LMTP 1 KB 1 rcpt ${CONNECTIONS} conns, deliveries/s`, (f) => f.lmtp, 0, true);
  row(`LOGIN+SELECT+LOGOUT ${CONNECTIONS} clients, empty INBOX, /s`, (f) => f.loginEmpty, 0, true);
  row(`LOGIN+SELECT+LOGOUT ${CONNECTIONS} clients, 20k INBOX, /s`, (f) => f.login20k, 0, true);
  row('server CPU per delivery, ms (all threads / processes)', (f) => f.cpu.lmtp?.total ?? NaN, 2, false);
  row('server CPU per login, ms (all threads / processes)', (f) => f.cpu.login?.total ?? NaN, 2, false);
  row(`FETCH 1:* (UID FLAGS RFC822.SIZE), ${FETCH_MESSAGES} msgs, ms`, (f) => f.fetch, 2, false);
  for (const n of SIZES) {
    row(`SELECT ${n} msgs, first in session, ms`, (f) => f.select[n]!.first, 2, false);
    row(`SELECT ${n} msgs, after UNSELECT, ms`, (f) => f.select[n]!.again, 2, false);
  }
}

await main();
