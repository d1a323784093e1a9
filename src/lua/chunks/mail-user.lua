-- The `struct mail_user` Lua object (spec §7), installed by src/lua/bindings/mail-user.ts.
-- Dovecot: src/lib-storage/mail-user-lua.c.
local internal, H, data = ...
local type, select, error, tostring, rawget, setmetatable, ipairs =
      type, select, error, tostring, rawget, setmetatable, ipairs
local sformat = string.format
local require_args, checkstring, typename = internal.require_args, internal.checkstring, internal.typename

-- Shared with the lazily loaded storage chunk (mailbox.lua) and mail chunk (mail.lua).
local reg = debug.getregistry() -- 'roost.storage.handle': HANDLE_REGISTRY_KEY in mailbox.ts
local S = { ready = false, handle = reg['roost.storage.handle'], SEP = data.separator, loaded = false }
reg['roost.storage.handle'] = nil
internal.storage = S

local FIELDS = { 'home', 'username', 'uid', 'gid', 'service', 'session_id', 'session_create_time',
  'nonexistent', 'anonymous', 'autocreated', 'mail_debug', 'fuzzy_search', 'dsyncing', 'admin',
  'session_restored' }
local fields, plugin_env = data.fields, data.pluginEnv

local user_mt = { __name = 'struct mail_user' }
user_mt.__index = user_mt
local users = setmetatable({}, { __mode = 'k' })
S.user_mt = user_mt

-- Dovecot only checks "is a table"; Roost also refuses tables that are not user objects.
local function check_user(v)
  if type(v) ~= 'table' then
    error(sformat('Bad argument #1, expected struct mail_user got %s', type(v)), 0)
  end
  if not users[v] then error(sformat('Bad argument #1, expected struct mail_user got %s', typename(v)), 0) end
end
S.check_user = check_user

-- Mailboxes and metadata (user:mailbox(), user:metadata_*()) are loaded on first use.
function S.load()
  if not S.loaded then
    internal.load_lazy('storage')
    S.loaded = true
  end
  return S
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

-- Dovecot's comparisons are broken (spec §7.2); Roost compares usernames.
local function name_of(v) return users[v] and rawget(v, 'username') or tostring(v) end
user_mt.__tostring = function(...)
  require_args(select('#', ...), 1)
  return rawget((...), 'username')
end
user_mt.__eq = function(a, b) return users[a] ~= nil and users[b] ~= nil and name_of(a) == name_of(b) end
user_mt.__lt = function(a, b) return name_of(a) < name_of(b) end
user_mt.__le = function(a, b) return name_of(a) <= name_of(b) end

internal.name_methods(user_mt)

-- Until the storage chunk is loaded, a lookup of one of its methods loads it (then user_mt
-- holds them as raw fields, like the others).
setmetatable(user_mt, { __index = function(t, k)
  if k == 'mailbox' or k == 'metadata_get' or k == 'metadata_set' or k == 'metadata_unset' or k == 'metadata_list' then
    S.load()
    setmetatable(t, nil)
    return rawget(t, k)
  end
end })

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

internal.register_maker('mail', function(d)
  S.load()
  if S.new_mail == nil then internal.load_lazy('mail') end
  return S.new_mail(d)
end)
