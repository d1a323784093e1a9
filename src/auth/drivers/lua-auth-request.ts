// The auth request object `req` of passdb/userdb Lua scripts (spec §11.7; Dovecot db-lua.c).
// Runs inside a Lua worker. The main thread sends a snapshot of the request as the hook
// argument `{ $binding: 'auth_request', data: AuthRequestSnapshot }`; the worker keeps the
// snapshot here (prepareArg) and the Lua object gets its handle, the passdb/userdb fields as
// plain tables and the flags. Variables (`req.user`, ...) are looked up here on access, and
// methods call back into this module synchronously.
import { readFileSync } from 'node:fs';
import { LuaMultiReturn, LuaType, type LuaWasm } from 'wasmoon';
import { VarExpandError } from '../../config/var-expand.js';
import { authVarExpand, parseKeyValues } from '../var-expand.js';
import { SyncHashThread } from '../schemes/hash-thread.js';
import type { LuaBindingModule } from '../../lua/binding.js';
import { luaChunk } from '../../lua/lua-chunks.js';
import { rawHost, type RawHostFunction } from '../../lua/lua-runtime.js';
import { pushString, readBytes } from '../../lua/lua-stack.js';
import type { LuaArg, LuaBindingArg } from '../../lua/types.js';

export const AUTH_REQUEST_BINDING = 'auth_request';

/** What crosses from the main thread for one call (structured-clone safe). */
export interface AuthRequestSnapshot {
  /** Long variable names → value; null = Dovecot has no value (Lua nil). */
  variables: Record<string, string | null>;
  passdb: Record<string, string>;
  userdb: Record<string, string>;
  skipPasswordCheck: boolean;
  passdbsSeenUserUnknown: boolean;
  passdbsSeenInternalFailure: boolean;
  userdbsSeenInternalFailure: boolean;
  /** A userdb lookup: response_from_template uses userdb template rules. */
  userdbLookup: boolean;
  /** Auth-db event prefix, e.g. `lua(t1,192.0.2.7): `. */
  logPrefix: string;
}

/** Longest wait for the hash helper inside one password_verify call. */
const VERIFY_WAIT_MS = 30_000;
/** Snapshots kept for req objects a script may still hold (Dovecot frees them after the call). */
const MAX_SNAPSHOTS = 64;

const snapshots = new Map<number, AuthRequestSnapshot>();
let nextHandle = 1;
let hashThread: SyncHashThread | undefined;

function snapshotOf(handle: number): AuthRequestSnapshot {
  const s = snapshots.get(handle);
  if (!s) throw new Error('auth request is no longer valid');
  return s;
}

function expand(s: AuthRequestSnapshot, template: string): string {
  return authVarExpand(template, { variables: s.variables, passdbFields: s.passdb, userdbFields: s.userdb });
}

/** userdb templates turn uid/gid user and group names into numbers (userdb_template_build). */
function resolveId(file: '/etc/passwd' | '/etc/group', name: string): string {
  if (/^\d+$/.test(name)) return name;
  try {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const f = line.split(':');
      if (f[0] === name && f[2] !== undefined) return f[2];
    }
  } catch {
    // no such file: keep the name
  }
  return name;
}

/**
 * The variables of each req object still alive in a state, by handle: they used to be a Lua
 * table of the object, so they live as long as it does (released by its __gc), whatever the
 * MAX_SNAPSHOTS window of the methods.
 */
const variableSets = new Map<number, Record<string, string | null>>();

/** Keeps the snapshot of one call for the req object's host functions; returns its handle. */
function keep(snapshot: AuthRequestSnapshot): number {
  const handle = nextHandle++;
  snapshots.set(handle, snapshot);
  if (snapshots.size > MAX_SNAPSHOTS) snapshots.delete(snapshots.keys().next().value as number);
  return handle;
}

/**
 * H.variable(handle, key): the variable's value (`req.user`) as the table lookup it replaces
 * would give it: only a string key naming a variable, compared byte for byte; nil for a
 * variable Dovecot has no value for, and for any other key.
 */
