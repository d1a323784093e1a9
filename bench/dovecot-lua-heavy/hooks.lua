-- mail_lua_script of the Lua-heavy profile: three hooks, each appends a line to a log file
-- (plugin setting lua_heavy_log). The same file runs under Roost and under Dovecot 2.3.19.
local function append(user, hook)
  local f = assert(io.open(user:plugin_getenv("lua_heavy_log"), "a"))
  f:write(hook, " ", user.username, " ", user.service, " ", tostring(user.session_id), "\n")
  f:close()
end

function mail_user_created(user)
  append(user, "created")
  return 0
end

function mail_user_deinit_pre(user)
  append(user, "deinit_pre")
  return 0
end

function mail_user_deinit(user)
  append(user, "deinit")
  return 0
end
