-- The push-notification Lua driver's transaction runner `@push_notification_txn` (spec §12.2),
-- installed by src/lua/push-notification/binding.ts. Dovecot: push-notification-driver-lua.c.
local internal, _, handlers = ...
local type, rawget, tostring, pairs, ipairs, xpcall, collectgarbage, sformat =
      type, rawget, tostring, pairs, ipairs, xpcall, collectgarbage, string.format
local traceback = debug.traceback
local BEGIN, END = 'dovecot_lua_notify_begin_txn', 'dovecot_lua_notify_end_txn'

-- Log lines go under the session event with "lua: " appended, as Dovecot's driver event does.
local driver_record = internal.new_record(internal.session_record)
driver_record.prefix = 'lua: '
driver_record.fields.category = 'push-notification'

-- Without mail_debug, Debug lines are dropped (events.lua): not even built, so a transaction does
-- not load the event code and format messages only to throw them away.
local DEBUG = internal.DEBUG

local function log(level, msg, fields)
  if level == 'Debug' and not DEBUG then return end
  local rec = driver_record
  if fields then
    rec = internal.new_record(driver_record)
    rec.name = 'push_notification_lua_call_finished'
    for k, v in pairs(fields) do rec.fields[k] = v end
  end
  internal.emit(rec, level, msg, 'push-notification-driver-lua.c', 0)
end

-- Dovecot's dlua_pcall: normal (not raw) global lookup, traceback handler, fixed results.
local function pcall_global(name, nargs, nresults, ...)
  local f = _G[name]
  if type(f) ~= 'function' then return false, "'" .. name .. "' is not a function" end
  local ok, res = xpcall(f, traceback, ...)
  if not ok then return false, sformat('lua_pcall(%s, %d, %d) failed: %s', name, nargs, nresults, tostring(res)) end
  return true, res
end

local function has_function(name) return type(rawget(_G, name)) == 'function' end

-- handlers: { [event name] = handler function name } (install data);
-- txn: { events = { event tables }, success = bool }
internal.register_entry('push_notification_txn', function(user, txn)
  if not has_function(BEGIN) then
    log('Error', 'Missing function ' .. BEGIN, { function_name = BEGIN, error = 'Missing function ' .. BEGIN })
    return
  end
  local found = false
  for name, fn in pairs(handlers) do
    if has_function(fn) then
      found = true
      if DEBUG then log('Debug', sformat('Found %s, handling %s event', fn, name)) end
    end
  end
  if not found then
    log('Debug', 'No event handlers found in script')
    return
  end
  if DEBUG then log('Debug', sformat('Calling %s(%s)', BEGIN, tostring(rawget(user, 'username')))) end
  local ok, ctx = pcall_global(BEGIN, 1, 1, user)
  if not ok then
    log('Error', ctx, { function_name = BEGIN, error = ctx })
    return
  end
  for _, event in ipairs(txn.events) do
    local fn = handlers[event.name]
    -- Dovecot subscribes to the events whose handler exists when the transaction begins.
    if fn ~= nil and has_function(fn) then
      -- The fields as they were before the handler ran (it may change the event table).
      local ename, mailbox, uid = event.name, event.mailbox, event.uid
      local called, err = pcall_global(fn, 2, 0, ctx, event)
      if not called or DEBUG then
        local fields = { function_name = fn, event_name = ename, mailbox = mailbox }
        if uid ~= nil then fields.uid = uid end
        if called then
          log('Debug', 'Called ' .. fn, fields)
        else
          fields.error = err
          log('Error', err, fields)
        end
      end
    end
  end
  if not has_function(END) then
    log('Error', 'Missing function ' .. END, { function_name = END })
  else
    log('Debug', 'Calling ' .. END)
    local called, err = pcall_global(END, 2, 0, ctx, txn.success)
    if not called then log('Error', err, { function_name = END, error = err }) end
  end
  ctx = nil
  collectgarbage('collect')
end)
