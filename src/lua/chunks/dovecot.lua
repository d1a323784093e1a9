-- The functions of the dovecot table (spec §2), loaded on the first lookup of one of them.
local internal, H = ...
local type, select, error, tostring, rawset, setmetatable = type, select, error, tostring, rawset, setmetatable
local sformat = string.format
local dovecot_mt, PROCESS_PREFIX = internal.dovecot_mt, internal.PROCESS_PREFIX
local require_args, checkstring, checkinteger, source_of =
      internal.require_args, internal.checkstring, internal.checkinteger, internal.source_of
local record_of, new_record, wrap_event, event_mt, script_record =
      internal.record_of, internal.new_record, internal.wrap_event, internal.event_mt, internal.script_record

local function global_logger(level)
  return function(...)
    require_args(select('#', ...), 1)
    local msg = checkstring((...), 1, 0)
    -- Process-global logger: process prefix only. i_debug is printed even without
    -- mail_debug (spec §16.7), so it is always forced through.
    H.log(level, PROCESS_PREFIX, msg, true, nil)
  end
end
dovecot_mt.i_debug = global_logger('Debug')
dovecot_mt.i_info = global_logger('Info')
dovecot_mt.i_warning = global_logger('Warning')
dovecot_mt.i_error = global_logger('Error')

dovecot_mt.event = function(...)
  local n = select('#', ...)
  if n > 1 then error(sformat('expected 0 to 1 arguments, got %d', n), 0) end
  local parent = script_record
  if n == 1 then parent = record_of((...), event_mt, 'struct event', 1) end
  local rec = new_record(parent)
  local file, line = source_of(2)
  rec.source_file, rec.source_line = file, line
  return wrap_event(rec)
end

dovecot_mt.has_flag = function(...)
  require_args(select('#', ...), 2)
  local value, flag = ...
  local v = checkinteger(value, 1, 0)
  local f = checkinteger(flag, 2, 0)
  return (v & f) == f
end
dovecot_mt.set_flag = function(...)
  require_args(select('#', ...), 2)
  local value, flag = ...
  local v = checkinteger(value, 1, 0)
  local f = checkinteger(flag, 2, 0)
  return v | f
end
dovecot_mt.clear_flag = function(...)
  require_args(select('#', ...), 2)
  local value, flag = ...
  local v = checkinteger(value, 1, 0)
  local f = checkinteger(flag, 2, 0)
  return v & ~f
end

dovecot_mt.restrict_global_variables = function(...)
  require_args(select('#', ...), 1)
  local mt = {}
  if (...) then
    mt.__newindex = function(t, k, v)
      if type(v) == 'function' then rawset(t, k, v); return end
      -- Level 0: Dovecot's luaL_error in a C metamethod adds no file:line (checked on 2.3.19).
      error('attempt to write to undeclared global variable ' .. tostring(k), 0)
    end
    mt.__index = function(_, k)
      -- sic: Dovecot's text really says "write to read" (spec §2.3)
      error('attempt to write to read undeclared global variable ' .. tostring(k), 0)
    end
  end
  setmetatable(_G, mt)
end
