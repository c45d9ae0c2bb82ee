"""EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT: parity with redis-server 7.0.15, and the engine's guarantees.

The parity cases compare raw reply bytes (RESP2 and RESP3): Lua <-> Redis
conversions both ways, errors raised inside scripts (their "script: <sha>,
on @user_script:<line>." suffix), the read-only globals, shebang flags,
read-only scripts.  The unit tests (a server on a task.Clock, no sockets)
cover what parity cannot see: the sandbox, effects replication, the script
client's db, atomicity with blocked clients, and the BUSY state.
"""

import pytest

from sonic.resp import Error, encode

from tests.helpers import Client, call, make_server, stream_commands, with_propagator

#: One EVAL per case, compared byte for byte in RESP2 (conversions, errors, sandbox, flags).
EVAL_CASES = [
    ('EVAL', "redis.call('rpush','sl','3','1','2') return redis.call('sort','sl')", '0'),
    ('EVAL', "redis.call('hset','hh','a','1') return redis.call('hscan','hh',0)", '0'),
    ('EVAL', "redis.call('sadd','ss','a') return redis.call('sscan','ss',0)", '0'),
    ('EVAL', "redis.call('zadd','zz',1,'a') return redis.call('zscan','zz',0)", '0'),
    ('EVAL', "redis.call('set','e','v') return redis.call('object','encoding','e')", '0'),
    ('EVAL', "redis.call('zadd','zz',1,'a',2,'b') return redis.call('zrangestore','dst','zz',0,-1)", '0'),
    ('EVAL', "redis.call('zadd','zz',1.5,'a') return redis.call('zscore','zz','a')", '0'),
    ('EVAL', "redis.setresp(3) redis.call('zadd','zz',1.5,'a') return redis.call('zrange','zz',0,-1,'withscores')", '0'),
    ('EVAL', "return redis.call('mset','a','1','b','2')", '0'),
    ('EVAL', "return redis.call('mget','a','b','c')", '0'),
    ('EVAL', "return redis.call('getset','a','9')", '0'),
    ('EVAL', "return redis.call('append','a','x')", '0'),
    ('EVAL', "return redis.call('strlen','a')", '0'),
    ('EVAL', "return redis.call('persist','a')", '0'),
    ('EVAL', "return redis.call('rename','nokey','x')", '0'),
    ('EVAL', "return redis.call('hmget','hh','a','zz')", '0'),
    ('EVAL', "return redis.call('linsert','nolist','before','a','b')", '0'),
    ('EVAL', 'return _G.zz', '0'),
    ('EVAL', "return _G['zz']", '0'),
    ('EVAL', 'local t = {} for k in pairs(redis) do t[#t+1] = k end table.sort(t) return t', '0'),
    ('EVAL', 'local t = {} for k in pairs(string) do t[#t+1] = k end table.sort(t) return t', '0'),
    ('EVAL', 'local t = {} for k in pairs(math) do t[#t+1] = k end table.sort(t) return t', '0'),
    ('EVAL', 'local t = {} for k in pairs(table) do t[#t+1] = k end table.sort(t) return t', '0'),
    ('EVAL', 'local t = {} for k in pairs(coroutine) do t[#t+1] = k end table.sort(t) return t', '0'),
    ('EVAL', 'return next(redis) ~= nil', '0'),
    ('EVAL', 'return type(_G)', '0'),
    ('EVAL', 'return _G == _G._G', '0'),
    ('EVAL', 'return #ARGV', '0', 'a', 'b', 'c'),
    ('EVAL', 'table.sort(ARGV) return ARGV', '0', 'c', 'a', 'b'),
    ('EVAL', "return table.concat(ARGV, '-')", '0', 'a', 'b'),
    ('EVAL', 'return rawequal(_G, _G)', '0'),
    ('EVAL', 'return tostring(#_G)', '0'),
    ('EVAL', 'local ok, e = pcall(function() x = 1 end) return e', '0'),
    ('EVAL', 'local ok, e = pcall(function() return undefinedvar end) return e', '0'),
    ('EVAL', 'return math.max(1, 5, 3)', '0'),
    ('EVAL', "return string.format('%5.2f', 3.14159)", '0'),
    ('EVAL', 'return tostring(0/0)', '0'),
    ('EVAL', 'return tostring(-0)', '0'),
    ('EVAL', 'return tostring(1e100)', '0'),
    ('EVAL', 'return gcinfo() > 0', '0'),
    ('EVAL', "return select('#', unpack({1, 2, nil, 4}))", '0'),
    ('EVAL', "error('a\nb')", '0'),
    ('EVAL', "return {err='a\nb'}", '0'),
    ('EVAL', "return redis.error_reply('a\nb')", '0'),
    ('EVAL', "return redis.error_reply('\r\nx\r\n')", '0'),
    ('EVAL', "return redis.status_reply('a\nb')", '0'),
    ('EVAL', "return {1,2,{err='x'},{ok='y'},{double=1.5}}", '0'),
    ('EVAL', "return {big_number='1\r\n2'}", '0'),
    ('EVAL', "return redis.call('ping', 'x')", '0'),
    ('EVAL', "return redis.call('echo', '')", '0'),
    ('EVAL', "return redis.call('incrbyfloat', 'f', '1.5')", '0'),
    ('EVAL', "return redis.call('hincrbyfloat', 'hf', 'a', 1.25)", '0'),
    ('EVAL', "return redis.call('set', 'x', 'y', 'ex', '0')", '0'),
    ('EVAL', "return redis.call('sort', 'nolist')", '0'),
    ('EVAL', "redis.call('rpush','L','1','2') return redis.call('sort','L','desc')", '0'),
    ('EVAL', "return redis.call('spop', 'noset')", '0'),
    ('EVAL', "return redis.call('lmpop', 1, 'nolist', 'left')", '0'),
    ('EVAL', "return redis.call('zmpop', 1, 'nozset', 'min')", '0'),
    ('EVAL', "return redis.call('getrange', 'nokey', 0, -1)", '0'),
    ('EVAL', "return redis.call('exists')", '0'),
    ('EVAL', "return redis.call('del', 'a', 'b')", '0'),
    ('EVAL', "return redis.call('move', 'a', '1')", '0'),
    ('EVAL', "return redis.call('publish', 'ch', 'msg')", '0'),
    ('EVAL', "return redis.call('pubsub', 'channels')", '0'),
    ('EVAL', "return redis.call('watch', 'a')", '0'),
    ('EVAL', "return redis.call('auth', 'x')", '0'),
    ('EVAL', "return redis.call('hello')", '0'),
    ('EVAL', "return redis.call('monitor')", '0'),
    ('EVAL', "return redis.call('migrate')", '0'),
    ('EVAL', "return redis.call('function', 'list')", '0'),
    ('EVAL', "return redis.call('fcall', 'f', 0)", '0'),
    ('EVAL', "return redis.call('latency', 'latest')", '0'),
    ('EVAL', "return redis.call('reset')", '0'),
    ('EVAL', "return redis.call('quit')", '0'),
    ('EVAL', "return redis.call('debug', 'object', 'x')", '0'),
    ('EVAL', "return redis.call('object', 'encoding', 'nokey')", '0'),
    ('EVAL', "return redis.call('dump', 'nokey')", '0'),
    ('EVAL', "return redis.call('restore', 'x', '0', 'bad')", '0'),
    ('EVAL', "return redis.call('unlink', 'x')", '0'),
    ('EVAL', "return redis.call('type', 'x')", '0'),
    ('EVAL', "return redis.call('expire', 'x', '10')", '0'),
    ('EVAL', "return redis.call('copy', 'x', 'y')", '0'),
    ('EVAL', "return redis.call('setex', 'x', '-1', 'v')", '0'),
    ('EVAL', "return redis.call('zadd', 'z', 'nan', 'm')", '0'),
    ('EVAL', "return redis.call('lpos', 'nolist', 'x')", '0'),
    ('EVAL', "return redis.call('lcs', 'a', 'b')", '0'),
    ('EVAL', "return redis.call('getex', 'nokey')", '0'),
    ('EVAL', "return redis.call('config')", '0'),
    ('EVAL', "return redis.call('object')", '0'),
    ('EVAL', "return redis.call('memory', 'usage')", '0'),
    ('EVAL', "return redis.pcall('client')", '0'),
    ('EVAL', "local t = {} local c = t for i = 1, 200 do c[1] = {} c = c[1] end return t", '0'),
    ('EVAL', "return {loadstring(string.dump(function() return 1 end))}", '0'),
    ('EVAL', "return select(2, loadstring(string.dump(function() return 1 end)))", '0'),
    ('EVAL', "return select(2, loadstring('x x'))", '0'),
    ('EVAL', "return tostring(redis.call):sub(1, 10)", '0'),
    ('EVAL', "getmetatable('').__index = nil", '0'),
    ('EVAL', "return getmetatable('').__index == string", '0'),
    ('EVAL', "return tostring(setmetatable({}, {__tostring = function() return 'obj' end}))", '0'),
    ('EVAL', "local t = setmetatable({}, {__index = function(t, k) return k .. '!' end}) return t.x", '0'),
    ('EVAL', 'return 1 +', '0'),
    ('EVAL', 'return 3.99', '0'),
    ('EVAL', 'return -3.99', '0'),
    ('EVAL', "return {1,2,3,'foo',nil,'bar'}", '0'),
    ('EVAL', "return {1,2,{3,'x'},true,false}", '0'),
    ('EVAL', 'return true', '0'),
    ('EVAL', 'return false', '0'),
    ('EVAL', 'return nil', '0'),
    ('EVAL', 'return', '0'),
    ('EVAL', 'return {}', '0'),
    ('EVAL', 'return {a=1}', '0'),
    ('EVAL', 'return 1e20', '0'),
    ('EVAL', 'return 0/0', '0'),
    ('EVAL', "return 'abc'", '0'),
    ('EVAL', "return redis.call('ping')", '0'),
    ('EVAL', "return redis.call('get','nokey')", '0'),
    ('EVAL', "return type(redis.call('get','nokey'))", '0'),
    ('EVAL', 'return redis.sha1hex()', '0'),
    ('EVAL', 'return redis.sha1hex(1)', '0'),
    ('EVAL', 'return redis.sha1hex(1.5)', '0'),
    ('EVAL', 'return redis.sha1hex({})', '0'),
    ('EVAL', 'return {KEYS[1],ARGV[1]}', '1', 'a', 'b'),
    ('EVAL', 'return 1', '-1'),
    ('EVAL', 'return 1', '2', 'a'),
    ('EVAL', 'return 1', 'x'),
    ('EVAL', "local r = redis.pcall('nosuch') return {type(r), r['err']}", '0'),
    ('EVAL', "local r = redis.pcall('get') return r['err']", '0'),
    ('EVAL', "redis.call('set','k','v') local r = redis.pcall('lpush','k','x') return r['err']", '0'),
    ('EVAL', "local r = redis.call('set','k2','v') return {type(r), r['ok']}", '0'),
    ('EVAL', "return redis.call('multi')", '0'),
    ('EVAL', "return redis.pcall('multi')", '0'),
    ('EVAL', "return redis.call('eval','return 1','0')", '0'),
    ('EVAL', "return redis.call('select','1')", '0'),
    ('EVAL', 'return redis.call()', '0'),
    ('EVAL', 'return redis.call(1)', '0'),
    ('EVAL', "return redis.call('get',{})", '0'),
    ('EVAL', "return redis.call('get',nil)", '0'),
    ('EVAL', "return redis.call('get',true)", '0'),
    ('EVAL', "redis.call('set','n',3.7) return redis.call('get','n')", '0'),
    ('EVAL', "redis.call('set','n',1e20) return redis.call('get','n')", '0'),
    ('EVAL', "redis.call('set','n',-0.5) return redis.call('get','n')", '0'),
    ('EVAL', "return redis.call('echo', 2^63)", '0'),
    ('EVAL', "return redis.call('echo', 1/0)", '0'),
    ('EVAL', "return redis.call('echo', 0/0)", '0'),
    ('EVAL', 'return redis.pcall()', '0'),
    ('EVAL', 'return redis.error_reply()', '0'),
    ('EVAL', 'return redis.error_reply(1)', '0'),
    ('EVAL', "return redis.error_reply('')", '0'),
    ('EVAL', "return redis.error_reply('x')", '0'),
    ('EVAL', "return redis.error_reply('-x')", '0'),
    ('EVAL', "return redis.error_reply('-CODE x\r\n')", '0'),
    ('EVAL', 'return redis.status_reply()', '0'),
    ('EVAL', 'return redis.status_reply(5)', '0'),
    ('EVAL', 'return {err=5}', '0'),
    ('EVAL', 'return {err={}}', '0'),
    ('EVAL', 'return {ok={}}', '0'),
    ('EVAL', "return {err=''}", '0'),
    ('EVAL', "return {err='x', ok='y'}", '0'),
    ('EVAL', "return {1, {err='inner'}, 3}", '0'),
    ('EVAL', "return {1, {ok='inner'}, 3}", '0'),
    ('EVAL', "return {err='a\r\nb'}", '0'),
    ('EVAL', "return {ok='a\r\nb'}", '0'),
    ('EVAL', 'return redis.setresp(3)', '0'),
    ('EVAL', 'return redis.setresp(4)', '0'),
    ('EVAL', 'return redis.setresp()', '0'),
    ('EVAL', "return redis.log(redis.LOG_WARNING, 'hello', 'x')", '0'),
    ('EVAL', 'return redis.log(redis.LOG_WARNING)', '0'),
    ('EVAL', "return redis.log(99, 'x')", '0'),
    ('EVAL', "return redis.log('a', 'x')", '0'),
    ('EVAL', 'return redis.set_repl(redis.REPL_ALL)', '0'),
    ('EVAL', 'return redis.set_repl(99)', '0'),
    ('EVAL', 'return redis.set_repl()', '0'),
    ('EVAL', 'return redis.replicate_commands()', '0'),
    ('EVAL', 'return redis.breakpoint()', '0'),
    ('EVAL', "return redis.debug('x')", '0'),
    ('EVAL', 'return {redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING, redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL, redis.REDIS_VERSION, redis.REDIS_VERSION_NUM}', '0'),
    ('EVAL', "return redis.acl_check_cmd('get','x')", '0'),
    ('EVAL', "return redis.acl_check_cmd('nosuch')", '0'),
    ('EVAL', 'return redis.acl_check_cmd()', '0'),
    ('EVAL', 'redis.x = 1 return redis.x', '0'),
    ('EVAL', 'string.x = 1', '0'),
    ('EVAL', 'redis.call = nil', '0'),
    ('EVAL', 'return _VERSION', '0'),
    ('EVAL', 'return tostring(math.huge)', '0'),
    ('EVAL', "return collectgarbage('count') > 0", '0'),
    ('EVAL', "return loadstring('return 7')()", '0'),
    ('EVAL', "return load('return 7')()", '0'),
    ('EVAL', 'return getmetatable(_G) ~= nil', '0'),
    ('EVAL', 'getmetatable(_G).__index = nil', '0'),
    ('EVAL', 'return #KEYS', '2', 'a', 'b'),
    ('EVAL', "KEYS[1] = 'z' return KEYS[1]", '1', 'a'),
    ('EVAL', 'KEYS = 1', '0'),
    ('EVAL', 'x = 1', '0'),
    ('EVAL', 'return x', '0'),
    ('EVAL', '_G.x = 1', '0'),
    ('EVAL', "rawset(_G, 'x', 1) return x", '0'),
    ('EVAL', "return rawget(_G,'zz')", '0'),
    ('EVAL', 'local function f() y = 2 end f()', '0'),
    ('EVAL', "return redis.call('nosuch')", '0'),
    ('EVAL', "return redis.pcall('nosuch')", '0'),
    ('EVAL', "return redis.call('get')", '0'),
    ('EVAL', "redis.call('set','k','v') return redis.call('lpush','k','x')", '0'),
    ('EVAL', "return {err='My Error'}", '0'),
    ('EVAL', "return {err='-My Error'}", '0'),
    ('EVAL', "return redis.error_reply('My Error')", '0'),
    ('EVAL', "return redis.error_reply('-My Error')", '0'),
    ('EVAL', "return redis.status_reply('FINE')", '0'),
    ('EVAL', "error('boom')", '0'),
    ('EVAL', "error({err='boom'})", '0'),
    ('EVAL', "error({err='MYERR boom'})", '0'),
    ('EVAL', 'error(123)', '0'),
    ('EVAL', 'error()', '0'),
    ('EVAL', 'error(nil)', '0'),
    ('EVAL', "error('boom', 0)", '0'),
    ('EVAL', "error('boom', 2)", '0'),
    ('EVAL', 'local t = nil; return t.x', '0'),
    ('EVAL', 'return 1 + {}', '0'),
    ('EVAL', "return ('x'):rep(3)", '0'),
    ('EVAL', "return string.format('%d', 5)", '0'),
    ('EVAL', "return pcall(redis.call, 'nosuch')", '0'),
    ('EVAL', "local ok, e = pcall(redis.call, 'nosuch') return e", '0'),
    ('EVAL', "local ok, e = pcall(redis.call, 'nosuch') return {ok, type(e), e.err}", '0'),
    ('EVAL', "local ok, e = pcall(error, {err='x'}) return e", '0'),
    ('EVAL', "local ok, e = pcall(error, 'x') return e", '0'),
    ('EVAL', "return xpcall(function() redis.call('nosuch') end, function(e) return e.err end)", '0'),
    ('EVAL', "return {xpcall(function() redis.call('nosuch') end, function(e) return e.err end)}", '0'),
    ('EVAL', 'math.randomseed(7) return tostring(math.random())', '0'),
    ('EVAL', 'math.randomseed(7) return {math.random(10), math.random(5, 9)}', '0'),
    ('EVAL', 'return math.random(1,2,3)', '0'),
    ('EVAL', 'return coroutine.wrap(function() coroutine.yield(5) end)()', '0'),
    ('EVAL', 'local t = {} for i = 1, 5 do t[#t+1] = i end return t', '0'),
    ('EVAL', "return table.concat({'a','b'}, ',')", '0'),
    ('EVAL', "return tonumber('0x10')", '0'),
    ('EVAL', 'return tostring(nil)', '0'),
    ('EVAL', 'return unpack({1,2,3})', '0'),
    ('EVAL', "return select('#', 1, 2, 3)", '0'),
    ('EVAL', 'return string.len(ARGV[1])', '0', 'abc'),
    ('EVAL', "return redis.call('incr', KEYS[1])", '1', 'counter'),
    ('EVAL', "return redis.call('hgetall', 'nohash')", '0'),
    ('EVAL', "redis.call('rpush','L','a','b','c') return redis.call('lrange','L',0,-1)", '0'),
    ('EVAL', "redis.call('zadd','Z',1.5,'m', 2, 'n') return redis.call('zrange','Z',0,-1,'withscores')", '0'),
    ('EVAL', "redis.call('zadd','Z',1.5,'m') return redis.call('zscore','Z','m')", '0'),
    ('EVAL', "redis.call('sadd','S','a') return redis.call('smembers','S')", '0'),
    ('EVAL', "redis.call('hset','H','f','v','g','w') return redis.call('hgetall','H')", '0'),
    ('EVAL', "redis.call('set','str','v') return redis.call('incr','str')", '0'),
    ('EVAL', "return redis.call('object','freq','x')", '0'),
    ('EVAL', "return redis.call('config','nosuch')", '0'),
    ('EVAL', "return redis.call('config','get','maxmemory')", '0'),
    ('EVAL', "return redis.call('SeT','x','1')", '0'),
    ('EVAL', "return redis.call('select', '99')", '0'),
    ('EVAL', "return redis.call('script','load','return 1')", '0'),
    ('EVAL', "return redis.call('client','list')", '0'),
    ('EVAL', "return redis.call('subscribe','x')", '0'),
    ('EVAL', "return redis.call('blpop','nolist','0')", '0'),
    ('EVAL', "return redis.call('wait','0','0')", '0'),
    ('EVAL', "return redis.call('exec')", '0'),
    ('EVAL', "return redis.call('shutdown')", '0'),
    ('EVAL', "return redis.call('publish','c','m')", '0'),
    ('EVAL', "return redis.call('echo','x','y')", '0'),
    ('EVAL', "return redis.call('type','nokey')", '0'),
    ('EVAL', "return redis.call('set','a','b','xx','get')", '0'),
    ('EVAL_RO', "return redis.call('set','a','1')", '1', 'a'),
    ('EVAL_RO', "return redis.pcall('set','a','1')", '1', 'a'),
    ('EVAL_RO', "return redis.call('get','a')", '1', 'a'),
    ('EVAL_RO', "return redis.call('publish','c','m')", '0'),
    ('EVAL', "#!lua flags=no-writes\nreturn redis.call('set','a','1')", '1', 'a'),
    ('EVAL', "#!lua flags=no-writes\nreturn redis.pcall('set','a','1')", '1', 'a'),
    ('EVAL', '#!lua\nreturn 1', '0'),
    ('EVAL', '#!lua flags=\nreturn 1', '0'),
    ('EVAL', '#!lua flags=bogus\nreturn 1', '0'),
    ('EVAL', '#!lua flags=bogus,no-writes\nreturn 1', '0'),
    ('EVAL', '#!lua flags=no-writes,\nreturn 1', '0'),
    ('EVAL', '#!lua name=x\nreturn 1', '0'),
    ('EVAL', '#!lua flags=no-writes,allow-oom,allow-stale,no-cluster,allow-cross-slot-keys\nreturn 1', '0'),
    ('EVAL', '#!python\nreturn 1', '0'),
    ('EVAL', '#!lua  flags=no-writes\nreturn 1', '0'),
    ('EVAL', '#!lua flags=no-writes \nreturn 1', '0'),
    ('EVAL', '#!\nreturn 1', '0'),
    ('EVAL', '#!lua flags=no-writes', '0'),
    ('EVAL', '#!lua', '0'),
    ('EVAL', '#!lua "flags=no-writes\nreturn 1', '0'),
    ('EVAL', "#!lua flags=no-writes\nreturn error('x')", '0'),
    ('EVAL', "#!lua\n\nreturn redis.call('nosuch')", '0'),
    ('EVAL', "\nreturn error('x')", '0'),
    ('EVAL', 'return 1\n+', '0'),
    ('EVAL', "local a = 1\nlocal b = 2\nerror('x')", '0'),
    ('EVAL', "local function f()\n error('x')\nend\nf()", '0'),
    ('EVAL', "local function f()\n redis.call('nosuch')\nend\nf()", '0'),
    ('EVAL', 'local function f()\n x = 1\nend\nf()', '0'),
    ('EVAL_RO', '#!lua\nreturn 1', '0'),
    ('EVAL_RO', '#!lua flags=no-writes\nreturn 1', '0'),
    ('EVAL_RO', 'return 1', 'x'),
    ('EVAL',),
    ('EVAL', 'return 1'),
]