function variableHost(lua: LuaWasm): RawHostFunction {
  return rawHost((L: number) => {
    const vars = variableSets.get(Number(lua.lua_tointegerx(L, 1, null)));
    if (vars && lua.lua_type(L, 2) === LuaType.String) {
      const bytes = readBytes(lua, L, 2);
      const name = bytes.toString('utf8');
      const value = Object.hasOwn(vars, name) && Buffer.from(name, 'utf8').equals(bytes) ? vars[name] : null;
      if (typeof value === 'string') {
        pushString(lua, L, value);
        return 1;
      }
    }
    lua.lua_pushnil(L);
    return 1;
  });
}

const host = {
  /**
   * The req object of `handle` was made: its variables stay until it is collected. (Not at
   * prepareArg: a call whose function is missing pushes the argument and makes no object.)
   */
  adopt(handle: number): void {
    const s = snapshots.get(handle);
    if (s) variableSets.set(handle, s.variables);
  },
  /** The req object was collected (or its state closed): its variables go too. */
  release(handle: number): void {
    variableSets.delete(handle);
  },
  var_expand(handle: number, template: string): LuaMultiReturn {
    const s = snapshotOf(handle);
    try {
      return LuaMultiReturn.from([true, expand(s, template)]);
    } catch (e) {
      const msg = e instanceof VarExpandError ? e.message : String(e);
      return LuaMultiReturn.from([false, `var_expand(${template}) failed: ${msg}`]);
    }
  },
  /** Flattened key, value, key, value, ... (keys without '=' are left out, spec §11.7). */
  response_from_template(handle: number, template: string): LuaMultiReturn {
    const s = snapshotOf(handle);
    const out: string[] = [];
    for (const tok of template.split(' ').filter(Boolean)) {
      if (!tok.includes('=')) continue;
      const [key, value] = parseKeyValues(tok)[0]!;
      let expanded = expand(s, value);
      if (s.userdbLookup && key === 'uid') expanded = resolveId('/etc/passwd', expanded);
      if (s.userdbLookup && key === 'gid') expanded = resolveId('/etc/group', expanded);
      out.push(key, expanded);
    }
    return LuaMultiReturn.from(out);
  },
  /** (code, error): 1 match, 0 mismatch or unknown scheme, -1 failure (spec §11.7). */
  password_verify(crypted: string, plain: string): LuaMultiReturn {
    hashThread ??= new SyncHashThread();
    const r = hashThread.verify(plain, crypted, VERIFY_WAIT_MS);
    if ('ok' in r) return LuaMultiReturn.from([r.ok ? 1 : 0]); // no second value: nil (wasmoon cannot push null)
    return LuaMultiReturn.from([r.unknownScheme ? 0 : -1, r.error]);
  },
};


export const binding: LuaBindingModule = {
  name: AUTH_REQUEST_BINDING,
  install(ctx) {
    ctx.runLua(luaChunk('auth-request.lua'), { ...host, variable: variableHost(ctx.lua) });
  },
  // The variables stay here (about 45 of them, most never read by a script): pushing them as a
  // table, and a JSON copy for the host side, was most of an auth call's cost in the worker.
  prepareArg(data: unknown): LuaArg {
    const s = data as AuthRequestSnapshot;
    return {
      handle: BigInt(keep(s)),
      passdb: s.passdb,
      userdb: s.userdb,
      skipPasswordCheck: s.skipPasswordCheck,
      passdbsSeenUserUnknown: s.passdbsSeenUserUnknown,
      passdbsSeenInternalFailure: s.passdbsSeenInternalFailure,
      userdbsSeenInternalFailure: s.userdbsSeenInternalFailure,
      logPrefix: s.logPrefix,
    };
  },
};

/** The hook argument for one call (the snapshot crosses to the worker as it is). */
export function authRequestArg(s: AuthRequestSnapshot): LuaBindingArg {
  return { $binding: AUTH_REQUEST_BINDING, data: s };
}
