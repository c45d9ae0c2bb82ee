"""cjson, cmsgpack, bit and struct (sonic/scripting/libs.py) give Redis 7.0's results.

Each case is a Lua snippet ending in C{return ...}.  The snippet runs in a bare
lupa runtime holding only the libraries and, through EVAL, in the session's
redis-server; a Lua wrapper prints every result with its type (numbers with
C{%.17g}, strings with C{%q}, tables with sorted keys), so the comparison sees
exact values, error texts included.  The wrapper collects the
snippet's results with a non-tail call; tail calls are covered by
L{test_tail_calls_keep_the_script_line}.  Cases that change a library
setting use C{cjson.new()}, so the shared redis-server keeps its defaults.
The few documented differences (library functions are userdata, argument
errors name the function by its field, "table index is nil" carries the
script's position) are pinned by L{test_documented_differences}.
"""

import random

import pytest
from lupa import lua51

from sonic.scripting.libs import install_libs
from tests.resp_reader import RawClient

DUMP = r'''
local function dump(v, d)
  d = d or 0
  if d > 20 then return "..." end
  local t = type(v)
  if t == "table" then
    local ks = {}
    for k in pairs(v) do ks[#ks+1] = k end
    table.sort(ks, function(a,b) return tostring(a) < tostring(b) end)
    local out = {}
    for _, k in ipairs(ks) do out[#out+1] = dump(k, d+1) .. "=" .. dump(v[k], d+1) end
    return "{" .. table.concat(out, ",") .. "}"
  elseif t == "string" then return string.format("%q", v)
  elseif t == "number" then return string.format("%.17g", v)
  elseif t == "userdata" then return "UD:" .. tostring(v)
  else return t .. ":" .. tostring(v) end
end
local res = {pcall(function() %s end)}
local out = {}
for i = 1, table.maxn(res) do out[#out+1] = dump(res[i]) end
return table.concat(out, " | ")
'''


def no_tail(snippet):
    """Rewrite the final C{return EXPR} as a non-tail return of the same values."""
    i = snippet.rfind("return ")
    return (snippet[:i] + "local __r = {" + snippet[i + 7:] + "} return unpack(__r, 1, table.maxn(__r))")


def wrapped(snippet):
    return DUMP.replace("%s", no_tail(snippet))


@pytest.fixture(scope="module")
def bare():
    """A lupa Lua 5.1 runtime with only the four libraries installed."""
    lua = lua51.LuaRuntime(encoding=None)
    install_libs(lua)
    return lua


def _bulk(raw):
    assert raw.startswith(b"$"), raw
    return raw[raw.index(b"\r\n") + 2:-2]


def check_all(real_port, bare, snippets):
    """Run every snippet in both places and fail listing all that differ."""
    real = RawClient(real_port)
    diffs = []
    try:
        for snippet in snippets:
            code = wrapped(snippet)
            expected = _bulk(real.call("EVAL", code, "0"))
            got = bare.execute(code.encode(), name="@user_script")
            if got != expected:
                diffs.append("%s\n  redis: %r\n  sonic: %r" % (snippet, expected, got))
    finally:
        real.close()
    assert not diffs, "%d of %d differ:\n%s" % (len(diffs), len(snippets), "\n".join(diffs[:20]))


