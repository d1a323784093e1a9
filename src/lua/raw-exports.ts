// Direct access to the wasm instance's exports of wasmoon 1.16.0's Lua module.
//
// The emscripten glue of wasmoon 1.16.0 is an ASSERTIONS build: every `module._realloc`,
// `module._lua_settop` etc. goes through a checking wrapper and `apply`, and every LuaWasm
// method (`lua.lua_settop(...)`) adds wasmoon's cwrap + `ccall` (argument conversion tables,
// getCFunc lookup, stack save/restore) on top. A state's creation makes a few hundred such
// calls, so these layers were a visible part of it. The exports are captured when the glue
// instantiates the module (worker threads import this file before they create their
// LuaFactory); `fastLua` then gives a LuaWasm whose hot methods are the exports themselves,
// with the same argument/return conversions as wasmoon's cwrap for number-only signatures.
// Without captured exports (another loader, another wasmoon build) everything falls back to
// wasmoon's own functions.
import type { LuaWasm } from 'wasmoon';

export interface RawExports {
  memory: WebAssembly.Memory;
  malloc(size: number): number;
  realloc(ptr: number, size: number): number;
  free(ptr: number): void;
  lua_tolstring(L: number, idx: number, lenPtr: number): number;
  lua_pushlstring(L: number, ptr: number, len: number): number;
  [name: string]: unknown;
}

const captured: RawExports[] = [];
{
  const wa = WebAssembly as unknown as { instantiate: (...a: unknown[]) => Promise<unknown>; __roostHooked?: boolean };
  if (!wa.__roostHooked) {
    const original = wa.instantiate.bind(WebAssembly);
    wa.instantiate = async (...a: unknown[]) => {
      const result = (await original(...a)) as { instance?: WebAssembly.Instance };
      const exp = result.instance?.exports as Partial<RawExports> | undefined;
      if (exp && typeof exp.lua_newstate === 'function' && typeof exp.realloc === 'function' && exp.memory instanceof WebAssembly.Memory) {
        captured.push(exp as RawExports);
      }
      return result;
    };
    wa.__roostHooked = true;
  }
}

interface EmscriptenModule {
  HEAPU8: Uint8Array;
}

const byModule = new WeakMap<object, RawExports | null>();

/** The captured exports of `lua`'s wasm instance, or null (use wasmoon's wrappers). */
export function rawExportsOf(lua: LuaWasm): RawExports | null {
  let exp = byModule.get(lua.module);
  if (exp !== undefined) return exp;
  const em = lua.module as unknown as EmscriptenModule;
  exp = captured.find((e) => e.memory.buffer === em.HEAPU8.buffer) ?? null;
  byModule.set(lua.module, exp);
  return exp;
}

/**
 * LuaWasm methods whose cwrap signature is numbers only (arguments and result): wasmoon's
 * wrapper passes the arguments unchanged to the export and returns its result unchanged, so the
 * export is a drop-in replacement (i64 arguments/results are BigInts either way).
 */
const NUMERIC = [
  'luaL_ref', 'luaL_unref', 'luaL_len', 'luaL_openlibs', 'luaL_checkinteger', 'luaL_checknumber',
  'lua_newstate', 'lua_close', 'lua_newthread', 'lua_absindex', 'lua_gettop', 'lua_settop', 'lua_pushvalue',
  'lua_rotate', 'lua_copy', 'lua_checkstack', 'lua_xmove', 'lua_isnumber', 'lua_isstring', 'lua_iscfunction',
  'lua_isinteger', 'lua_isuserdata', 'lua_type', 'lua_tonumberx', 'lua_tointegerx', 'lua_toboolean',
  'lua_rawlen', 'lua_touserdata', 'lua_topointer', 'lua_rawequal', 'lua_compare', 'lua_pushnil',
  'lua_pushnumber', 'lua_pushinteger', 'lua_pushcclosure', 'lua_pushboolean', 'lua_pushlightuserdata',
  'lua_gettable', 'lua_geti', 'lua_rawget', 'lua_rawgeti', 'lua_rawgetp', 'lua_createtable',
  'lua_newuserdatauv', 'lua_getmetatable', 'lua_getiuservalue', 'lua_settable', 'lua_seti', 'lua_rawset',
  'lua_rawseti', 'lua_rawsetp', 'lua_setmetatable', 'lua_setiuservalue', 'lua_callk', 'lua_pcallk',
  'lua_dump', 'lua_status', 'lua_error', 'lua_next', 'lua_concat', 'lua_len', 'lua_toclose', 'lua_closeslot',
  'lua_sethook', 'lua_gethook', 'lua_gethookmask', 'lua_gethookcount', 'lua_upvalueid',
] as const;

