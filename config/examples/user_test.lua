-- Tests for user.lua: run them with `roost lua test config/examples`.
local t = require "roost.test"

t.setup { mail_lua_script = "user.lua" }

t.test("an IMAP login is counted in the user's server metadata", function()
  local alice = t.user("alice", { password = "secret" })
  alice:message("INBOX", { from = "bob@example.com", subject = "Hello", flags = { "\\Seen" } })
  alice:message("INBOX", { from = "carol@example.com", subject = "Lunch?" })

  t.eq(alice:login("imap"), { ok = true })
  t.eq(alice:login("imap"), { ok = true })

  t.eq(alice:metadata("", "/private/vendor/roost/logins"), "2")
  t.match(t.logs(), "imap%(alice%).*Info: session for alice via imap")
  t.match(t.logs(), "alice leaves with 2 messages, 1 unseen")
end)

t.test("deliveries and doveadm sessions are logged but not counted", function()
  local bob = t.user("bob")
  t.eq(bob:deliver({ subject = "Report" }).ok, true)
  t.eq(bob:login("doveadm"), { ok = true })

  t.eq(bob:metadata("", "/private/vendor/roost/logins"), nil)
  t.match(t.logs(), "session for bob via lmtp")
  t.match(t.logs(), "session for bob via doveadm")
end)

t.test("every hook returns 0", function()
  t.user("carol"):login("imap")
  local names = {}
  for _, h in ipairs(t.hooks()) do
    names[#names + 1] = h.name
    t.eq(h.returned and h.returned[1], 0, h.name .. " returned")
  end
  t.eq(names, { "mail_user_created", "mail_user_deinit_pre", "mail_user_deinit" })
end)
