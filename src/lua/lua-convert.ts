// Lua's own conversions applied to values that came back from a hook (spec §5.2 step 4):
// used by mail-lua on the main thread and by the worker when it decides whether a state it
// just created is kept (pool.createStateAndCall).
import type { LuaValue } from './types.js';

/** lua_tonumber semantics then truncation to an integer: nil and non-numeric values are 0. */
export function luaToNumber(v: LuaValue): number {
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'number') return Math.trunc(v);
  if (typeof v !== 'string') return 0;
  const s = v.trim();
  let n: number;
  if (/^[+-]?0[xX][0-9a-fA-F]+$/.test(s)) n = (s.startsWith('-') ? -1 : 1) * parseInt(s.replace(/^[+-]?0[xX]/, ''), 16);
  else if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) n = Number(s);
  else return 0;
  return Number.isFinite(n) ? Math.trunc(n) : 0;
}

/** lua_tostring semantics: strings and numbers (floats as Lua prints them); anything else null. */
export function luaToString(v: LuaValue): string | null {
  if (typeof v === 'string') return v;
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return luaFloatToString(v);
  return null;
}

/** Lua 5.4's `%.14g` for floats, with `.0` added when the result looks like an integer. */
function luaFloatToString(v: number): string {
  if (Number.isNaN(v)) return v > 0 ? 'nan' : '-nan';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  let s = v.toPrecision(14);
  if (s.includes('e')) {
    let [mant, exp] = s.split('e') as [string, string];
    if (mant.includes('.')) mant = mant.replace(/0+$/, '').replace(/\.$/, '');
    const e = Number(exp);
    s = `${mant}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
    return s;
  }
  if (s.includes('.')) s = s.replace(/0+$/, '').replace(/\.$/, '');
  return /^-?\d+$/.test(s) ? `${s}.0` : s;
}

/**
 * mail-lua's reading of a hook's two results (spec §5.2 step 4): null when the first is >= 0
 * (tonumber semantics, truncated), else the error text: the second result, or `(null)`.
 */
export function mailHookError(res: LuaValue[]): string | null {
  if (luaToNumber(res[0] ?? null) >= 0) return null;
  return luaToString(res[1] ?? null) ?? '(null)';
}
