-- Built-in `socket.http`: LuaSocket's http.request in its simple and table forms (LuaSocket
-- 3.1 socket/http.lua semantics), sent through the same blocking HTTP client as dovecot.http
-- (H.http_submit, src/lua/http-sync.ts). The request body is read from the ltn12 source
-- completely and sent with Content-Length; the response body goes to the sink in one chunk.
-- Loaded by `require` from package.preload (stdlib.lua) as chunk(H, modname).
local H = ...

local type, tostring, tonumber, pairs, error, setmetatable, select = type, tostring, tonumber, pairs, error, setmetatable, select
local sformat, slower, smatch, sgmatch, sfind = string.format, string.lower, string.match, string.gmatch, string.find
local tconcat, mtointeger = table.concat, math.tointeger
local ltn12 = require('ltn12')
local url = require('socket.url')

local _M = {}
_M.TIMEOUT = 60
_M.USERAGENT = 'LuaSocket 3.0.0' -- socket._VERSION of Debian's lua-socket 3.1.0 (its C core)
_M.PROXY = nil
_M.SCHEMES = { http = true, https = true }
local MAXREDIRECTS = 5

-- LuaSocket's error strings for the client's failures (Dovecot's 9000-range statuses)
local function failure(status, reason)
  if status == 9008 or sfind(reason, 'timed out', 1, true) then return 'timeout' end
  if status == 9003 and sfind(slower(reason), 'refused', 1, true) then return 'connection refused' end
  if status == 9002 then return 'host not found' end
  if status == 9005 then return 'closed' end
  return reason
end

-- the request table's fields and defaults (http.lua adjustrequest)
local function adjust(reqt)
  local u = reqt.url
  if type(u) ~= 'string' then error('invalid url', 3) end
  local parsed = url.parse(u, { path = '/', scheme = 'http' })
  if not _M.SCHEMES[parsed.scheme or ''] then return nil, sformat("unknown scheme '%s'", tostring(parsed.scheme)) end
  if not parsed.host or parsed.host == '' then return nil, "invalid host ''" end
  return parsed
end

local function request_table(reqt)
  local parsed, err = adjust(reqt)
  if not parsed then return nil, err end
  local method = reqt.method or 'GET'
  local lines = {}
  local has_agent, has_length = false, false
  for k, v in pairs(reqt.headers or {}) do
    local name = slower(tostring(k))
    if name == 'user-agent' then has_agent = true end
    if name == 'content-length' then has_length = true end
    if name ~= 'host' and name ~= 'connection' and name ~= 'te' then
      lines[#lines + 1] = tostring(k) .. ': ' .. tostring(v)
    end
  end
  -- the body: the whole ltn12 source, sent with Content-Length
  local body = ''
  if reqt.source then
    local parts = {}
    local ok, perr = ltn12.pump.all(reqt.source, ltn12.sink.table(parts), reqt.step)
    if not ok and perr then return nil, perr end
    body = tconcat(parts)
    if not has_length and (#body > 0 or method ~= 'GET') then lines[#lines + 1] = 'Content-Length: ' .. #body end
  end
  local redirects = 0
  if reqt.redirect ~= false and (method == 'GET' or method == 'HEAD') then
    redirects = reqt.maxredirects or MAXREDIRECTS
  end
  local timeout_ms = mtointeger((_M.TIMEOUT or 60) * 1000 // 1) or 60000
  local status, reason, header_text, rbody = H.http_submit(method, url.build(parsed), tconcat(lines, '\n'), body,
    timeout_ms, timeout_ms, -1, has_agent and '' or (_M.USERAGENT or ''), reqt.proxy or _M.PROXY or '', redirects)
  status = mtointeger(status) or 9000
  if status >= 9000 then return nil, failure(status, reason) end
  local headers = {}
  for line in sgmatch(header_text, '[^\n]+') do
    local k, v = smatch(line, '^([^:]*): ?(.*)$')
    if k then
      k = slower(k)
      if headers[k] then headers[k] = headers[k] .. ', ' .. v else headers[k] = v end
    end
  end
  local sink = reqt.sink or ltn12.sink.null()
  if method ~= 'HEAD' and status ~= 204 and status ~= 304 and rbody ~= nil and #rbody > 0 then
    local ok, serr = sink(rbody)
    if not ok and serr then return nil, serr end
  end
  sink(nil)
  return 1, status, headers, sformat('HTTP/1.1 %d %s', status, reason)
end

-- http.request(url [, body]) and http.request{ ... } (socket/http.lua srequest / trequest)
function _M.request(reqt, body)
  if type(reqt) == 'string' then
    local parts = {}
    local t = { url = reqt, sink = ltn12.sink.table(parts) }
    if body ~= nil then
      body = tostring(body)
      t.source = ltn12.source.string(body)
      t.headers = { ['content-length'] = #body, ['content-type'] = 'application/x-www-form-urlencoded' }
      t.method = 'POST'
    end
    local ok, code, headers, status = request_table(t)
    if not ok then return nil, code end
    return tconcat(parts), code, headers, status
  end
  if type(reqt) ~= 'table' then error('invalid request', 2) end
  return request_table(reqt)
end

return _M