CJSON = [
    'return cjson.encode(function() end)',
    'return cjson.encode({1,2,nil,4})',
    'return cjson.encode({[1]=1,[20]=2})',
    'return cjson.encode({})',
    'return cjson.encode({a={}, b={1.5,\'x"/\\\\\\n\\1\\127\\200\'}})',
    'return cjson.encode(1/0)',
    'return cjson.encode(0/0)',
    'return cjson.encode(0.1)',
    'return cjson.encode(1e100)',
    'return cjson.encode(-0)',
    'return cjson.encode(123456789012345678)',
    'return cjson.encode({[1.5]=1})',
    'return cjson.encode({[true]=1})',
    'return cjson.encode(cjson.null)',
    'return cjson.encode()',
    'return cjson.encode(1,2)',
    "local s = '' for i=0,31 do s = s .. string.char(i) end return cjson.encode(s)",
    'return cjson.encode({a=1,b=2,c=3,d={1,2,3},e="x",[5]=1})',
    'return cjson.encode({[1e10]=1})',
    'return cjson.encode({[2^31]=1, [1]=2})',
    'return cjson.encode({[0]=1})',
    'return cjson.encode({[-1]=1})',
    'return cjson.encode({1,2,3,[10]=1})',
    'return cjson.encode({1,2,3,[11]=1})',
    'return cjson.encode({[11]=1,[12]=2,[13]=3,[14]=4,[15]=5,[16]=6})',
    'local t = {} t[1] = t return cjson.encode(t)',
    'return cjson.encode({f=1/0})',
    'return cjson.encode({[1/0]=1})',
    'return cjson.encode(3.14159265358979)',
    'return cjson.encode(1e-300)',
    'return cjson.encode(-123.456e-7)',
    'return cjson.encode(2^53)',
    "return cjson.encode({true,false,'a'})",
    'return cjson.encode(coroutine.create(function() end))',
    "return cjson.encode('\\240\\159\\152\\128')",
    "local t = {} for i=1,100 do t['k'..i]=i end return cjson.encode(t)",
    'local t = {} for i=1,50 do t[i]=i*1.1 end return cjson.encode(t)',
    'return cjson.decode(\'[1,2,{"a":null,"b":[]}, "x\\\\u00e9\\\\ud83d\\\\ude00", true, false, -0, 1e400, 0x10]\')',
    "return cjson.decode('0x10')",
    "return cjson.decode('inf')",
    "return cjson.decode('nan')",
    "return cjson.decode('-Infinity')",
    "return cjson.decode('  1  ')",
    "return cjson.decode('1 2')",
    "return cjson.decode('')",
    "return cjson.decode('[1,]')",
    'return cjson.decode(\'{"a" 1}\')',
    "return cjson.decode('{1:2}')",
    'return cjson.decode(\'{"a":1,}\')',
    'return cjson.decode(\'"abc\')',
    'return cjson.decode(\'"\\\\x"\')',
    'return cjson.decode(\'"\\\\u12"\')',
    'return cjson.decode(\'"\\\\ud800"\')',
    'return cjson.decode(\'"a\\nb"\')',
    "return cjson.decode('tru')",
    "return cjson.decode('[' .. string.rep('[', 1001) )",
    "return #cjson.decode(string.rep('[', 1000) .. string.rep(']', 1000))",
    "return cjson.decode(string.rep('[', 1001) .. string.rep(']', 1001))",
    'return cjson.decode(string.rep(\'{"a":\', 1001) .. \'1\' .. string.rep(\'}\', 1001))',
    "return cjson.decode('01')",
    "return cjson.decode('-')",
    "return cjson.decode('1.')",
    "return cjson.decode('.5')",
    "return cjson.decode('-.5')",
    "return cjson.decode('1e')",
    "return cjson.decode('1e+')",
    "return cjson.decode('1.5e3')",
    "return cjson.decode('+1')",
    "return cjson.decode('+')",
    "return cjson.decode('0x')",
    "return cjson.decode('0x1p4')",
    "return cjson.decode('-0x1.8')",
    'return cjson.decode(12)',
    'return cjson.decode({})',
    'return cjson.decode()',
    'return cjson.decode(nil)',
    'return cjson.decode(\'"\\\\/\\\\b\\\\f\\\\n\\\\r\\\\t\\\\"\\\\\\\\"\')',
    'return cjson.decode(\'{"a":1,"a":2}\')',
    "return cjson.decode('[1,2')",
    "return cjson.decode('{')",
    'return cjson.decode(\'"\\0"\')',
    "return cjson.decode('\\0')",
    "return cjson.decode('1\\0garbage')",
    "return cjson.decode('[1 2]')",
    "return cjson.decode('nul')",
    "return cjson.decode('NaN')",
    "return cjson.decode('Infinity')",
    "return cjson.decode('infinit')",
    "return cjson.decode('-inf')",
    "return cjson.decode('1e5')",
    "return cjson.decode('123456789012345678901')",
    'return cjson.decode(\'"\\\\u0000"\')',
    'return cjson.decode(\'"\\\\uDC00"\')',
    'return cjson.decode(\'"\\\\ud800\\\\u0041"\')',
    'return cjson.decode(\'"\\\\ud800\\\\udbff"\')',
    'return cjson.decode(\'"\\\\u00FF\\\\u0800\\\\uffff"\')',
    'return cjson.decode(\'{"a":{"b":[1,{"c":true}]},"d":"e"}\')',
    "return cjson.decode('[null,null]')",
    'return cjson.decode(\'{"a":1 "b":2}\')',
    'return cjson.decode(\'{"a":1]\')',
    "return cjson.decode(']')",
    "return cjson.decode('x')",
    "return cjson.decode('\\255')",
    'return cjson.decode(\'"\\255\\254"\')',
    "return cjson.decode('[1,2,3]   x')",
    'return cjson.decode(\'{"":""}\')',
    "return cjson.decode(' \\t\\r\\n[ ]')",
    "return cjson.decode('1E2')",
    "return cjson.decode('-0.0')",
    "return cjson.decode('0.1')",
    "return cjson.decode('1.7976931348623157e308')",
    "return cjson.decode('4.9e-324')",
    "return cjson.decode('truex')",
    "return cjson.decode('true false')",
    'return cjson.encode(cjson.decode(\'{"a":[1,2,3,{"b":null}]}\'))',
    'return cjson.encode_max_depth(), cjson.decode_max_depth(), cjson.encode_number_precision(), cjson.encode_keep_buffer(), cjson.encode_invalid_numbers(), cjson.decode_invalid_numbers()',
    'return cjson.encode_sparse_array()',
    'return cjson.encode_number_precision(20)',
    "return cjson.encode_number_precision('x')",
    'return cjson.encode_max_depth(1,2)',
    "return cjson.encode_invalid_numbers('foo')",
    'return cjson.new().encode_sparse_array(true, "x")',
    'local c = cjson.new() c.encode_number_precision(3) return c.encode(3.14159)',
    'local c = cjson.new() c.encode_invalid_numbers(true) return c.encode({1/0, -1/0, 0/0})',
    "local c = cjson.new() c.encode_invalid_numbers('null') return c.encode({1/0}), c.encode_invalid_numbers()",
    'local c = cjson.new() c.encode_sparse_array(true) return c.encode({[1]=1,[20]=2})',
    'local c = cjson.new() c.encode_max_depth(2) return c.encode({{{1}}})',
    "local c = cjson.new() c.decode_max_depth(2) return c.decode('[[[1]]]')",
    "local c = cjson.new() c.decode_invalid_numbers(false) return c.decode('0x10')",
    "local c = cjson.new() c.decode_invalid_numbers(false) return c.decode('inf')",
    "local c = cjson.new() c.decode_invalid_numbers(false) return c.decode('01')",
    'local c = cjson.new() return c.encode_sparse_array(1)',
    'local c = cjson.new() return c.encode_sparse_array(nil, -1)',
    "local c = cjson.new() return c.encode_keep_buffer('on')",
    'return pcall(cjson.encode, function() end)',
    'return tostring(cjson.null):sub(1, 9)',
]

