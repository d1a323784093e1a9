-- The Dovecot Lua API (spec §1-§4, §6, §11.2) written in Lua itself, so that argument checks,
-- error positions and number subtypes (float vs integer, spec §14) behave exactly like Lua C
-- functions would. It runs once per state, before the user's script, and receives the host
-- functions table; it returns the runner table the worker uses (never visible to scripts).
--
-- Conventions (spec "Conventions"): Dovecot's own checks raise plain strings (`error(msg, 0)`);
-- luaL_check*-style coercion errors carry the caller's position and the method-adjusted
-- argument number, like luaL_argerror (lauxlib.c).
local H, CONTEXT, SESSION_PREFIX, PROCESS_PREFIX, DEBUG = ...

local type, select, error, tostring, tonumber, rawget, rawset, pairs, next =
      type, select, error, tostring, tonumber, rawget, rawset, pairs, next
local setmetatable, getmetatable, xpcall, pcall = setmetatable, getmetatable, xpcall, pcall
local dgetmetatable, dgetinfo, traceback = debug.getmetatable, debug.getinfo, debug.traceback
local mtointeger, mtype = math.tointeger, math.type
local sformat, smatch, sfind, sgsub, slower = string.format, string.match, string.find, string.gsub, string.lower
local tpack, tunpack, tconcat = table.pack, table.unpack, table.concat
local ipairs, gmatch = ipairs, string.gmatch
local collectgarbage, _G = collectgarbage, _G

-- os.exit would end the whole worker (and every session on it): Dovecot documents it as
-- "never use"; Roost turns it into an error (spec §10).
os.exit = function()
  error("os.exit() is not allowed in Lua scripts: it would stop the whole server", 2)
end

---------------------------------------------------------------------------------------------
-- argument checking helpers

-- luaL_typeerror's type name: __name of the metatable when it is a string.
local function typename(v)
  local mt = dgetmetatable(v)
  if mt ~= nil then
    local n = rawget(mt, '__name')
    if type(n) == 'string' then return n end
  end
  return type(v)
end

-- Names of the API methods (name_methods below): a method the script tail-calls
-- (`return user:var_expand(x)`) has no name in Lua's debug info, where Dovecot's C function has.
local method_names = setmetatable({}, { __mode = 'k' })
local function name_methods(mt)
  for k, v in pairs(mt) do
    if type(v) == 'function' and type(k) == 'string' and k:sub(1, 2) ~= '__' then method_names[v] = k end
  end
end

-- depth = frames between the check helper and the API function the script called.
local function argerror(argn, extramsg, depth)
  local lvl = 3 + depth
  local info = dgetinfo(lvl, 'nf')
  local name = info and info.name or '?'
  if info and info.name == nil and method_names[info.func] then
    info.name, info.namewhat = method_names[info.func], 'method'
    name = info.name
  end
  if info and info.namewhat == 'method' then
    argn = argn - 1
    if argn == 0 then
      error(sformat("calling '%s' on bad self (%s)", name, extramsg), lvl + 1)
    end
  end
  error(sformat("bad argument #%d to '%s' (%s)", argn, name, extramsg), lvl + 1)
end

-- luaL_checklstring: strings and numbers (converted); position-prefixed error otherwise.
local function checkstring(v, argn, depth)
  local t = type(v)
  if t == 'string' then return v end
  if t == 'number' then return tostring(v) end
  argerror(argn, 'string expected, got ' .. typename(v), depth)
end

-- luaL_checkinteger: integers, integral floats, numeric strings.
local function checkinteger(v, argn, depth)
  local n
  if type(v) == 'number' then n = v elseif type(v) == 'string' then n = tonumber(v) end
  if n == nil then argerror(argn, 'number expected, got ' .. typename(v), depth) end
  local i = mtointeger(n)
  if i == nil then argerror(argn, 'number has no integer representation', depth) end
  return i
end

local function require_args(n, expected)
  if n ~= expected then error(sformat('expected %d arguments, got %d', expected, n), 0) end
end

