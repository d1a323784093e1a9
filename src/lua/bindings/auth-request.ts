// The auth request object `req` of passdb/userdb Lua scripts (spec §11.7; Dovecot db-lua.c).
// Runs inside a Lua worker. The main thread sends a snapshot of the request as the hook
// argument `{ $binding: 'auth_request', data: AuthRequestSnapshot }`; variables and fields are
// plain Lua tables, methods call back into this module synchronously.
import { readFileSync } from 'node:fs';
import { LuaMultiReturn } from 'wasmoon';
import { VarExpandError } from '../../config/var-expand.js';
import { authVarExpand, parseKeyValues } from '../../auth/var-expand.js';
import { SyncHashThread } from '../../auth/schemes/hash-thread.js';
import type { LuaBindingModule } from '../binding.js';
import type { LuaBindingArg } from '../types.js';

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

const AUTH_REQUEST_LUA = String.raw`
local internal, H = ...
local checkstring, new_record, wrap_event, emit, source_of =
      internal.checkstring, internal.new_record, internal.wrap_event, internal.emit, internal.source_of
local session_record = internal.session_record
local type, rawget, setmetatable, getmetatable, error, ipairs, select =
      type, rawget, setmetatable, getmetatable, error, ipairs, select

local req_mt = { __name = 'auth_request*' }
local item_mt = { __name = 'struct auth_request', __metatable = false }
local methods = {}

local function item_of(self)
  if type(self) ~= 'table' or getmetatable(self) ~= req_mt then
    error('Bad argument #1, expected auth_request* got ' .. type(self), 0)
  end
  return rawget(self, 'item')
end

-- Variables first (nil when Dovecot has no value), then methods (spec §11.7).
req_mt.__index = function(t, k)
  local v = rawget(t, 'item').vars[k]
  if v ~= nil then return v end
  return methods[k]
end

function methods.var_expand(self, tpl)
  local it = item_of(self)
  local ok, v = H.var_expand(it.handle, checkstring(tpl, 2, 0))
  if not ok then error(v, 0) end
  return v
end

function methods.response_from_template(self, tpl)
  local it = item_of(self)
  local r = table.pack(H.response_from_template(it.handle, checkstring(tpl, 2, 0)))
  local out = {}
  for i = 1, r.n, 2 do out[r[i]] = r[i + 1] end
  return out
end

function methods.password_verify(self, crypted, plain)
  item_of(self)
  local code, err = H.password_verify(checkstring(crypted, 2, 0), checkstring(plain, 3, 0))
  return code + 0.0, err
end

for _, level in ipairs({ 'Debug', 'Info', 'Warning', 'Error' }) do
  methods['log_' .. level:lower()] = function(self, msg)
    local it = item_of(self)
    local m = checkstring(msg, 2, 0)
    local file, line = source_of(2)
    emit(it.db_record, level, m, file, line)
  end
end

-- A child of the auth-db event: prefix lua(<user>...): without db-lua:.
function methods.event(self)
  local it = item_of(self)
  local rec = new_record(it.req_record)
  rec.source_file, rec.source_line = source_of(2)
  return wrap_event(rec)
end

internal.register_maker('auth_request', function(d)
  local req_record = new_record(session_record)
  req_record.prefix = d.logPrefix
  local db_record = new_record(req_record)
  db_record.prefix = 'db-lua: '
  local item = setmetatable({ handle = H.open(d.json), vars = d.variables or {},
                              req_record = req_record, db_record = db_record }, item_mt)
  return setmetatable({
    item = item,
    passdb = d.passdb or {},
    userdb = d.userdb or {},
    skip_password_check = d.skipPasswordCheck,
    passdbs_seen_user_unknown = d.passdbsSeenUserUnknown,
    passdbs_seen_internal_failure = d.passdbsSeenInternalFailure,
    userdbs_seen_internal_failure = d.userdbsSeenInternalFailure,
  }, req_mt)
end)
`;

export const binding: LuaBindingModule = {
  name: AUTH_REQUEST_BINDING,
  install(ctx) {
    ctx.runLua(AUTH_REQUEST_LUA, 'roost-auth-request', host);
  },
};

/** The hook argument for one call: the snapshot as Lua tables plus its JSON for the host side. */
export function authRequestArg(s: AuthRequestSnapshot): LuaBindingArg {
  return { $binding: AUTH_REQUEST_BINDING, data: { ...s, json: JSON.stringify(s) } };
}
