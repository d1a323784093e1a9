-- The `struct mail` Lua object (spec §9), loaded by the mail_user binding's `mail` maker on
-- first use (src/lua/bindings/mail.ts). Dovecot: src/lib-storage/mail-storage-lua.c (mail part).
local internal = ...
local S = internal.storage
local rawget, rawset, setmetatable, error, sformat = rawget, rawset, setmetatable, error, string.format

local mail_mt = { __name = 'struct mail' }
mail_mt.__index = mail_mt

local function same_mailbox(a, b) return rawget(a, 'mailbox') == rawget(b, 'mailbox') end

mail_mt.__tostring = function(m)
  return sformat('<%s:UID %d>', rawget(rawget(m, 'mailbox'), 'vname'), rawget(m, 'uid'))
end
-- Dovecot's __eq returns uid1 ~= uid2 within one mailbox (a bug, kept: spec §9).
mail_mt.__eq = function(a, b)
  if not same_mailbox(a, b) then return false end
  return rawget(a, 'uid') ~= rawget(b, 'uid')
end
mail_mt.__lt = function(a, b)
  if not same_mailbox(a, b) then error('For lt, Mail can only be compared within same mailbox', 0) end
  return rawget(a, 'uid') < rawget(b, 'uid')
end
mail_mt.__le = function(a, b)
  if not same_mailbox(a, b) then error('For le, mails can only be within same mailbox', 0) end
  return rawget(a, 'uid') <= rawget(b, 'uid')
end
mail_mt.__gc = function(m) rawset(m, 'item', nil) end

S.new_mail = function(d)
  return setmetatable({
    seq = d.seq + 0.0,
    uid = d.uid + 0.0,
    expunged = d.expunged == true,
    mailbox = S.new_mailbox(d.mailbox, 0),
    item = S.handle,
  }, mail_mt)
end