-- chunk basename and line of the function 'level' frames above the caller of this helper.
local function source_of(level)
  local info = dgetinfo(level + 1, 'Sl')
  if info == nil then return '<non-file location>', 0 end
  local file
  if info.source and info.source:sub(1, 1) == '@' then
    file = smatch(info.source, '([^/]*)$')
  else
    file = '<non-file location>'
  end
  return file, info.currentline or 0
end

---------------------------------------------------------------------------------------------
-- lazily loaded parts of the API (H.load_lazy): each runs once per state, on first use, with
-- (internal, host, data, ...) and an environment holding the standard functions as they were
-- when the state was created (a script that changes globals does not change the API).

local internal
local LOADED = debug.getregistry()._LOADED
local dsetupvalue, rawequal = debug.setupvalue, rawequal
local lazy_env
local function load_lazy(name, ...)
  local f, host, data = H.load_lazy(name)
  if lazy_env == nil then
    lazy_env = setmetatable({ type = type, select = select, error = error, tostring = tostring,
      tonumber = tonumber, rawget = rawget, rawset = rawset, rawequal = rawequal, next = next,
      setmetatable = setmetatable, getmetatable = getmetatable, ipairs = ipairs, pairs = pairs,
      pcall = pcall, xpcall = xpcall, collectgarbage = collectgarbage }, { __index = LOADED })
  end
  dsetupvalue(f, 1, lazy_env)
  return f(internal, host or H, data, ...)
end

---------------------------------------------------------------------------------------------
-- events (spec §3); their methods are loaded with the first event object (events.lua)

local item_mt = { __name = 'struct event*', __metatable = false }
local event_mt = { __name = 'struct event' }
event_mt.__index = event_mt
local passthrough_mt = { __name = 'struct event_passthrough' }
passthrough_mt.__index = passthrough_mt

local function new_record(parent)
  return setmetatable({ parent = parent, prefix = '', replace = false, fields = {},
                        name = nil, always_log_source = false }, item_mt)
end

-- The script's event (spec §1.1): child of the session event, field script=<file>, category lua.
local session_record = new_record(nil)
session_record.session_root = true
local script_record = new_record(session_record)

local EV
local function events()
  if EV == nil then EV = load_lazy('events') end
  return EV
end

local function wrap_event(rec)
  if EV == nil then events() end
  return setmetatable({ item = rec }, event_mt)
end

local function emit(rec, level, msg, file, line)
  return events().emit(rec, level, msg, file, line)
end

local function record_of(v, wanted_mt, wanted_name, argn)
  if type(v) ~= 'table' then
    error(sformat('Bad argument #%d, expected %s got %s', argn, wanted_name, type(v)), 0)
  end
  local rec = rawget(v, 'item')
  if dgetmetatable(v) ~= wanted_mt or dgetmetatable(rec) ~= item_mt then
    -- Dovecot only checks "is a table" and then crashes; Roost refuses cleanly.
    error(sformat('Bad argument #%d, expected %s got %s', argn, wanted_name, typename(v)), 0)
  end
  return rec
end

---------------------------------------------------------------------------------------------
-- the dovecot table (spec §2)

local dovecot_mt = { __name = 'dovecot' }
dovecot_mt.__index = dovecot_mt
local dovecot = setmetatable({}, dovecot_mt)

-- The functions (dovecot.lua) are loaded on the first lookup of one of them: until then the
-- metatable has a metatable of its own whose __index loads them into it as raw fields.
setmetatable(dovecot_mt, { __index = function(t, k)
  load_lazy('api')
  setmetatable(t, nil)
  return rawget(t, k)
end })

---------------------------------------------------------------------------------------------
-- constants (spec §6, §11.2); numbers are floats like Dovecot pushes them

