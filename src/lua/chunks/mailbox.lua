-- The `struct mailbox` Lua object (spec §8) and the storage methods of `struct mail_user`,
-- loaded by the mail_user binding on first use (src/lua/bindings/mailbox.ts).
-- Dovecot: src/lib-storage/mail-storage-lua.c (mailbox part).
local internal, H = ...
local type, select, error, tostring, tonumber, rawget, setmetatable = type, select, error, tostring, tonumber, rawget, setmetatable
local gmatch = string.gmatch
local sformat, sgsub, sbyte, schar, sfind, supper, smatch = string.format, string.gsub, string.byte, string.char, string.find, string.upper, string.match
local tunpack = table.unpack
local require_args, checkstring, checkinteger, typename =
  internal.require_args, internal.checkstring, internal.checkinteger, internal.typename

local S = internal.storage
S.H = H

S.NO_STORAGE = 'Mail storage is not available: namespaces do not exist yet in mail_user_created, ' ..
  'nor any more in mail_user_deinit'

-- Binary-safe transport of attribute values (see storage-host.ts).
function S.tohex(s)
  return (sgsub(s, '.', function(c) return sformat('%02x', sbyte(c)) end))
end
function S.fromhex(h)
  return (sgsub(h, '..', function(x) return schar(tonumber(x, 16)) end))
end

-- /private/<key> or /shared/<key> (spec §7.6, §8.4).
function S.check_key_prefix(key)
  if sfind(key, '/private/', 1, true) == 1 or sfind(key, '/shared/', 1, true) == 1 then return nil end
  return 'Invalid key prefix, must be /private/ or /shared/'
end

-- metadata_list result lines: key TAB hex, one per line.
function S.decode_list(out, encoded)
  for key, hex in gmatch(encoded, '([^\t\n]*)\t([^\n]*)') do out[key] = S.fromhex(hex) end
end

-- The value argument of metadata_set: strings and numbers (lua_tolstring), anything else unsets.
function S.value_of(v)
  local t = type(v)
  if t == 'string' then return v end
  if t == 'number' then return tostring(v) end
  return nil
end

local mailbox_mt = { __name = 'struct mailbox' }
mailbox_mt.__index = mailbox_mt
-- Per-object state kept outside the object, so scripts cannot tamper with it.
local boxes = setmetatable({}, { __mode = 'k' })

