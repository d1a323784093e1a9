-- Event methods (spec §3.2, §3.3) and log emission, loaded with a state's first event object.
local internal, H = ...
local type, select, error, tostring, pairs, ipairs, setmetatable =
      type, select, error, tostring, pairs, ipairs, setmetatable
local mtype, slower, tconcat = math.type, string.lower, table.concat
local SESSION_PREFIX, DEBUG = internal.SESSION_PREFIX, internal.DEBUG
local event_mt, passthrough_mt, new_record, record_of = internal.event_mt, internal.passthrough_mt, internal.new_record, internal.record_of
local require_args, checkstring, checkinteger, source_of =
      internal.require_args, internal.checkstring, internal.checkinteger, internal.source_of

-- <replaced prefix or session prefix>Level: <appended prefixes, parent first><message>
local function compose_prefix(rec)
  local parts, n = {}, 0
  local r = rec
  while r ~= nil do
    if r.replace then
      local appended = {}
      for i = n, 1, -1 do appended[#appended + 1] = parts[i] end
      return r.prefix, tconcat(appended)
    end
    if r.session_root then break end
    n = n + 1
    parts[n] = r.prefix
    r = r.parent
  end
  local appended = {}
  for i = n, 1, -1 do appended[#appended + 1] = parts[i] end
  return SESSION_PREFIX, tconcat(appended)
end

local function collect_fields(rec)
  local chain, out = {}, {}
  local r = rec
  while r ~= nil do chain[#chain + 1] = r; r = r.parent end
  for i = #chain, 1, -1 do
    for k, v in pairs(chain[i].fields) do out[k] = v end
    if chain[i].name ~= nil then out.event = chain[i].name end
  end
  return out
end

local function emit(rec, level, msg, file, line)
  if level == 'Debug' and not DEBUG then return end
  local head, appended = compose_prefix(rec)
  local fields = collect_fields(rec)
  fields.source = file .. ':' .. tostring(line)
  H.log(level, head, appended .. msg, level == 'Debug', fields)
end

-- Builds the method set shared by events and passthroughs. Argument counts include self.
local function define_methods(mt, selfname, is_passthrough)
  local function method(name, nargs, body)
    mt[name] = function(...)
      require_args(select('#', ...), nargs)
      local self = ...
      local rec = record_of(self, mt, selfname, 1)
      if is_passthrough and rec.finished then
        error('Passthrough event was already logged and cannot be used any more', 0)
      end
      local r = body(self, rec, select(2, ...))
      return r
    end
  end
  -- In every body the check helpers sit 2 frames (body + method wrapper) below the caller.
  method('append_log_prefix', 2, function(self, rec, p)
    rec.prefix = checkstring(p, 2, 1); rec.replace = false; return self end)
  method('replace_log_prefix', 2, function(self, rec, p)
    rec.prefix = checkstring(p, 2, 1); rec.replace = true; return self end)
  method('set_name', 2, function(self, rec, n)
    rec.name = checkstring(n, 2, 1); return self end)
  method('set_always_log_source', 1, function(self, rec)
    rec.always_log_source = true; return self end)
  method('add_str', 3, function(self, rec, k, v)
    local key = checkstring(k, 2, 1)
    rec.fields[key] = checkstring(v, 3, 1); return self end)
  method('add_int', 3, function(self, rec, k, v)
    local key = checkstring(k, 2, 1)
    rec.fields[key] = checkinteger(v, 3, 1); return self end)
  method('add_timeval', 3, function(self, rec, k, v)
    local key = checkstring(k, 2, 1)
    rec.fields[key] = checkinteger(v, 3, 1); return self end)
  method('inc_int', 3, function(self, rec, k, v)
    local key = checkstring(k, 2, 1)
    local diff = checkinteger(v, 3, 1)
    local old = rec.fields[key]
    if mtype(old) ~= 'integer' then old = 0 end
    rec.fields[key] = old + diff; return self end)
  for _, level in ipairs({ 'Debug', 'Info', 'Warning', 'Error' }) do
    method('log_' .. slower(level), 2, function(self, rec, m)
      local msg = checkstring(m, 2, 1)
      local file, line = source_of(3)
      emit(rec, level, msg, file, line)
      if is_passthrough then
        rec.finished = true
        if internal.pending_passthrough == self then internal.pending_passthrough = nil end
      end
      return self
    end)
  end
  if not is_passthrough then
    method('passthrough_event', 1, function(self, rec)
      if internal.pending_passthrough ~= nil then
        -- Dovecot panics here (spec §3.3); Roost raises the same text as a Lua error.
        error("Can't create multiple passthrough events - finish the earlier with ->event()", 0)
      end
      local child = new_record(rec)
      local file, line = source_of(3)
      child.source_file, child.source_line = file, line
      local pt = setmetatable({ item = child }, passthrough_mt)
      internal.pending_passthrough = pt
      return pt
    end)
  end
end
define_methods(event_mt, 'struct event', false)
define_methods(passthrough_mt, 'struct event_passthrough', true)

return { emit = emit }
