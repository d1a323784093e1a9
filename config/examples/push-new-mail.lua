-- Push notification driver script: POSTs every new mail (MessageNew, i.e. delivered by LMTP or
-- `roost deliver`) as JSON to a web service. Works the same with Dovecot 2.3.19+
-- (push_notification_lua). Configuration, in roost.conf / dovecot.conf:
--
--   mail_plugins = $mail_plugins mail_lua notify push_notification push_notification_lua
--   plugin {
--     push_notification_driver = lua:file=/etc/roost/push-new-mail.lua
--     push_notification_url = http://127.0.0.1:8080/new-mail
--   }
--
-- The URL is a plugin setting, so a userdb field can give each user their own.

local client = dovecot.http.client({
  timeout = 5000,                     -- ignored by Dovecot, kept for readers of its docs
  request_timeout_msecs = 5000,
  max_attempts = 1,
  user_agent = 'roost-push-new-mail',
})

-- Minimal JSON encoding for strings, numbers, booleans and arrays of strings.
local function json_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    local named = { ['"'] = '\\"', ['\\'] = '\\\\', ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t' }
    return named[c] or string.format('\\u%04x', c:byte())
  end) .. '"'
end

local function json(v)
  local t = type(v)
  if t == 'string' then return json_string(v)
  elseif t == 'number' then
    if v == math.floor(v) then return string.format('%d', v) end
    return tostring(v)
  elseif t == 'boolean' then return tostring(v)
  elseif t == 'table' then
    if #v > 0 or next(v) == nil then
      local items = {}
      for i, x in ipairs(v) do items[i] = json(x) end
      return '[' .. table.concat(items, ',') .. ']'
    end
    local keys, items = {}, {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys)
    for _, k in ipairs(keys) do items[#items + 1] = json_string(k) .. ':' .. json(v[k]) end
    return '{' .. table.concat(items, ',') .. '}'
  end
  return 'null'
end

function dovecot_lua_notify_begin_txn(user)
  return { user = user.username, url = user:plugin_getenv('push_notification_url'), messages = {} }
end

function dovecot_lua_notify_event_message_new(ctx, event)
  table.insert(ctx.messages, {
    user = ctx.user,
    mailbox = event.mailbox,
    uid = event.uid,
    uid_validity = event.uid_validity,
    from = event.from_address,
    from_name = event.from_display_name,
    subject = event.subject or '',
    snippet = event.snippet or '',
    date = event.date,
  })
end

function dovecot_lua_notify_end_txn(ctx, success)
  if not success or ctx.url == nil then return end
  for _, message in ipairs(ctx.messages) do
    local request = client:request({ url = ctx.url, method = 'POST' })
    request:add_header('Content-Type', 'application/json')
    request:set_payload(json(message))
    local response = request:submit()
    if response:status() >= 300 then
      dovecot.i_error(string.format('push to %s failed: %d %s', ctx.url, response:status(), response:reason()))
    end
  end
end
