// The worker's bytecode cache (src/lua/chunk-cache.ts): Roost's own chunks are cached without
// debug information but with their chunk name (the timeout hook finds their frames by it;
// limits.test.ts shows the timeouts still end in the script's own traceback), a user script's
// with all of it, so its error positions stay as they were.
import { LuaFactory } from 'wasmoon';
import { ChunkCache, withSourceName } from '../../src/lua/chunk-cache.js';
import { LuaRuntime } from '../../src/lua/lua-runtime.js';
import { rawModule, readValue } from '../../src/lua/lua-stack.js';

const SOURCE = `
local function inner() return debug.getinfo(1, 'Sl') end
local i = inner()
local ok, err = pcall(function() local t = nil; return t.x end)
return i.source, i.currentline, err`;

async function run(strip: boolean): Promise<{ size: number; results: unknown[] }> {
  const rt = LuaRuntime.of(await new LuaFactory().getLuaModule());
  const { lua } = rt;
  const st = rt.newState();
  try {
    lua.luaL_openlibs(st.L);
    const load = (code: Buffer, mode: string) => {
      const m = rawModule(lua);
      const ptr = m._malloc(code.length + 1);
      m.HEAPU8.set(code, ptr);
      const status = lua.luaL_loadbufferx(st.L, ptr, code.length, '=roost-own', mode);
      m._free(ptr);
      expect(status).toBe(0);
    };
    load(Buffer.from(SOURCE), 't');
    const bytecode = new ChunkCache().dump(lua, st.L, strip ? { chunkName: '=roost-own' } : undefined)!;
    lua.lua_settop(st.L, 0);
    load(bytecode, 'b');
    expect(lua.lua_pcallk(st.L, 0, 3, 0, 0, null)).toBe(0);
    return { size: bytecode.length, results: [1, 2, 3].map((i) => readValue(lua, st.L, i)) };
  } finally {
    lua.lua_close(st.L);
    st.release();
  }
}

test('a stripped dump keeps the chunk name for every function and drops line and local names', async () => {
  const full = await run(false);
  const stripped = await run(true);
  expect(full.results).toEqual(['=roost-own', 2n, 'roost-own:4: attempt to index a nil value (local \'t\')']);
  // The name survives in nested functions; the line and the local's name do not.
  expect(stripped.results[0]).toBe('=roost-own');
  expect(stripped.results[1]).toBe(-1n);
  expect(stripped.results[2]).toBe('roost-own:-1: attempt to index a nil value');
  expect(stripped.size).toBeLessThan(full.size);
});

test('a dump laid out otherwise is not patched', () => {
  expect(withSourceName(Buffer.from('not bytecode at all, long enough to look at'), '=x')).toBeNull();
});