#: SCRIPT and EVALSHA, run in order on both servers (the script cache is state).
SCRIPT_SEQUENCE = [
    ('EVALSHA', 'abc', '0'),
    ('EVALSHA', '0123456789012345678901234567890123456789', '0'),
    ('EVALSHA_RO', 'abc', '0'),
    ('SCRIPT', 'LOAD', 'return 1 +'),
    ('SCRIPT', 'LOAD', '#!lua flags=bogus\nreturn 1'),
    ('SCRIPT', 'LOAD', 'return 1'),
    ('SCRIPT', 'EXISTS', 'e0e1f9fabfc9d4800c877a703b823ac0578ff8db', 'abc', 'E0E1F9FABFC9D4800C877A703B823AC0578FF8DB'),
    ('EVALSHA', 'E0E1F9FABFC9D4800C877A703B823AC0578FF8DB', '0'),
    ('EVALSHA', 'e0e1f9fabfc9d4800c877a703b823ac0578ff8db', '0'),
    ('EVALSHA_RO', 'e0e1f9fabfc9d4800c877a703b823ac0578ff8db', '0'),
    ('SCRIPT', 'FLUSH', 'x'),
    ('SCRIPT', 'FLUSH', 'ASYNC', 'SYNC'),
    ('SCRIPT', 'FLUSH', 'async'),
    ('SCRIPT', 'EXISTS', 'e0e1f9fabfc9d4800c877a703b823ac0578ff8db'),
    ('SCRIPT', 'FLUSH'),
    ('SCRIPT', 'HELP'),
    ('SCRIPT', 'nosuch'),
    ('SCRIPT', 'KILL'),
    ('SCRIPT', 'KILL', 'x'),
    ('SCRIPT', 'DEBUG', 'x'),
    ('SCRIPT', 'DEBUG', 'no'),
    ('SCRIPT',),
    ('SCRIPT', 'LOAD'),
    ('SCRIPT', 'LOAD', 'a', 'b'),
    ('SCRIPT', 'EXISTS'),
    ('EVALSHA', 'x'),
    ('COMMAND', 'GETKEYS', 'EVAL', 'return 1', '2', 'a', 'b', 'c'),
    ('COMMAND', 'GETKEYS', 'EVAL', 'return 1', '0'),
]