BIT = [
    "return bit.tobit(1), bit.tobit(-1), bit.tobit(2^31), bit.tobit(2^32+5), bit.tobit(1.5), bit.tobit(2.5), bit.tobit(-1.5), bit.tobit(2^52+3), bit.tobit(2^60+12345), bit.tobit(-2^60-7), bit.tobit(1e300), bit.tobit(1/0), bit.tobit(0/0), bit.tobit('10'), bit.tobit('0x10')",
    'return bit.tobit(3*2^51+0.5), bit.tobit(-3*2^51), bit.tobit(-3*2^51-1), bit.tobit(-2^53-2), bit.tobit(4294967295.5)',
    "return bit.tobit('x')",
    'return bit.tobit()',
    'return bit.tobit({})',
    'return bit.bnot(0), bit.bnot(-1), bit.bnot(12345), bit.bnot(2^31)',
    'return bit.band(0xff00ff, 0x0ff0f0), bit.band(-1, 7), bit.band(1), bit.band(-1,-2,-4,0xf0f0)',
    'return bit.bor(1,2,4,8), bit.bor(-2^31, 1), bit.bxor(0xff, 0x0f), bit.bxor(-1, 0x12345678), bit.bxor(1,2,3)',
    "return bit.band(1, 'x')",
    'return bit.band()',
    'return bit.bor(1, nil, 3)',
    'return bit.lshift(1, 0), bit.lshift(1, 31), bit.lshift(1, 32), bit.lshift(1, 33), bit.lshift(0x87654321, 4), bit.lshift(1, -1)',
    'return bit.rshift(-1, 0), bit.rshift(-1, 1), bit.rshift(-1, 31), bit.rshift(0x87654321, 4), bit.rshift(1, 33)',
    'return bit.arshift(-1, 4), bit.arshift(-256, 4), bit.arshift(0x87654321, 4), bit.arshift(0x7fffffff, 31), bit.arshift(-2^31, 31)',
    'return bit.rol(0x12345678, 4), bit.rol(0x12345678, 0), bit.rol(-1, 7), bit.ror(0x12345678, 4), bit.ror(0x12345678, 36), bit.ror(1, 1)',
    'return bit.bswap(0x12345678), bit.bswap(-1), bit.bswap(0xff)',
    'return bit.tohex(255), bit.tohex(-1), bit.tohex(255, 2), bit.tohex(255, -4), bit.tohex(0x12345678, 12), bit.tohex(1, 0), bit.tohex(-2^31, -2^31)',
    'return bit.tohex(255, nil)',
    'return bit.lshift(1)',
]

