// Shared setup for the `driver = lua` tests: scripts in a temp folder and AuthServices on one pool.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuthService } from '../../src/auth/service.js';
import type { AuthSettings } from '../../src/auth/settings.js';
import type { LuaWorkerPool } from '../../src/lua/index.js';

const dir = mkdtempSync(join(tmpdir(), 'roost-auth-lua-'));
let n = 0;

export function luaScript(source: string): string {
  const path = join(dir, `auth${++n}.lua`);
  writeFileSync(path, source);
  return path;
}

export async function luaService(pool: LuaWorkerPool, settings: Partial<AuthSettings>, authDebug = false): Promise<AuthService> {
  const auth = new AuthService(
    { passdbs: [], userdbs: [], auth_failure_delay: 0, ...settings },
    { lua: pool, authDebug, sleep: async () => undefined },
  );
  await auth.init();
  return auth;
}

/** passdb + userdb `driver = lua` on the same script file (each gets its own state). */
export async function luaPassdbUserdb(pool: LuaWorkerPool, source: string, extraArgs = '', authDebug = false): Promise<AuthService> {
  const file = luaScript(source);
  return luaService(
    pool,
    { passdbs: [{ driver: 'lua', args: `file=${file} ${extraArgs}`.trim() }], userdbs: [{ driver: 'lua', args: `file=${file}` }] },
    authDebug,
  );
}
