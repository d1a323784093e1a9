// Moving values between JavaScript and a Lua stack with the raw C API, so that integer vs
// float subtypes and binary strings survive (wasmoon's own conversion turns every number into
// a double and decodes strings as NUL-terminated UTF-8).
import { LuaType, type LuaWasm } from 'wasmoon';
import { rawExportsOf } from './raw-exports.js';
import type { LuaArg, LuaBindingArg, LuaTableValue, LuaValue } from './types.js';

type LuaStatePtr = number;

/** Raw emscripten exports wasmoon does not type (binary-safe string access). */
interface RawLuaModule {
  _malloc(size: number): number;
  _free(ptr: number): void;
  _lua_tolstring(L: LuaStatePtr, idx: number, lenPtr: number): number;
  _lua_pushlstring(L: LuaStatePtr, ptr: number, len: number): number;
  HEAPU8: Uint8Array;
  getValue(ptr: number, type: string): number;
}

const rawModules = new WeakMap<object, RawLuaModule>();

/**
 * The emscripten module's functions used here, bound to the wasm exports when they were captured
 * (raw-exports.ts: skips the glue's checking wrappers), else the module itself.
 */
export function rawModule(lua: LuaWasm): RawLuaModule {
  let m = rawModules.get(lua.module);
  if (m) return m;
  const em = lua.module as unknown as RawLuaModule;
  const exp = rawExportsOf(lua);
  if (!exp) m = em;
  else {
    let heap = new Int32Array(exp.memory.buffer);
    m = {
      _malloc: exp.malloc,
      _free: exp.free,
      _lua_tolstring: exp.lua_tolstring,
      _lua_pushlstring: exp.lua_pushlstring,
      get HEAPU8() {
        return em.HEAPU8;
      },
      getValue(ptr: number, type: string): number {
        if (type !== 'i32') return em.getValue(ptr, type);
        if (heap.buffer !== exp.memory.buffer) heap = new Int32Array(exp.memory.buffer);
        return heap[ptr >> 2]!;
      },
    };
  }
  rawModules.set(lua.module, m);
  return m;
}

export function pushBytes(lua: LuaWasm, L: LuaStatePtr, bytes: Uint8Array): void {
  const m = rawModule(lua);
  const ptr = m._malloc(bytes.length + 1);
  try {
    m.HEAPU8.set(bytes, ptr);
    m._lua_pushlstring(L, ptr, bytes.length);
  } finally {
    m._free(ptr);
  }
}

/**
 * Per wasm module: a scratch area in the wasm heap that strings are encoded into before
 * lua_pushlstring copies them (no Buffer and no malloc/free per string: most of pushString's
 * cost when a state's bindings and a call's arguments push hundreds of short strings), and a
 * cell for lua_tolstring's length. Reused at once: lua_pushlstring has copied the bytes before
 * anything else (a GC step, a finalizer calling back into the host) can run.
 */
interface Scratch {
  ptr: number;
  size: number;
  lenPtr: number;
  /** A Buffer over the wasm memory (replaced when the memory grows). */
  view: Buffer;
}
const scratches = new WeakMap<object, Scratch>();
/** Strings longer than this (in UTF-16 units) take pushBytes' path. */
const SCRATCH_MAX_CHARS = 16 * 1024;
const SCRATCH_SIZE = SCRATCH_MAX_CHARS * 3;

function scratchOf(lua: LuaWasm, m: RawLuaModule): Scratch {
  let sc = scratches.get(lua.module);
  if (!sc) {
    const ptr = m._malloc(SCRATCH_SIZE);
    const lenPtr = m._malloc(4);
    if (!ptr || !lenPtr) throw new Error('out of memory in the Lua wasm heap');
    const heap = m.HEAPU8;
    sc = { ptr, size: SCRATCH_SIZE, lenPtr, view: Buffer.from(heap.buffer, heap.byteOffset, heap.byteLength) };
    scratches.set(lua.module, sc);
  }
  const heap = m.HEAPU8;
  if (sc.view.buffer !== heap.buffer) sc.view = Buffer.from(heap.buffer, heap.byteOffset, heap.byteLength);
  return sc;
}

export function pushString(lua: LuaWasm, L: LuaStatePtr, s: string): void {
  if (s.length > SCRATCH_MAX_CHARS) return pushBytes(lua, L, Buffer.from(s, 'utf8'));
  const m = rawModule(lua);
  const sc = scratchOf(lua, m);
  const { view, ptr } = sc;
  let n = s.length;
  // Short ASCII strings (field names, most values) byte by byte; others through utf8Write.
  let ascii = n <= 64;
  if (ascii) {
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) {
        ascii = false;
        break;
      }
      view[ptr + i] = c;
    }
  }
  if (!ascii) n = view.write(s, ptr, sc.size, 'utf8');
  m._lua_pushlstring(L, ptr, n);
}