MSGPACK = [
    'return cmsgpack.pack(1), cmsgpack.pack(0), cmsgpack.pack(127), cmsgpack.pack(128), cmsgpack.pack(255), cmsgpack.pack(256), cmsgpack.pack(65535), cmsgpack.pack(65536), cmsgpack.pack(2^32-1), cmsgpack.pack(2^32), cmsgpack.pack(2^53), cmsgpack.pack(2^63), cmsgpack.pack(2^64)',
    'return cmsgpack.pack(-1), cmsgpack.pack(-32), cmsgpack.pack(-33), cmsgpack.pack(-128), cmsgpack.pack(-129), cmsgpack.pack(-32768), cmsgpack.pack(-32769), cmsgpack.pack(-2^31), cmsgpack.pack(-2^31-1), cmsgpack.pack(-2^63), cmsgpack.pack(-2^63-4096), cmsgpack.pack(-2^53+1)',
    'return cmsgpack.pack(1.5), cmsgpack.pack(0.1), cmsgpack.pack(-0.0), cmsgpack.pack(1/0), cmsgpack.pack(-1/0), cmsgpack.pack(0/0), cmsgpack.pack(-(0/0)), cmsgpack.pack(1e300), cmsgpack.pack(1e-300), cmsgpack.pack(3.4028234663852886e38), cmsgpack.pack(3.5e38), cmsgpack.pack(1.401298464324817e-45), cmsgpack.pack(2^-149), cmsgpack.pack(2^-150), cmsgpack.pack(1.17549435e-38)',
    "return cmsgpack.pack('a'), cmsgpack.pack(''), cmsgpack.pack(string.rep('x', 31)), cmsgpack.pack(string.rep('x', 32)):sub(1,3), cmsgpack.pack(string.rep('x', 255)):sub(1,3), cmsgpack.pack(string.rep('x', 256)):sub(1,4), cmsgpack.pack(string.rep('x', 65536)):sub(1,6)",
    'return cmsgpack.pack(true), cmsgpack.pack(false), cmsgpack.pack(nil), cmsgpack.pack(function() end), cmsgpack.pack(cjson.null)',
    'return cmsgpack.pack({}), cmsgpack.pack({1,2,3}), cmsgpack.pack({a=1}), cmsgpack.pack({1,2,nil,4}), cmsgpack.pack({[1]=1,[3]=3}), cmsgpack.pack({[0]=1}), cmsgpack.pack({[1.5]=1}), cmsgpack.pack({[2^31]=1})',
    'local t = {} for i=1,20 do t[i]=i end return cmsgpack.pack(t)',
    "local t = {} for i=1,20 do t['k'..i]=i end return cmsgpack.pack(t)",
    'local t = {} for i=1,70000 do t[i]=i%3 end local p = cmsgpack.pack(t) return #p, p:sub(1,8)',
    'local t = {} t[1] = t return cmsgpack.pack(t)',
    'local t = {a={b={c={1,2,{x=true}}}}} return cmsgpack.pack(t)',
    "return cmsgpack.pack(1, 'a', {2})",
    'return cmsgpack.pack()',
    "return cmsgpack.unpack(cmsgpack.pack(1, -1, 200, -200, 70000, -70000, 2^40, -2^40, 1.5, 0.1, 'abc', true, false, {1,2}, {a={b=1}}))",
    "return cmsgpack.unpack('\\196\\1a')",
    "return cmsgpack.unpack('\\193')",
    "return cmsgpack.unpack('\\205\\1')",
    "return cmsgpack.unpack_one('\\1\\2', 5)",
    "return cmsgpack.unpack_one('\\1\\2', -1)",
    "return cmsgpack.unpack('\\130\\1\\2')",
    "return cmsgpack.unpack('\\130\\1')",
    "return cmsgpack.unpack('\\203\\127\\248\\0\\0\\0\\0\\0\\1')",
    "return cmsgpack.unpack('\\207\\255\\255\\255\\255\\255\\255\\255\\255', '\\211\\255\\255\\255\\255\\255\\255\\255\\255', '\\211\\128\\0\\0\\0\\0\\0\\0\\1')",
    "return cmsgpack.unpack('\\207\\255\\255\\255\\255\\255\\255\\255\\255\\211\\128\\0\\0\\0\\0\\0\\0\\1\\208\\128\\209\\128\\0\\210\\128\\0\\0\\0')",
    "return cmsgpack.unpack('')",
    "return cmsgpack.unpack_one('\\1\\2\\3')",
    "return cmsgpack.unpack_one('\\1\\2\\3', 1)",
    "return cmsgpack.unpack_one('\\1\\2\\3', 2)",
    "return cmsgpack.unpack_one('\\1\\2\\3', 3)",
    "return cmsgpack.unpack_limit('\\1\\2\\3', 2)",
    "return cmsgpack.unpack_limit('\\1\\2\\3', 5, 1)",
    "return cmsgpack.unpack_limit('\\1\\2\\3', 0)",
    "return cmsgpack.unpack_limit('\\1\\2\\3', -1)",
    "return cmsgpack.unpack_limit('\\1\\2\\3')",
    'return cmsgpack.unpack()',
    'return cmsgpack.unpack({})',
    'return cmsgpack.unpack(12)',
    "return cmsgpack.unpack('\\217\\3abc\\218\\0\\2xy\\219\\0\\0\\0\\1z')",
    "return cmsgpack.unpack('\\220\\0\\2\\1\\2\\221\\0\\0\\0\\1\\3\\222\\0\\1\\1\\2\\223\\0\\0\\0\\1\\3\\4')",
    "return cmsgpack.unpack('\\202\\127\\128\\0\\0\\202\\255\\192\\0\\0\\202\\0\\0\\0\\1')",
    "return cmsgpack.unpack('\\145\\192')",
    "return cmsgpack.unpack('\\129\\1\\192')",
    "return cmsgpack.unpack('\\199\\1\\1a')",
]

