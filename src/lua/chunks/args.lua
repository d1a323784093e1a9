-- Argument checks with lauxlib's texts and luaL_fileresult, shared by system.lua and
-- package.lua (loaded with the first of them, see stdlib.lua).
local type, select, error, tostring, tonumber, rawget = type, select, error, tostring, tonumber, rawget
local dgetinfo, dgetmetatable = debug.getinfo, debug.getmetatable
local sformat, mtointeger = string.format, math.tointeger

local function typename(v)
  local mt = dgetmetatable(v)
  if mt ~= nil then
    local n = rawget(mt, '__name')
    if type(n) == 'string' then return n end
  end
  return type(v)
end

-- luaL_argerror; depth = frames between this call and the library function; `global` = the
-- name pushglobalfuncname finds ('io.open') when the call has no name.
local function argerror(argn, extramsg, global, depth)
  local lvl = 2 + (depth or 0)
  local info = dgetinfo(lvl, 'n')
  local name = info and info.name
  if info and info.namewhat == 'method' then
    argn = argn - 1
    if argn == 0 then
      error(sformat("calling '%s' on bad self (%s)", name, extramsg), lvl + 1)
    end
  end
  error(sformat("bad argument #%d to '%s' (%s)", argn, name or global or '?', extramsg), lvl + 1)
end

local function checkstring(v, argn, global, depth)
  local t = type(v)
  if t == 'string' then return v end
  if t == 'number' then return tostring(v) end
  argerror(argn, 'string expected, got ' .. (v == nil and 'no value' or typename(v)), global, (depth or 0) + 1)
end

local function optstring(v, argn, default, global)
  if v == nil then return default end
  local s = checkstring(v, argn, global, 1) -- not a tail call: argerror counts the frames
  return s
end

local function checkinteger(v, argn, global, depth)
  local n
  if type(v) == 'number' then n = v elseif type(v) == 'string' then n = tonumber(v) end
  if n == nil then argerror(argn, 'number expected, got ' .. (v == nil and 'no value' or typename(v)), global, (depth or 0) + 1) end
  local i = mtointeger(n)
  if i == nil then argerror(argn, 'number has no integer representation', global, (depth or 0) + 1) end
  return i
end

-- luaL_fileresult: true, or nil, "[name: ]message", errno
local function fileresult(ok, msg, errno, name)
  if ok then return true end
  if name then msg = name .. ': ' .. msg end
  return nil, msg, errno
end

return { typename = typename, argerror = argerror, checkstring = checkstring, optstring = optstring,
  checkinteger = checkinteger, fileresult = fileresult }
