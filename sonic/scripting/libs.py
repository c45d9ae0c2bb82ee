"""Redis 7.0's script libraries (cjson, cmsgpack, bit, struct) for a lupa Lua 5.1 runtime.

Redis links four C libraries into its Lua interpreter: lua-cjson 2.1.0,
lua-cmsgpack 0.4.0, LuaBitOp 1.0.2 and Roberto Ierusalimschy's struct 0.2.
sonic re-implements them in plain Lua (the C{LIBS_LUA} chunk below), so a
script never gets a handle on a Python object: there is nothing of Python to
reach, whatever a script does with the tables.  Each function copies the
behaviour of the C code it replaces, read from Redis' answers: cjson's number
format (C{%.14g}), sparse-array rules, token names and error positions,
msgpack's type choices (the smallest integer form, a float when the double
survives the round trip to single precision, 16 levels of nesting), LuaBitOp's
conversion of any number to 32 bits (the C{2^52+2^51} trick) and struct's
64-bit integer arithmetic, including what the C code does past its limits.

Each library function is served to scripts through a C function (a locked
userdata whose C{__call} is a C{coroutine.wrap}, see C{as_c}): like Redis'
C functions it keeps the script's frame even in a tail call
(C{return cjson.decode(x)}), and its errors come out prefixed with the
script's position exactly as C{luaL_error}'s.  What this shows differently:
C{type(cjson.encode)} is C{"userdata"}, argument errors name the function
by its field (C{bad argument #1 to 'encode'}, where Redis would say C{'f'}
after C{local f = cjson.encode}, or C{'?'} under C{pcall}), there is no
"calling 'encode' on bad self" for method calls, and cmsgpack's
"table index is nil/NaN" carries the script's position.

Speed: plain Lua, so about 8 times slower than Redis' C for big documents
(decoding 7.7 KB of JSON takes about 2.6 ms against 0.3 ms in redis-server).

Use: C{install_libs(lua)} runs the chunk in a runtime, sets the globals
C{cjson}, C{cmsgpack}, C{bit} and C{struct}, and returns the four tables in a
dict, for an engine that builds its own sandbox environment.
"""

