-- roost.test: the module a `roost lua test` file requires (`local t = require "roost.test"`).
-- Runs in the test runner's own Lua state; every fixture, drive and observe call is answered by
-- the runner (src/cli/lua-test/host.ts) with the real Roost runtime: the script under test runs in
-- the Lua worker pool `roost serve` uses, against a temporary store thrown away after each test.
-- README.md, "Testing your Lua scripts", documents the API.
local host_call = ...

local M = {}
local tests = {}
local running = false

-- ---- values across the host boundary: JSON out, a Lua table constructor back ----

local function json(v, seen)
  local ty = type(v)
  if ty == 'nil' then return 'null'
  elseif ty == 'boolean' then return tostring(v)
  elseif ty == 'number' then
    if v ~= v or v == math.huge or v == -math.huge then return 'null' end
    if math.type(v) == 'integer' then return string.format('%d', v) end
    return string.format('%.17g', v)
  elseif ty == 'string' then
    return '"' .. v:gsub('[%c"\\\128-\255]', function(c)
      local b = c:byte()
      if c == '"' then return '\\"' elseif c == '\\' then return '\\\\' end
      if b >= 128 then return c end
      return string.format('\\u%04x', b)
    end) .. '"'
  elseif ty == 'table' then
    seen = seen or {}
    if seen[v] then error('roost.test: a table refers to itself', 3) end
    seen[v] = true
    local n = #v
    local is_array = n > 0
    for k in pairs(v) do
      if math.type(k) ~= 'integer' or k < 1 or k > n then is_array = false break end
    end
    local parts = {}
    if is_array then
      for i = 1, n do parts[i] = json(v[i], seen) end
      seen[v] = nil
      return '[' .. table.concat(parts, ',') .. ']'
    end
    for k, x in pairs(v) do
      if type(x) ~= 'function' then parts[#parts + 1] = json(tostring(k)) .. ':' .. json(x, seen) end
    end
    seen[v] = nil
    return '{' .. table.concat(parts, ',') .. '}'
  end
  return json('<' .. ty .. '>')
end

-- For error() in the function calling this: the level of the first caller outside this module,
-- so errors point at the test file's line.
local function user_level()
  local l = 3
  while true do
    local info = debug.getinfo(l, 'S')
    if not info then return 1 end
    if info.source ~= '=roost.test' and info.what ~= 'C' then return l - 1 end
    l = l + 1
  end
end

-- Calls the runner; an error it answers is raised at the test file's line.
local function call(op, args)
  local reply = host_call(op, json(args or {}))
  local r = assert(load('return ' .. reply, '=roost.test', 't', {}))()
  if not r.ok then error(r.error, user_level()) end
  return r.value
end

-- ---- file setup and test registration ----

--- t.setup{ mail_lua_script=, push_driver=, passdb=, userdb=, plugin={...}, settings={...}, config=[[...]] }
function M.setup(opts)
  -- The scripts under test are compiled here first: a syntax error stops the file (exit 2).
  for _, script in ipairs(call('setup', opts or {})) do
    local compiled, err = load(script.source, '@' .. script.name, 't')
    if not compiled then
      host_call('load_error', err)
      error(err, 0)
    end
  end
end

--- t.test(name, fn): registers a test; tests run in order after the file loaded.
function M.test(name, fn)
  if type(name) ~= 'string' or type(fn) ~= 'function' then error('usage: t.test(name, function() ... end)', 2) end
  if running then error('t.test: tests are declared at the top level of the file, not inside a test', 2) end
  local info = debug.getinfo(2, 'l')
  tests[#tests + 1] = { name = name, fn = fn, line = info and info.currentline or 0 }
end

-- ---- assertions ----

local Failure = {}
Failure.__index = Failure
Failure.__tostring = function(f) return f.message end

-- `file:line: ` of the test code that called into this module.
local function where()
  for l = 2, 100 do
    local info = debug.getinfo(l, 'Sl')
    if not info then break end
    if info.source ~= '=roost.test' and info.currentline > 0 then return info.short_src .. ':' .. info.currentline .. ': ' end
  end
  return ''
end

local function fail(message)
  error(setmetatable({ message = where() .. message }, Failure), 0)
end

local function sorted_keys(v)
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b)
    if type(a) == type(b) and (type(a) == 'number' or type(a) == 'string') then return a < b end
    return type(a) < type(b)
  end)
  return keys
