-- Built-in `cjson` and `cjson.safe`: lua-cjson's API in Lua (the C module cannot load into
-- wasm). Behaviour is Debian's lua-cjson 2.1.0 on Lua 5.4 (numbers encode with %.14g and
-- decode as floats, "/" is escaped, the same error texts), plus OpenResty's additions
-- (empty_array, array_mt, empty_array_mt, encode_empty_table_as_object,
-- decode_array_with_array_mt, encode_escape_forward_slash).
-- Loaded by `require` from package.preload (stdlib.lua) as chunk(H, modname).
local H, modname = ...

local type, select, error, tostring, tonumber, pairs, next, pcall, rawget, setmetatable, getmetatable =
      type, select, error, tostring, tonumber, pairs, next, pcall, rawget, setmetatable, getmetatable
local sformat, sbyte, schar, sfind, ssub, sgsub, smatch = string.format, string.byte, string.char, string.find, string.sub, string.gsub, string.match
local tconcat, mtype, mfloor, huge = table.concat, math.type, math.floor, math.huge
local dgetinfo, dsetmetatable = debug.getinfo, debug.setmetatable

-- luaL_argerror; depth = frames between this call and the API function
local function argerror(argn, msg, fname, depth)
  local lvl = 2 + (depth or 0)
  local info = dgetinfo(lvl, 'n')
  error(sformat("bad argument #%d to '%s' (%s)", argn, (info and info.name) or ('cjson.' .. fname), msg), lvl + 1)
end

-- lightuserdata NULL in the C module: a userdata printing the same
local null = H.new_handle()
dsetmetatable(null, { __tostring = function() return 'userdata: (nil)' end, __metatable = false })
local empty_array = H.new_handle()
dsetmetatable(empty_array, { __tostring = function() return 'userdata: 0x0000000000000001' end, __metatable = false })
local array_mt = { __name = 'cjson.array' }
local empty_array_mt = { __name = 'cjson.empty_array' }