#: Data the RESP3 cases read.
RESP3_SETUP = [
    ('HSET', 'h', 'f', 'v', 'f2', 'v2', 'f3', 'v3'),
    ('SADD', 's', 'm', 'n', 'o'),
    ('ZADD', 'z', '1.5', 'm', '2', 'n'),
    ('SET', 'str', 'hello'),
    ('RPUSH', 'l', 'a', 'b', 'c'),
]

#: Conversions both ways with redis.setresp(3) and for RESP2/RESP3 callers.
RESP3_CASES = [
    ('EVAL', "return redis.call('hgetall','h')", '0'),
    ('EVAL', "redis.setresp(3) return redis.call('hgetall','h')", '0'),
    ('EVAL', "redis.setresp(3) local r = redis.call('hgetall','h') return {type(r), type(r.map), r.map.f}", '0'),
    ('EVAL', "redis.setresp(3) return redis.call('smembers','s')", '0'),
    ('EVAL', "redis.setresp(3) local r = redis.call('smembers','s') return {type(r.set), tostring(r.set.m)}", '0'),
    ('EVAL', "redis.setresp(3) return redis.call('zscore','z','m')", '0'),
    ('EVAL', "redis.setresp(3) local r = redis.call('zscore','z','m') return {type(r), type(r.double), tostring(r.double)}", '0'),
    ('EVAL', "redis.setresp(3) return redis.call('get','nokey')", '0'),
    ('EVAL', "redis.setresp(3) return type(redis.call('get','nokey'))", '0'),
    ('EVAL', "redis.setresp(3) return redis.call('exists','str')", '0'),
    ('EVAL', "redis.setresp(3) return redis.call('zrange','z','0','-1','withscores')", '0'),
    ('EVAL', "return redis.call('zrange','z','0','-1','withscores')", '0'),
    ('EVAL', "redis.setresp(3) return redis.call('lrange','l','0','-1')", '0'),
    ('EVAL', "redis.setresp(3) return redis.call('hrandfield','nohash', 1)", '0'),
    ('EVAL', "redis.setresp(3) return redis.call('config','get','maxmemory')", '0'),
    ('EVAL', "redis.setresp(3) return redis.call('ping')", '0'),
    ('EVAL', "redis.setresp(3) return redis.call('zpopmin','nozset')", '0'),
    ('EVAL', "redis.setresp(3) return redis.call('lpop','nolist', 2)", '0'),
    ('EVAL', "return redis.call('lpop','nolist', 2)", '0'),
    ('EVAL', "return type(redis.call('lpop','nolist', 2))", '0'),
    ('EVAL', "redis.setresp(3) return type(redis.call('lpop','nolist', 2))", '0'),
    ('EVAL', 'return {double=3.5}', '0'),
    ('EVAL', "return {double='3.5'}", '0'),
    ('EVAL', 'return {double=1/0}', '0'),
    ('EVAL', 'return {double=-1/0}', '0'),
    ('EVAL', 'return {double=0/0}', '0'),
    ('EVAL', 'return {double=3}', '0'),
    ('EVAL', 'return {double=1e300}', '0'),
    ('EVAL', 'return {double=0.1}', '0'),
    ('EVAL', 'return {map={a=1}}', '0'),
    ('EVAL', 'return {map={a={1,2}}}', '0'),
    ('EVAL', 'return {map={a=1,b=2,c=3,d=4,e=5}}', '0'),
    ('EVAL', 'return {set={a=true,b=true}}', '0'),
    ('EVAL', 'return {set={a=false}}', '0'),
    ('EVAL', "return {big_number='123456789012345678901234567890'}", '0'),
    ('EVAL', 'return {big_number=5}', '0'),
    ('EVAL', "return {verbatim_string={format='txt', string='hello'}}", '0'),
    ('EVAL', "return {verbatim_string={format='txtx', string='hello'}}", '0'),
    ('EVAL', "return {verbatim_string={format='mkd', string='hello'}}", '0'),
    ('EVAL', 'return true', '0'),
    ('EVAL', 'return false', '0'),
    ('EVAL', 'return nil', '0'),
    ('EVAL', 'return {1,nil,2}', '0'),
    ('EVAL', 'return {false}', '0'),
    ('EVAL', 'redis.setresp(3) return true', '0'),
    ('EVAL', 'redis.setresp(3) return false', '0'),
    ('EVAL', 'redis.setresp(3) return {true,false}', '0'),
    ('EVAL', 'redis.setresp(3) return nil', '0'),
    ('EVAL', 'return {map={1,2}}', '0'),
    ('EVAL', 'return {map={[1.5]=2}}', '0'),
    ('EVAL', 'return {map={[true]=2}}', '0'),
    ('EVAL', 'return {set={1}}', '0'),
    ('EVAL', 'return {map=5}', '0'),
    ('EVAL', "return {err='x'}", '0'),
    ('EVAL', "return {1,{err='x'}}", '0'),
    ('EVAL', "redis.setresp(2) return redis.call('hgetall','h')", '0'),
    ('EVAL', "redis.setresp(3) local r = redis.call('hgetall','h') local t = {} for k, v in pairs(r.map) do t[#t+1] = k end return t", '0'),
    ('EVAL', "redis.setresp(3) return redis.call('hgetall','nohash')", '0'),
    ('EVAL', "redis.setresp(3) return redis.call('smembers','noset')", '0'),
]