STRUCT = [
    "return struct.pack('>i', 1), struct.pack('<i', -2), struct.pack('b', -1), struct.pack('B', 255), struct.pack('h', -2), struct.pack('H', 65535), struct.pack('l', -3), struct.pack('L', 2^40), struct.pack('T', 7), struct.pack('i3', 0x10203), struct.pack('>I3', 0x10203)",
    "return struct.pack('f', 1.5), struct.pack('>f', 0.1), struct.pack('d', 0.1), struct.pack('>d', -2.5), struct.pack('f', 1e40), struct.pack('d', 1/0), struct.pack('>d', 0/0), struct.pack('f', 2^-140)",
    "return struct.pack('s', 'abc'), struct.pack('c', 'abc'), struct.pack('c0', 'abc'), struct.pack('c2', 'abc'), struct.pack('x'), struct.pack('>bxh', 1, 2)",
    "return struct.pack('c5', 'abc')",
    "return struct.pack('!4bi', 1, 2), struct.pack('!bd', 1, 2), struct.pack('!2bi', 1, 2), struct.pack('!bh', 1, 2), struct.pack('!8bid', 1, 2, 3)",
    "return struct.pack('i', 'x')",
    "return struct.pack('i')",
    'return struct.pack()',
    "return struct.pack('i', '12')",
    "return struct.pack('i33', 1)",
    "return struct.pack('<i9', -2), struct.unpack('<i9', struct.pack('<i9', -2)), struct.unpack('<i9', '\\255\\0\\0\\0\\0\\0\\0\\0\\0')",
    "return struct.unpack('<I9', '\\1\\2\\3\\4\\5\\6\\7\\8\\9')",
    "return struct.unpack('>i16', string.rep('\\255', 16)), struct.unpack('>i12', '\\0\\0\\0\\0\\128\\0\\0\\0\\0\\0\\0\\1'), struct.unpack('<i12', '\\1\\0\\0\\0\\0\\0\\0\\0\\0\\0\\0\\128')",
    "return struct.pack('<I8', 2^64), struct.pack('<I8', 0/0), struct.pack('<i8', -2^64), struct.pack('<I4', 2^40+5)",
    "return struct.pack('<I4', -1), struct.pack('<i2', 1.9), struct.pack('<i2', -1.9)",
    "return struct.size('!4ihd')",
    "return struct.size('s')",
    "return struct.size('c0')",
    "return struct.size('bhilLTfdxc3i7'), struct.size('!bhilLTfdxc3i7'), struct.size('<>= !2')",
    "return struct.pack('y')",
    "return struct.pack('!3i')",
    "return struct.pack('i99999999999')",
    "return struct.unpack('>i', '\\0\\0\\0\\1'), struct.unpack('<i', '\\255\\255\\255\\255'), struct.unpack('bBhH', '\\255\\255\\255\\255\\255\\255')",
    "return struct.unpack('<f', struct.pack('<f', 0.1)), struct.unpack('>d', struct.pack('>d', 0.1)), struct.unpack('f', '\\0\\0\\128\\127'), struct.unpack('d', '\\0\\0\\0\\0\\0\\0\\248\\127')",
    "return struct.unpack('s', 'abc\\0def\\0'), struct.unpack('ss', 'abc\\0def\\0')",
    "return struct.unpack('s', 'abc')",
    "return struct.unpack('c0', 'abc')",
    "return struct.unpack('bc0', '\\2abc')",
    "return struct.unpack('bc0', '\\9abc')",
    "return struct.unpack('c2c1', 'abc')",
    "return struct.unpack('i', 'abc')",
    "return struct.unpack('i', 'abcdefgh', 5), struct.unpack('i', 'abcdefgh', 2)",
    "return struct.unpack('i', 'abcdefgh', 6)",
    "return struct.unpack('i', 'abcd', 0)",
    "return struct.unpack('i', 'abcd', -1)",
    "return struct.unpack('i', 'abcd', 100)",
    "return struct.unpack('!4bi', '\\1\\0\\0\\0\\2\\0\\0\\0')",
    "return struct.unpack('x', 'a'), struct.unpack('', 'abc')",
    "return struct.unpack('i')",
    'return struct.unpack()',
    "return struct.unpack('i', {})",
    "return struct.unpack('y', 'abcd')",
    'return struct.size()',
]