-- Dovecot's mailbox_alloc spells INBOX (and an INBOX<sep> prefix) in upper case.
local SEP = S.SEP
local function normalize(vname)
  local head = vname:sub(1, 5)
  if supper(head) == 'INBOX' and head ~= 'INBOX' then
    if #vname == 5 then return 'INBOX' end
    if vname:sub(6, 5 + #SEP) == SEP then return 'INBOX' .. vname:sub(6) end
  end
  return vname
end

function S.new_mailbox(vname, flags)
  vname = normalize(vname)
  -- One namespace with the storage's separator: vname and storage name are the same (spec §8).
  local box = setmetatable({ vname = vname, name = vname, item = S.handle }, mailbox_mt)
  boxes[box] = { opened = false, freed = false, flags = flags or 0 }
  return box
end

-- Dovecot only checks "is a table" and crashes on anything else; Roost refuses cleanly.
local function check_box(v, allow_freed)
  if type(v) ~= 'table' then
    error(sformat('Bad argument #1, expected struct mailbox got %s', type(v)), 0)
  end
  local st = boxes[v]
  if st == nil then error(sformat('Bad argument #1, expected struct mailbox got %s', typename(v)), 0) end
  if st.freed and not allow_freed then
    -- Dovecot crashes on use after free (spec §8.2); Roost raises an error.
    error(sformat('Mailbox %s was already freed: it cannot be used after free()', rawget(v, 'vname')), 0)
  end
  return st
end
S.check_box = check_box

local function open_box(box, st)
  if st.opened then return nil end
  if not S.ready then return S.NO_STORAGE end
  local err = H.mailbox_open(box.vname, st.flags)
  if err ~= '' then return err end
  st.opened = true
  return nil
end

mailbox_mt.open = function(...)
  require_args(select('#', ...), 1)
  local box = ...
  local st = check_box(box)
  local err = open_box(box, st)
  if err then error(sformat('mailbox_open(%s) failed: %s', box.vname, err), 0) end
end

mailbox_mt.close = function(...)
  require_args(select('#', ...), 1)
  local st = check_box((...))
  st.opened = false
end

mailbox_mt.free = function(...)
  require_args(select('#', ...), 1)
  local st = check_box((...), true)
  st.freed = true
  st.opened = false
end

mailbox_mt.sync = function(...)
  local n = select('#', ...)
  if n < 1 or n > 2 then error(sformat('expected 1 to 2 arguments, got %d', n), 0) end
  local box, flags = ...
  local st = check_box(box)
  if n == 2 then checkinteger(flags, 2, 0) end
  -- SQLite commits every change at once: syncing only has to open the mailbox.
  local err = open_box(box, st)
  if err then error(sformat('mailbox_sync(%s) failed: %s', box.vname, err), 0) end
end

local STATUS_RECENT, STATUS_UNSEEN, STATUS_FIRST_UNSEEN_SEQ, STATUS_KEYWORDS = 2, 16, 32, 64
local STATUS_HIGHESTMODSEQ, STATUS_PERMANENT_FLAGS = 128, 512
local MAILBOX_FLAG_READONLY = 1
local ALL_NON_RECENT_FLAGS = 31.0

mailbox_mt.status = function(...)
  local n = select('#', ...)
  if n < 2 then error('expecting at least 1 parameter', 0) end
  local box = ...
  local st = check_box(box)
  local items = 0
  for i = 2, n do items = items | checkinteger((select(i, ...)), i, 0) end
  local function fail(err)
    error(sformat('mailbox_get_status(%s, %d) failed: %s', box.vname, items & 0xffffffff, err), 0)
  end
  local messages, recent, unseen, uidvalidity, uidnext, first_unseen, first_recent, modseq, keywords, tracking =
    0, 0, 0, 0, 0, 0, 0, 0, '', true
  -- Dovecot's index_storage_get_status returns at once for no items: nothing is opened or
  -- filled in (index-status.c).
  if items ~= 0 then
    local err = open_box(box, st)
    if err then fail(err) end
    local r = { H.mailbox_status(box.vname) }
    if r[1] ~= '' then fail(r[1]) end
    messages, recent, unseen, uidvalidity, uidnext, first_unseen, first_recent, modseq, keywords, tracking =
      tunpack(r, 2, 11)
  end
  local has = function(bit) return items & bit ~= 0 end
  local writable = st.flags & MAILBOX_FLAG_READONLY == 0
  local perm = has(STATUS_PERMANENT_FLAGS)
  local t = {
    mailbox = box.vname,
    messages = messages + 0.0,
    recent = has(STATUS_RECENT) and recent + 0.0 or 0.0,
    unseen = has(STATUS_UNSEEN) and unseen + 0.0 or 0.0,
    uidvalidity = uidvalidity + 0.0,
    uidnext = uidnext + 0.0,
    first_unseen_seq = has(STATUS_FIRST_UNSEEN_SEQ) and first_unseen + 0.0 or 0.0,
    first_recent_uid = first_recent + 0.0,
    highest_modseq = has(STATUS_HIGHESTMODSEQ) and math.max(modseq, 1) + 0.0 or 0.0,
    -- No private index in a SQLite store: Dovecot reports 0 then.
    highest_pvt_modseq = 0.0,
    permanent_flags = (perm and writable) and ALL_NON_RECENT_FLAGS or 0.0,
    flags = perm and ALL_NON_RECENT_FLAGS or 0.0,
    permanent_keywords = perm and writable,
    allow_new_keywords = perm and writable,
    nonpermanent_modseqs = false,
    -- True until a CONDSTORE client has opened the mailbox (modseqs are counted all the same).
    no_modseq_tracking = has(STATUS_HIGHESTMODSEQ) and not tracking,
    have_guids = true,
    have_save_guids = true,
    have_only_guid128 = false,
  }
  if has(STATUS_KEYWORDS) then
    local kw = {}
    for k in gmatch(keywords, '%S+') do kw[#kw + 1] = k end
    t.keywords = kw
  end
  return t
end

mailbox_mt.metadata_get = function(...)
  local n = select('#', ...)
  if n < 2 then error('expecting at least 1 parameter', 0) end
  local box = ...
  check_box(box)
  local out = {}
  for i = 2, n do
    local key = select(i, ...)
    if type(key) ~= 'string' and type(key) ~= 'number' then error(sformat('expected string at #%d', i), 0) end
    key = tostring(key)
    local bad = S.check_key_prefix(key)
    if bad then error(bad, 0) end
    if not S.ready then error(S.NO_STORAGE, 0) end
    local err, hex = H.meta_get(box.vname, key)
    if err ~= '' then error(err, 0) end
    out[i - 1] = hex ~= nil and S.fromhex(hex) or nil
  end
  return tunpack(out, 1, n - 1)
end

local function set_attribute(box, st, key, value, what)
  local bad = S.check_key_prefix(key)
  if bad then error(sformat('Cannot %s attribute: %s', what, bad), 0) end
  -- Dovecot asserts that the mailbox is open (and crashes); Roost raises an error (spec §8.4).
  if not st.opened then
    error(sformat('Cannot %s attribute: Mailbox %s is not open (call open() first)', what, box.vname), 0)
  end
  if value ~= nil and sfind(value, '\0', 1, true) then
    error(sformat('Cannot %s attribute: Attribute string value has NULs', what), 0)
  end
  local err = H.meta_set(box.vname, key, value ~= nil and S.tohex(value) or nil)
  if err ~= '' then error(sformat('Cannot %s attribute: %s', what, err), 0) end
end

mailbox_mt.metadata_set = function(...)
  require_args(select('#', ...), 3)
  local box, key, value = ...
  local st = check_box(box)
  set_attribute(box, st, checkstring(key, 2, 0), S.value_of(value), 'set')
end

mailbox_mt.metadata_unset = function(...)
  require_args(select('#', ...), 2)
  local box, key = ...
  local st = check_box(box)
  set_attribute(box, st, checkstring(key, 2, 0), nil, 'unset')
end

mailbox_mt.metadata_list = function(...)
  local n = select('#', ...)
  if n < 2 then error('expecting at least 1 parameter', 0) end
  local box = ...
  check_box(box)
  local out = {}
  for i = 2, n do
    local prefix = checkstring((select(i, ...)), i, 0)
    local bad = S.check_key_prefix(prefix)
    if bad then error(bad, 0) end
    if not S.ready then error(S.NO_STORAGE, 0) end
    local err, encoded = H.meta_list(box.vname, prefix)
    if err ~= '' then error(err, 0) end
    S.decode_list(out, encoded)
  end
  return out
end

-- Metamethods (spec §8.1): Dovecot's __lt/__le are broken; Roost orders by vname.
local function is_inbox(v) return supper(v) == 'INBOX' end
mailbox_mt.__tostring = function(box) return rawget(box, 'vname') end
mailbox_mt.__eq = function(a, b)
  if boxes[a] == nil or boxes[b] == nil then return false end
  local va, vb = rawget(a, 'vname'), rawget(b, 'vname')
  return va == vb or (is_inbox(va) and is_inbox(vb))
end
mailbox_mt.__lt = function(a, b) return tostring(rawget(a, 'vname')) < tostring(rawget(b, 'vname')) end
mailbox_mt.__le = function(a, b) return tostring(rawget(a, 'vname')) <= tostring(rawget(b, 'vname')) end
internal.name_methods(mailbox_mt)

---------------------------------------------------------------------------------------------
-- the storage methods of struct mail_user (spec §7.5, §7.6); see mail-user.lua

local user_mt, check_user = S.user_mt, S.check_user

user_mt.mailbox = function(...)
  local n = select('#', ...)
  if n < 2 or n > 3 then error(sformat('expected 2 to 3 arguments, got %d', n), 0) end
  local self, name, flags = ...
  check_user(self)
  local vname = checkstring(name, 2, 0)
  local f = 0
  if n == 3 then f = internal.checkinteger(flags, 3, 0) end
  -- Namespaces do not exist inside mail_user_created; Dovecot asserts (spec §5.3).
  if not S.ready then error('No namespace found for mailbox ' .. vname, 0) end
  return S.new_mailbox(vname, f)
end

local NO_INBOX = 'Cannot open INBOX: ' .. S.NO_STORAGE

user_mt.metadata_get = function(...)
  local n = select('#', ...)
  if n < 2 then error('expecting at least 1 parameter', 0) end
  check_user((...))
  if not S.ready then error(NO_INBOX, 0) end
  local out = {}
  for i = 2, n do
    local key = select(i, ...)
    if type(key) ~= 'string' and type(key) ~= 'number' then error(sformat('expected string at #%d', i), 0) end
    key = tostring(key)
    local bad = S.check_key_prefix(key)
    if bad then error(bad, 0) end
    local err, hex = H.meta_get('', key)
    if err ~= '' then error('Cannot get attribute: ' .. err, 0) end
    out[i - 1] = hex ~= nil and S.fromhex(hex) or nil
  end
  return tunpack(out, 1, n - 1)
end

local function set_metadata(key, value)
  local bad = S.check_key_prefix(key)
  if bad then error(bad, 0) end
  if not S.ready then error(NO_INBOX, 0) end
  -- sic: Dovecot says "get" for storage failures of set/unset too (spec §7.6).
  if value ~= nil and value:find('\0', 1, true) then
    error('Cannot get attribute: Attribute string value has NULs', 0)
  end
  local err = H.meta_set('', key, value ~= nil and S.tohex(value) or nil)
  if err ~= '' then error('Cannot get attribute: ' .. err, 0) end
end

user_mt.metadata_set = function(...)
  require_args(select('#', ...), 3)
  local self, key, value = ...
  check_user(self)
  set_metadata(checkstring(key, 2, 0), S.value_of(value))
end

user_mt.metadata_unset = function(...)
  require_args(select('#', ...), 2)
  local self, key = ...
  check_user(self)
  set_metadata(checkstring(key, 2, 0), nil)
end

user_mt.metadata_list = function(...)
  local n = select('#', ...)
  if n < 2 then error('expecting at least 1 parameter', 0) end
  check_user((...))
  if not S.ready then error(NO_INBOX, 0) end
  local out = {}
  for i = 2, n do
    local prefix = checkstring((select(i, ...)), i, 0)
    local bad = S.check_key_prefix(prefix)
    if bad then error(bad, 0) end
    local err, encoded = H.meta_list('', prefix)
    if err ~= '' then error(err, 0) end
    S.decode_list(out, encoded)
  end
  return out
end

internal.name_methods(user_mt)

-- The state's store reference goes when the state closes (lua_close finalises this sentinel).
S.sentinel = setmetatable({}, { __gc = function() H.release() end })
