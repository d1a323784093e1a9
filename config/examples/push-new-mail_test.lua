-- Tests for push-new-mail.lua: run them with `roost lua test config/examples`.
local t = require "roost.test"

t.setup {
  push_driver = "push-new-mail.lua",
  plugin = { push_notification_url = "http://push.example/new-mail" },
}

t.test("a delivered message is POSTed as JSON", function()
  t.http.stub("POST http://push.example/*", { status = 202 })
  local bob = t.user("bob")

  local r = bob:deliver {
    from = '"Alice Example" <alice@example.com>',
    subject = "=?UTF-8?Q?Caf=C3=A9_plans?=",
    date = "Tue, 04 Mar 2025 09:20:30 +0000",
    body = "Lunch at noon?\n",
  }
  t.eq(r.ok, true)

  local requests = t.http.requests()
  t.eq(#requests, 1)
  t.eq(requests[1].method, "POST")
  t.eq(requests[1].url, "http://push.example/new-mail")
  t.eq(requests[1].headers["Content-Type"], "application/json")
  local sent = requests[1].json
  t.eq(sent.uid_validity ~= nil, true)
  sent.uid_validity = nil
  t.eq(sent, {
    user = "bob", mailbox = "INBOX", uid = 1,
    from = "alice@example.com", from_name = "Alice Example",
    subject = "Café plans", snippet = "Lunch at noon?", date = 1741080030,
  })
end)

t.test("IMAP APPEND and flag changes send nothing", function()
  t.http.stub("POST http://push.example/*", { status = 202 })
  local bob = t.user("bob")
  bob:session("imap", function(s)
    local uid = s:append("INBOX", { subject = "draft" })
    s:add_flags("INBOX", uid, { "\\Seen" })
  end)
  t.eq(t.http.requests(), {})
end)

t.test("a user's own URL comes from their userdb fields", function()
  t.http.stub("POST http://hooks.example/bob", { status = 200 })
  local bob = t.user("bob", { fields = { push_notification_url = "http://hooks.example/bob" } })
  bob:deliver { subject = "hi" }
  t.eq(#t.http.requests("hooks%.example/bob"), 1)
end)

t.test("a failing web service is logged, the delivery still succeeds", function()
  t.http.stub("POST http://push.example/*", { status = 503, reason = "Service Unavailable" })
  local r = t.user("bob"):deliver { subject = "hi" }
  t.eq(r.ok, true)
  t.match(t.logs(), "Error: push to http://push.example/new%-mail failed: 503 Service Unavailable")
end)

t.test("an unreachable web service is logged", function()
  t.http.stub("POST http://push.example/*", { fault = "refused" })
  t.eq(t.user("bob"):deliver({ subject = "hi" }).ok, true)
  t.match(t.logs(), "push to http://push.example/new%-mail failed: 9003")
end)
