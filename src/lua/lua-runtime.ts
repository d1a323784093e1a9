// A thin Lua state on wasmoon's LuaWasm module, without wasmoon's LuaEngine. An engine costs
// ~0.3 ms and ~13 KB of wasm callback modules (6 addFunction calls: allocator, type extension
// metamethods, function wrapper) plus a callback thread and 5 metatables in the Lua heap. Here
// every state of a worker shares ONE allocator function (its `ud` selects the state's memory
// account) and ONE trampoline for JS host functions (a C closure whose upvalue is the function
// id). Value conversion for host functions is wasmoon's, kept exactly: arguments as wasmoon's
// getValue (numbers as doubles, strings up to the first NUL, tables as objects/arrays), results
// as its pushValue (integral numbers as Lua integers, LuaMultiReturn as several values), thrown
// Errors as a `js_error` userdata whose tostring is the message.
import { LUA_REGISTRYINDEX, LuaMultiReturn, LuaType, type LuaWasm } from 'wasmoon';
import { luaChunk } from './lua-chunks.js';
import { pushString, rawModule, readString } from './lua-stack.js';
import { fastLua, rawExportsOf } from './raw-exports.js';
import { accountedAlloc, WasmAllocator } from './wasm-allocator.js';

interface EmscriptenFunctions {
  addFunction(fn: (...args: number[]) => number | void, signature: string): number;
  _free(ptr: number): void;
  _realloc(ptr: number, size: number): number;
}

/** A JS function callable from Lua; `raw` ones get the lua_State and return their result count. */
export type HostFunction = ((...args: never[]) => unknown) & { raw?: boolean };
export type RawHostFunction = ((L: number) => number) & { raw: true };

export function rawHost(fn: (L: number) => number): RawHostFunction {
  return Object.assign(fn, { raw: true as const });
}

function allocatorExportsOf(lua: LuaWasm): { realloc(ptr: number, size: number): number; free(ptr: number): void } {
  const exp = rawExportsOf(lua);
  if (exp) return exp;
  const em = lua.module as unknown as EmscriptenFunctions;
  return { realloc: (p, n) => em._realloc(p, n), free: (p) => em._free(p) };
}

export interface MemoryAccount {
  used: number;
  max: number | undefined;
  /** Set when an allocation was refused because of `max` (lua_memory_limit). */
  refused?: boolean;
  /** The lua_call_timeout hook is raising its error as a refused allocation (script-state.ts). */
  timeoutRaise?: boolean;
}

const JS_ERROR = 'js_error';

/** Per wasm module (= per worker): the shared allocator and trampoline, host function table. */
export class LuaRuntime {
  private static readonly byModule = new WeakMap<object, LuaRuntime>();
  private readonly accounts: Array<MemoryAccount | undefined> = [];
  private readonly freeAccounts: number[] = [];
  private readonly hosts = new Map<number, HostFunction>();
  private nextHost = 1;
  private readonly allocPtr: number;
  /** The allocator in wasm (wasm-allocator.ts), when the Lua module's exports are reachable. */
  private readonly wasmAllocator: WasmAllocator | null;
  private readonly trampolinePtr: number;

  static of(lua: LuaWasm): LuaRuntime {
    let rt = LuaRuntime.byModule.get(lua.module);
    if (!rt) {
      rt = new LuaRuntime(lua);
      LuaRuntime.byModule.set(lua.module, rt);
    }
    return rt;
  }

  /** wasmoon's LuaWasm with its hot methods replaced by the wasm exports (raw-exports.ts). */
  readonly lua: LuaWasm;

  private constructor(wasm: LuaWasm) {
    const lua = fastLua(wasm);
    this.lua = lua;
    const em = lua.module as unknown as EmscriptenFunctions;
    const accounts = this.accounts;
    const { realloc, free } = allocatorExportsOf(lua);
    const raw = rawExportsOf(lua);
    this.wasmAllocator = raw ? WasmAllocator.create(raw.realloc, raw.free) : null;
    // Same accounting as wasmoon's traceAllocations allocator, per state; in wasm when it can be
    // (no JS crossing per Lua allocation), else in JS.
    if (this.wasmAllocator) this.allocPtr = em.addFunction(this.wasmAllocator.alloc, 'iiiii');
    else {
      this.allocPtr = em.addFunction(
        (ud: number, pointer: number, oldSize: number, newSize: number) => accountedAlloc(accounts[ud]!, realloc, free, pointer, oldSize, newSize),
        'iiiii',
      );
    }
    this.trampolinePtr = em.addFunction((L: number) => this.callHost(L), 'ii');
  }