/** Reads the string at idx (must be of type string: lua_tolstring converts numbers in place). */
export function readBytes(lua: LuaWasm, L: LuaStatePtr, idx: number): Buffer {
  const m = rawModule(lua);
  const { ptr, len, view } = tolstring(lua, m, L, idx);
  const out = Buffer.allocUnsafe(len);
  view.copy(out, 0, ptr, ptr + len);
  return out;
}

export function readString(lua: LuaWasm, L: LuaStatePtr, idx: number): string {
  const m = rawModule(lua);
  const { ptr, len, view } = tolstring(lua, m, L, idx);
  return view.toString('utf8', ptr, ptr + len);
}

/** lua_tolstring with its length, and the heap view the bytes are in (valid until Lua runs again). */
function tolstring(lua: LuaWasm, m: RawLuaModule, L: LuaStatePtr, idx: number): { ptr: number; len: number; view: Buffer } {
  const sc = scratchOf(lua, m);
  const ptr = m._lua_tolstring(L, idx, sc.lenPtr);
  // lua_tolstring may allocate (a number converted in place) and so grow the memory.
  const view = sc.view.buffer === m.HEAPU8.buffer ? sc.view : scratchOf(lua, m).view;
  return { ptr, len: view.readUInt32LE(sc.lenPtr), view };
}

const MAX_DEPTH = 32;

export function readValue(lua: LuaWasm, L: LuaStatePtr, idx: number, depth = 0, seen = new Set<number>()): LuaValue {
  const abs = lua.lua_absindex(L, idx);
  switch (lua.lua_type(L, abs)) {
    case LuaType.None:
    case LuaType.Nil:
      return null;
    case LuaType.Boolean:
      return lua.lua_toboolean(L, abs) !== 0;
    case LuaType.Number:
      if (lua.lua_isinteger(L, abs)) return BigInt(lua.lua_tointegerx(L, abs, null));
      return lua.lua_tonumberx(L, abs, null);
    case LuaType.String:
      return readString(lua, L, abs);
    case LuaType.Table: {
      const ptr = lua.lua_topointer(L, abs);
      if (depth >= MAX_DEPTH || seen.has(ptr)) return { luaType: 'cycle' };
      seen.add(ptr);
      const entries: Array<[LuaValue, LuaValue]> = [];
      lua.lua_pushnil(L);
      while (lua.lua_next(L, abs) !== 0) {
        entries.push([readValue(lua, L, -2, depth + 1, seen), readValue(lua, L, -1, depth + 1, seen)]);
        lua.lua_settop(L, -2);
      }
      seen.delete(ptr);
      return { luaType: 'table', entries };
    }
    case LuaType.Function:
      return { luaType: 'function' };
    case LuaType.Thread:
      return { luaType: 'thread' };
    default:
      return { luaType: 'userdata' };
  }
}

export function isBindingArg(v: unknown): v is LuaBindingArg {
  return typeof v === 'object' && v !== null && typeof (v as LuaBindingArg).$binding === 'string';
}

/**
 * Pushes one value. `number` becomes a Lua float and `bigint` a Lua integer (spec §14: what
 * Dovecot pushes is mostly float). Binding args are built by `pushBinding`.
 */
export function pushValue(
  lua: LuaWasm,
  L: LuaStatePtr,
  v: LuaArg | undefined,
  pushBinding: (arg: LuaBindingArg) => void,
): void {
  if (v === null || v === undefined) return lua.lua_pushnil(L);
  switch (typeof v) {
    case 'boolean':
      return lua.lua_pushboolean(L, v ? 1 : 0);
    case 'number':
      return lua.lua_pushnumber(L, v);
    case 'bigint':
      return lua.lua_pushinteger(L, v);
    case 'string':
      return pushString(lua, L, v);
    default:
      break;
  }
  if (isBindingArg(v)) return pushBinding(v);
  if (Array.isArray(v)) {
    lua.lua_createtable(L, v.length, 0);
    v.forEach((item, i) => {
      pushValue(lua, L, item, pushBinding);
      lua.lua_rawseti(L, -2, BigInt(i + 1));
    });
    return;
  }
  if ('luaType' in v) {
    if (v.luaType === 'table') {
      const entries = (v as LuaTableValue).entries;
      lua.lua_createtable(L, 0, entries.length);
      for (const [k, val] of entries) {
        pushValue(lua, L, k, pushBinding);
        pushValue(lua, L, val, pushBinding);
        lua.lua_rawset(L, -3);
      }
      return;
    }
    return lua.lua_pushnil(L);
  }
  const obj = v as { [key: string]: LuaArg };
  const keys = Object.keys(obj);
  lua.lua_createtable(L, 0, keys.length);
  for (const k of keys) {
    pushString(lua, L, k);
    pushValue(lua, L, obj[k], pushBinding);
    lua.lua_rawset(L, -3);
  }
}
