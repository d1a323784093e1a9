// Login latency while other users' scripts loop (issue: with 2 workers and 2 looping scripts,
// another user's login waited 4.6 s). Runs the real `roost serve` (dist/src/cli/main.js) with
// lua_workers = 2, lua_call_timeout = 5s and a mail_lua_script whose mail_user_created loops
// (inside pcall) for users named loop*, and returns 0 for everyone else. For N = 0, 2, 4 it keeps
// N looping logins in progress (each reconnects as soon as its login fails at the timeout) and
// measures BENCH_LOGINS (default 40) IMAP LOGINs of another user, one after the other: the time
// from sending LOGIN to the tagged OK (the login's Lua state is created and its hook called).
// Run: npm run build && node dist/bench/lua-fairness.js
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const LOGINS = Number(process.env.BENCH_LOGINS ?? 40);
const MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');
const dir = mkdtempSync(join(tmpdir(), 'roost-bench-fair-'));

/** One IMAP connection: LOGIN, then LOGOUT; resolves with the LOGIN round trip in ms (NaN when refused). */
function imapLogin(port: number, user: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let buf = '';
    let sent = 0;
    let state: 'greeting' | 'login' | 'logout' = 'greeting';
    let result = NaN;
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      buf += d;
      if (state === 'greeting' && buf.includes('\r\n')) {
        buf = '';
        state = 'login';
        sent = performance.now();
        sock.write(`a LOGIN ${user} pw\r\n`);
      } else if (state === 'login' && /^a (OK|NO|BAD)/m.test(buf)) {
        if (/^a OK/m.test(buf)) result = performance.now() - sent;
        state = 'logout';
        buf = '';
        sock.write('b LOGOUT\r\n');
      }
    });
    sock.on('error', (e) => (state === 'logout' ? resolve(result) : reject(e)));
    sock.on('close', () => resolve(result));
  });
}

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

const port = await freePort();
writeFileSync(
  join(dir, 'hooks.lua'),
  `function mail_user_created(user)
  if user.username:sub(1, 4) == 'loop' then while true do pcall(function() while true do end end) end end
  return 0
end
`,
);
const conf = join(dir, 'roost.conf');
writeFileSync(
  conf,
  [
    `data_dir = ${join(dir, 'data')}`,
    'protocols = imap',
    'listen = 127.0.0.1',
    'ssl = no',
    'disable_plaintext_auth = no',
    'auth_failure_delay = 0',
    'lua_workers = 2',
    'lua_call_timeout = 5s',
    'mail_plugins = mail_lua',
    `plugin {\n  mail_lua_script = ${join(dir, 'hooks.lua')}\n}`,
    `service imap-login {\n  inet_listener imap {\n    port = ${port}\n  }\n}`,
    '',
  ].join('\n'),
);
for (const user of ['alice', 'loop0', 'loop1', 'loop2', 'loop3']) {
  execFileSync(process.execPath, [MAIN, '-c', conf, 'user', 'add', user, '-p', 'pw', '-s', 'PLAIN']);
}
const server = spawn(process.execPath, [MAIN, '-c', conf, 'serve'], { stdio: ['ignore', 'pipe', 'ignore'] });
try {
  await new Promise<void>((resolve, reject) => {
    let out = '';
    server.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('IMAP listening')) resolve();
    });
    server.once('exit', (code) => reject(new Error(`roost serve exited with ${code}`)));
  });
  // Warm up: the workers load the script once.
  for (let i = 0; i < 5; i++) await imapLogin(port, 'alice');
  console.log(`login latency of another user while N scripts loop (lua_workers = 2, ${LOGINS} logins each):`);
  for (const n of [0, 2, 4]) {
    let running = true;
    const loopers = Array.from({ length: n }, async (_, i) => {
      while (running) await imapLogin(port, `loop${i}`);
    });
    if (n > 0) await new Promise((r) => setTimeout(r, Number(process.env.BENCH_SETTLE_MS ?? 500))); // the loops are running now
    const times: number[] = [];
    for (let i = 0; i < LOGINS; i++) times.push(await imapLogin(port, 'alice'));
    running = false;
    if (process.env.BENCH_VERBOSE) console.log(times.map((t) => t.toFixed(0)).join(' '));
    const ok = times.filter((t) => !Number.isNaN(t));
    console.log(
      `  N = ${n}: p50 ${pct(ok, 50).toFixed(1)} ms, p95 ${pct(ok, 95).toFixed(1)} ms, max ${Math.max(...ok).toFixed(1)} ms` +
        (ok.length < times.length ? ` (${times.length - ok.length} refused)` : ''),
    );
    await Promise.all(loopers); // each ends when its current login fails at lua_call_timeout
  }
} finally {
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
}
