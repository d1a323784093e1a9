-- dovecot.http (spec §4), loaded into a state on first access to `dovecot.http`.
local internal, H, _, http = ...
local type, select, error, tostring, rawget, setmetatable, getmetatable, ipairs =
      type, select, error, tostring, rawget, setmetatable, getmetatable, ipairs
local mtointeger = math.tointeger
local sformat, smatch, slower, gmatch, tconcat = string.format, string.match, string.lower, string.gmatch, table.concat
local require_args, checkstring, record_of, event_mt =
      internal.require_args, internal.checkstring, internal.record_of, internal.event_mt

---------------------------------------------------------------------------------------------
-- dovecot.http (spec §4)

local client_mt = { __name = 'struct http_client' }
client_mt.__index = client_mt
local request_mt = { __name = 'struct http_client_request' }
request_mt.__index = request_mt
local response_mt = { __name = 'struct http_response' }
response_mt.__index = response_mt

local HTTP_STRING_SETTINGS = { 'user_agent', 'rawlog_dir', 'proxy_url' }
local HTTP_NUMBER_SETTINGS = { 'max_idle_time_msecs', 'max_redirects', 'max_attempts',
  'max_connect_attempts', 'connect_backoff_time_msecs', 'connect_backoff_max_time_msecs',
  'request_absolute_timeout_msecs', 'request_timeout_msecs', 'connect_timeout_msecs',
  'soft_connect_timeout_msecs', 'max_auto_retry_delay_secs' }
local HTTP_BOOL_SETTINGS = { 'no_auto_redirect', 'no_auto_retry', 'debug' }

local function check_self(v, mt, name)
  if type(v) ~= 'table' or getmetatable(v) ~= mt then
    error(sformat('Bad argument #1, expected %s got %s', name, type(v)), 0)
  end
  return v
end

http.client = function(...)
  require_args(select('#', ...), 1)
  local s = ...
  if type(s) ~= 'table' then
    error(sformat('Bad argument #1, expected table got %s', type(s)), 0)
  end
  local settings = {}
  for _, k in ipairs(HTTP_STRING_SETTINGS) do
    local v = rawget(s, k)
    if v ~= nil then
      if type(v) ~= 'string' then error('Invalid HTTP client setting: ' .. k .. ': string expected', 0) end
      settings[k] = v
    end
  end
  for _, k in ipairs(HTTP_NUMBER_SETTINGS) do
    local v = rawget(s, k)
    if v ~= nil then
      local i = type(v) == 'number' and mtointeger(v) or nil
      if i == nil or i < 0 then error('Invalid HTTP client setting: ' .. k .. ': non-negative number expected', 0) end
      settings[k] = i
    end
  end
  for _, k in ipairs(HTTP_BOOL_SETTINGS) do
    local v = rawget(s, k)
    if v ~= nil then
      if type(v) ~= 'boolean' then error('Invalid HTTP client setting: ' .. k .. ': boolean expected', 0) end
      settings[k] = v
    end
  end
  if settings.proxy_url ~= nil then
    local err = H.http_check_url(settings.proxy_url)
    if err ~= '' then error('proxy_url is invalid: ' .. err, 0) end
  end
  local ep = rawget(s, 'event_parent')
  if ep ~= nil then record_of(ep, event_mt, 'struct event', 1) end
  return setmetatable({ settings = settings }, client_mt)
end

client_mt.request = function(...)
  require_args(select('#', ...), 2)
  local self, t = ...
  check_self(self, client_mt, 'struct http_client')
  if type(t) ~= 'table' then error(sformat('Bad argument #2, expected table got %s', type(t)), 0) end
  local url = rawget(t, 'url')
  if url == nil then error('cannot create request: url not specified', 0) end
  url = tostring(url)
  local method = rawget(t, 'method')
  if method == nil then method = 'GET' else method = tostring(method) end
  local err = H.http_check_url(url)
  if err ~= '' then error(sformat('Failed to parse url %s: %s', url, err), 0) end
  return setmetatable({ client = self, url = url, method = method, headers = {}, payload = nil }, request_mt)
end

request_mt.add_header = function(...)
  require_args(select('#', ...), 3)
  local self, name, value = ...
  check_self(self, request_mt, 'struct http_client_request')
  local n = checkstring(name, 2, 0)
  local v = checkstring(value, 3, 0)
  self.headers[#self.headers + 1] = { n, v }
end
request_mt.remove_header = function(...)
  require_args(select('#', ...), 2)
  local self, name = ...
  check_self(self, request_mt, 'struct http_client_request')
  local n = slower(checkstring(name, 2, 0))
  local kept = {}
  for _, h in ipairs(self.headers) do
    if slower(h[1]) ~= n then kept[#kept + 1] = h end
  end
  self.headers = kept
end
request_mt.set_payload = function(...)
  require_args(select('#', ...), 2)
  local self, p = ...
  check_self(self, request_mt, 'struct http_client_request')
  self.payload = checkstring(p, 2, 0)
end
request_mt.submit = function(...)
  require_args(select('#', ...), 1)
  local self = ...
  check_self(self, request_mt, 'struct http_client_request')
  local lines = {}
  for _, h in ipairs(self.headers) do lines[#lines + 1] = h[1] .. ': ' .. h[2] end
  local s = self.client.settings
  local status, reason, header_text, body = H.http_submit(self.method, self.url, tconcat(lines, '\n'),
    self.payload or '', s.request_timeout_msecs or -1, s.connect_timeout_msecs or -1,
    s.request_absolute_timeout_msecs or -1, s.user_agent or '', s.proxy_url or '',
    s.max_redirects or 0)
  local headers = {}
  for line in gmatch(header_text, '[^\n]+') do
    local k, v = smatch(line, '^([^:]*): ?(.*)$')
    if k then headers[#headers + 1] = { slower(k), v } end
  end
  return setmetatable({ status_code = mtointeger(status) or 9000, reason_text = reason,
                        header_list = headers, body = body }, response_mt)
end

response_mt.status = function(...)
  require_args(select('#', ...), 1)
  return check_self((...), response_mt, 'struct http_response').status_code
end
response_mt.reason = function(...)
  require_args(select('#', ...), 1)
  return check_self((...), response_mt, 'struct http_response').reason_text
end
response_mt.header = function(...)
  require_args(select('#', ...), 2)
  local self, name = ...
  check_self(self, response_mt, 'struct http_response')
  local n = slower(checkstring(name, 2, 0))
  for _, h in ipairs(self.header_list) do
    if h[1] == n then return h[2] end
  end
  return ''
end
response_mt.payload = function(...)
  require_args(select('#', ...), 1)
  return check_self((...), response_mt, 'struct http_response').body
end