def _number_cases():
    """Boundary and random numbers through every number-taking function."""
    rng = random.Random(6)
    vals = []
    for e in (0, 1, 7, 8, 15, 16, 31, 32, 52, 53, 63, 64):
        for d in (-1, 0, 1):
            vals.append("(2^%d%+d)" % (e, d))
            vals.append("-(2^%d%+d)" % (e, d))
    for _ in range(40):
        vals.append(repr(rng.uniform(-1e6, 1e6)))
        vals.append(repr(rng.uniform(-1, 1) * 10 ** rng.randint(-320, 308)))
        vals.append(str(rng.randint(-2 ** 40, 2 ** 40)))
    vals += ["0.1", "1/3", "-1/3", "3.4028234663852886e38", "1.1754943508222875e-38",
             "1.401298464324817e-45", "2^-149*1.5", "2^-126*0.75", "16777217", "16777216.5",
             "1e15+0.3", "1/0", "-1/0", "0/0"]
    finite = ("1/0", "-1/0", "0/0")
    cases = []
    for i in range(0, len(vals), 6):
        chunk = vals[i:i + 6]
        for fn in ("cmsgpack.pack(%s)", "struct.pack('>d', %s)", "struct.pack('<f', %s)",
                   "bit.tobit(%s)", "bit.tohex(%s)", "cmsgpack.unpack(cmsgpack.pack(%s))",
                   "struct.pack('>l', %s)", "struct.unpack('>d', struct.pack('>d', %s))"):
            cases.append("return " + ", ".join(fn % v for v in chunk))
        cases.append("return " + ", ".join("cjson.encode(%s)" % v for v in chunk if v not in finite))
        cases.append("return " + ", ".join("cjson.decode(cjson.encode(%s))" % v
                                           for v in chunk if v not in finite))
    return cases