local ESCAPES = { ['"'] = '\\"', ['\\'] = '\\\\', ['/'] = '\\/', ['\b'] = '\\b', ['\f'] = '\\f',
  ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t' }
for i = 0, 31 do
  local c = schar(i)
  if not ESCAPES[c] then ESCAPES[c] = sformat('\\u%04x', i) end
end
ESCAPES['\127'] = '\\u007f'

local T_NAMES = { ['{'] = 'T_OBJ_BEGIN', ['}'] = 'T_OBJ_END', ['['] = 'T_ARR_BEGIN', [']'] = 'T_ARR_END',
  [':'] = 'T_COLON', [','] = 'T_COMMA' }

local function new_instance()
  local cfg = {
    sparse_convert = false, sparse_ratio = 2, sparse_safe = 10,
    encode_max_depth = 1000, decode_max_depth = 1000, precision = 14,
    keep_buffer = true, encode_invalid = false, decode_invalid = true,
    escape_slash = true, empty_table_as_object = true, array_with_mt = false,
  }
  local cjson = { _NAME = 'cjson', _VERSION = '2.1.0', null = null, empty_array = empty_array,
    array_mt = array_mt, empty_array_mt = empty_array_mt }

  ------------------------------------------------------------------------------------------
  -- configuration (each returns the current values)

  local function bool_option(v, argn, fname)
    if v == nil then return nil end
    if v == true or v == 'on' then return true end
    if v == false or v == 'off' then return false end
    argerror(argn, sformat("invalid option '%s'", tostring(v)), fname, 1)
  end
  local function int_option(v, argn, lo, hi, fname)
    if v == nil then return nil end
    local n = tonumber(v)
    if n == nil or n < lo or n > hi then argerror(argn, sformat('expected integer between %d and %d', lo, hi), fname, 1) end
    return mfloor(n)
  end

  function cjson.encode_sparse_array(convert, ratio, safe)
    local c = bool_option(convert, 1, 'encode_sparse_array')
    if c ~= nil then cfg.sparse_convert = c end
    ratio = int_option(ratio, 2, 0, 2147483647, 'encode_sparse_array')
    if ratio then cfg.sparse_ratio = ratio end
    safe = int_option(safe, 3, 0, 2147483647, 'encode_sparse_array')
    if safe then cfg.sparse_safe = safe end
    return cfg.sparse_convert, cfg.sparse_ratio, cfg.sparse_safe
  end
  function cjson.encode_max_depth(n)
    n = int_option(n, 1, 1, 2147483647, 'encode_max_depth')
    if n then cfg.encode_max_depth = n end
    return cfg.encode_max_depth
  end
  function cjson.decode_max_depth(n)
    n = int_option(n, 1, 1, 2147483647, 'decode_max_depth')
    if n then cfg.decode_max_depth = n end
    return cfg.decode_max_depth
  end
  function cjson.encode_number_precision(n)
    n = int_option(n, 1, 1, 14, 'encode_number_precision')
    if n then cfg.precision = n end
    return cfg.precision
  end
  function cjson.encode_keep_buffer(v)
    local b = bool_option(v, 1, 'encode_keep_buffer')
    if b ~= nil then cfg.keep_buffer = b end
    return cfg.keep_buffer
  end
  function cjson.encode_invalid_numbers(v)
    if v == 'null' then cfg.encode_invalid = 'null'
    else
      local b = bool_option(v, 1, 'encode_invalid_numbers')
      if b ~= nil then cfg.encode_invalid = b end
    end
    return cfg.encode_invalid
  end
  function cjson.decode_invalid_numbers(v)
    local b = bool_option(v, 1, 'decode_invalid_numbers')
    if b ~= nil then cfg.decode_invalid = b end
    return cfg.decode_invalid
  end
  function cjson.encode_escape_forward_slash(v)
    local b = bool_option(v, 1, 'encode_escape_forward_slash')
    if b ~= nil then cfg.escape_slash = b end
    return cfg.escape_slash
  end
  function cjson.encode_empty_table_as_object(v)
    local b = bool_option(v, 1, 'encode_empty_table_as_object')
    if b ~= nil then cfg.empty_table_as_object = b end
    return cfg.empty_table_as_object
  end
  function cjson.decode_array_with_array_mt(v)
    local b = bool_option(v, 1, 'decode_array_with_array_mt')
    if b ~= nil then cfg.array_with_mt = b end
    return cfg.array_with_mt
  end

  ------------------------------------------------------------------------------------------
  -- encode

  local function encode_number(n, buf)
    if n ~= n or n == huge or n == -huge then
      if cfg.encode_invalid == 'null' then buf[#buf + 1] = 'null' return end
      if not cfg.encode_invalid then error('Cannot serialise number: must not be NaN or Inf', 0) end
      if n ~= n then buf[#buf + 1] = 'nan' else buf[#buf + 1] = n > 0 and 'inf' or '-inf' end
      return
    end
    -- as a double, like the C module (n + 0.0 would turn -0.0 into 0.0)
    if mtype(n) == 'integer' then n = n + 0.0 end
    buf[#buf + 1] = sformat('%.' .. cfg.precision .. 'g', n)
  end

  local function encode_string(s, buf)
    local pattern = cfg.escape_slash and '[%c"\\/\127]' or '[%c"\\\127]'
    buf[#buf + 1] = '"' .. sgsub(s, pattern, ESCAPES) .. '"'
  end

  -- lua_array_length (lua_cjson.c): the array length, or -1 for an object
  local function array_length(t)
    local max, items = 0, 0
    for k in pairs(t) do
      if type(k) == 'number' and k >= 1 and mfloor(k) == k then
        if k > max then max = k end
        items = items + 1
      else
        return -1
      end
    end
    if cfg.sparse_ratio > 0 and max > items * cfg.sparse_ratio and max > cfg.sparse_safe then
      if not cfg.sparse_convert then error('Cannot serialise table: excessively sparse array', 0) end
      return -1
    end
    return max
  end

  local encode_value
  local function encode_table(t, depth, buf)
    depth = depth + 1
    if depth > cfg.encode_max_depth then error(sformat('Cannot serialise, excessive nesting (%d)', depth), 0) end
    local mt = getmetatable(t)
    local len
    if next(t) == nil and (mt == array_mt or mt == empty_array_mt or not cfg.empty_table_as_object) then
      buf[#buf + 1] = '[]'
      return
    end
    if mt == array_mt then len = #t else len = array_length(t) end
    if len >= 0 then
      if len == 0 then
        buf[#buf + 1] = cfg.empty_table_as_object and '{}' or '[]'
        return
      end
      buf[#buf + 1] = '['
      for i = 1, len do
        if i > 1 then buf[#buf + 1] = ',' end
        encode_value(t[i], depth, buf)
      end
      buf[#buf + 1] = ']'
      return
    end
    buf[#buf + 1] = '{'
    local first = true
    for k, v in pairs(t) do
      if not first then buf[#buf + 1] = ',' end
      first = false
      local kt = type(k)
      if kt == 'string' then encode_string(k, buf)
      elseif kt == 'number' then
        buf[#buf + 1] = '"' .. sformat('%.' .. cfg.precision .. 'g', k + 0.0) .. '"'
      else
        error(sformat('Cannot serialise %s: table key must be a number or string', kt), 0)
      end
      buf[#buf + 1] = ':'
      encode_value(v, depth, buf)
    end
    buf[#buf + 1] = '}'
  end

  function encode_value(v, depth, buf)
    local t = type(v)
    if t == 'string' then encode_string(v, buf)
    elseif t == 'number' then encode_number(v, buf)
    elseif t == 'boolean' then buf[#buf + 1] = v and 'true' or 'false'
    elseif t == 'table' then encode_table(v, depth, buf)
    elseif t == 'nil' or v == null then buf[#buf + 1] = 'null'
    elseif v == empty_array then buf[#buf + 1] = '[]'
    else error(sformat('Cannot serialise %s: type not supported', t), 0) end
  end

  function cjson.encode(...)
    if select('#', ...) ~= 1 then argerror(1, 'expected 1 argument', 'encode') end
    local buf = {}
    local value = ...
    -- luaL_error: the message carries the caller's position
    local ok, err = pcall(encode_value, value, 0, buf)
    if not ok then error(err, 2) end
    return tconcat(buf)
  end

  ------------------------------------------------------------------------------------------
  -- decode

  local function decode(text)
    local pos = 1
    local len = #text
    local depth = 0

    -- the next token: kind ('value' with its value, a punctuation char, 'end' or 'error'), start
    local function token()
      local s = sfind(text, '[^ \t\n\r]', pos)
      if s == nil then pos = len + 1 return 'end', nil, len + 1 end
      local c = ssub(text, s, s)
      if T_NAMES[c] then pos = s + 1 return c, nil, s end
      if c == '"' then
        local parts, i = {}, s + 1
        while true do
          local q = sfind(text, '["\\]', i)
          if q == nil then pos = len + 1 return 'error', 'unexpected end of string', len + 1 end
          parts[#parts + 1] = ssub(text, i, q - 1)
          if ssub(text, q, q) == '"' then pos = q + 1 return 'value', tconcat(parts), s, 'T_STRING' end
          local e = ssub(text, q + 1, q + 1)
          local simple = ({ ['"'] = '"', ['\\'] = '\\', ['/'] = '/', b = '\b', f = '\f', n = '\n', r = '\r', t = '\t' })[e]
          if simple then
            parts[#parts + 1] = simple
            i = q + 2
          elseif e == 'u' then
            local hex = smatch(text, '^%x%x%x%x', q + 2)
            if not hex then pos = q return 'error', 'invalid unicode escape code', q end
            local cp = tonumber(hex, 16)
            i = q + 6
            if cp >= 0xD800 and cp <= 0xDBFF then
              local lo = smatch(text, '^\\u(%x%x%x%x)', i)
              local lcp = lo and tonumber(lo, 16)
              if not lcp or lcp < 0xDC00 or lcp > 0xDFFF then pos = q return 'error', 'invalid unicode escape code', q end
              cp = 0x10000 + ((cp - 0xD800) << 10) + (lcp - 0xDC00)
              i = i + 6
            elseif cp >= 0xDC00 and cp <= 0xDFFF then
              pos = q return 'error', 'invalid unicode escape code', q
            end
            parts[#parts + 1] = utf8.char(cp)
          else
            pos = q return 'error', 'invalid escape code', q
          end
        end
      end
      if ssub(text, s, s + 3) == 'true' then pos = s + 4 return 'value', true, s, 'T_BOOLEAN' end
      if ssub(text, s, s + 4) == 'false' then pos = s + 5 return 'value', false, s, 'T_BOOLEAN' end
      if ssub(text, s, s + 3) == 'null' then pos = s + 4 return 'value', null, s, 'T_NULL' end
      if c == '-' or sfind(c, '%d') or (cfg.decode_invalid and (smatch(text, '^[iI][nN][fF]', s) or smatch(text, '^[nN][aA][nN]', s))) then
        local num = smatch(text, '^-?0[xX]%x+', s)
        local value
        if num then
          if not cfg.decode_invalid then pos = s return 'error', 'invalid number', s end
          value = tonumber(num) + 0.0
        else
          num = smatch(text, '^-?[iI][nN][fF][iI][nN][iI][tT][yY]', s) or smatch(text, '^-?[iI][nN][fF]', s)
            or smatch(text, '^-?[nN][aA][nN]', s)
          if num then
            if not cfg.decode_invalid then pos = s return 'error', 'invalid number', s end
            local neg = ssub(num, 1, 1) == '-'
            -- strtod's NaN is positive (prints "nan"); 0/0 is negative here
            if sfind(num, '[nN][aA][nN]') then value = -(0.0 / 0.0) else value = neg and -huge or huge end
          else
            num = smatch(text, '^-?%d+%.?%d*', s)
            if num == nil then pos = s return 'error', 'invalid number', s end
            local exp = smatch(text, '^[eE][-+]?%d+', s + #num)
            if exp then num = num .. exp end
            value = tonumber(num)
            if value == nil then pos = s return 'error', 'invalid number', s end
            if mtype(value) == 'integer' then value = tonumber(num .. '.0') or (value + 0.0) end
          end
        end
        pos = s + #num
        return 'value', value, s, 'T_NUMBER'
      end
      pos = s
      return 'error', 'invalid token', s
    end

    local function found(kind, value, at, name)
      local what
      if kind == 'error' then what = value
      elseif kind == 'end' then what = 'T_END'
      elseif kind == 'value' then what = name
      else what = T_NAMES[kind] end
      return sformat('%s at character %d', what, at)
    end
    local function expected(what, kind, value, at, name)
      error(sformat('Expected %s but found %s', what, found(kind, value, at, name)), 0)
    end

    local parse_value
    local function nest(at)
      depth = depth + 1
      if depth > cfg.decode_max_depth then
        error(sformat('Found too many nested data structures (%d) at character %d', depth, at), 0)
      end
    end

    local function parse_object(at)
      nest(at)
      local obj = {}
      local kind, value, kat, name = token()
      if kind == '}' then depth = depth - 1 return obj end
      while true do
        if kind ~= 'value' or name ~= 'T_STRING' then expected('object key string', kind, value, kat, name) end
        local key = value
        kind, value, kat, name = token()
        if kind ~= ':' then expected('colon', kind, value, kat, name) end
        obj[key] = parse_value(token())
        kind, value, kat, name = token()
        if kind == '}' then depth = depth - 1 return obj end
        if kind ~= ',' then expected('comma or object end', kind, value, kat, name) end
        kind, value, kat, name = token()
      end
    end

    local function parse_array(at)
      nest(at)
      local arr = {}
      if cfg.array_with_mt then setmetatable(arr, array_mt) end
      local kind, value, kat, name = token()
      if kind == ']' then depth = depth - 1 return arr end
      local n = 0
      while true do
        n = n + 1
        arr[n] = parse_value(kind, value, kat, name)
        kind, value, kat, name = token()
        if kind == ']' then depth = depth - 1 return arr end
        if kind ~= ',' then expected('comma or array end', kind, value, kat, name) end
        kind, value, kat, name = token()
      end
    end

    function parse_value(kind, value, at, name)
      if kind == 'value' then return value end
      if kind == '{' then return parse_object(at) end
      if kind == '[' then return parse_array(at) end
      expected('value', kind, value, at, name)
    end

    local result = parse_value(token())
    local kind, value, at, name = token()
    if kind ~= 'end' then expected('the end', kind, value, at, name) end
    return result
  end

  function cjson.decode(...)
    if select('#', ...) ~= 1 then argerror(1, 'expected 1 argument', 'decode') end
    local text = ...
    if type(text) == 'number' then text = tostring(text)
    elseif type(text) ~= 'string' then argerror(1, 'string expected, got ' .. type(text), 'decode') end
    local ok, r = pcall(decode, text)
    if not ok then error(r, 2) end
    return r
  end

  function cjson.new()
    return new_instance()
  end

  return cjson
end

local function make_safe(cjson)
  for _, name in pairs({ 'encode', 'decode' }) do
    local f = cjson[name]
    cjson[name] = function(...)
      local ok, r = pcall(f, ...)
      if ok then return r end
      return nil, r
    end
  end
  local new = cjson.new
  cjson.new = function() return make_safe(new()) end
  return cjson
end

if modname == 'cjson.safe' then return make_safe(new_instance()) end
return new_instance()