@pytest.mark.parametrize("cmd", EVAL_CASES, ids=lambda c: " ".join(c)[:60])
def test_eval_parity(parity, cmd):
    """One script's reply (value, conversion or error text) is byte for byte Redis'."""
    parity(cmd)


def test_script_cache_sequence(parity):
    """SCRIPT LOAD/EXISTS/FLUSH/HELP/KILL and EVALSHA answer as Redis, in order, cache state included."""
    parity(("SCRIPT", "FLUSH"))
    parity(*SCRIPT_SEQUENCE)


@pytest.mark.parametrize("cmd", RESP3_CASES, ids=lambda c: " ".join(c)[:60])
def test_resp3_parity(parity, cmd):
    """A RESP3 caller gets Redis' bytes: maps, sets, doubles, big numbers, verbatim, booleans."""
    parity.resp3()
    parity(*RESP3_SETUP)
    parity(cmd)


@pytest.mark.parametrize("cmd", RESP3_CASES, ids=lambda c: " ".join(c)[:60])
def test_resp3_script_resp2_caller_parity(parity, cmd):
    """The same scripts for a RESP2 caller: what redis.setresp(3) values become in RESP2."""
    parity(*RESP3_SETUP)
    parity(cmd)


def test_evalsha_after_eval(parity):
    """EVAL caches its script: EVALSHA of its sha1 runs it, in any letter case."""
    parity(("SCRIPT", "FLUSH"),
           ("EVAL", "return ARGV[1]", "0", "x"),
           ("EVALSHA", "a5f2d8a5e4db5e0c0dfb02eac6d26a2ff8a7e7f7", "0", "y"),
           ("EVALSHA", "C0F5E8D8FBD1A1F2AD9B4C5D8A3A94A53A1A9C8E", "0"),
           ("SCRIPT", "EXISTS", "a5f2d8a5e4db5e0c0dfb02eac6d26a2ff8a7e7f7"))