/** Longest string kept in the constant C string cache (field names, chunk names, modes). */
const CSTRING_CACHE_MAX_LEN = 256;
const CSTRING_CACHE_MAX_ENTRIES = 4096;

const fastByModule = new WeakMap<object, LuaWasm>();

/**
 * A LuaWasm whose hot methods call the wasm exports directly (see the top of this file). Other
 * methods (and `module`) come from `lua` through the prototype chain. Returns `lua` itself
 * when the exports were not captured.
 */
export function fastLua(lua: LuaWasm): LuaWasm {
  const known = fastByModule.get(lua.module);
  if (known) return known;
  const exp = rawExportsOf(lua);
  if (!exp) return lua;
  const api = Object.create(lua) as Record<string, unknown>;
  for (const name of NUMERIC) {
    if (typeof exp[name] === 'function') api[name] = exp[name];
  }
  // String arguments: NUL-terminated UTF-8 copies. Names used again and again (field names,
  // chunk names, load modes) stay in a per-module cache of malloc'd C strings; others are
  // freed when the call returns (or unwinds). Lua copies or interns what it keeps.
  const cache = new Map<string, number>();
  const copy = (s: string): number => {
    const bytes = Buffer.from(s, 'utf8');
    const p = exp.malloc(bytes.length + 1);
    if (!p) throw new Error('out of memory in the Lua wasm heap');
    const heap = new Uint8Array(exp.memory.buffer);
    heap.set(bytes, p);
    heap[p + bytes.length] = 0;
    return p;
  };
  /** Runs `call` with a C string for `s` (0 for null/undefined, like ccall). */
  const withCString = <T>(s: string | null | undefined, call: (p: number) => T): T => {
    if (s === null || s === undefined) return call(0);
    const cached = cache.get(s);
    if (cached !== undefined) return call(cached);
    const p = copy(s);
    if (s.length <= CSTRING_CACHE_MAX_LEN && cache.size < CSTRING_CACHE_MAX_ENTRIES) {
      cache.set(s, p);
      return call(p);
    }
    try {
      return call(p);
    } finally {
      exp.free(p);
    }
  };
  type Fn = (...a: unknown[]) => number;
  const f = exp as unknown as Record<string, Fn | undefined>;
  const withName2 = (name: string) => {
    const fn = f[name];
    if (typeof fn === 'function') api[name] = (L: number, k: string) => withCString(k, (p) => fn(L, p));
  };
  const withName3 = (name: string) => {
    const fn = f[name];
    if (typeof fn === 'function') api[name] = (L: number, i: number, k: string) => withCString(k, (p) => fn(L, i, p));
  };
  withName2('lua_getglobal');
  withName2('lua_setglobal');
  withName2('luaL_newmetatable');
  withName2('luaL_setmetatable');
  withName3('lua_getfield');
  withName3('lua_setfield');
  withName3('luaL_testudata');
  const loadbufferx = f.luaL_loadbufferx;
  if (typeof loadbufferx === 'function') {
    const orig = lua.luaL_loadbufferx.bind(lua);
    api.luaL_loadbufferx = (L: number, buff: string | number, size: number, name: string | number, mode: string | null) => {
      if (typeof buff !== 'number' || typeof name !== 'string') return orig(L, buff, size, name, mode as string);
      return withCString(name, (n) => withCString(mode, (m) => loadbufferx(L, buff, size, n, m)));
    };
  }
  const fast = api as unknown as LuaWasm;
  fastByModule.set(lua.module, fast);
  return fast;
}
