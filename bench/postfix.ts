// Postfix-facing services: SMTP AUTH PLAIN requests per second over the auth socket (Dovecot's
// auth client protocol; a passwd-file passdb with {PLAIN} passwords, so the figure is the
// protocol and passdb path, not hashing) and quota-status policy answers per second (a user
// with a quota_rule and a store; each answer opens the user's mail_user like a delivery would).
// 4 client connections, one request at a time on each, as Postfix's smtpd processes ask.
// Run: npm run build && node dist/bench/postfix.js
// The same client against another server (e.g. Dovecot 2.3 with the same users):
//   node dist/bench/postfix.js --auth-socket /path/to/auth-client --quota-port 12340
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startAuthServer } from '../src/auth-server/server.js';
import { createServerContext } from '../src/cli/context.js';
import { parseConfigText } from '../src/config/index.js';
import { logHub } from '../src/log/logger.js';
import { startQuotaStatusServer } from '../src/quota-status/server.js';

logHub.setDefaultOutput(false);
const CONNECTIONS = 4;
const SECONDS = 3;
const USERS = 100;

/** A line client that answers each request with the next `n` lines. */
function lineConnection(opts: { path: string } | { port: number }) {
  const socket = 'path' in opts ? net.createConnection(opts.path) : net.createConnection(opts.port, '127.0.0.1');
  socket.setEncoding('utf8');
  let buffer = '';
  let waiting: { n: number; lines: string[]; resolve: (l: string[]) => void } | undefined;
  const pump = () => {
    if (!waiting) return;
    let nl;
    while (waiting.lines.length < waiting.n && (nl = buffer.indexOf('\n')) >= 0) {
      waiting.lines.push(buffer.slice(0, nl));
      buffer = buffer.slice(nl + 1);
    }
    if (waiting.lines.length >= waiting.n) {
      const w = waiting;
      waiting = undefined;
      w.resolve(w.lines);
    }
  };
  socket.on('data', (d: string) => {
    buffer += d;
    pump();
  });
  return {
    ready: new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject)),
    ask(text: string, n: number): Promise<string[]> {
      return new Promise((resolve) => {
        waiting = { n, lines: [], resolve };
        socket.write(text);
        pump();
      });
    },
    close: () => socket.destroy(),
  };
}

async function rate(label: string, unit: string, run: (lane: number, i: number) => Promise<boolean>): Promise<void> {
  let done = 0;
  let failed = 0;
  const start = performance.now();
  const end = start + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async (_, lane) => {
      for (let i = 0; performance.now() < end; i++) (await run(lane, i)) ? done++ : failed++;
    }),
  );
  const secs = (performance.now() - start) / 1000;
  console.log(`${label.padEnd(52)} ${String(Math.round(done / secs)).padStart(6)} ${unit}/s (${done} in ${secs.toFixed(2)} s${failed ? `, ${failed} FAILED` : ''})`);
}

async function benchAuth(path: string): Promise<void> {
  const conns = await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      const c = lineConnection({ path });
      await c.ready;
      const greeting = await c.ask('VERSION\t1\t2\nCPID\t4242\n', 1);
      while (greeting.at(-1) !== 'DONE') greeting.push(...(await c.ask('', 1)));
      return c;
    }),
  );
  let id = 0;
  await rate('SMTP AUTH PLAIN over the auth socket', 'logins', async (lane, i) => {
    const resp = Buffer.from(`\0user${(i * CONNECTIONS + lane) % USERS}@example.com\0secret`).toString('base64');
    const [reply] = await conns[lane]!.ask(`AUTH\t${++id}\tPLAIN\tservice=smtp\tnologin\tlip=127.0.0.1\trip=127.0.0.1\tresp=${resp}\n`, 1);
    return reply!.startsWith('OK\t');
  });
  for (const c of conns) c.close();
}

async function benchQuota(port: number): Promise<void> {
  const conns = await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      const c = lineConnection({ port });
      await c.ready;
      return c;
    }),
  );
  // Warm-up: every user's store exists (the first answer for a user creates it).
  for (let u = 0; u < USERS; u++) await conns[0]!.ask(`request=smtpd_access_policy\nprotocol_state=RCPT\nrecipient=user${u}@example.com\nsize=1\n\n`, 2);
  await rate('quota-status answers (user with quota_rule)', 'answers', async (lane, i) => {
    const rcpt = `user${(i * CONNECTIONS + lane) % USERS}@example.com`;
    const [action] = await conns[lane]!.ask(`request=smtpd_access_policy\nprotocol_state=RCPT\nrecipient=${rcpt}\nsize=1000\n\n`, 2);
    return action === 'action=OK';
  });
  for (const c of conns) c.close();
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const external = args.indexOf('--auth-socket');
  if (external >= 0) {
    await benchAuth(args[external + 1]!);
    const q = args.indexOf('--quota-port');
    if (q >= 0) await benchQuota(Number(args[q + 1]));
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'roost-bench-postfix-'));
  writeFileSync(
    join(dir, 'passwd'),
    Array.from({ length: USERS }, (_, i) => `user${i}@example.com:{PLAIN}secret::::::userdb_quota_rule=*:storage=1G\n`).join(''),
  );
  const conf = `data_dir = ${dir}/data
auth_failure_delay = 0
passdb {
  driver = passwd-file
  args = ${dir}/passwd
}
userdb {
  driver = passwd-file
  args = ${dir}/passwd
  default_fields = home=${dir}/home/%u
}
`;
  const ctx = createServerContext(parseConfigText(conf, join(dir, 'roost.conf')).settings);
  await ctx.auth.init();
  const auth = await startAuthServer(ctx, { unix: [{ path: join(dir, 'auth'), mode: 0o600, user: '', group: '' }], inet: [] });
  const qs = await startQuotaStatusServer(ctx, { inet: [{ host: '127.0.0.1', port: 0 }], unix: [] });
  try {
    await benchAuth(join(dir, 'auth'));
    await benchQuota((qs.addresses[0] as { port: number }).port);
  } finally {
    await auth.close();
    await qs.close();
    await ctx.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
