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

local loaded = false
local function ensure()
  if loaded then return end
  loaded = true
  setmetatable(io, nil)
  setmetatable(os, nil)
  local chunk, H, load_builtin = load_system()
  chunk(H, load_builtin)
end

-- io and the os functions below come back on the first lookup of any of their fields
local pending = { __index = function(t, k) ensure() return rawget(t, k) end }
for k in next, io do io[k] = nil end
setmetatable(io, pending)
for _, k in ipairs({ 'getenv', 'remove', 'rename', 'tmpname', 'clock', 'execute' }) do os[k] = nil end
setmetatable(os, pending)

-- tail calls: the real function runs in the stub's frame, so error levels stay right
function loadfile(...) ensure() return loadfile(...) end
function dofile(...) ensure() return dofile(...) end
function require(...) ensure() return require(...) end
function package.searchpath(...) ensure() return package.searchpath(...) end
package.searchers = nil
setmetatable(package, { __index = function(t, k)
  if k ~= 'searchers' then return nil end
  setmetatable(t, nil)
  ensure()
  return rawget(t, k)
end })
