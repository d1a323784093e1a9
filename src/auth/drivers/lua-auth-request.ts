// The auth request object `req` of passdb/userdb Lua scripts (spec §11.7; Dovecot db-lua.c).
// Runs inside a Lua worker. The main thread sends a snapshot of the request as the hook
// argument `{ $binding: 'auth_request', data: AuthRequestSnapshot }`; variables and fields are
// plain Lua tables, methods call back into this module synchronously.
import { readFileSync } from 'node:fs';
import { LuaMultiReturn } from 'wasmoon';
import { VarExpandError } from '../../config/var-expand.js';
import { authVarExpand, parseKeyValues } from '../var-expand.js';
import { SyncHashThread } from '../schemes/hash-thread.js';
import type { LuaBindingModule } from '../../lua/binding.js';
import { luaChunk } from '../../lua/lua-chunks.js';
import type { LuaBindingArg } from '../../lua/types.js';

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

const host = {
  open(json: string): number {
    const handle = nextHandle++;
    snapshots.set(handle, JSON.parse(json) as AuthRequestSnapshot);
    if (snapshots.size > MAX_SNAPSHOTS) snapshots.delete(snapshots.keys().next().value as number);
    return handle;
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
    ctx.runLua(luaChunk('auth-request.lua'), host);
  },
};

/** The hook argument for one call: the snapshot as Lua tables plus its JSON for the host side. */
export function authRequestArg(s: AuthRequestSnapshot): LuaBindingArg {
  return { $binding: AUTH_REQUEST_BINDING, data: { ...s, json: JSON.stringify(s) } };
}
