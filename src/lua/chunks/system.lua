-- Lua 5.4's io and os libraries on the real system (spec §1: Dovecot opens every standard
-- library unsandboxed). The wasm build of Lua only sees Emscripten's in-memory filesystem, so
-- every function that touches files, the environment or commands is replaced here by one over
-- the host functions of src/lua/stdlib/system-host.ts (real fs calls in the worker thread),
-- keeping liolib.c's and loslib.c's results and error texts. Loaded by stdlib.lua the first
-- time a script touches io or these os functions (most scripts never do: a state stays small).
local H, A = ...

local type, select, error, tostring, tonumber, setmetatable = type, select, error, tostring, tonumber, setmetatable
local dsetmetatable = debug.setmetatable
local sformat, ssub, sgsub, smatch = string.format, string.sub, string.gsub, string.match
local mtype = math.type
local tpack, tunpack = table.pack, table.unpack
local typename, argerror, checkstring, optstring, checkinteger, fileresult =
      A.typename, A.argerror, A.checkstring, A.optstring, A.checkinteger, A.fileresult

---------------------------------------------------------------------------------------------
-- io (liolib.c)

local FILE = { __name = 'FILE*' }
local methods = {}
FILE.__index = methods
-- handle userdata -> { id = host file id, closed = bool, std = bool }
local handles = setmetatable({}, { __mode = 'k' })

local function newfile(id, std)
  local u = H.new_handle()
  handles[u] = { id = id, closed = false, std = std }
  dsetmetatable(u, FILE)
  return u
end

-- luaL_checkudata(L, 1, "FILE*") + tofile
local function tofile(f, depth)
  local h = type(f) == 'userdata' and handles[f]
  if not h then argerror(1, 'FILE* expected, got ' .. (f == nil and 'no value' or typename(f)), nil, (depth or 0) + 1) end
  if h.closed then error('attempt to use a closed file', 3 + (depth or 0)) end
  return h
end

local function closehandle(h)
  if h.std then return nil, 'cannot close standard file' end
  h.closed = true
  local kind, a, b = H.close(h.id)
  if kind == 'ok' then return true end
  if kind == 'error' then return nil, a, b end
  -- io.popen: luaL_execresult
  if kind == 'exit' and a == 0 then return true, 'exit', 0 end
  return nil, kind, a
end

FILE.__gc = function(u)
  local h = handles[u]
  if h and not h.closed and not h.std then closehandle(h) end
end
FILE.__close = FILE.__gc
FILE.__tostring = function(u)
  local h = handles[u]
  if h.closed then return 'file (closed)' end
  return sformat('file (%p)', u)
end

local stdin, stdout, stderr = newfile(0, true), newfile(1, true), newfile(2, true)
local current = { input = stdin, output = stdout }

local function checkmode(mode)
  return smatch(mode, '^[rwa]%+?b*$') ~= nil
end

local function read_one(h, fmt, argn, global)
  local t = type(fmt)
  if t == 'number' then
    local n = checkinteger(fmt, argn, global, 2)
    return H.read(h.id, 'c', n)
  end
  local p = checkstring(fmt, argn, global, 2)
  if ssub(p, 1, 1) == '*' then p = ssub(p, 2) end
  local c = ssub(p, 1, 1)
  if c == 'n' then
    local text, msg, errno = H.read(h.id, 'n')
    if msg then return nil, msg, errno end
    return tonumber(text)
  elseif c == 'l' or c == 'L' or c == 'a' then
    return H.read(h.id, c)
  end
  argerror(argn, 'invalid format', global, 2)
end

-- g_read: `first` = argument number of the first format
local function g_read(h, first, global, ...)
  local n = select('#', ...)
  if n == 0 then
    local v, msg, errno = H.read(h.id, 'l')
    if msg then return fileresult(false, msg, errno) end
    return v
  end
  local out = {}
  for i = 1, n do
    local v, msg, errno = read_one(h, (select(i, ...)), first + i - 1, global)
    if msg then return fileresult(false, msg, errno) end
    out[i] = v
    if v == nil then return tunpack(out, 1, i) end
  end
  return tunpack(out, 1, n)
end

-- g_write: `first` = argument number of the first value; returns the file
local function g_write(u, h, first, global, ...)
  local n = select('#', ...)
  for i = 1, n do
    local v = select(i, ...)
    local s
    if mtype(v) == 'integer' then s = sformat('%d', v)
    elseif mtype(v) == 'float' then s = sformat('%.14g', v) -- LUAI_NUMFFORMAT
    else s = checkstring(v, first + i - 1, global, 1) end
    local ok, msg, errno = H.write(h.id, s)
    if not ok then return fileresult(false, msg, errno) end
  end
  return u
end

-- `return pass(f(...))` instead of `return f(...)`: a tail call would drop the library
-- function's frame, which argerror and error levels count on.
local function pass(...) return ... end

local MAXARGLINE = 250

-- aux_lines: the iterator of file:lines / io.lines; `toclose` closes the file at the end
local function lines_iter(u, toclose, global, ...)
  local n = select('#', ...)
  if n > MAXARGLINE then argerror(MAXARGLINE + 2, 'too many arguments', global, 1) end
  local fmts = { n = n, ... }
  return function()
    local h = handles[u]
    if h.closed then error('file is already closed', 2) end
    if n == 0 then -- the common `for line in f:lines()`: no table per line
      local v, msg = H.read(h.id, 'l')
      if v ~= nil then return v end
      if msg then error(msg, 2) end
      if toclose then closehandle(h) end
      return nil
    end
    local r = tpack(g_read(h, 2, nil, tunpack(fmts, 1, n)))
    if r[1] ~= nil then return tunpack(r, 1, r.n) end
    if r.n > 1 and r[2] ~= nil then error(r[2], 2) end
    if toclose then closehandle(h) end
    return nil
  end
