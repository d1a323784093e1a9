// Values from the runner's main thread to the test file's Lua state, written as a Lua table
// constructor (the runner loads it with `load('return ' .. text)`): exact for strings (any bytes),
// keeps Lua's integer/float distinction (bigint = integer, as the pool returns Lua values).
import type { LuaValue } from '../../lua/types.js';

function luaString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (c < 32 || c === 127) out += `\\${String(c).padStart(3, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

function luaNumber(n: number): string {
  if (Number.isNaN(n)) return '(0/0)';
  if (!Number.isFinite(n)) return n > 0 ? 'math.huge' : '-math.huge';
  return Number.isInteger(n) && Math.abs(n) < 2 ** 63 ? `${n}` : String(n);
}

function isLuaTable(v: unknown): v is Extract<LuaValue, { luaType: 'table' }> {
  return typeof v === 'object' && v !== null && (v as { luaType?: string }).luaType === 'table';
}

/**
 * JS → Lua source. Plain numbers become Lua integers when whole (JSON-ish data from the host);
 * LuaValue floats arrive through `luaFloat` so 1.0 stays a float.
 */
export function toLuaLiteral(v: unknown): string {
  if (v === null || v === undefined) return 'nil';
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return luaNumber(v);
  if (typeof v === 'string') return luaString(v);
  if (v instanceof LuaFloat) return Number.isInteger(v.value) && Number.isFinite(v.value) ? `${v.value}.0` : luaNumber(v.value);
  if (isLuaTable(v)) {
    return `{${v.entries.map(([k, x]) => `[${toLuaLiteral(fromLua(k))}]=${toLuaLiteral(fromLua(x))}`).join(',')}}`;
  }
  if (typeof v === 'object' && (v as { luaType?: string }).luaType !== undefined) return luaString(`<${(v as { luaType: string }).luaType}>`);
  if (Array.isArray(v)) return `{${v.map((x, i) => `[${i + 1}]=${toLuaLiteral(x)}`).join(',')}}`;
  if (typeof v === 'object') {
    return `{${Object.entries(v as Record<string, unknown>).map(([k, x]) => `[${luaString(k)}]=${toLuaLiteral(x)}`).join(',')}}`;
  }
  return luaString(String(v));
}

/** A Lua float that must stay a float on the way back (`1.0`). */
export class LuaFloat {
  constructor(readonly value: number) {}
}

/** A LuaValue from the pool, ready for toLuaLiteral (floats marked). */
export function fromLua(v: LuaValue): unknown {
  return typeof v === 'number' ? new LuaFloat(v) : v;
}
