-- A mail-lua script (Dovecot's mail_lua_script, spec §5): runs for every IMAP login, every LMTP
-- recipient and every `roost mailbox|metadata -u` command. It logs each session and counts the
-- user's logins in their server metadata, which IMAP clients can read with
--   GETMETADATA "" /private/vendor/roost/logins

function script_init()
  return 0
end

function mail_user_created(user)
  -- Storage is not available yet here (Dovecot's namespaces don't exist): fields and logging only.
  local e = dovecot.event()
  e:add_str("service", user.service)
  e:log_info(string.format("session for %s via %s", user.username, user.service))
  return 0
end

function mail_user_deinit_pre(user)
  -- Storage works here: count IMAP logins.
  if user.service ~= "imap" then return 0 end
  local key = "/private/vendor/roost/logins"
  local n = tonumber(user:metadata_get(key)) or 0
  user:metadata_set(key, n + 1)
  local inbox = user:mailbox("INBOX")
  local st = inbox:status(dovecot.storage.STATUS_MESSAGES, dovecot.storage.STATUS_UNSEEN)
  dovecot.i_info(string.format("%s leaves with %d messages, %d unseen", user.username, st.messages, st.unseen))
  inbox:free()
  return 0
end

function mail_user_deinit(user)
  return 0
end
