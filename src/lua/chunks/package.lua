-- loadfile, dofile, require and package.searchpath on the real filesystem (lbaselib.c,
-- loadlib.c), through the host functions of src/lua/stdlib/system-host.ts; C modules give way
-- to built-in equivalents. Loaded by stdlib.lua on the first use of one of them.
local H, A, load_builtin = ...

local type, error, rawget, ipairs = type, error, rawget, ipairs
local sformat, ssub, sgsub, sfind = string.format, string.sub, string.gsub, string.find
local tconcat = table.concat
local LOADED = debug.getregistry()._LOADED
local checkstring, optstring = A.checkstring, A.optstring

---------------------------------------------------------------------------------------------
-- loadfile, dofile and package (lbaselib.c, loadlib.c)

function loadfile(filename, mode, env)
  if filename == nil then return nil, 'loadfile from stdin is not supported' end
  filename = checkstring(filename, 1, 'loadfile')
  mode = optstring(mode, 2, 'bt', 'loadfile')
  local f, msg = H.loadfile(filename, mode)
  if f == nil then return nil, msg end
  if env ~= nil then debug.setupvalue(f, 1, env) end
  return f
end

function dofile(filename)
  local f, msg = loadfile(filename)
  if f == nil then error(msg, 0) end
  return f()
end

local package = package

local function searchpath(name, path, sep, rep)
  sep = sep or '.'
  rep = rep or '/'
  if sep ~= '' and sfind(name, sep, 1, true) then
    name = sgsub(name, sep:gsub('%p', '%%%0'), (rep:gsub('%%', '%%%%')))
  end
  local tried = {}
  for template in path:gmatch('[^;]+') do
    local filename = sgsub(template, '%?', (name:gsub('%%', '%%%%')))
    if H.readable(filename) then return filename end
    tried[#tried + 1] = "no file '" .. filename .. "'"
  end
  return nil, tconcat(tried, '\n\t')
end

function package.searchpath(name, path, sep, rep)
  name = checkstring(name, 1, 'package.searchpath')
  path = checkstring(path, 2, 'package.searchpath')
  sep = optstring(sep, 3, '.', 'package.searchpath')
  rep = optstring(rep, 4, '/', 'package.searchpath')
  return searchpath(name, path, sep, rep)
end

-- Built-in equivalents of C modules scripts use (src/lua/chunks/*.lua, loaded on first require).
local BUILTIN = { 'cjson', 'cjson.safe', 'ltn12', 'socket.url', 'socket.http' }
for _, name in ipairs(BUILTIN) do
  package.preload[name] = function(...) return load_builtin(name)(H, ...) end
end

-- C modules Dovecot scripts commonly load: named in the error even when not installed.
local KNOWN_C = { socket = 'LuaSocket', ['socket.core'] = 'LuaSocket', ['socket.unix'] = 'LuaSocket',
  ['mime.core'] = 'LuaSocket', ['socket.serial'] = 'LuaSocket', lfs = 'LuaFileSystem', lpeg = 'LPeg',
  posix = 'luaposix', ssl = 'LuaSec', ['ssl.core'] = 'LuaSec', lsqlite3 = 'lsqlite3', zlib = 'lua-zlib',
  ['luasql.sqlite3'] = 'LuaSQL', ['luasql.mysql'] = 'LuaSQL', ['luasql.postgres'] = 'LuaSQL',
  ['cjson.util'] = nil, rex_pcre = 'lrexlib', rex_posix = 'lrexlib', ['lua-cjson'] = nil, cURL = 'Lua-cURL',
  openssl = 'lua-openssl', iconv = 'lua-iconv', unix = 'lunix' }

local function c_module_error(name, where)
  error(sformat("module '%s' is a C module%s: Roost runs Lua in WebAssembly, which cannot load C "
    .. "modules (built in instead: cjson, socket.http, socket.url, ltn12)", name, where), 0)
end

local function searcher_preload(name)
  local loader = rawget(package.preload, name)
  if loader == nil then return "no field package.preload['" .. name .. "']" end
  return loader, ':preload:'
end

local function searcher_Lua(name)
  local path = package.path
  if type(path) ~= 'string' then error("'package.path' must be a string", 0) end
  local filename, tried = searchpath(name, path, '.', '/')
  if filename == nil then return tried end
  local f, msg = H.loadfile(filename, nil)
  if f == nil then
    error(sformat("error loading module '%s' from file '%s':\n\t%s", name, filename, msg), 0)
  end
  return f, filename
end

local function searcher_C(name)
  local cpath = package.cpath
  if type(cpath) ~= 'string' then error("'package.cpath' must be a string", 0) end
  local filename, tried = searchpath(name, cpath, '.', '/')
  if filename ~= nil then c_module_error(name, ' (' .. filename .. ')') end
  if KNOWN_C[name] then c_module_error(name, ' (' .. KNOWN_C[name] .. ')') end
  return tried
end

local function searcher_Croot(name)
  local p = sfind(name, '.', 1, true)
  if not p then return nil end
  local root = ssub(name, 1, p - 1)
  local filename, tried = searchpath(root, package.cpath, '.', '/')
  if filename ~= nil then c_module_error(name, ' (' .. filename .. ')') end
  return tried
end

package.searchers = { searcher_preload, searcher_Lua, searcher_C, searcher_Croot }

-- ll_require: the original finds loaders through package.searchers at call time, so it would
-- work unchanged; it is replaced only to keep `require` free of the wasm filesystem.
function require(name)
  name = checkstring(name, 1, 'require')
  local loaded = LOADED[name]
  if loaded ~= nil and loaded ~= false then return loaded end
  local searchers = package.searchers
  if type(searchers) ~= 'table' then error("'package.searchers' must be a table", 2) end
  local msg = {}
  local loader, data
  for i = 1, #searchers + 1 do
    local s = searchers[i]
    if s == nil then
      error(sformat("module '%s' not found:%s", name, tconcat(msg)), 2)
    end
    local l, d = s(name)
    if type(l) == 'function' then
      loader, data = l, d
      break
    elseif type(l) == 'string' then
      msg[#msg + 1] = '\n\t' .. l
    end
  end
  local r = loader(name, data)
  if r ~= nil then LOADED[name] = r
  elseif LOADED[name] == nil then LOADED[name] = true end
  return LOADED[name], data
end