def _random_cases():
    """Random bit operations, struct integers and tables through msgpack and cjson."""
    rng = random.Random(7)
    cases = []
    for _ in range(60):
        a = rng.choice([rng.randint(-2 ** 31, 2 ** 32), rng.uniform(-2 ** 40, 2 ** 40)])
        b = rng.randint(-2 ** 31, 2 ** 32)
        n = rng.randint(-40, 40)
        cases.append(
            "return bit.band(%r, %r), bit.bor(%r, %r), bit.bxor(%r, %r, 12345), bit.lshift(%r, %d), "
            "bit.rshift(%r, %d), bit.arshift(%r, %d), bit.rol(%r, %d), bit.ror(%r, %d), "
            "bit.bswap(%r), bit.bnot(%r), bit.tohex(%r, %d)"
            % (a, b, a, b, a, b, a, n, a, n, b, n, a, n, b, n, a, b, a, n % 12 - 6))
    for _ in range(40):
        t = rng.choice(["b", "B", "h", "H", "i", "I", "l", "L", "i3", "I5", "i7", "I8", "T"])
        e = rng.choice(["<", ">", "="])
        v = rng.randint(-2 ** 63, 2 ** 64)
        cases.append("return struct.pack('%s%s', %d), struct.unpack('%s%s', struct.pack('%s%s', %d))"
                     % (e, t, v, e, t, e, t, v))
    for _ in range(30):
        items = []
        for _ in range(rng.randint(0, 20)):
            items.append(rng.choice([
                "%d" % rng.randint(-300, 300000), "%r" % rng.random(), "'s%d'" % rng.randint(0, 99),
                "true", "{%d, x=%d}" % (rng.randint(0, 9), rng.randint(0, 9))]))
        t = "{" + ",".join(items) + "}"
        cases.append("return cmsgpack.pack(%s), cjson.encode(%s)" % (t, t))
        cases.append("local p = cmsgpack.pack(%s) return cmsgpack.unpack(p), "
                     "cjson.encode(cjson.decode(cjson.encode(%s)))" % (t, t))
    return cases


def test_cjson_matches_redis(real_port, bare):
    """cjson encodes, decodes, fails and configures exactly as Redis' lua-cjson 2.1.0."""
    check_all(real_port, bare, CJSON)


def test_bit_matches_redis(real_port, bare):
    """bit gives LuaBitOp's signed 32-bit results and argument errors."""
    check_all(real_port, bare, BIT)


def test_cmsgpack_matches_redis(real_port, bare):
    """cmsgpack picks Redis' encodings and decodes with its offsets and errors."""
    check_all(real_port, bare, MSGPACK)


def test_struct_matches_redis(real_port, bare):
    """struct packs and unpacks with struct.c's sizes, alignment, limits and errors."""
    check_all(real_port, bare, STRUCT)


def test_numbers_match_redis(real_port, bare):
    """Boundary and random numbers give the same bytes and values in every library."""
    check_all(real_port, bare, _number_cases())


def test_random_values_match_redis(real_port, bare):
    """Random bit operations, struct integers and tables agree with Redis."""
    check_all(real_port, bare, _random_cases())


def test_libraries_hold_only_lua_values(bare):
    """The library tables hold only Lua values, locked userdata proxies and cjson.null: no Python object."""
    bad = bare.execute(b"""
      local seen, bad = {}, {}
      local function walk(name, v)
        if seen[v] then return end
        local t = type(v)
        if t == "table" then
          seen[v] = true
          if getmetatable(v) ~= nil then bad[#bad+1] = name .. " has a metatable" end
          for k, x in pairs(v) do walk(name .. "." .. tostring(k), x) end
        elseif t == "function" then
          if debug.getinfo(v, "S").what ~= "Lua" then bad[#bad+1] = name .. " is not Lua" end
        elseif t == "userdata" then
          -- cjson.null, or a library function's locked proxy whose __call is a coroutine.wrap
          if getmetatable(v) ~= false then bad[#bad+1] = name .. " has an open metatable" end
          if v ~= cjson.null and debug.getinfo(debug.getmetatable(v).__call, "S").what ~= "C" then
            bad[#bad+1] = name .. " is not served by coroutine.wrap"
          end
        else
          if t ~= "string" and t ~= "number" and t ~= "boolean" then bad[#bad+1] = name .. " is " .. t end
        end
      end
      for _, n in ipairs({"cjson", "cmsgpack", "bit", "struct"}) do walk(n, _G[n]) end
      return table.concat(bad, "; ")
    """)
    assert bad == b""


def test_cjson_null_is_opaque(bare):
    """cjson.null prints like Redis' NULL lightuserdata and its metatable is locked."""
    assert bare.execute(b"return tostring(cjson.null), getmetatable(cjson.null)") == (b"userdata: (nil)", False)
    assert bare.execute(b"return pcall(setmetatable, cjson.null, {})")[0] is False


def test_install_returns_the_tables():
    """install_libs returns the four tables for an engine building its own environment."""
    lua = lua51.LuaRuntime(encoding=None)
    libs = install_libs(lua)
    assert sorted(libs) == ["bit", "cjson", "cmsgpack", "struct"]
    assert lua.eval("function(t) return t == cjson end")(libs["cjson"]) is True


