-- The `struct auth_request` Lua object of the Lua passdb/userdb (spec §11), installed by
-- src/auth/drivers/lua-auth-request.ts. Dovecot: src/auth/db-lua.c.
local internal, H = ...
local checkstring, new_record, wrap_event, emit, source_of =
      internal.checkstring, internal.new_record, internal.wrap_event, internal.emit, internal.source_of
local session_record = internal.session_record
local type, rawget, setmetatable, getmetatable, error, ipairs, select =
      type, rawget, setmetatable, getmetatable, error, ipairs, select

local req_mt = { __name = 'auth_request*' }
-- __gc: the host side's copy of the variables lives as long as the object (H.release).
local item_mt = { __name = 'struct auth_request', __metatable = false,
                  __gc = function(item) H.release(rawget(item, 'handle')) end }
local methods = {}

local function item_of(self)
  if type(self) ~= 'table' or getmetatable(self) ~= req_mt then
    error('Bad argument #1, expected auth_request* got ' .. type(self), 0)
  end
  return rawget(self, 'item')
end

-- Variables first (nil when Dovecot has no value), then methods (spec §11.7). The variables
-- live on the host side (H.variable), read on access.
req_mt.__index = function(t, k)
  local v = H.variable(rawget(t, 'item').handle, k)
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
  H.adopt(d.handle)
  local item = setmetatable({ handle = d.handle, req_record = req_record, db_record = db_record }, item_mt)
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
