-- push_notification_driver = lua:file=push.lua of the Lua-heavy profile: a handler for every
-- event Dovecot 2.3.19 raises (spec §12.3), each counting what it sees in the transaction context.
function dovecot_lua_notify_begin_txn(user)
  return { user = user.username, events = 0 }
end

local function seen(ctx, event)
  ctx.events = ctx.events + 1
  ctx.last = event.name
end

dovecot_lua_notify_event_flags_clear = seen
dovecot_lua_notify_event_flags_set = seen
dovecot_lua_notify_event_mailbox_create = seen
dovecot_lua_notify_event_mailbox_delete = seen
dovecot_lua_notify_event_mailbox_rename = seen
dovecot_lua_notify_event_mailbox_subscribe = seen
dovecot_lua_notify_event_mailbox_unsubscribe = seen
dovecot_lua_notify_event_message_append = seen
dovecot_lua_notify_event_message_expunge = seen
dovecot_lua_notify_event_message_read = seen
dovecot_lua_notify_event_message_trash = seen

function dovecot_lua_notify_event_message_new(ctx, event)
  seen(ctx, event)
  ctx.subject = event.subject
  ctx.from = event.from_address
end

function dovecot_lua_notify_end_txn(ctx, success)
end