  /** lua_newstate with the shared allocator; returns the state and its memory account. */
  newState(): { L: number; account: MemoryAccount; release(): void } {
    const ud = this.freeAccounts.pop() ?? this.accounts.length;
    const wasmAccount = this.wasmAllocator?.account(ud);
    const account: MemoryAccount = wasmAccount ?? { used: 0, max: undefined };
    this.accounts[ud] = account;
    const L = this.lua.lua_newstate(this.allocPtr, ud);
    const release = () => {
      wasmAccount?.detach();
      this.accounts[ud] = undefined;
      this.freeAccounts.push(ud);
    };
    if (!L) {
      release();
      throw new Error('lua_newstate returned a null pointer');
    }
    return { L, account, release };
  }

  register(fn: HostFunction): number {
    const id = this.nextHost++;
    this.hosts.set(id, fn);
    return id;
  }

  unregister(ids: number[]): void {
    for (const id of ids) this.hosts.delete(id);
  }

  /** Pushes host function `id` (a C closure over the shared trampoline). */
  pushHost(L: number, id: number): void {
    this.lua.lua_pushinteger(L, BigInt(id));
    this.lua.lua_pushcclosure(L, this.trampolinePtr, 1);
  }

  private callHost(L: number): number {
    const lua = this.lua;
    const id = Number(lua.lua_tointegerx(L, lua.lua_upvalueindex(1), null));
    const fn = this.hosts.get(id);
    if (!fn) {
      lua.lua_pushstring(L, 'host function is no longer available');
      return lua.lua_error(L);
    }
    let nresults: number;
    try {
      if (fn.raw) return (fn as RawHostFunction)(L);
      const n = lua.lua_gettop(L);
      const args: unknown[] = [];
      for (let i = 1; i <= n; i++) args.push(this.getValue(L, i));
      const result = (fn as (...a: unknown[]) => unknown)(...args);
      if (result === undefined) return 0;
      if (result instanceof LuaMultiReturn) {
        for (const item of result) this.pushValue(L, item);
        nresults = result.length;
      } else {
        this.pushValue(L, result);
        nresults = 1;
      }
    } catch (err) {
      if (err === Infinity) throw err;
      this.pushError(L, err);
      return lua.lua_error(L);
    }
    return nresults;
  }

  /** wasmoon's Thread.getValue for the types host functions receive. */
  private getValue(L: number, idx: number, seen?: Map<number, unknown>): unknown {
    const lua = this.lua;
    const i = lua.lua_absindex(L, idx);
    switch (lua.lua_type(L, i)) {
      case LuaType.None:
        return undefined;
      case LuaType.Nil:
        return null;
      case LuaType.Number:
        return lua.lua_tonumberx(L, i, null);
      case LuaType.String:
        return cString(readString(lua, L, i));
      case LuaType.Boolean:
        return Boolean(lua.lua_toboolean(L, i));
      case LuaType.Table: {
        seen ??= new Map();
        const ptr = lua.lua_topointer(L, i);
        const known = seen.get(ptr);
        if (known) return known;
        const keys: string[] = [];
        lua.lua_pushnil(L);
        while (lua.lua_next(L, i)) {
          keys.push(lua.luaL_tolstring(L, -2, null));
          lua.lua_settop(L, -3);
        }
        const isSeq = keys.length > 0 && keys.every((k, n) => k === String(n + 1));
        const table: unknown[] | Record<string, unknown> = isSeq ? [] : {};
        seen.set(ptr, table);
        lua.lua_pushnil(L);
        while (lua.lua_next(L, i)) {
          const key = lua.luaL_tolstring(L, -2, null);
          lua.lua_settop(L, -2);
          const value = this.getValue(L, -1, seen);
          if (Array.isArray(table)) table.push(value);
          else table[key] = value;
          lua.lua_settop(L, -2);
        }
        return table;
      }
      default:
        return null;
    }
  }

