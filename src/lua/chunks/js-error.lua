-- Fills the metatable of `js_error` userdata (a JS exception thrown by a host function,
-- src/lua/lua-runtime.ts): tostring and `.message` give the message, like wasmoon's.
local mt = ...
local getuv = debug.getuservalue
mt.__metatable = 'protected metatable'
mt.__index = function(u, k) if k == 'message' then return (getuv(u, 1)) end return nil end
mt.__tostring = function(u) return (getuv(u, 1)) end