def test_select_inside_script_keeps_caller_db(parity):
    """SELECT in a script changes the db of the script's commands only, not the caller's."""
    parity(("EVAL", "redis.call('select', '2') redis.call('set', 'k', 'in2') return redis.call('get', 'k')", "0"),
           ("GET", "k"),
           ("SELECT", "2"),
           ("GET", "k"),
           ("EVAL", "return redis.call('get', 'k')", "0"),
           ("SELECT", "0"))


def test_script_inside_multi(parity):
    """EVAL queued in MULTI runs in EXEC; its errors are one element of the array."""
    parity(("MULTI",), ("EVAL", "return redis.call('incr', KEYS[1])", "1", "c"),
           ("EVAL", "return redis.call('nosuch')", "0"), ("EVAL", "return {1, 'a'}", "0"), ("EXEC",))


def test_keys_and_argv(parity):
    """KEYS and ARGV hold the words after numkeys, binary-safe, fresh for every call."""
    parity(("EVAL", "return {#KEYS, #ARGV, KEYS[2], ARGV[1]}", "2", "k1", "k\x00 2", "a\r\n", "b"),
           ("EVAL", "return {#KEYS, #ARGV}", "0"),
           ("EVAL", "KEYS[5] = 'x' return #KEYS", "1", "a"),
           ("EVAL", "return #KEYS", "1", "a"))


