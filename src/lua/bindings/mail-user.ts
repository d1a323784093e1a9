// The `struct mail_user` Lua object (spec §7) and the binding module that installs the storage
// objects of a mail context (mail_user, mailbox, mail) into a state. Runs in the Lua worker:
// var_expand and storage calls happen synchronously there. Hook argument:
// `{ $binding: 'mail_user', data: MailUserArgData }`.
// Dovecot: src/lib-storage/mail-user-lua.c, src/plugins/mail-lua.
import { LuaMultiReturn } from 'wasmoon';
import { varExpand } from '../../config/var-expand.js';
import type { LuaBindingContext, LuaBindingModule } from '../binding.js';
import { installMail } from './mail.js';
import { installMailbox } from './mailbox.js';
import type { MailUserBindingData } from './mail-user-data.js';
import { StorageHost } from './storage-host.js';

export type { MailUserArgData, MailUserBindingData } from './mail-user-data.js';

const MAIL_USER_LUA = String.raw`
local internal, H, data = ...
local S = internal.storage
local type, select, error, tostring, rawget, setmetatable, ipairs =
      type, select, error, tostring, rawget, setmetatable, ipairs
local sformat, tunpack = string.format, table.unpack
local require_args, checkstring, typename = internal.require_args, internal.checkstring, internal.typename

local FIELDS = { 'home', 'username', 'uid', 'gid', 'service', 'session_id', 'session_create_time',
  'nonexistent', 'anonymous', 'autocreated', 'mail_debug', 'fuzzy_search', 'dsyncing', 'admin',
  'session_restored' }
local fields, plugin_env = data.fields, data.pluginEnv

local user_mt = { __name = 'struct mail_user' }
user_mt.__index = user_mt
local users = setmetatable({}, { __mode = 'k' })

-- Dovecot only checks "is a table"; Roost also refuses tables that are not user objects.
local function check_user(v)
  if type(v) ~= 'table' then
    error(sformat('Bad argument #1, expected struct mail_user got %s', type(v)), 0)
  end
  if not users[v] then error(sformat('Bad argument #1, expected struct mail_user got %s', typename(v)), 0) end
end

user_mt.plugin_getenv = function(...)
  require_args(select('#', ...), 2)
  local self, name = ...
  check_user(self)
  -- Dovecot does not check the name (nil crashes it, spec §16.1): luaL_checkstring's error here.
  return plugin_env[checkstring(name, 2, 0)]
end

user_mt.var_expand = function(...)
  require_args(select('#', ...), 2)
  local self, template = ...
  check_user(self)
  local tpl = checkstring(template, 2, 0)
  local err, value = H.var_expand(tpl)
  if err ~= '' then error(sformat('var_expand(%s) failed: %s', tpl, err), 0) end
  return value
end

user_mt.mailbox = function(...)
  local n = select('#', ...)
  if n < 2 or n > 3 then error(sformat('expected 2 to 3 arguments, got %d', n), 0) end
  local self, name, flags = ...
  check_user(self)
  local vname = checkstring(name, 2, 0)
  local f = 0
  if n == 3 then f = internal.checkinteger(flags, 3, 0) end
  -- Namespaces do not exist inside mail_user_created; Dovecot asserts (spec §5.3).
  if not S.ready then error('No namespace found for mailbox ' .. vname, 0) end
  return S.new_mailbox(vname, f)
end

local NO_INBOX = 'Cannot open INBOX: ' .. S.NO_STORAGE

user_mt.metadata_get = function(...)
  local n = select('#', ...)
  if n < 2 then error('expecting at least 1 parameter', 0) end
  check_user((...))
  if not S.ready then error(NO_INBOX, 0) end
  local out = {}
  for i = 2, n do
    local key = select(i, ...)
    if type(key) ~= 'string' and type(key) ~= 'number' then error(sformat('expected string at #%d', i), 0) end
    key = tostring(key)
    local bad = S.check_key_prefix(key)
    if bad then error(bad, 0) end
    local err, hex = S.H.meta_get('', key)
    if err ~= '' then error('Cannot get attribute: ' .. err, 0) end
    out[i - 1] = hex ~= nil and S.fromhex(hex) or nil
  end
  return tunpack(out, 1, n - 1)
end

local function set_metadata(key, value)
  local bad = S.check_key_prefix(key)
  if bad then error(bad, 0) end
  if not S.ready then error(NO_INBOX, 0) end
  -- sic: Dovecot says "get" for storage failures of set/unset too (spec §7.6).
  if value ~= nil and value:find('\0', 1, true) then
    error('Cannot get attribute: Attribute string value has NULs', 0)
  end
  local err = S.H.meta_set('', key, value ~= nil and S.tohex(value) or nil)
  if err ~= '' then error('Cannot get attribute: ' .. err, 0) end
end

user_mt.metadata_set = function(...)
  require_args(select('#', ...), 3)
  local self, key, value = ...
  check_user(self)
  set_metadata(checkstring(key, 2, 0), S.value_of(value))
end

user_mt.metadata_unset = function(...)
  require_args(select('#', ...), 2)
  local self, key = ...
  check_user(self)
  set_metadata(checkstring(key, 2, 0), nil)
end

user_mt.metadata_list = function(...)
  local n = select('#', ...)
  if n < 2 then error('expecting at least 1 parameter', 0) end
  check_user((...))
  if not S.ready then error(NO_INBOX, 0) end
  local out = {}
  for i = 2, n do
    local prefix = checkstring((select(i, ...)), i, 0)
    local bad = S.check_key_prefix(prefix)
    if bad then error(bad, 0) end
    local err, encoded = S.H.meta_list('', prefix)
    if err ~= '' then error(err, 0) end
    S.decode_list(out, encoded)
  end
  return out
end

-- Dovecot's comparisons are broken (spec §7.2); Roost compares usernames.
local function name_of(v) return users[v] and rawget(v, 'username') or tostring(v) end
user_mt.__tostring = function(u) return rawget(u, 'username') end
user_mt.__eq = function(a, b) return users[a] ~= nil and users[b] ~= nil and name_of(a) == name_of(b) end
user_mt.__lt = function(a, b) return name_of(a) < name_of(b) end
user_mt.__le = function(a, b) return name_of(a) <= name_of(b) end

-- A fresh object per hook call (spec §5.5); the call also says whether namespaces exist.
internal.register_maker('mail_user', function(d)
  S.ready = d ~= nil and d.storage == true
  local u = {}
  for _, k in ipairs(FIELDS) do u[k] = fields[k] end
  u.item = S.handle
  setmetatable(u, user_mt)
  users[u] = true
  return u
end)
`;

export const binding: LuaBindingModule = {
  name: 'mail_user',
  install(ctx: LuaBindingContext, raw: unknown): void {
    const data = raw as MailUserBindingData;
    const store = new StorageHost(data.store, { admin: data.serverAdmin, comment: data.serverComment });
    installMailbox(ctx, store, 'error' in data.store ? '/' : data.store.separator);
    installMail(ctx);
    const host = {
      var_expand: (template: string) => {
        try {
          return LuaMultiReturn.from(['', varExpand(template, data.varTable)]) as LuaMultiReturn;
        } catch (e) {
          return LuaMultiReturn.from([e instanceof Error ? e.message : String(e)]) as LuaMultiReturn;
        }
      },
    };
    ctx.runLua(MAIL_USER_LUA, 'roost-mail-user', host, {
      fields: { ...data.fields },
      pluginEnv: data.pluginEnv,
    } as unknown as Parameters<LuaBindingContext['runLua']>[3]);
  },
};