end

function methods.close(f)
  return closehandle(tofile(f))
end

function methods.flush(f)
  tofile(f)
  return true
end

function methods.lines(f, ...)
  tofile(f)
  return pass(lines_iter(f, false, nil, ...))
end

function methods.read(f, ...)
  return pass(g_read(tofile(f), 2, nil, ...))
end

local WHENCE = { set = true, cur = true, ['end'] = true }
function methods.seek(f, whence, offset)
  local h = tofile(f)
  whence = optstring(whence, 2, 'cur')
  if not WHENCE[whence] then argerror(2, sformat("invalid option '%s'", whence)) end
  offset = offset == nil and 0 or checkinteger(offset, 3)
  local pos, msg, errno = H.seek(h.id, whence, offset)
  if pos == nil then return fileresult(false, msg, errno) end
  return pos
end

local VBUF = { no = true, full = true, line = true }
function methods.setvbuf(f, mode, size)
  tofile(f)
  mode = checkstring(mode, 2)
  if not VBUF[mode] then argerror(2, sformat("invalid option '%s'", mode)) end
  if size ~= nil then checkinteger(size, 3) end
  return true
end

function methods.write(f, ...)
  return pass(g_write(f, tofile(f), 2, nil, ...))
end

function io.open(filename, mode)
  filename = checkstring(filename, 1, 'io.open')
  mode = optstring(mode, 2, 'r', 'io.open')
  if not checkmode(mode) then argerror(2, 'invalid mode', 'io.open') end
  local id, msg, errno = H.open(filename, (sgsub(mode, 'b', '')))
  if id == nil then return fileresult(false, msg, errno, filename) end
  return newfile(id, false)
end

-- opencheckfile: io.input/io.output/io.lines by name raise on failure; depth = frames
-- between this call and the library function
local function opencheck(fname, mode, depth)
  local id, msg = H.open(fname, mode)
  if id == nil then error(sformat("cannot open file '%s' (%s)", fname, msg), 3 + depth) end
  return newfile(id, false)
end

local function g_iofile(which, mode, global, f)
  if f ~= nil then
    if type(f) == 'string' or type(f) == 'number' then
      current[which] = opencheck(tostring(f), mode, 1)
    else
      tofile(f, 1)
      current[which] = f
    end
  end
  return current[which]
end

function io.input(f) return pass(g_iofile('input', 'r', 'io.input', f)) end
function io.output(f) return pass(g_iofile('output', 'w', 'io.output', f)) end

local function getiofile(which)
  local u = current[which]
  if handles[u].closed then error(sformat('default %s file is closed', which), 3) end
  return u
end

function io.close(f)
  if f == nil then f = getiofile('output') end
  return closehandle(tofile(f))
end

function io.flush()
  getiofile('output')
  return true
end

function io.read(...)
  return pass(g_read(handles[getiofile('input')], 1, 'io.read', ...))
end

function io.write(...)
  local u = getiofile('output')
  return pass(g_write(u, handles[u], 1, 'io.write', ...))
end

function io.lines(filename, ...)
  local u, toclose
  if filename == nil then
    u = getiofile('input')
    toclose = false
  else
    filename = checkstring(filename, 1, 'io.lines')
    u = opencheck(filename, 'r', 0)
    toclose = true
  end
  local iter = lines_iter(u, toclose, 'io.lines', ...)
  if toclose then return iter, nil, nil, u end
  return iter, nil, nil, nil
end

function io.type(...)
  if select('#', ...) == 0 then argerror(1, 'value expected', 'io.type') end
  local v = ...
  local h = type(v) == 'userdata' and handles[v]
  if not h then return nil end
  return h.closed and 'closed file' or 'file'
end

function io.tmpfile()
  local id, msg, errno = H.tmpfile()
  if id == nil then return fileresult(false, msg, errno) end
  return newfile(id, false)
end

function io.popen(prog, mode)
  prog = checkstring(prog, 1, 'io.popen')
  mode = optstring(mode, 2, 'r', 'io.popen')
  if mode ~= 'r' and mode ~= 'w' then argerror(2, 'invalid mode', 'io.popen') end
  local id, msg, errno = H.popen(prog, mode)
  if id == nil then return fileresult(false, msg, errno, prog) end
  return newfile(id, false)
end

io.stdin, io.stdout, io.stderr = stdin, stdout, stderr

---------------------------------------------------------------------------------------------
-- os (loslib.c); time, date and difftime are the wasm build's own and already right

function os.getenv(name)
  return H.getenv(checkstring(name, 1, 'os.getenv'))
end

function os.remove(filename)
  filename = checkstring(filename, 1, 'os.remove')
  local ok, msg, errno = H.remove(filename)
  return fileresult(ok, msg, errno, filename)
end

function os.rename(from, to)
  from = checkstring(from, 1, 'os.rename')
  to = checkstring(to, 2, 'os.rename')
  local ok, msg, errno = H.rename(from, to)
  return fileresult(ok, msg, errno)
end

function os.tmpname()
  local name, msg = H.tmpname()
  if name == nil then error('unable to generate a unique filename: ' .. msg, 2) end
  return name
end

function os.clock()
  return H.clock()
end

function os.execute(command)
  if command == nil then return H.shell() end
  command = checkstring(command, 1, 'os.execute')
  local kind, code, errno = H.execute(command)
  if kind == nil then return fileresult(false, code, errno) end
  -- luaL_execresult
  if kind == 'exit' and code == 0 then return true, 'exit', 0 end
  return nil, kind, code
end