def test_write_commands_and_types(parity):
    """Writes inside scripts land as Redis', and every type reads back through redis.call."""
    script = """
redis.call('rpush', 'l', 'a', 'b')
redis.call('sadd', 's', 'x')
redis.call('hset', 'h', 'f', 1.5)
redis.call('zadd', 'z', 2.5, 'm')
redis.call('set', 'n', 10)
redis.call('incrbyfloat', 'n', 0.25)
return {redis.call('lrange', 'l', 0, -1), redis.call('smembers', 's'), redis.call('hgetall', 'h'),
        redis.call('zrange', 'z', 0, -1, 'withscores'), redis.call('get', 'n'), redis.call('type', 'z'),
        redis.call('ttl', 'n'), redis.call('exists', 'l', 's', 'nokey')}
"""
    parity(("EVAL", script, "0"), ("LRANGE", "l", "0", "-1"), ("GET", "n"))


def test_error_lines(parity):
    """Errors name the line of the script they happened on, inside functions and after a shebang."""
    parity(("EVAL", "local a = 1\n\n\nredis.call('incr', 'k', 'x')", "0"),
           ("EVAL", "local function f(n)\n  if n == 0 then error('deep') end\n  return f(n - 1)\nend\nreturn f(3)", "0"),
           ("EVAL", "#!lua flags=no-writes\n\nreturn redis.call('del', 'k')", "0"),
           ("EVAL", "return redis.call('get', 'a', 'b')", "0"),
           ("EVAL", "return nil .. 'x'", "0"))


def test_time_frozen_parity(parity):
    """A key with a 1 ms TTL outlives 20 ms of busy script (TIME moves, the keyspace's clock does not)."""
    script = ("redis.call('set', 'fz', '1', 'px', '1') local t = redis.call('time') "
              "local s = t[1] * 1000000 + t[2] local n = s "
              "while n - s < 20000 do local u = redis.call('time') n = u[1] * 1000000 + u[2] end "
              "return {redis.call('get', 'fz'), redis.call('exists', 'fz')}")
    parity(("EVAL", script, "0"))


def test_scripts_over_maxmemory(parity):
    """Over maxmemory: shebang scripts without allow-oom are refused, writes inside compatible scripts get OOM, reads run."""
    parity(("SET", "a", "b"))
    parity(("CONFIG", "SET", "maxmemory", "1"))
    try:
        parity(("EVAL", "#!lua\nreturn 1", "0"),
               ("EVAL", "#!lua flags=allow-oom\nreturn redis.call('set','a','c')", "0"),
               ("EVAL", "return redis.call('set','a','d')", "0"),
               ("EVAL", "return redis.pcall('set','a','d')", "0"),
               ("EVAL", "return redis.call('get','a')", "0"),
               ("EVAL", "#!lua flags=no-writes\nreturn redis.call('get','a')", "0"),
               ("EVAL", "return redis.call('del','a')", "0"))
    finally:
        parity(("CONFIG", "SET", "maxmemory", "0"))


def test_wrongtype_in_call_and_pcall(parity):
    """WRONGTYPE raised by redis.call keeps its code; redis.pcall returns it as a table."""
    parity(("SET", "s", "v"),
           ("EVAL", "return redis.call('lpush', 's', 'x')", "0"),
           ("EVAL", "local r = redis.pcall('lpush', 's', 'x') return {r.err, type(r)}", "0"),
           ("EVAL", "return redis.pcall('lpush', 's', 'x')", "0"),
           ("EVAL", "return {redis.pcall('lpush', 's', 'x')}", "0"),
           ("EVAL", "return redis.call('incr', 's')", "0"))


# -- unit tests: no sockets ----------------------------------------------------------


def _eval(client, script, *args):
    """Run EVAL on a bare client; the raw reply bytes, or an Error."""
    reply = call(client, "EVAL", script, *args)
    return reply if isinstance(reply, Error) else encode(reply, client.resp)


