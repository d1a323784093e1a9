import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LuaStateOptions, LuaWorkerPool, LuaStateHandle } from '../../src/lua/index.js';

const dir = mkdtempSync(join(tmpdir(), 'roost-lua-test-'));
let n = 0;

/** Writes a script to a fresh file and returns its path. */
export function scriptFile(source: string, name = `s${++n}.lua`): string {
  const path = join(dir, name);
  writeFileSync(path, source);
  return path;
}

export async function stateFor(
  pool: LuaWorkerPool,
  source: string,
  opts: Partial<LuaStateOptions> = {},
): Promise<LuaStateHandle> {
  return pool.createState({ scriptPath: scriptFile(source), context: 'mail', logPrefix: 'imap(alice): ', ...opts });
}

/** Runs `body` as the body of a hook function `t` and returns its first `nresults` values. */
export async function evalLua(pool: LuaWorkerPool, body: string, nresults = 1, opts: Partial<LuaStateOptions> = {}) {
  const h = await stateFor(pool, `function t()\n${body}\nend\n`, opts);
  try {
    return await h.callHook('t', [], nresults);
  } finally {
    await h.close();
  }
}

/** Like evalLua but returns the error message of the failing call. */
export async function evalError(pool: LuaWorkerPool, body: string, opts: Partial<LuaStateOptions> = {}): Promise<string> {
  const h = await stateFor(pool, `function t()\n${body}\nend\n`, opts);
  try {
    await h.callHook('t', [], 0);
  } catch (e) {
    return (e as Error).message;
  } finally {
    await h.close();
  }
  throw new Error('expected the call to fail');
}
