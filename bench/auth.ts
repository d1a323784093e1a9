// Auth benchmark: successful logins per second through AuthService.authenticatePlain, 16 in
// flight, for the built-in database (SQLite server DB, default scheme SHA512-CRYPT), passwd-file
// (same hash) and a Lua passdb (auth_passdb_lookup returning the same hash, then a PLAIN
// password to show the Lua round trip alone), plus ARGON2ID on the hash helper thread.
// Run: npm run build && node dist/bench/auth.js
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { AuthService } from '../src/auth/service.js';
import { hashPassword } from '../src/auth/schemes/registry.js';
import type { AuthDbSettings } from '../src/auth/settings.js';
import { accountStoreFor } from '../src/cli/context.js';
import { logHub } from '../src/log/logger.js';
import { LuaWorkerPool } from '../src/lua/index.js';
import { openServerDb } from '../src/storage/index.js';

logHub.setDefaultOutput(false);
const dir = mkdtempSync(join(tmpdir(), 'roost-bench-auth-'));
const USERS = 100;
const IN_FLIGHT = 16;
const SECONDS = 2;
const info = { service: 'imap', remoteIp: '127.0.0.1', localIp: '127.0.0.1', mech: 'PLAIN' };

async function rate(label: string, auth: AuthService, password: string): Promise<void> {
  await auth.init();
  let done = 0;
  let failed = 0;
  const end = performance.now() + SECONDS * 1000;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async (_, lane) => {
      for (let i = lane; performance.now() < end; i += IN_FLIGHT) {
        const r = await auth.authenticatePlain({ ...info, user: `user${i % USERS}`, password });
        if (r.ok) done++;
        else failed++;
      }
    }),
  );
  const secs = (performance.now() - start) / 1000;
  await auth.close();
  console.log(`${label.padEnd(44)} ${String(Math.round(done / secs)).padStart(6)} logins/s (${done} in ${secs.toFixed(2)} s${failed ? `, ${failed} FAILED` : ''})`);
}

const service = (passdbs: AuthDbSettings[], opts: ConstructorParameters<typeof AuthService>[1] = {}) =>
  new AuthService({ passdbs, userdbs: [], auth_failure_delay: 0 }, opts);

async function main(): Promise<void> {
  const hash = await hashPassword('secret'); // DEFAULT_PASSWORD_SCHEME = SHA512-CRYPT
  const db = openServerDb({ dataDir: dir, mailLocation: 'sqlite:~/mail.db' });
  for (let i = 0; i < USERS; i++) await db.addUser({ username: `user${i}`, password: hash });
  await rate('built-in db (roost), SHA512-CRYPT', service([{ driver: 'roost', args: '' }], { accounts: accountStoreFor(db) }), 'secret');

  const file = join(dir, 'passwd');
  writeFileSync(file, Array.from({ length: USERS }, (_, i) => `user${i}:${hash}:1000:1000::/home/user${i}::\n`).join(''));
  await rate('passwd-file, SHA512-CRYPT', service([{ driver: 'passwd-file', args: file }]), 'secret');

  const pool = new LuaWorkerPool();
  const hashed = join(dir, 'hashed.lua');
  writeFileSync(hashed, `function auth_passdb_lookup(req) return dovecot.auth.PASSDB_RESULT_OK, "password=${hash}" end\n`);
  await rate(`lua passdb, SHA512-CRYPT (${pool.workerCount} workers)`, service([{ driver: 'lua', args: `file=${hashed}` }], { lua: pool }), 'secret');
  const plain = join(dir, 'plain.lua');
  writeFileSync(plain, 'function auth_passdb_lookup(req) return dovecot.auth.PASSDB_RESULT_OK, { password = "secret", uid = 1000 } end\n');
  await rate('lua passdb, PLAIN (Lua round trip only)', service([{ driver: 'lua', args: `file=${plain}` }], { lua: pool }), 'secret');
  const verify = join(dir, 'verify.lua');
  writeFileSync(verify, `function auth_password_verify(req, pass) return req:password_verify("${hash}", pass) == 1 and 1 or 0, {} end\n`);
  await rate('lua auth_password_verify + req:password_verify', service([{ driver: 'lua', args: `file=${verify}` }], { lua: pool }), 'secret');
  await pool.close();

  const argon = await hashPassword('secret', 'ARGON2ID');
  const argonDb = openServerDb({ dataDir: join(dir, 'argon'), mailLocation: 'sqlite:~/mail.db' });
  for (let i = 0; i < USERS; i++) await argonDb.addUser({ username: `user${i}`, password: argon });
  // Runs on the hash helper thread: the event loop stays free meanwhile.
  let ticks = 0;
  const ticker = setInterval(() => ticks++, 10);
  const t0 = performance.now();
  await rate('built-in db, ARGON2ID (hash helper thread)', service([{ driver: 'roost', args: '' }], { accounts: accountStoreFor(argonDb) }), 'secret');
  clearInterval(ticker);
  console.log(`  event loop during ARGON2ID: ${ticks} of ~${Math.round((performance.now() - t0) / 10)} 10-ms timer ticks ran`);
  db.close();
  argonDb.close();
  rmSync(dir, { recursive: true, force: true });
}

// Lua and hash workers are unref'd (a server's sockets keep it alive); a bench needs a handle.
const keepAlive = setInterval(() => undefined, 1000);
await main();
clearInterval(keepAlive);