@pytest.mark.parametrize("script", [
    "return python",
    "return type(python)",
    "return io",
    "return os",
    "return debug",
    "return require",
    "return package",
    "return loadfile",
    "return dofile",
    "return getfenv",
    "return setfenv",
    "return newproxy",
    "return print",
    "return module",
])
def test_sandbox_hides(script):
    """Python, the OS, the file system and the debug library are not reachable by name."""
    server = make_server()
    reply = _eval(Client(server), script, "0")
    assert isinstance(reply, Error)
    assert "Script attempted to access nonexistent global variable" in reply.message


@pytest.mark.parametrize("script", [
    "return tostring(redis.call.__class__)",
    "return redis.call.__globals__",
    "local mt = getmetatable(redis.call) return mt",
    "return loadstring('return python')()",
    "return load(function() return nil end)",
    "local f = loadstring('x = 1') f() return x",
    "return string.dump(function() end) ~= nil",
    "return coroutine.wrap(function() return python end)()",
    "return getmetatable('').__index.x",
    "return _G._G.python",
    "return rawget(_G, 'python')",
    "for k, v in pairs(_G) do if k == 'python' or k == 'debug' then return k end end return 'none'",
])
def test_sandbox_escapes_fail(script):
    """Usual ways out of a Lua sandbox lead nowhere: no Python object, no real globals."""
    server = make_server()
    reply = _eval(Client(server), script, "0")
    if isinstance(reply, Error):
        assert "python" not in reply.message.lower() or "nonexistent global" in reply.message \
            or "readonly" in reply.message or "access denied" in reply.message.lower()
    else:
        assert b"python" not in reply.lower() or reply == b"$4\r\nnone\r\n" \
            or reply.startswith(b"$-1")
        assert b"<" not in reply  # no Python repr ever comes out


def test_globals_do_not_leak_between_scripts():
    """A script cannot leave state behind for the next one: globals and libraries are read-only."""
    server = make_server()
    c = Client(server)
    for script in ("rawset(_G, 'x', 1)", "table.insert(_G, 1)", "setmetatable(_G, nil)",
                   "string.len = nil", "getmetatable('').__index = nil",
                   "loadstring('y = 1')()", "rawset(redis, 'call', nil)"):
        assert isinstance(_eval(c, script, "0"), Error), script
    assert _eval(c, "return redis.call('ping')", "0") == b"+PONG\r\n"
    assert _eval(c, "return ('ab'):len()", "0") == b":2\r\n"
    assert isinstance(_eval(c, "return y", "0"), Error)


def test_script_client_db_follows_select():
    """The script starts in the caller's db; its SELECT does not change the caller's."""
    server = make_server()
    c = Client(server)
    call(c, "SELECT", "3")
    assert _eval(c, "redis.call('set', 'a', '1') redis.call('select', '5') redis.call('set', 'b', '2')", "0") \
        == b"$-1\r\n"
    assert c.dbnum == 3
    assert call(c, "GET", "a") == b"1"
    call(c, "SELECT", "5")
    assert call(c, "GET", "b") == b"2"


def test_effects_replication():
    """A script propagates its writes, not itself: one write alone, several wrapped in MULTI/EXEC (as a 7.0 master's stream)."""
    server, c, units = with_propagator()
    _eval(c, "redis.call('set','a','1')", "0")
    _eval(c, "redis.call('set','a','1') redis.call('incr','c')", "0")
    call(c, "SCRIPT", "LOAD", "return 1")
    _eval(c, "redis.call('select','3') redis.call('set','b','2')", "0")
    _eval(c, "return redis.call('get','a')", "0")
    _eval(c, "redis.call('set','y','1') error('boom')", "0")
    call(c, "SCRIPT", "FLUSH")
    _eval(c, "redis.call('select','3') redis.call('set','b','2') redis.call('select','0') redis.call('set','q','1')", "0")
    # Recorded from redis-server 7.0.15 with a raw PSYNC connection.
    assert stream_commands(units) == [
        [b"SELECT", b"0"], [b"set", b"a", b"1"],
        [b"MULTI"], [b"set", b"a", b"1"], [b"incr", b"c"], [b"EXEC"],
        [b"SELECT", b"3"], [b"set", b"b", b"2"],
        [b"SELECT", b"0"], [b"set", b"y", b"1"],
        [b"SELECT", b"3"], [b"MULTI"], [b"set", b"b", b"2"], [b"SELECT", b"0"], [b"set", b"q", b"1"],
        [b"EXEC"],
    ]


def test_set_repl_none_is_not_propagated():
    """redis.set_repl(redis.REPL_NONE) keeps the next writes out of the stream; REPL_ALL brings them back (as 7.0)."""
    server, c, units = with_propagator()
    _eval(c, "redis.set_repl(redis.REPL_NONE) redis.call('set','n1','1') redis.set_repl(redis.REPL_ALL) "
             "redis.call('set','n2','1')", "0")
    _eval(c, "redis.set_repl(redis.REPL_NONE) redis.call('set','n3','1')", "0")
    _eval(c, "redis.call('set','n5','1')", "0")
    assert stream_commands(units) == [[b"SELECT", b"0"], [b"set", b"n2", b"1"], [b"set", b"n5", b"1"]]
    assert call(c, "MGET", "n1", "n2", "n3", "n5") == [b"1"] * 4


def test_blocked_client_served_after_the_script():
    """A client blocked on a list is served after the script, not in the middle of it (atomicity)."""
    server = make_server()
    waiter = Client(server)
    c = Client(server)
    from sonic.blocking import BLOCKED
    assert call(waiter, "BLPOP", "q", "0") is BLOCKED
    reply = _eval(c, "redis.call('rpush', 'q', 'x') return redis.call('lpop', 'q')", "0")
    assert reply == b"$1\r\nx\r\n"
    assert waiter.unblocked_replies == []
    _eval(c, "redis.call('rpush', 'q', 'y')", "0")
    assert waiter.unblocked_replies == [[b"q", b"y"]]


def _ticking(server, step):
    """Give the server's script engine a clock that moves C{step} seconds at every read, as if with the script."""
    from sonic.scripting.engine import get_engine
    engine = get_engine(server)
    now = [0.0]

    def clock():
        now[0] += step
        return now[0]
    engine.clock = clock
    return engine