if CONTEXT == 'mail' or CONTEXT == 'push' then
  dovecot.storage = setmetatable({
    STATUS_MESSAGES = 1.0, STATUS_RECENT = 2.0, STATUS_UIDNEXT = 4.0, STATUS_UIDVALIDITY = 8.0,
    STATUS_UNSEEN = 16.0, STATUS_FIRST_UNSEEN_SEQ = 32.0, STATUS_KEYWORDS = 64.0,
    STATUS_HIGHESTMODSEQ = 128.0, STATUS_PERMANENT_FLAGS = 512.0, STATUS_FIRST_RECENT_UID = 1024.0,
    STATUS_HIGHESTPVTMODSEQ = 8192.0,
    MAILBOX_FLAG_READONLY = 1.0, MAILBOX_FLAG_SAVEONLY = 2.0, MAILBOX_FLAG_DROP_RECENT = 4.0,
    MAILBOX_FLAG_NO_INDEX_FILES = 16.0, MAILBOX_FLAG_KEEP_LOCKED = 32.0,
    -- Exactly 2.3.19's set: MAILBOX_FLAG_AUTO_CREATE/AUTO_SUBSCRIBE came to Lua only in 2.4
    -- (the numbers 4096 and 8192 still work, as lib-storage knows them).
    MAILBOX_FLAG_IGNORE_ACLS = 256.0,
    MAILBOX_SYNC_FLAG_FULL_READ = 1.0, MAILBOX_SYNC_FLAG_FULL_WRITE = 2.0,
    MAILBOX_SYNC_FLAG_FAST = 4.0, MAILBOX_SYNC_FLAG_NO_EXPUNGES = 8.0,
    MAILBOX_SYNC_FLAG_FIX_INCONSISTENT = 64.0, MAILBOX_SYNC_FLAG_EXPUNGE = 128.0,
    MAILBOX_SYNC_FLAG_FORCE_RESYNC = 256.0,
    MAILBOX_ATTRIBUTE_PREFIX_DOVECOT = 'vendor/vendor.dovecot/',
    MAILBOX_ATTRIBUTE_PREFIX_DOVECOT_PVT = 'vendor/vendor.dovecot/pvt/',
    MAILBOX_ATTRIBUTE_PREFIX_DOVECOT_PVT_SERVER = 'vendor/vendor.dovecot/pvt/server/',
  }, { __name = 'storage' })
elseif CONTEXT == 'auth' then
  dovecot.auth = setmetatable({
    PASSDB_RESULT_INTERNAL_FAILURE = -1.0, PASSDB_RESULT_SCHEME_NOT_AVAILABLE = -2.0,
    PASSDB_RESULT_USER_UNKNOWN = -3.0, PASSDB_RESULT_USER_DISABLED = -4.0,
    PASSDB_RESULT_PASS_EXPIRED = -5.0, PASSDB_RESULT_NEXT = -6.0,
    PASSDB_RESULT_PASSWORD_MISMATCH = 0.0, PASSDB_RESULT_OK = 1.0,
    USERDB_RESULT_INTERNAL_FAILURE = -1.0, USERDB_RESULT_USER_UNKNOWN = -2.0,
    USERDB_RESULT_OK = 1.0,
  }, { __name = 'dovecot_auth' })
end

---------------------------------------------------------------------------------------------
-- dovecot.http (spec §4): loaded on first use (http.lua); until then a stub whose metatable
-- (the same table that stays its metatable, __name 'dovecot_http') loads it on any access.

local http_mt = { __name = 'dovecot_http' }
local http = setmetatable({}, http_mt)
local function load_http()
  if rawget(http_mt, '__index') == nil then return end
  http_mt.__index, http_mt.__newindex, http_mt.__pairs = nil, nil, nil
  load_lazy('http', http)
end
http_mt.__index = function(t, k) load_http(); return rawget(t, k) end
http_mt.__newindex = function(t, k, v) load_http(); rawset(t, k, v) end
http_mt.__pairs = function(t) load_http(); return next, t, nil end
dovecot.http = http


_G.dovecot = dovecot

---------------------------------------------------------------------------------------------
-- the runner: what the worker calls (spec §1.2-§1.4)

local R = {}