  /** wasmoon's Thread.pushValue for the types host functions return. */
  private pushValue(L: number, v: unknown, seen?: Map<object, number>): void {
    const lua = this.lua;
    switch (typeof v) {
      case 'undefined':
        return lua.lua_pushnil(L);
      case 'number':
        if (Number.isInteger(v)) lua.lua_pushinteger(L, BigInt(v));
        else lua.lua_pushnumber(L, v);
        return;
      case 'string':
        pushString(lua, L, cString(v));
        return;
      case 'boolean':
        return lua.lua_pushboolean(L, v ? 1 : 0);
      default:
        break;
    }
    if (v === null) return lua.lua_pushnil(L);
    if (v instanceof Error) return this.pushError(L, v);
    if (typeof v !== 'object') throw new Error(`The type '${typeof v}' is not supported by Lua`);
    const own = seen === undefined || seen.size === 0;
    const refs = (seen ??= new Map());
    const ref = refs.get(v);
    if (ref !== undefined) return void lua.lua_rawgeti(L, LUA_REGISTRYINDEX, BigInt(ref));
    const top = lua.lua_gettop(L) + 1;
    try {
      const create = (narr: number, nrec: number) => {
        lua.lua_createtable(L, narr, nrec);
        lua.lua_pushvalue(L, -1);
        seen.set(v, lua.luaL_ref(L, LUA_REGISTRYINDEX));
      };
      if (Array.isArray(v)) {
        create(v.length, 0);
        v.forEach((item, n) => {
          lua.lua_pushinteger(L, BigInt(n + 1));
          this.pushValue(L, item, seen);
          lua.lua_settable(L, top);
        });
      } else {
        const obj = v as Record<string, unknown>;
        create(0, Object.getOwnPropertyNames(obj).length);
        for (const key in obj) {
          pushString(lua, L, cString(key));
          this.pushValue(L, obj[key], seen);
          lua.lua_settable(L, top);
        }
      }
    } finally {
      if (own) for (const r of seen.values()) lua.luaL_unref(L, LUA_REGISTRYINDEX, r);
    }
  }

  /** A thrown Error becomes a `js_error` userdata (tostring = message), like wasmoon's. */
  private pushError(L: number, err: unknown): void {
    const lua = this.lua;
    if (!(err instanceof Error)) {
      if (typeof err === 'string') lua.lua_pushstring(L, err);
      else lua.lua_pushstring(L, String(err));
      return;
    }
    lua.lua_newuserdatauv(L, 0, 1);
    lua.lua_pushstring(L, err.message);
    lua.lua_setiuservalue(L, -2, 1);
    if (lua.luaL_newmetatable(L, JS_ERROR)) {
      // First js_error of this state: fill the metatable (__name is set by luaL_newmetatable).
      const chunk = luaChunk('js-error.lua');
      const code = Buffer.from(chunk.source, 'utf8');
      const m = rawModule(lua);
      const ptr = m._malloc(code.length + 1);
      try {
        m.HEAPU8.set(code, ptr);
        if (lua.luaL_loadbufferx(L, ptr, code.length, chunk.chunkName, 't') !== 0) throw new Error(lua.lua_tolstring(L, -1, null));
      } finally {
        m._free(ptr);
      }
      lua.lua_pushvalue(L, -2);
      lua.lua_callk(L, 1, 0, 0, null);
    }
    lua.lua_setmetatable(L, -2);
  }
}

/**
 * A string as C sees it (up to its first NUL): what wasmoon's lua_tolstring/lua_pushstring
 * wrappers, which these conversions replaced, passed through (issue #18: they went through
 * emscripten's ccall, with its own allocations, for every argument of a host call).
 */
function cString(s: string): string {
  const nul = s.indexOf('\0');
  return nul < 0 ? s : s.slice(0, nul);
}