def test_busy_state_and_kill():
    """Past busy-reply-threshold other clients get BUSY, SCRIPT KILL stops a read-only script, the caller gets Redis' error."""
    server = make_server()
    server.config.busy_reply_threshold = 100
    caller = Client(server)
    other = Client(server)
    _ticking(server, 0.06)  # each count-hook check sees 60 ms more
    seen = []

    def iterate(timeout):
        # What the reactor does while the script runs: another client talks.
        if not seen:
            seen.append(call(other, "GET", "x"))
            seen.append(call(other, "MULTI"))
            seen.append(call(other, "EXEC"))
            seen.append(call(other, "SCRIPT", "KILL"))
    server.clock.doIteration = iterate
    reply = _eval(caller, "local i = 0 while true do i = i + 1 end", "0")
    busy = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
    assert seen[0] == Error(busy)
    assert seen[1] == b"OK" or seen[1] == "OK"
    assert seen[2] == Error("EXECABORT Transaction discarded because of: " + busy)
    assert seen[3] == b"OK" or seen[3] == "OK"
    assert isinstance(reply, Error)
    assert reply.message.startswith("ERR Script killed by user with SCRIPT KILL... script: ")
    assert reply.message.endswith(", on @user_script:1.")
    assert server.script_busy is None and not server.gate_all
    assert call(other, "SET", "x", "1") == b"OK" or str(call(other, "GET", "x")) == "1"


@pytest.mark.parametrize("script", [
    "coroutine.wrap(function() while true do end end)()",
    "local co = coroutine.create(function() while true do end end) return coroutine.resume(co)",
])
def test_kill_reaches_into_coroutines(script):
    """A loop inside a coroutine is still seen by the count hook: BUSY and SCRIPT KILL work."""
    server = make_server()
    server.config.busy_reply_threshold = 1
    _ticking(server, 1.0)
    killer = Client(server)
    server.clock.doIteration = lambda timeout: call(killer, "SCRIPT", "KILL")
    reply = _eval(Client(server), script, "0")
    if isinstance(reply, Error):
        assert "Script killed by user with SCRIPT KILL..." in reply.message
    else:  # coroutine.resume caught the kill inside the coroutine: the script returned false
        assert reply == b"$-1\r\n"


def test_busy_replica_stops_reading_its_master():
    """On a replica, the master link stops being read while a script is BUSY, and resumes after (no master writes mid-script)."""

    class Transport(object):
        paused = False
        log = []

        def pauseProducing(self):
            self.log.append("pause")

        def resumeProducing(self):
            self.log.append("resume")

    class Link(object):
        class connection(object):
            transport = Transport()
    server = make_server()
    server.replica_link = Link()
    server.config.busy_reply_threshold = 1
    _ticking(server, 1.0)
    states = []
    server.clock.doIteration = lambda timeout: states.append(list(Transport.log))
    reply = _eval(Client(server), "local i = 0 while i < 300000 do i = i + 1 end return i", "0")
    assert reply == b":300000\r\n"
    assert states and states[0] == ["pause"]
    assert Transport.log == ["pause", "resume"]


def test_pcall_cannot_swallow_a_kill():
    """Once killed, every line of the script raises, so a loop of pcalls still ends."""
    server = make_server()
    server.config.busy_reply_threshold = 1
    _ticking(server, 1.0)
    killer = Client(server)
    server.clock.doIteration = lambda timeout: call(killer, "SCRIPT", "KILL")
    reply = _eval(Client(server), "while true do pcall(function() while true do end end) end", "0")
    assert reply.message.startswith("ERR Script killed by user with SCRIPT KILL...")


def test_script_kill_refused_after_a_write():
    """SCRIPT KILL answers UNKILLABLE once the script wrote, and NOTBUSY when nothing runs."""
    server = make_server()
    c = Client(server)
    assert call(c, "SCRIPT", "KILL") == Error("NOTBUSY No scripts in execution right now.")
    from sonic.scripting.engine import get_engine
    engine = get_engine(server)
    result = []

    def hook():
        run = engine.run_state
        if run is not None and run.wrote and not result:
            result.append(call(Client(server), "SCRIPT", "KILL"))
            run.killed = True  # end the test script
        return run is not None and run.killed
    engine._py_hook = hook
    _eval(c, "redis.call('set', 'w', '1') while true do end", "0")
    assert result[0].message.startswith("UNKILLABLE Sorry the script already executed write commands")


def test_time_stands_still_inside_a_script():
    """A key set with PX 1 still exists later in the same script, as in Redis 7.0 (time frozen at the start)."""
    from sonic.scripting.engine import get_engine
    server = make_server()
    c = Client(server)
    engine = get_engine(server)
    original = engine._call

    def later(run, argv):
        # Each command of the script runs 5 ms after the previous one (the
        # clock moves without firing timers: none run while a script does).
        server.clock.rightNow += 0.005
        return original(run, argv)
    engine._call = later
    reply = _eval(c, "redis.call('set', 'fz', '1', 'px', '1') return {redis.call('get', 'fz'), redis.call('pttl', 'fz')}", "0")
    assert reply == b"*2\r\n$1\r\n1\r\n:1\r\n"
    server.clock.advance(0.001)
    assert call(c, "GET", "fz") is None


@pytest.mark.parametrize("script", ["error({})", "error({1})", "error({err={}})"])
def test_error_table_without_message(script):
    """An error table with no string err (redis-server 7.0.15 crashes on it) is answered with an ERR reply."""
    server = make_server()
    reply = _eval(Client(server), script, "0")
    assert reply.message.startswith("ERR unknown error script: ")
    assert reply.message.endswith(", on @user_script:1.")


def test_cyclic_table_reply_ends():
    """A table that contains itself is cut with Redis' "reached lua stack limit" error element (not an internal error)."""
    server = make_server()
    reply = _eval(Client(server), "local t = {} t[1] = t return t", "0")
    assert reply.startswith(b"*1\r\n*1\r\n")
    assert reply.endswith(b"*1\r\n-ERR reached lua stack limit\r\n")


def test_info_memory_counts_scripts():
    """INFO memory shows the cached scripts and the Lua VM's memory."""
    server = make_server()
    c = Client(server)
    call(c, "SCRIPT", "LOAD", "return 1")
    call(c, "SCRIPT", "LOAD", "return 2")
    info = call(c, "INFO", "memory").decode()
    fields = dict(line.split(":", 1) for line in info.split("\r\n") if ":" in line)
    assert fields["number_of_cached_scripts"] == "2"
    assert int(fields["used_memory_lua"]) > 0
    call(c, "SCRIPT", "FLUSH")
    info = call(c, "INFO", "memory").decode()
    assert "number_of_cached_scripts:0" in info
