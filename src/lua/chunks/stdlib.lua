-- Runs in every state right after luaL_openlibs, before the Dovecot prelude: takes away the
-- wasm build's io, os file functions, loadfile, dofile, require and package.searchpath (they see
-- only Emscripten's in-memory filesystem) and puts in their place stubs that load the real
-- implementation (system.lua) on first use. The package paths are Debian lua5.4's.
local load_system = ...

local setmetatable, rawget, next, ipairs = setmetatable, rawget, next, ipairs
local io, os, package = io, os, package

-- luaconf.h of Debian's lua5.4 (`lua5.4 -e 'print(package.path)'`)
package.path = '/usr/local/share/lua/5.4/?.lua;/usr/local/share/lua/5.4/?/init.lua;'
  .. '/usr/local/lib/lua/5.4/?.lua;/usr/local/lib/lua/5.4/?/init.lua;'
  .. '/usr/share/lua/5.4/?.lua;/usr/share/lua/5.4/?/init.lua;./?.lua;./?/init.lua'
package.cpath = '/usr/local/lib/lua/5.4/?.so;/usr/lib/x86_64-linux-gnu/lua/5.4/?.so;'
  .. '/usr/lib/lua/5.4/?.so;/usr/local/lib/lua/5.4/loadall.so;./?.so'

-- load_system(name) gives the chunk of a part (the host functions H with the first part).
local H, A, load_builtin
local function load_part(name)
  local chunk, h, lb = load_system(name)
  H, load_builtin = H or h, load_builtin or lb
  if A == nil then A = load_system('args')() end
  chunk(H, A, load_builtin)
end

local io_loaded, package_loaded = false, false
local function ensure_io()
  if io_loaded then return end
  io_loaded = true
  setmetatable(io, nil)
  setmetatable(os, nil)
  load_part('system')
end
local function ensure_package()
  if package_loaded then return end
  package_loaded = true
  load_part('package')
end

-- io and the os functions below come back on the first lookup of any of their fields
local pending = { __index = function(t, k) ensure_io() return rawget(t, k) end }
for k in next, io do io[k] = nil end
setmetatable(io, pending)
for _, k in ipairs({ 'getenv', 'remove', 'rename', 'tmpname', 'clock', 'execute' }) do os[k] = nil end
setmetatable(os, pending)

-- tail calls: the real function runs in the stub's frame, so error levels stay right
function loadfile(...) ensure_package() return loadfile(...) end
function dofile(...) ensure_package() return dofile(...) end
function require(...) ensure_package() return require(...) end
function package.searchpath(...) ensure_package() return package.searchpath(...) end
package.searchers = nil
setmetatable(package, { __index = function(t, k)
  if k ~= 'searchers' then return nil end
  setmetatable(t, nil)
  ensure_package()
  return rawget(t, k)
end })