-- Main chunk with a traceback handler (spec §1.2 step 1).
function R.run_main(chunk, filename)
  local ok, err = xpcall(chunk, traceback)
  if not ok then return false, sformat('lua_pcall(%s) failed: %s', filename, tostring(err)) end
  return true
end

-- script_init: raw lookup, exactly one result, must be integer 0 (spec §1.2 step 2).
function R.init()
  -- Only needed while the state is created: their functions can be collected.
  R.run_main, R.init, R.set_script_name = nil, nil, nil
  local f = rawget(_G, 'script_init')
  if type(f) ~= 'function' then return true end
  local r = tpack(xpcall(f, traceback))
  if not r[1] then return false, 'lua_pcall(script_init, 0, 1) failed: ' .. tostring(r[2]) end
  local v = r[2]
  if mtype(v) ~= 'integer' then return false, 'script_init() returned non-number' end
  if v ~= 0 then return false, 'Script init failed' end
  return true
end

function R.deinit()
  local f = rawget(_G, 'script_deinit')
  if type(f) ~= 'function' then return true end
  local ok, err = xpcall(f, traceback)
  if not ok then return false, 'script_deinit() failed: ' .. tostring(err) end
  return true
end

function R.has_function(name)
  return type(rawget(_G, name)) == 'function'
end

-- Generic hook call (spec §1.4), lookup raw (spec §2.3 caveat), fixed result count.
-- mask: one character per argument, '1' = {name=, data=} to be built by a binding's maker.
local makers = {}
-- Entry points a binding module registers (register_entry); the host calls them as '@<name>',
-- which no Lua global can be named, so a script's globals never shadow them nor see them.
local entries = {}
function R.call(name, nresults, mask, ...)
  local f
  if name:byte(1) == 64 then f = entries[name:sub(2)] else f = rawget(_G, name) end
  if type(f) ~= 'function' then return false, "'" .. tostring(name) .. "' is not a function" end
  local args = tpack(...)
  for i = 1, args.n do
    if mask:byte(i) == 49 then
      local maker = makers[args[i].name]
      if maker == nil then return false, 'no Lua binding named ' .. tostring(args[i].name) end
      local ok, v = pcall(maker, args[i].data)
      if not ok then return false, tostring(v) end
      args[i] = v
    end
  end
  local nargs = args.n
  local r = tpack(xpcall(f, traceback, tunpack(args, 1, nargs)))
  if not r[1] then
    return false, sformat('lua_pcall(%s, %d, %d) failed: %s', name, nargs, nresults, tostring(r[2]))
  end
  return true, tunpack(r, 2, nresults + 1)
end

-- A passthrough left unlogged by a finished call would block every later one; Dovecot 2.4
-- aborts such leaks, Roost does the same at the end of each call from the host.
function R.end_call()
  internal.pending_passthrough = nil
end

-- For binding modules: events under the session/script event, and the helpers above.
internal = {
  SESSION_PREFIX = SESSION_PREFIX, PROCESS_PREFIX = PROCESS_PREFIX, DEBUG = DEBUG, load_lazy = load_lazy, pending_passthrough = nil,
  event_mt = event_mt, passthrough_mt = passthrough_mt, item_mt = item_mt,
  session_record = session_record, script_record = script_record,
  new_record = new_record, wrap_event = wrap_event, record_of = record_of,
  emit = emit, source_of = source_of, checkstring = checkstring, checkinteger = checkinteger,
  require_args = require_args, argerror = argerror, typename = typename, dovecot = dovecot,
  name_methods = name_methods,
  dovecot_mt = dovecot_mt,
  register_maker = function(name, fn) makers[name] = fn end,
  register_entry = function(name, fn) entries[name] = fn end,
}
R.internal = internal

function R.gc()
  collectgarbage('collect')
end

-- Runs a binding module's Lua chunk with the internals (see binding.ts).
function R.run_binding(chunk, host, data)
  local r = tpack(xpcall(chunk, traceback, internal, host, data))
  if not r[1] then return false, tostring(r[2]) end
  return true, tunpack(r, 2, r.n)
end

function R.set_script_name(name)
  script_record.fields.script = name
end

return R