end

-- A value as Lua source: tables on one line when short, else one entry per line.
local function show(v, indent, seen)
  indent = indent or ''
  local ty = type(v)
  if ty == 'string' then return (string.format('%q', v):gsub('\\\n', '\\n')) end
  if ty ~= 'table' then return tostring(v) end
  seen = seen or {}
  if seen[v] then return '<cycle>' end
  seen[v] = true
  local keys = sorted_keys(v)
  if #keys == 0 then seen[v] = nil return '{}' end
  local n = #v
  local parts = {}
  for _, k in ipairs(keys) do
    local key
    if math.type(k) == 'integer' and k >= 1 and k <= n then key = ''
    elseif type(k) == 'string' and k:match('^[%a_][%w_]*$') then key = k .. ' = '
    else key = '[' .. show(k) .. '] = ' end
    parts[#parts + 1] = key .. show(v[k], indent .. '  ', seen)
  end
  seen[v] = nil
  local flat = '{ ' .. table.concat(parts, ', ') .. ' }'
  if #flat <= 72 and not flat:find('\n') then return flat end
  return '{\n' .. indent .. '  ' .. table.concat(parts, ',\n' .. indent .. '  ') .. '\n' .. indent .. '}'
end
M.show = show

local function path_of(path, k)
  if type(k) == 'string' and k:match('^[%a_][%w_]*$') then return path .. '.' .. k end
  return path .. '[' .. show(k) .. ']'
end

-- Differences between two values, one line each: "<path>: expected X, got Y".
local function diff(expected, actual, path, out, seen)
  if expected == actual then return out end
  if type(expected) ~= 'table' or type(actual) ~= 'table' then
    if type(expected) == 'number' and type(actual) == 'number' and expected == actual then return out end
    out[#out + 1] = string.format('%s: expected %s, got %s', path, show(expected), show(actual))
    return out
  end
  seen = seen or {}
  if seen[expected] == actual then return out end
  seen[expected] = actual
  local keys, have = sorted_keys(expected), {}
  for _, k in ipairs(keys) do have[k] = true end
  for _, k in ipairs(sorted_keys(actual)) do if not have[k] then keys[#keys + 1] = k end end
  for _, k in ipairs(keys) do diff(expected[k], actual[k], path_of(path, k), out, seen) end
  return out
end

local function deep_equal(a, b)
  return #diff(a, b, '', {}) == 0
end

--- t.eq(actual, expected [, message]): deep equality, with a diff of every difference.
function M.eq(actual, expected, message)
  local d = diff(expected, actual, 'value', {})
  if #d == 0 then return actual end
  local text = (message and (message .. ': ') or '') .. 'values differ\n'
  if type(expected) == 'table' or type(actual) == 'table' then
    text = text .. '  ' .. table.concat(d, '\n  ') .. '\n  expected: ' .. show(expected, '  ') .. '\n  actual:   ' .. show(actual, '  ')
  else
    text = text .. '  expected: ' .. show(expected) .. '\n  actual:   ' .. show(actual)
  end
  fail(text)
end

--- t.ne(actual, unexpected [, message])
function M.ne(actual, unexpected, message)
  if deep_equal(actual, unexpected) then
    fail((message and (message .. ': ') or '') .. 'expected a value other than ' .. show(unexpected))
  end
  return actual
end

--- t.ok(value [, message]): value is neither nil nor false.
function M.ok(value, message)
  if not value then fail((message or 'expected a true value') .. ', got ' .. show(value)) end
  return value
end

local function lines_of(subject)
  if type(subject) == 'table' then return subject end
  return { tostring(subject) }
end

--- t.match(string_or_list, pattern [, message]): a Lua pattern matches the string or one entry.
function M.match(subject, pattern, message)
  for _, line in ipairs(lines_of(subject)) do
    if type(line) == 'string' and line:find(pattern) then return line end
  end
  fail((message and (message .. ': ') or '') .. 'no match for pattern ' .. show(pattern) .. ' in\n  ' .. show(subject, '  '))
end

--- t.no_match(string_or_list, pattern [, message])
function M.no_match(subject, pattern, message)
  for _, line in ipairs(lines_of(subject)) do
    if type(line) == 'string' and line:find(pattern) then
      fail((message and (message .. ': ') or '') .. 'unexpected match for pattern ' .. show(pattern) .. ': ' .. show(line))
    end
  end
end

--- t.raises(fn, pattern): fn raises an error whose text matches; returns the text.
function M.raises(fn, pattern)
  local ok, err = pcall(fn)
  if ok then fail('expected an error' .. (pattern and (' matching ' .. show(pattern)) or '') .. ', none was raised') end
  local text = type(err) == 'table' and tostring(err.message or err) or tostring(err)
  if pattern and not text:find(pattern) then fail('error ' .. show(text) .. ' does not match ' .. show(pattern)) end
  return text
end

--- t.fail(message)
function M.fail(message) fail(message or 'failed') end

-- ---- fixtures and driving ----

local User = {}
User.__index = User

-- Argument checks, reported at the test's line.
local function want(value, ty, what)
  if type(value) ~= ty then error(string.format('%s: %s expected, got %s', what, ty, type(value)), user_level()) end
end

--- t.user(name, { password=, fields={...}, plugin={...}, quota_rule= }) → user
function M.user(name, opts)
  want(name, 'string', 't.user(name)')
  call('user', { name = name, opts = opts or {} })
  return setmetatable({ name = name }, User)
end

-- A message: a string (raw RFC 5322 text), { eml = "file.eml" } or { from=, to=, subject=, body=,
-- date=, headers={...} }, plus flags={...} / keywords={...}.
local function message_arg(msg)
  if type(msg) == 'string' then return { raw = msg } end
  return msg
end

--- user:mailbox(name [, { special_use = "\\Archive", subscribed = true }])
function User:mailbox(name, opts)
  want(name, 'string', 'user:mailbox(name)')
  call('mailbox', { user = self.name, name = name, opts = opts or {} })
  return self
end

--- user:message(mailbox, message) → uid (a fixture: stored without push events or hooks)
function User:message(mailbox, msg)
  want(mailbox, 'string', 'user:message(mailbox, message)')
  if type(msg) ~= 'string' then want(msg, 'table', 'user:message(mailbox, message)') end
  return call('message', { user = self.name, mailbox = mailbox, message = message_arg(msg) })
end

--- user:set_metadata(mailbox, key, value): "" is server metadata; nil value removes
function User:set_metadata(mailbox, key, value)
  want(mailbox, 'string', 'user:set_metadata(mailbox, key, value)')
  want(key, 'string', 'user:set_metadata(mailbox, key, value)')
  call('set_metadata', { user = self.name, mailbox = mailbox, key = key, value = value })
end

--- user:metadata(mailbox, key) → string or nil
function User:metadata(mailbox, key)
  want(mailbox, 'string', 'user:metadata(mailbox, key)')
  want(key, 'string', 'user:metadata(mailbox, key)')
  return call('metadata', { user = self.name, mailbox = mailbox, key = key })
end

--- user:mailboxes() → { "INBOX", ... }
function User:mailboxes()
  return call('mailboxes', { user = self.name })
end

--- user:messages(mailbox) → { { uid=, flags={...}, keywords={...}, subject=, from=, size= }, ... }
function User:messages(mailbox)
  return call('messages', { user = self.name, mailbox = mailbox or 'INBOX' })
end

local Session = {}
Session.__index = Session

local function session_op(op)
  return function(self, ...)
    return call('session_op', { session = self.id, op = op, args = { ... } })
  end
end
--- Inside user:session: changes made as that session (push events, as an IMAP client's commands).
Session.create_mailbox = session_op('create_mailbox')   -- (name)
Session.delete_mailbox = session_op('delete_mailbox')   -- (name)
Session.rename_mailbox = session_op('rename_mailbox')   -- (old, new)
Session.subscribe = session_op('subscribe')             -- (name)
Session.unsubscribe = session_op('unsubscribe')         -- (name)
Session.append = session_op('append')                   -- (mailbox, message) → uid
Session.add_flags = session_op('add_flags')             -- (mailbox, uid, { "\\Seen", "$label" })
Session.remove_flags = session_op('remove_flags')       -- (mailbox, uid, flags)
Session.set_flags = session_op('set_flags')             -- (mailbox, uid, flags)
Session.copy = session_op('copy')                       -- (mailbox, uid, target) → new uid
Session.move = session_op('move')                       -- (mailbox, uid, target) → new uid
Session.expunge = session_op('expunge')                 -- (mailbox, uid)

--- user:session(service, fn): a mail_user session (mail_user_created ... deinit hooks); fn(session)
--- runs while it is open. Returns { ok = true } or { ok = false, error = "..." }.
function User:session(service, fn)
  local r = call('session_begin', { user = self.name, service = service or 'imap' })
  if not r.ok then return r end
  local session = setmetatable({ id = r.id, user = self.name, service = service }, Session)
  local ok, err = true, nil
  if fn then ok, err = pcall(fn, session) end
  local closed = call('session_end', { session = r.id })
  if not ok then error(err, 0) end
  return closed
end

--- user:login(service): creates the session, runs the hooks, ends it.
function User:login(service)
  return self:session(service, nil)
end

--- user:deliver(message [, { mailbox = "INBOX", from = "sender@example.com" }]): an LMTP delivery
--- (service lmtp: its own session, MessageNew). Returns { ok = true, uid = n, mailbox = } or { ok = false, error = }.
function User:deliver(msg, opts)
  if type(msg) ~= 'string' then want(msg, 'table', 'user:deliver(message)') end
  return call('deliver', { user = self.name, message = message_arg(msg), opts = opts or {} })
end

--- t.passdb{ user=, password=, service=, remote_ip=, local_ip=, secured=, mech= }: a plaintext login
--- through the configured passdbs. Returns { ok=, user=, fields=, userdb_fields=, reason=, code=, error= }.
function M.passdb(req)
  return call('passdb', req or {})
end

--- t.userdb{ user=, service= }: a userdb lookup. Returns { found=, user=, fields=, reason= }.
function M.userdb(req)
  return call('userdb', req or {})
end

-- ---- observing ----

--- t.logs([pattern]) → the log lines of this test (Dovecot's format), or those matching pattern.
local function matching(list, pattern, text_of)
  if pattern == nil then return list end
  local out = {}
  for _, item in ipairs(list) do
    if text_of(item):find(pattern) then out[#out + 1] = item end
  end
  return out
end

function M.logs(pattern)
  return matching(call('logs', {}), pattern, function(line) return line end)
end

--- t.hooks([name]) → { { name=, returned={...} } or { name=, error= }, ... }: every script function called.
function M.hooks(name)
  return call('hooks', { name = name })
end

--- t.path(relative) → absolute path, relative to the test file.
function M.path(p)
  return call('path', { path = p })
end

M.http = {}
--- t.http.stub(pattern, response): pattern "URL" or "METHOD URL", `*` matches any characters.
--- response: { status=, reason=, body=, json=, headers={}, delay_ms= } or { fault = "timeout" |
--- "refused" | "dns" | "reset" }, or a list of those (one per request, the last one repeats).
function M.http.stub(pattern, response)
  want(pattern, 'string', 't.http.stub(pattern, response)')
  want(response, 'table', 't.http.stub(pattern, response)')
  call('http_stub', { pattern = pattern, response = response or {} })
end
--- t.http.allow(pattern): requests matching go out for real (default: nothing leaves the machine).
function M.http.allow(pattern)
  want(pattern, 'string', 't.http.allow(pattern)')
  call('http_allow', { pattern = pattern })
end
--- t.http.requests([pattern]) → { { method=, url=, headers={}, body=, json= }, ... }
function M.http.requests(pattern)
  return matching(call('http_requests', {}), pattern, function(r) return r.method .. ' ' .. r.url end)
end

-- ---- running (called by the runner) ----

function M.__run(filter)
  running = true
  for _, test in ipairs(tests) do
    if filter == nil or test.name:find(filter, 1, true) then
      call('begin', { name = test.name, line = test.line })
      local ok, err = xpcall(test.fn, function(e)
        if getmetatable(e) == Failure then return e end
        -- the traceback down to the test function, without the runner's own frames
        local tb = debug.traceback(tostring(e), 2)
        tb = tb:gsub('\n\t%[C%]: in function \'xpcall\'.*$', '')
        tb = tb:gsub('\n\troost%.test:[^\n]*', ''):gsub('\n\t%[C%]: in function \'error\'', ''):gsub('\n\t%(%.%.%.tail calls%.%.%.%)', '')
        return { message = tb, error = true }
      end)
      local r = { name = test.name }
      if not ok then
        r.message = err.message
        r.error = err.error
      end
      call('finish', r)
    else
      call('skip', { name = test.name })
    end
  end
end

return M