def test_eval_parity_wrapped(parity):
    """Through EVAL, every case's printed results are the same bytes on sonic and redis-server."""
    cases = CJSON + BIT + MSGPACK + STRUCT + _number_cases()
    diffs = []
    for snippet in cases:
        code = wrapped(snippet)
        expected = parity.real.call("EVAL", code, "0")
        got = parity.sonic.call("EVAL", code, "0")
        if got != expected:
            diffs.append("%s\n  redis: %r\n  sonic: %r" % (snippet, expected, got))
    assert not diffs, "%d of %d differ:\n%s" % (len(diffs), len(cases), "\n".join(diffs[:20]))


DIRECT = [
    "return cjson.decode('[1,2,\"a\",[true,false],{\"k\":\"v\"},null]')",
    "return cjson.encode({1, 2.5, 'x', {a = {}}})",
    "return cmsgpack.unpack(cmsgpack.pack({1, 2, {3, 'x'}}))",
    "return {cmsgpack.unpack(cmsgpack.pack(1, 'two', 3.5))}",
    "return {struct.unpack('>iH', struct.pack('>iH', -5, 7))}",
    "return {bit.band(-1, 255), bit.tohex(65535), bit.bswap(1)}",
    "return struct.pack('<d', 1.5)",
    "return cmsgpack.pack({a = 1})",
    "local ok, e = pcall(cjson.decode, '[1,') return e",
    "local x = cjson.encode(function() end) return x",
    "local x = cjson.decode('{') return x",
    "local x = bit.band('x') return x",
    "local x = struct.pack('y') return x",
    "local x = cmsgpack.unpack('\\205\\1') return x",
    "local x = cjson.encode({[true] = 1})\nreturn x",
    "cjson.encode = nil",
    "bit.band = nil",
    "return type(cjson.null)",
]


def test_eval_direct_replies_and_errors(parity):
    """Library results convert to the same replies, and library errors to the same error replies."""
    parity(*[("EVAL", snippet, "0") for snippet in DIRECT])
    parity.resp3()
    parity(*[("EVAL", snippet, "0") for snippet in DIRECT[:8]])


def test_tail_calls_keep_the_script_line(real_port, bare):
    """Errors of library calls in tail position still name the script's line, as Redis' C functions."""
    cases = ["return cjson.decode('x')", "return cjson.encode(function() end)", "return bit.tobit('x')",
             "return bit.band()", "return struct.pack('y')", "return struct.unpack('i', 'ab')",
             "return cmsgpack.unpack('\\205\\1')", "return cmsgpack.pack()", "return cjson.decode()"]
    real = RawClient(real_port)
    diffs = []
    try:
        for snippet in cases:
            code = DUMP.replace("%s", snippet)
            expected = _bulk(real.call("EVAL", code, "0"))
            got = bare.execute(code.encode(), name="@user_script")
            if got != expected:
                diffs.append("%s\n  redis: %r\n  sonic: %r" % (snippet, expected, got))
    finally:
        real.close()
    assert not diffs, "\n".join(diffs)


def test_tail_call_error_replies(parity):
    """Through EVAL, a failing library call in tail position gives Redis' whole error reply."""
    parity(("EVAL", "return cjson.decode('x')", "0"),
           ("EVAL", "return bit.tobit('x')", "0"),
           ("EVAL", "return struct.pack('y')", "0"))


def test_documented_differences(bare):
    """What sonic's Lua-written libraries show differently from Redis' C ones."""
    run = lambda code: bare.execute(wrapped(code).encode(), name="@user_script")
    # library functions are userdata (C functions to the script's frames)
    assert run("return type(cjson.encode), type(bit.band)") == b"boolean:true | \"userdata\" | \"userdata\""
    # argument errors name the function by its field, whatever it was called as
    assert run("local f = cjson.encode return f()") == (
        b"boolean:false | \"user_script:18: bad argument #1 to 'encode' (expected 1 argument)\"")
    assert run("return pcall(bit.tobit, 'x')") == (
        b"boolean:true | boolean:false | \"bad argument #1 to 'tobit' (number expected, got string)\"")
    # Redis raises this one from the Lua core, without a position
    assert run("return cmsgpack.unpack('\\129\\192\\1')") == (
        b"boolean:false | \"user_script:18: table index is nil\"")