LIBS_LUA = r"""
local type, tostring, tonumber, select, pairs, next, error, pcall, rawset =
      type, tostring, tonumber, select, pairs, next, error, pcall, rawset
local setmetatable, getmetatable, newproxy, unpack, ipairs =
      setmetatable, getmetatable, newproxy, unpack, ipairs
local floor, frexp, ldexp, huge = math.floor, math.frexp, math.ldexp, math.huge
local byte, char, sub, find, format, gsub, rep =
      string.byte, string.char, string.sub, string.find, string.format, string.gsub, string.rep
local concat = table.concat
local getinfo = debug and debug.getinfo

-- The name a function was called by, as luaL_argerror finds it (level 2 is
-- the library function when called from argerr's caller at level 1).
-- A tail call ("return cjson.encode(x)") leaves no name: the field name,
-- kept in NAMES by function, stands in (C functions keep theirs in Redis).
local NAMES = setmetatable({}, {__mode = "k"})
-- The library functions run as C functions (see as_c below): their errors
-- carry no position of their own (the C wrapper adds the caller's) and
-- argument errors name the function by its field.
local AS_C = newproxy ~= nil
local function callname(level)
  if AS_C then
    local ar = getinfo and getinfo(level + 1, "f")
    return ar and NAMES[ar.func] or "?", ""
  end
  if getinfo then
    local ar = getinfo(level + 1, "nf")
    if ar then
      local name = ar.name
      if not name then
        -- only a tail call loses the name Redis would see; a call from a C
        -- function (pcall(cjson.encode)) has none in Redis either
        local up = getinfo(level + 2, "S")
        name = up and up.what == "tail" and NAMES[ar.func] or "?"
      end
      return name, ar.namewhat
    end
  end
  return "?", ""
end

-- luaL_argerror, raised from a library entry function (level = that
-- function's level relative to argerr's caller).
local function argerr(n, msg, level)
  level = level or 1
  local name, namewhat = callname(level + 1)
  if namewhat == "method" then
    n = n - 1
    if n == 0 then
      error(format("calling '%s' on bad self (%s)", name, msg), AS_C and 0 or level + 2)
    end
  end
  error(format("bad argument #%d to '%s' (%s)", n, name, msg), AS_C and 0 or level + 2)
end

local function typename_of(nargs, i, v)
  if i > nargs then return "no value" end
  return type(v)
end

local function typeerr(n, expected, got, level)
  argerr(n, expected .. " expected, got " .. got, (level or 1) + 1)
end

-- luaL_checklstring: strings and numbers (converted with %.14g).
local function checkstring(n, v, nargs, level)
  local t = type(v)
  if t == "string" then return v end
  if t == "number" then return tostring(v) end
  typeerr(n, "string", typename_of(nargs, n, v), (level or 1) + 1)
end

-- luaL_checknumber
local function checknumber(n, v, nargs, level)
  local t = type(v)
  if t == "number" then return v end
  if t == "string" then
    local x = tonumber(v)
    if x then return x end
  end
  typeerr(n, "number", typename_of(nargs, n, v), (level or 1) + 1)
end

-- lua_Number -> lua_Integer (a C cast: truncation; out of range gives INT64_MIN).
local function toint64(x)
  if x ~= x or x >= 9223372036854775808 or x < -9223372036854775808 then
    return -9223372036854775808
  end
  if x >= 0 then return floor(x) end
  return -floor(-x)
end

-- (int) cast of a lua_Integer.
local function toint32(x)
  x = x % 4294967296
  if x >= 2147483648 then x = x - 4294967296 end
  return x
end

local function checkinteger(n, v, nargs, level)
  return toint64(checknumber(n, v, nargs, (level or 1) + 1))
end

-- Errors raised inside a library's helpers travel as {msg} tables and are
-- re-raised by the entry function with the caller's position, as luaL_error.
local Fail = {}
local function fail(msg) error(setmetatable({msg}, Fail), 0) end
local function reraise(e, level)
  if type(e) == "table" and getmetatable(e) == Fail then error(e[1], AS_C and 0 or level + 1) end
  error(e, 0)
end

----------------------------------------------------------------------------
-- IEEE 754 helpers (struct and cmsgpack)
----------------------------------------------------------------------------
local NAN_NEG = 0/0
local NAN_POS = -NAN_NEG
if tostring(NAN_NEG) ~= "-nan" then NAN_NEG, NAN_POS = NAN_POS, NAN_NEG end

local function nan_negative(x) return sub(tostring(x), 1, 1) == "-" end

-- Rounds half to even.
local function rint(s)
  local f = floor(s)
  local d = s - f
  if d > 0.5 or (d == 0.5 and f % 2 == 1) then return f + 1 end
  return f
end

-- (float)x as a double, C's round-to-nearest-even conversion.
local function tofloat(x)
  if x ~= x or x == huge or x == -huge or x == 0 then return x end
  local neg = x < 0
  if neg then x = -x end
  local m, e = frexp(x)
  local E = e - 1
  local r
  if E >= -126 then
    local s = rint(m * 16777216)
    r = ldexp(s, e - 24)
    if r >= 3.4028235677973366e38 then r = huge end
  else
    r = ldexp(rint(ldexp(x, 149)), -149)
  end
  if neg then return -r end
  return r
end

-- Big-endian bytes of a single-precision value (x must already be a float).
local function float_be(x)
  local sign = 0
  if x ~= x then
    return char(nan_negative(x) and 0xff or 0x7f, 0xc0, 0, 0)
  end
  if x < 0 or (x == 0 and 1 / x < 0) then sign = 128; x = -x end
  if x == huge then return char(sign + 0x7f, 0x80, 0, 0) end
  if x == 0 then return char(sign, 0, 0, 0) end
  local m, e = frexp(x)
  local biased, mant = e + 126, nil
  if biased <= 0 then
    biased = 0
    mant = ldexp(x, 149)
  else
    mant = (m * 2 - 1) * 8388608
  end
  return char(sign + floor(biased / 2), (biased % 2) * 128 + floor(mant / 65536),
              floor(mant / 256) % 256, mant % 256)
end

local function double_be(x)
  local sign = 0
  if x ~= x then
    return char(nan_negative(x) and 0xff or 0x7f, 0xf8, 0, 0, 0, 0, 0, 0)
  end
  if x < 0 or (x == 0 and 1 / x < 0) then sign = 128; x = -x end
  if x == huge then return char(sign + 0x7f, 0xf0, 0, 0, 0, 0, 0, 0) end
  if x == 0 then return char(sign, 0, 0, 0, 0, 0, 0, 0) end
  local m, e = frexp(x)
  local biased, mant = e + 1022, nil
  if biased <= 0 then
    biased = 0
    mant = ldexp(x, 1074)
  else
    mant = (m * 2 - 1) * 4503599627370496
  end
  local hi = floor(mant / 4294967296)
  local lo = mant % 4294967296
  return char(sign + floor(biased / 16), (biased % 16) * 16 + floor(hi / 65536),
              floor(hi / 256) % 256, hi % 256,
              floor(lo / 16777216), floor(lo / 65536) % 256, floor(lo / 256) % 256, lo % 256)
end

local function float_from_be(s, i)
  local b0, b1, b2, b3 = byte(s, i, i + 3)
  local sign = b0 >= 128
  local ex = (b0 % 128) * 2 + floor(b1 / 128)
  local mant = (b1 % 128) * 65536 + b2 * 256 + b3
  local v
  if ex == 255 then
    if mant == 0 then v = huge else return sign and NAN_NEG or NAN_POS end
  elseif ex == 0 then
    v = ldexp(mant, -149)
  else
    v = ldexp(mant + 8388608, ex - 150)
  end
  if sign then return -v end
  return v
end

local function double_from_be(s, i)
  local b0, b1, b2, b3, b4, b5, b6, b7 = byte(s, i, i + 7)
  local sign = b0 >= 128
  local ex = (b0 % 128) * 16 + floor(b1 / 16)
  local mant = (((b1 % 16) * 256 + b2) * 256 + b3) * 4294967296 +
               ((b4 * 256 + b5) * 256 + b6) * 256 + b7
  local v
  if ex == 2047 then
    if mant == 0 then v = huge else return sign and NAN_NEG or NAN_POS end
  elseif ex == 0 then
    v = ldexp(mant, -1074)
  else
    v = ldexp(mant + 4503599627370496, ex - 1075)
  end
  if sign then return -v end
  return v
end

-- Big-endian bytes (count n <= 8) of an integer-valued x taken modulo 2^64
-- (negative values in two's complement).
local function int_be(x, n)
  local neg = x < 0
  if neg then x = -x end
  local t = {}
  for k = 8, 1, -1 do
    t[k] = x % 256
    x = floor(x / 256)
  end
  if neg then
    local carry = 1
    for k = 8, 1, -1 do
      local v = 255 - t[k] + carry
      if v >= 256 then v = v - 256; carry = 1 else carry = 0 end
      t[k] = v
    end
  end
  return char(unpack(t, 9 - n, 8))
end

local function reverse(s) return s:reverse() end

----------------------------------------------------------------------------
-- bit (LuaBitOp 1.0.2)
----------------------------------------------------------------------------
local bit = {}
do
  local AND4, XOR4 = {}, {}
  for a = 0, 15 do
    for b = 0, 15 do
      local ra, rx, w, x, y = 0, 0, 1, a, b
      for _ = 1, 4 do
        local xa, yb = x % 2, y % 2
        if xa == 1 and yb == 1 then ra = ra + w end
        if xa ~= yb then rx = rx + w end
        x, y, w = (x - xa) / 2, (y - yb) / 2, w * 2
      end
      AND4[a * 16 + b], XOR4[a * 16 + b] = ra, rx
    end
  end

  local function op2(t, a, b)
    local r, m = 0, 1
    for _ = 1, 8 do
      local x, y = a % 16, b % 16
      r = r + t[x * 16 + y] * m
      a, b, m = (a - x) / 16, (b - y) / 16, m * 16
    end
    return r
  end

  -- barg: any number to its 32 low bits, as (x + 2^52 + 2^51)'s mantissa.
  local function tobits(x)
    if x >= -2147483648 and x < 4294967296 and x == floor(x) then
      return x % 4294967296
    end
    local y = x + 6755399441055744
    if y ~= y or y == huge or y == -huge or y == 0 then return 0 end
    local m = frexp(y)
    if m < 0 then m = -m end
    return (m * 9007199254740992) % 4294967296
  end

  local function barg(i, v, nargs)
    local n
    if type(v) == "number" then n = v
    elseif type(v) == "string" then n = tonumber(v) end
    if n == nil then
      typeerr(i, "number", typename_of(nargs, i, v), 2)
    end
    return tobits(n)
  end

  local function ret(b)
    if b >= 2147483648 then return b - 4294967296 end
    return b
  end

  function bit.tobit(...)
    local n = select("#", ...)
    return ret(barg(1, (...), n))
  end

  function bit.bnot(...)
    local n = select("#", ...)
    return ret(4294967295 - barg(1, (...), n))
  end

  function bit.bswap(...)
    local n = select("#", ...)
    local b = barg(1, (...), n)
    local b0 = b % 256
    local b1 = floor(b / 256) % 256
    local b2 = floor(b / 65536) % 256
    local b3 = floor(b / 16777216)
    return ret(((b0 * 256 + b1) * 256 + b2) * 256 + b3)
  end

  local function fold(t, kind)
    return function(...)
      local n = select("#", ...)
      local args = {...}
      local b = barg(1, args[1], n)
      for i = n, 2, -1 do
        local c = barg(i, args[i], n)
        if kind == 0 then b = op2(t, b, c)
        elseif kind == 1 then b = b + c - op2(AND4, b, c)
        else b = op2(t, b, c) end
      end
      return ret(b)
    end
  end
  bit.band = fold(AND4, 0)
  bit.bor = fold(AND4, 1)
  bit.bxor = fold(XOR4, 2)

  local function shift(kind)
    return function(...)
      local n = select("#", ...)
      local x, s = ...
      local b = barg(1, x, n)
      s = barg(2, s, n) % 32
      local p = 2 ^ s
      if kind == "l" then
        return ret((b * p) % 4294967296)
      elseif kind == "r" then
        return ret(floor(b / p))
      elseif kind == "a" then
        if b >= 2147483648 then b = b - 4294967296 end
        return ret(floor(b / p) % 4294967296)
      elseif kind == "rol" then
        return ret((b * p) % 4294967296 + floor(b / 2 ^ (32 - s)))
      else
        return ret(floor(b / p) + (b * 2 ^ (32 - s)) % 4294967296)
      end
    end
  end
  bit.lshift = shift("l")
  bit.rshift = shift("r")
  bit.arshift = shift("a")
  bit.rol = shift("rol")
  bit.ror = shift("ror")

  function bit.tohex(...)
    local nargs = select("#", ...)
    local x, w = ...
    local b = barg(1, x, nargs)
    local n = 8
    if nargs >= 2 then n = ret(barg(2, w, nargs)) end
    local digits = "0123456789abcdef"
    if n < 0 then
      -- -(-2^31) overflows; the compiled C treats it as large: 8 digits
      if n == -2147483648 then n = 8 else n = -n end
      digits = "0123456789ABCDEF"
    end
    if n > 8 then n = 8 end
    local out = {}
    for i = n, 1, -1 do
      local d = b % 16
      out[i] = sub(digits, d + 1, d + 1)
      b = (b - d) / 16
    end
    return concat(out)
  end
end

----------------------------------------------------------------------------
-- cjson (lua-cjson 2.1.0)
----------------------------------------------------------------------------
-- cjson.null is a NULL lightuserdata in Redis: a userdata printing the same.
local null
if newproxy then
  null = newproxy(true)
  local mt = getmetatable(null)
  mt.__tostring = function() return "userdata: (nil)" end
  mt.__metatable = false
else
  null = setmetatable({}, {__metatable = false})
end

local ESCAPES = {
  ['"'] = '\\"', ["\\"] = "\\\\", ["/"] = "\\/", ["\b"] = "\\b", ["\f"] = "\\f",
  ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t", ["\127"] = "\\u007f",
}
for i = 0, 31 do
  local c = char(i)
  if not ESCAPES[c] then ESCAPES[c] = format("\\u%04x", i) end
end

local TOKEN_BY_BYTE = {
  [123] = "T_OBJ_BEGIN", [125] = "T_OBJ_END", [91] = "T_ARR_BEGIN", [93] = "T_ARR_END",
  [44] = "T_COMMA", [58] = "T_COLON",
}
local ESC_DECODE = {
  ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t",
}
local HEXVAL = {}
for i = 0, 9 do HEXVAL[48 + i] = i end
for i = 0, 5 do HEXVAL[65 + i] = 10 + i; HEXVAL[97 + i] = 10 + i end

local function utf8(cp)
  if cp <= 0x7F then return char(cp) end
  if cp <= 0x7FF then
    return char(0xC0 + floor(cp / 64), 0x80 + cp % 64)
  end
  if cp <= 0xFFFF then
    return char(0xE0 + floor(cp / 4096), 0x80 + floor(cp / 64) % 64, 0x80 + cp % 64)
  end
  return char(0xF0 + floor(cp / 262144), 0x80 + floor(cp / 4096) % 64,
              0x80 + floor(cp / 64) % 64, 0x80 + cp % 64)
end

local function hex4(s, i)
  local a, b, c, d = byte(s, i, i + 3)
  a, b, c, d = HEXVAL[a], HEXVAL[b], HEXVAL[c], HEXVAL[d]
  if not (a and b and c and d) then return nil end
  return ((a * 16 + b) * 16 + c) * 16 + d
end

-- The longest prefix of s at i that C's strtod accepts: value and next index.
local function strtod(s, i)
  local j = i
  local c = sub(s, j, j)
  local neg = false
  if c == "+" or c == "-" then neg = c == "-"; j = j + 1 end
  local rest = sub(s, j, j + 7):lower()
  if sub(rest, 1, 3) == "inf" then
    local e = j + 3
    if rest == "infinity" then e = j + 8 end
    return neg and -huge or huge, e
  end
  if sub(rest, 1, 3) == "nan" then
    local e = j + 3
    local _, pe = find(s, "^%([%w_]*%)", e)
    if pe then e = pe + 1 end
    return neg and NAN_NEG or NAN_POS, e
  end
  if find(rest, "^0x%x") or find(rest, "^0x%.%x") then
    local _, e = find(s, "^0[xX]%x*", j)
    local _, f = find(s, "^%.%x*", e + 1)
    if f then e = f end
    local _, g = find(s, "^[pP][+-]?%d+", e + 1)
    if g then e = g end
    return tonumber(sub(s, i, e)), e + 1
  end
  local _, e = find(s, "^%d*", j)
  local digits = e - j + 1
  local _, f = find(s, "^%.%d*", e + 1)
  if f then digits = digits + f - e - 1; e = f end
  if digits == 0 then return nil end
  local _, g = find(s, "^[eE][+-]?%d+", e + 1)
  if g then e = g end
  return tonumber(sub(s, i, e)), e + 1
end

local function is_invalid_number(s, i)
  local c = sub(s, i, i)
  if c == "+" then return true end
  if c == "-" then i = i + 1; c = sub(s, i, i) end
  if c == "0" then
    local c2 = byte(s, i + 1) or 0
    if c2 == 88 or c2 == 120 or (c2 >= 48 and c2 <= 57) then return true end
    return false
  elseif (byte(c) or 0) <= 57 then
    return false
  end
  local w = sub(s, i, i + 2):lower()
  return w == "inf" or w == "nan"
end

local function make_cjson()
  local cfg = {
    sparse_convert = 0, sparse_ratio = 2, sparse_safe = 10,
    encode_max_depth = 1000, decode_max_depth = 1000,
    invalid_encode = 0, invalid_decode = 1, keep_buffer = 1, precision = 14,
  }
  local numfmt = "%.14g"
  local cjson = {_NAME = "cjson", _VERSION = "2.1.0", null = null}

  -------------------------------------------------------------- encode
  local function fmtnum(x)
    if x ~= x or x == huge or x == -huge then
      if cfg.invalid_encode == 0 then
        fail("Cannot serialise number: must not be NaN or Inf")
      elseif cfg.invalid_encode == 1 then
        if x ~= x then return "nan" end
      else
        return "null"
      end
    end
    return format(numfmt, x)
  end

  local encode_value

  local function array_length(t)
    local max, items = 0, 0
    for k in next, t do
      if type(k) == "number" and k ~= 0 and floor(k) == k and k >= 1 then
        if k > max then
          if k < 2147483648 then max = k else max = -2147483648 end
        end
        items = items + 1
      else
        return -1
      end
    end
    if cfg.sparse_ratio > 0 and max > items * cfg.sparse_ratio and max > cfg.sparse_safe then
      if cfg.sparse_convert == 0 then
        fail("Cannot serialise table: excessively sparse array")
      end
      return -1
    end
    return max
  end

  function encode_value(v, out, n, depth)
    local t = type(v)
    if t == "string" then
      if find(v, '[%c"\\/]') then v = gsub(v, '[%c"\\/]', ESCAPES) end
      n = n + 1; out[n] = '"' .. v .. '"'
    elseif t == "number" then
      n = n + 1; out[n] = fmtnum(v)
    elseif t == "boolean" then
      n = n + 1; out[n] = v and "true" or "false"
    elseif t == "nil" or v == null then
      n = n + 1; out[n] = "null"
    elseif t == "table" then
      depth = depth + 1
      if depth > cfg.encode_max_depth then
        fail(format("Cannot serialise, excessive nesting (%d)", depth))
      end
      local len = array_length(v)
      if len > 0 then
        n = n + 1; out[n] = "["
        for i = 1, len do
          if i > 1 then n = n + 1; out[n] = "," end
          n = encode_value(v[i], out, n, depth)
        end
        n = n + 1; out[n] = "]"
      else
        n = n + 1; out[n] = "{"
        local comma = false
        for k, val in next, v do
          if comma then n = n + 1; out[n] = "," else comma = true end
          local kt = type(k)
          if kt == "number" then
            n = n + 1; out[n] = '"' .. fmtnum(k) .. '":'
          elseif kt == "string" then
            if find(k, '[%c"\\/]') then k = gsub(k, '[%c"\\/]', ESCAPES) end
            n = n + 1; out[n] = '"' .. k .. '":'
          else
            fail("Cannot serialise " .. kt .. ": table key must be a number or string")
          end
          n = encode_value(val, out, n, depth)
        end
        n = n + 1; out[n] = "}"
      end
    else
      fail("Cannot serialise " .. t .. ": type not supported")
    end
    return n
  end

  local function encode(v)
    local out = {}
    encode_value(v, out, 0, 0)
    return concat(out)
  end

  function cjson.encode(...)
    if select("#", ...) ~= 1 then argerr(1, "expected 1 argument") end
    local ok, r = pcall(encode, (...))
    if not ok then reraise(r, 2) end
    return r
  end

  -------------------------------------------------------------- decode
  -- The parser keeps the text in s and its position in pos (1-based).
  local s, pos, depth

  local function perr(expected, found, index)
    fail(format("Expected %s but found %s at character %d", expected, found, index))
  end

  -- Returns kind, value, index (the token's 1-based start).
  local function token()
    local b = byte(s, pos)
    if b == 32 or b == 9 or b == 10 or b == 13 then
      local _, e = find(s, "^[ \t\n\r]*", pos)
      pos = e + 1
      b = byte(s, pos)
    end
    local i = pos
    if b == nil then return "T_END", nil, i end
    local simple = TOKEN_BY_BYTE[b]
    if simple then pos = i + 1; return simple, nil, i end
    if b == 34 then  -- '"'
      local q = find(s, '["\\]', i + 1)
      if q and byte(s, q) == 34 then  -- no escapes: one piece
        pos = q + 1
        return "T_STRING", sub(s, i + 1, q - 1), i
      end
      local parts, np = {}, 0
      local j = i + 1
      while true do
        q = find(s, '["\\]', j)
        if not q then return "T_ERROR", "unexpected end of string", #s + 1 end
        if q > j then np = np + 1; parts[np] = sub(s, j, q - 1) end
        if byte(s, q) == 34 then
          pos = q + 1
          return "T_STRING", concat(parts), i
        end
        local ec = sub(s, q + 1, q + 1)
        if ec == "u" then
          local cp = hex4(s, q + 2)
          local len = 6
          if cp and cp >= 0xD800 and cp <= 0xDFFF then
            if cp >= 0xDC00 or sub(s, q + 6, q + 7) ~= "\\u" then
              cp = nil
            else
              local lo = hex4(s, q + 8)
              if not lo or lo < 0xDC00 or lo > 0xDFFF then
                cp = nil
              else
                cp = (cp - 0xD800) * 1024 + (lo - 0xDC00) + 0x10000
                len = 12
              end
            end
          end
          if not cp then return "T_ERROR", "invalid unicode escape code", q end
          np = np + 1; parts[np] = utf8(cp)
          j = q + len
        else
          local d = ESC_DECODE[ec]
          if not d then return "T_ERROR", "invalid escape code", q end
          np = np + 1; parts[np] = d
          j = q + 2
        end
      end
    end
    if b == 45 or (b >= 48 and b <= 57) then  -- '-' or a digit
      if cfg.invalid_decode == 0 and is_invalid_number(s, i) then
        return "T_ERROR", "invalid number", i
      end
      -- the common case, an integer strtod reads whole: tonumber agrees
      local _, e = find(s, "^%-?%d+", i)
      if e then
        local nb = byte(s, e + 1)
        if nb ~= 46 and nb ~= 101 and nb ~= 69 and nb ~= 120 and nb ~= 88 then
          pos = e + 1
          return "T_NUMBER", tonumber(sub(s, i, e)), i
        end
      end
      local v, e = strtod(s, i)
      if not v then return "T_ERROR", "invalid number", i end
      pos = e
      return "T_NUMBER", v, i
    end
    if sub(s, i, i + 3) == "true" then pos = i + 4; return "T_BOOLEAN", true, i end
    if sub(s, i, i + 4) == "false" then pos = i + 5; return "T_BOOLEAN", false, i end
    if sub(s, i, i + 3) == "null" then pos = i + 4; return "T_NULL", null, i end
    if cfg.invalid_decode ~= 0 and is_invalid_number(s, i) then
      local v, e = strtod(s, i)
      if not v then return "T_ERROR", "invalid number", i end
      pos = e
      return "T_NUMBER", v, i
    end
    return "T_ERROR", "invalid token", i
  end

  local function found(kind, v)
    if kind == "T_ERROR" then return v end
    return kind
  end

  local value

  local function descend()
    depth = depth + 1
    if depth > cfg.decode_max_depth then
      fail(format("Found too many nested data structures (%d) at character %d", depth, pos - 1))
    end
  end

  function value(kind, v, idx)
    if kind == "T_STRING" or kind == "T_NUMBER" or kind == "T_BOOLEAN" or kind == "T_NULL" then
      return v
    elseif kind == "T_OBJ_BEGIN" then
      descend()
      local t = {}
      kind, v, idx = token()
      if kind == "T_OBJ_END" then depth = depth - 1; return t end
      while true do
        if kind ~= "T_STRING" then perr("object key string", found(kind, v), idx) end
        local key = v
        kind, v, idx = token()
        if kind ~= "T_COLON" then perr("colon", found(kind, v), idx) end
        rawset(t, key, value(token()))
        kind, v, idx = token()
        if kind == "T_OBJ_END" then depth = depth - 1; return t end
        if kind ~= "T_COMMA" then perr("comma or object end", found(kind, v), idx) end
        kind, v, idx = token()
      end
    elseif kind == "T_ARR_BEGIN" then
      descend()
      local t = {}
      kind, v, idx = token()
      if kind == "T_ARR_END" then depth = depth - 1; return t end
      local i = 1
      while true do
        rawset(t, i, value(kind, v, idx))
        i = i + 1
        kind, v, idx = token()
        if kind == "T_ARR_END" then depth = depth - 1; return t end
        if kind ~= "T_COMMA" then perr("comma or array end", found(kind, v), idx) end
        kind, v, idx = token()
      end
    end
    perr("value", found(kind, v), idx)
  end

  local function decode(text)
    local z = find(text, "\0", 1, true)
    if z then
      if z <= 2 and #text >= 2 then fail("JSON parser does not support UTF-16 or UTF-32") end
      text = sub(text, 1, z - 1)
    end
    s, pos, depth = text, 1, 0
    local r = value(token())
    local kind, v, idx = token()
    if kind ~= "T_END" then perr("the end", found(kind, v), idx) end
    return r
  end

  function cjson.decode(...)
    local n = select("#", ...)
    if n ~= 1 then argerr(1, "expected 1 argument") end
    local text = checkstring(1, (...), n)
    local ok, r = pcall(decode, text)
    s = nil
    if not ok then reraise(r, 2) end
    return r
  end

  -------------------------------------------------------------- config
  local function arg_init(nargs, max)
    if nargs > max then argerr(max + 1, "found too many arguments", 2) end
  end

  local function int_option(nargs, i, v, key, min, max)
    if v ~= nil then
      local x = toint32(checkinteger(i, v, nargs, 2))
      if not (min <= x and x <= max) then
        argerr(1, format("expected integer between %d and %d", min, max), 2)
      end
      cfg[key] = x
    end
    return cfg[key]
  end

  local function enum_option(nargs, i, v, key, options)
    if v ~= nil then
      if type(v) == "boolean" then
        cfg[key] = v and 1 or 0
      else
        local o = checkstring(i, v, nargs, 2)
        local found_at
        for k, name in ipairs(options) do
          if name == o then found_at = k - 1 end
        end
        if not found_at then argerr(i, format("invalid option '%s'", o), 2) end
        cfg[key] = found_at
      end
    end
    local x = cfg[key]
    if x == 0 or x == 1 then return x == 1 end
    return options[x + 1]
  end

  local ONOFF = {"off", "on"}

  function cjson.encode_sparse_array(...)
    local n = select("#", ...)
    arg_init(n, 3)
    local a, b, c = ...
    return enum_option(n, 1, a, "sparse_convert", ONOFF),
           int_option(n, 2, b, "sparse_ratio", 0, 2147483647),
           int_option(n, 3, c, "sparse_safe", 0, 2147483647)
  end

  function cjson.encode_max_depth(...)
    local n = select("#", ...)
    arg_init(n, 1)
    local r = int_option(n, 1, (...), "encode_max_depth", 1, 2147483647)
    return r
  end

  function cjson.decode_max_depth(...)
    local n = select("#", ...)
    arg_init(n, 1)
    local r = int_option(n, 1, (...), "decode_max_depth", 1, 2147483647)
    return r
  end

  function cjson.encode_number_precision(...)
    local n = select("#", ...)
    arg_init(n, 1)
    local p = int_option(n, 1, (...), "precision", 1, 14)
    numfmt = "%." .. p .. "g"
    return p
  end

  function cjson.encode_keep_buffer(...)
    local n = select("#", ...)
    arg_init(n, 1)
    local r = enum_option(n, 1, (...), "keep_buffer", ONOFF)
    return r
  end

  function cjson.encode_invalid_numbers(...)
    local n = select("#", ...)
    arg_init(n, 1)
    local r = enum_option(n, 1, (...), "invalid_encode", {"off", "on", "null"})
    return r
  end

  function cjson.decode_invalid_numbers(...)
    local n = select("#", ...)
    arg_init(n, 1)
    local r = enum_option(n, 1, (...), "invalid_decode", ONOFF)
    return r
  end

  function cjson.new()
    return make_cjson()
  end

  return cjson
end

local cjson = make_cjson()

----------------------------------------------------------------------------
-- cmsgpack (lua-cmsgpack 0.4.0)
----------------------------------------------------------------------------
local cmsgpack = {
  _NAME = "cmsgpack", _VERSION = "lua-cmsgpack 0.4.0",
  _COPYRIGHT = "Copyright (C) 2012, Salvatore Sanfilippo",
  _DESCRIPTION = "MessagePack C implementation for Lua",
}
do
  local function be16(n) return char(floor(n / 256), n % 256) end
  local function be32(n)
    return char(floor(n / 16777216), floor(n / 65536) % 256, floor(n / 256) % 256, n % 256)
  end

  local function pack_int(n)
    if n >= 0 then
      if n <= 127 then return char(n) end
      if n <= 0xff then return char(0xcc, n) end
      if n <= 0xffff then return char(0xcd) .. be16(n) end
      if n <= 0xffffffff then return char(0xce) .. be32(n) end
      return char(0xcf) .. int_be(n, 8)
    end
    if n >= -32 then return char(256 + n) end
    if n >= -128 then return char(0xd0, 256 + n) end
    if n >= -32768 then return char(0xd1) .. be16(65536 + n) end
    if n >= -2147483648 then return char(0xd2) .. be32(4294967296 + n) end
    return char(0xd3) .. int_be(n, 8)
  end

  local function pack_value(v, out, level)
    local t = type(v)
    if t == "table" and level == 16 then t = "nil" end
    if t == "string" then
      local len = #v
      if len < 32 then out[#out + 1] = char(0xa0 + len)
      elseif len <= 0xff then out[#out + 1] = char(0xd9, len)
      elseif len <= 0xffff then out[#out + 1] = char(0xda) .. be16(len)
      else out[#out + 1] = char(0xdb) .. be32(len) end
      out[#out + 1] = v
    elseif t == "boolean" then
      out[#out + 1] = v and "\195" or "\194"
    elseif t == "number" then
      -- IS_INT64_EQUIVALENT: (int64_t)x == x
      if v == v and v ~= huge and v ~= -huge and v == floor(v)
         and v >= -9223372036854775808 and v < 9223372036854775808 then
        out[#out + 1] = pack_int(v)
      else
        local f = tofloat(v)
        if f == v then
          out[#out + 1] = "\202" .. float_be(f)
        else
          out[#out + 1] = "\203" .. double_be(v)
        end
      end
    elseif t == "table" then
      -- table_is_an_array: only positive keys with (int)k == k, max == count
      local count, max, array = 0, 0, true
      for k in next, v do
        if type(k) ~= "number" or k <= 0 or not (k < 2147483648 and k == floor(k)) then
          array = false
          break
        end
        if k > max then max = k end
        count = count + 1
      end
      if array and max == count then
        local len = #v
        if len <= 15 then out[#out + 1] = char(0x90 + len)
        elseif len <= 0xffff then out[#out + 1] = char(0xdc) .. be16(len)
        else out[#out + 1] = char(0xdd) .. be32(len) end
        for j = 1, len do pack_value(v[j], out, level + 1) end
      else
        local len = 0
        for _ in next, v do len = len + 1 end
        if len <= 15 then out[#out + 1] = char(0x80 + len)
        elseif len <= 0xffff then out[#out + 1] = char(0xde) .. be16(len)
        else out[#out + 1] = char(0xdf) .. be32(len) end
        for k, val in next, v do
          pack_value(k, out, level + 1)
          pack_value(val, out, level + 1)
        end
      end
    else
      out[#out + 1] = "\192"
    end
  end

  function cmsgpack.pack(...)
    local n = select("#", ...)
    if n == 0 then argerr(0, "MessagePack pack needs input.") end
    local args, out = {...}, {}
    for i = 1, n do pack_value(args[i], out, 0) end
    return concat(out)
  end

  -- Decoding: a cursor over s; errors are "EOF" or "BAD" strings.
  local s, p, left
  local decode_value

  local function need(n)
    if left < n then error("EOF", 0) end
  end
  local function uint(i, n)
    local v = 0
    for k = i, i + n - 1 do v = v * 256 + byte(s, k) end
    return v
  end
  local function take_str(off, len)
    need(off + len)
    local r = sub(s, p + off, p + off + len - 1)
    p, left = p + off + len, left - off - len
    return r
  end
  local function settable(t, k, v)
    if k == nil then error({"table index is nil"}, 0) end
    if k ~= k then error({"table index is NaN"}, 0) end
    t[k] = v
  end
  local function decode_array(len)
    local t = {}
    for i = 1, len do settable(t, i, decode_value()) end
    return t
  end
  local function decode_map(len)
    local t = {}
    for _ = 1, len do
      local k = decode_value()
      local v = decode_value()
      settable(t, k, v)
    end
    return t
  end
  local function skip(n) p, left = p + n, left - n end

  function decode_value()
    need(1)
    local c = byte(s, p)
    local v
    if c < 0x80 then skip(1); return c
    elseif c >= 0xe0 then skip(1); return c - 256
    elseif c >= 0xa0 and c < 0xc0 then return take_str(1, c - 0xa0)
    elseif c >= 0x90 and c < 0xa0 then skip(1); return decode_array(c - 0x90)
    elseif c >= 0x80 and c < 0x90 then skip(1); return decode_map(c - 0x80)
    elseif c == 0xc0 then skip(1); return nil
    elseif c == 0xc2 then skip(1); return false
    elseif c == 0xc3 then skip(1); return true
    elseif c == 0xcc then need(2); v = byte(s, p + 1); skip(2); return v
    elseif c == 0xd0 then need(2); v = byte(s, p + 1); skip(2); return v >= 128 and v - 256 or v
    elseif c == 0xcd then need(3); v = uint(p + 1, 2); skip(3); return v
    elseif c == 0xd1 then need(3); v = uint(p + 1, 2); skip(3); return v >= 32768 and v - 65536 or v
    elseif c == 0xce then need(5); v = uint(p + 1, 4); skip(5); return v
    elseif c == 0xd2 then need(5); v = uint(p + 1, 4); skip(5)
      return v >= 2147483648 and v - 4294967296 or v
    elseif c == 0xcf or c == 0xd3 then
      -- both pushed as a (signed) lua_Integer: uint64 above 2^63 wrap
      need(9)
      local hi, lo = uint(p + 1, 4), uint(p + 5, 4)
      skip(9)
      if hi >= 2147483648 then hi = hi - 4294967296 end
      return hi * 4294967296 + lo
    elseif c == 0xca then need(5); v = float_from_be(s, p + 1); skip(5); return v
    elseif c == 0xcb then need(9); v = double_from_be(s, p + 1); skip(9); return v
    elseif c == 0xd9 then need(2); return take_str(2, byte(s, p + 1))
    elseif c == 0xda then need(3); return take_str(3, uint(p + 1, 2))
    elseif c == 0xdb then need(5); return take_str(5, uint(p + 1, 4))
    elseif c == 0xdc then need(3); v = uint(p + 1, 2); skip(3); return decode_array(v)
    elseif c == 0xdd then need(5); v = uint(p + 1, 4); skip(5); return decode_array(v)
    elseif c == 0xde then need(3); v = uint(p + 1, 2); skip(3); return decode_map(v)
    elseif c == 0xdf then need(5); v = uint(p + 1, 4); skip(5); return decode_map(v)
    end
    error("BAD", 0)
  end

  local function run(data, limit, offset)
    local len = #data
    local decode_all = limit == 0 and offset == 0
    if offset < 0 or limit < 0 then
      fail(format("Invalid request to unpack with offset of %d and limit of %d.", offset, len))
    elseif offset > len then
      fail(format("Start offset %d greater than input length %d.", offset, len))
    end
    if decode_all then limit = 2147483647 end
    s, p, left = data, offset + 1, len - offset
    local results, cnt = {}, 0
    while left > 0 and cnt < limit do
      local ok, v = pcall(decode_value)
      if not ok then
        if v == "EOF" then fail("Missing bytes in input.") end
        if v == "BAD" then fail("Bad data format in input.") end
        if type(v) == "table" then error(v[1], 0) end
        error(v, 0)
      end
      cnt = cnt + 1
      results[cnt] = v
    end
    if not decode_all then
      local nxt = left == 0 and -1 or len - left
      for i = cnt, 1, -1 do results[i + 1] = results[i] end
      results[1] = nxt
      cnt = cnt + 1
    end
    return results, cnt
  end

  local function unpack_full(data, limit, offset)
    local ok, r, cnt = pcall(run, data, limit, offset)
    s = nil
    if not ok then reraise(r, 3) end
    return r, cnt
  end

  function cmsgpack.unpack(...)
    local n = select("#", ...)
    local r, c = unpack_full(checkstring(1, (...), n), 0, 0)
    return unpack(r, 1, c)
  end

  function cmsgpack.unpack_one(...)
    local n = select("#", ...)
    local data, off = ...
    off = (off == nil) and 0 or toint32(checkinteger(2, off, n))
    local r, c = unpack_full(checkstring(1, data, n), 1, off)
    return unpack(r, 1, c)
  end

  function cmsgpack.unpack_limit(...)
    local n = select("#", ...)
    local data, limit, off = ...
    limit = toint32(checkinteger(2, limit, n))
    off = (off == nil) and 0 or toint32(checkinteger(3, off, n))
    local r, c = unpack_full(checkstring(1, data, n), limit, off)
    return unpack(r, 1, c)
  end
end

----------------------------------------------------------------------------
-- struct (struct 0.2, as patched in Redis)
----------------------------------------------------------------------------
local struct = {}
do
  local MAXINTSIZE, MAXALIGN = 32, 8

  -- The bodies run under pcall: argument errors travel as marker tables
  -- and the entry function raises them under its own name.
  local function marg(n, msg) error({argerr = n, msg = msg}, 0) end
  local function mstring(n, v, nargs)
    local t = type(v)
    if t == "string" then return v end
    if t == "number" then return tostring(v) end
    marg(n, "string expected, got " .. typename_of(nargs, n, v))
  end
  local function mnumber(n, v, nargs)
    local t = type(v)
    if t == "number" then return v end
    if t == "string" then
      local x = tonumber(v)
      if x then return x end
    end
    marg(n, "number expected, got " .. typename_of(nargs, n, v))
  end
  local SIZES = {b = 1, B = 1, h = 2, H = 2, l = 8, L = 8, T = 8, f = 4, d = 8, x = 1}

  local function isdigit(c) return c ~= "" and c >= "0" and c <= "9" end

  -- getnum: digits at fmt[i], returns value, next index
  local function getnum(fmt, i, df)
    if not isdigit(sub(fmt, i, i)) then return df, i end
    local a = 0
    repeat
      local d = byte(fmt, i) - 48
      if a > 214748364 or a * 10 > 2147483647 - d then fail("integral size overflow") end
      a = a * 10 + d
      i = i + 1
    until not isdigit(sub(fmt, i, i))
    return a, i
  end

  local function optsize(opt, fmt, i)
    local sz = SIZES[opt]
    if sz then return sz, i end
    if opt == "c" then return getnum(fmt, i, 1) end
    if opt == "i" or opt == "I" then
      local n
      n, i = getnum(fmt, i, 4)
      if n > MAXINTSIZE then
        fail(format("integral size %d is larger than limit of %d", n, MAXINTSIZE))
      end
      return n, i
    end
    return 0, i
  end

  local function toalign(len, h, opt, size)
    if size == 0 or opt == "c" then return 0 end
    if size > h.align then size = h.align end
    return (size - len % size) % size
  end

  local function controloptions(opt, fmt, i, h)
    if opt == " " then return i end
    if opt == ">" then h.little = false; return i end
    if opt == "<" then h.little = true; return i end
    if opt == "!" then
      local a
      a, i = getnum(fmt, i, MAXALIGN)
      local p = 1
      while p < a do p = p * 2 end
      if p ~= a then fail(format("alignment %d is not a power of 2", a)) end
      h.align = a
      return i
    end
    marg(1, format("invalid format option '%s'", opt))
  end

  local IS_INT = {b = true, B = true, h = true, H = true, l = true, L = true, T = true,
                  i = true, I = true}

  -- (Uinttype) of a lua_Number as struct.c computes it, as a non-negative
  -- double or a negative one meaning two's complement.
  local function to_uint64(n)
    if n < 0 then
      return toint64(n)
    end
    if n ~= n then return -9223372036854775808 end
    if n >= 18446744073709551616 then return 0 end
    return floor(n)
  end

  local function put_integer(n, little, size)
    local v = to_uint64(n)
    local k = size < 8 and size or 8
    local bytes = int_be(v, k)
    if size > 8 then bytes = rep("\0", size - 8) .. bytes end
    if little then bytes = reverse(bytes) end
    return bytes
  end

  local function get_integer(data, pos, little, signed, size)
    local chunk = sub(data, pos, pos + size - 1)
    if little then chunk = reverse(chunk) end
    -- only the low 8 bytes survive the 64-bit shifts
    if size > 8 then chunk = sub(chunk, size - 7) end
    local n = #chunk
    local hi, lo = 0, 0
    for k = 1, n do
      local b = byte(chunk, k)
      if n - k >= 4 then hi = hi * 256 + b else lo = lo * 256 + b end
    end
    if not signed then return hi * 4294967296 + lo end
    -- mask = ~0 << ((size*8 - 1) % 64): the x86 shift count wraps
    local shiftc = (size * 8 - 1) % 64
    -- test whether any bit >= shiftc is set; if so, set them all
    local hi_bits, lo_bits = hi, lo
    local negative
    if shiftc >= 32 then
      negative = hi_bits >= 2 ^ (shiftc - 32)
      if negative then hi_bits = hi_bits % 2 ^ (shiftc - 32) end
    else
      negative = hi_bits > 0 or lo_bits >= 2 ^ shiftc
      if negative then hi_bits = 0; lo_bits = lo_bits % 2 ^ shiftc end
    end
    if not negative then return hi * 4294967296 + lo end
    -- value = (bits below shiftc) - 2^shiftc, summed so it rounds once
    if shiftc >= 32 then
      return (hi_bits - 2 ^ (shiftc - 32)) * 4294967296 + lo_bits
    end
    return lo_bits - 2 ^ shiftc
  end

  local function do_pack(nargs, args)
    local fmt = mstring(1, args[1], nargs)
    -- b_pack pushes a nil after its arguments: the first missing one is "nil"
    nargs = nargs + 1
    local h = {little = true, align = 1}
    local arg, total, out = 2, 0, {}
    local i, len = 1, #fmt
    while i <= len do
      local opt = sub(fmt, i, i)
      if opt == "\0" then break end
      i = i + 1
      local size
      size, i = optsize(opt, fmt, i)
      local pad = toalign(total, h, opt, size)
      total = total + pad
      if pad > 0 then out[#out + 1] = rep("\0", pad) end
      if IS_INT[opt] then
        local n = mnumber(arg, args[arg], nargs)
        arg = arg + 1
        out[#out + 1] = put_integer(n, h.little, size)
      elseif opt == "x" then
        out[#out + 1] = "\0"
      elseif opt == "f" or opt == "d" then
        local n = mnumber(arg, args[arg], nargs)
        arg = arg + 1
        local b = opt == "f" and float_be(tofloat(n)) or double_be(n)
        if h.little then b = reverse(b) end
        out[#out + 1] = b
      elseif opt == "c" or opt == "s" then
        local str = mstring(arg, args[arg], nargs)
        arg = arg + 1
        local l = #str
        if size == 0 then size = l end
        if l < size then marg(arg, "string too short") end
        out[#out + 1] = sub(str, 1, size)
        if opt == "s" then
          out[#out + 1] = "\0"
          size = size + 1
        end
      else
        i = controloptions(opt, fmt, i, h)
      end
      total = total + size
    end
    return concat(out)
  end

  local function do_unpack(nargs, args)
    local fmt = mstring(1, args[1], nargs)
    local data = mstring(2, args[2], nargs)
    local ld = #data
    local pos = 1
    if args[3] ~= nil then pos = toint64(mnumber(3, args[3], nargs)) end
    -- a size_t: only 0 is refused here; negative offsets are huge and
    -- fail as "data string too short" (a negative pos below stands for them)
    if pos == 0 then marg(3, "offset must be 1 or greater") end
    pos = pos - 1
    local h = {little = true, align = 1}
    local res, n = {}, 0
    local i, flen = 1, #fmt
    while i <= flen do
      local opt = sub(fmt, i, i)
      if opt == "\0" then break end
      i = i + 1
      local size
      size, i = optsize(opt, fmt, i)
      if pos >= 0 then pos = pos + toalign(pos, h, opt, size) end
      if not (size <= ld and pos >= 0 and pos <= ld - size) then
        marg(2, "data string too short")
      end
      if IS_INT[opt] then
        n = n + 1
        res[n] = get_integer(data, pos + 1, h.little, opt:lower() == opt, size)
      elseif opt == "x" then
        -- padding
      elseif opt == "f" then
        local b = sub(data, pos + 1, pos + 4)
        if h.little then b = reverse(b) end
        n = n + 1
        res[n] = float_from_be(b, 1)
      elseif opt == "d" then
        local b = sub(data, pos + 1, pos + 8)
        if h.little then b = reverse(b) end
        n = n + 1
        res[n] = double_from_be(b, 1)
      elseif opt == "c" then
        if size == 0 then
          if n == 0 or type(res[n]) ~= "number" and tonumber(res[n]) == nil then
            fail("format 'c0' needs a previous size")
          end
          size = floor(tonumber(res[n]))
          if size < 0 then size = size + 18446744073709551616 end
          res[n] = nil
          n = n - 1
          if not (size <= ld and pos <= ld - size) then
            marg(2, "data string too short")
          end
        end
        n = n + 1
        res[n] = sub(data, pos + 1, pos + size)
      elseif opt == "s" then
        local e = find(data, "\0", pos + 1, true)
        if not e then fail("unfinished string in data") end
        size = e - pos
        n = n + 1
        res[n] = sub(data, pos + 1, e - 1)
      else
        i = controloptions(opt, fmt, i, h)
      end
      pos = pos + size
    end
    n = n + 1
    res[n] = pos + 1
    return res, n
  end

  local function do_size(nargs, args)
    local fmt = mstring(1, args[1], nargs)
    local h = {little = true, align = 1}
    local pos = 0
    local i, flen = 1, #fmt
    while i <= flen do
      local opt = sub(fmt, i, i)
      if opt == "\0" then break end
      i = i + 1
      local size
      size, i = optsize(opt, fmt, i)
      pos = pos + toalign(pos, h, opt, size)
      if opt == "s" then
        marg(1, "option 's' has no fixed size")
      elseif opt == "c" and size == 0 then
        marg(1, "option 'c0' has no fixed size")
      end
      if not find(opt, "^%w") then i = controloptions(opt, fmt, i, h) end
      pos = pos + size
    end
    return pos
  end

  -- Runs body(nargs, args); errors carry either a message for luaL_error or
  -- an argument error re-made here with the caller's name for the function.
  local function entry(body)
    return function(...)
      local nargs = select("#", ...)
      local ok, r, n = pcall(body, nargs, {...})
      if ok then
        if n then return unpack(r, 1, n) end
        return r
      end
      if type(r) == "table" and r.argerr then argerr(r.argerr, r.msg) end
      reraise(r, 2)
    end
  end

  struct.pack = entry(do_pack)
  struct.unpack = entry(do_unpack)
  struct.size = entry(do_size)
end

for _, lib in ipairs({cjson, cmsgpack, bit, struct}) do
  for k, v in pairs(lib) do
    if type(v) == "function" then NAMES[v] = k end
  end
end
local function name_cjson(t)
  for k, v in pairs(t) do
    if type(v) == "function" then NAMES[v] = k end
  end
  return t
end
local cjson_new = cjson.new
local function renamed_new()
  return name_cjson(cjson_new())
end
NAMES[renamed_new] = "new"
cjson.new = renamed_new

-- Redis' libraries are C functions, and a call to a C function keeps the
-- caller's frame even in a tail call ("return cjson.decode(x)"), so its
-- errors name the script's line.  A Lua function called that way replaces
-- the caller's frame, and the line is lost.  So each library function is
-- served through a C function: the __call of a locked userdata is the
-- coroutine.wrap of a loop running the Lua code.  An error ends that
-- coroutine, and coroutine.wrap raises it prefixed with the caller's
-- position, exactly as luaL_error does; the userdata then gets a fresh
-- coroutine for its next call.  (Lua code inside runs without the
-- script's count hook, as Redis' C code does.)
if AS_C then
  local cowrap, yield = coroutine.wrap, coroutine.yield
  local function as_c(impl)
    local proxy = newproxy(true)
    local mt = getmetatable(proxy)
    local fresh
    local function step(ok, ...)
      if not ok then
        mt.__call = fresh()
        error((...), 0)
      end
      return ...
    end
    -- (proxy, args...) in, results out; a proper tail call keeps the stack flat
    local function serve(_, ...)
      return serve(yield(step(pcall(impl, ...))))
    end
    function fresh() return cowrap(serve) end
    mt.__call = fresh()
    local shown = tostring(impl)  -- "function: 0x...", as Redis prints its C functions
    mt.__tostring = function() return shown end
    mt.__metatable = false
    return proxy
  end
  local function wrap_all(t)
    for k, v in pairs(t) do
      if type(v) == "function" then t[k] = as_c(v) end
    end
    return t
  end
  local plain_new = cjson.new
  local function wrapped_new()
    return wrap_all(plain_new())
  end
  NAMES[wrapped_new] = "new"
  cjson.new = wrapped_new
  for _, lib in ipairs({cjson, cmsgpack, bit, struct}) do wrap_all(lib) end
end

return cjson, cmsgpack, bit, struct
"""

def install_libs(lua):
    """Loads cjson, cmsgpack, bit and struct into the lupa runtime C{lua}.

    Sets them as globals and returns C{{"cjson": ..., "cmsgpack": ..., "bit": ...,
    "struct": ...}} (Lua tables) for an engine that builds its own environment.
    Call it before the sandbox removes C{debug}: the libraries keep
    C{debug.getinfo} privately to name functions in argument errors.
    """
    # No chunk name: lupa's default source ("<python>") is the engine's own,
    # so its error handler skips these frames as it skips C functions and
    # names the script's line, as Redis does for its C libraries.
    tables = lua.execute(LIBS_LUA)
    names = ("cjson", "cmsgpack", "bit", "struct")
    libs = dict(zip(names, tables))
    # Assigned by Lua code so the names need no encoding (the runtime may
    # have been made with encoding=None).
    lua.execute("cjson, cmsgpack, bit, struct = ...", *tables)
    return libs
