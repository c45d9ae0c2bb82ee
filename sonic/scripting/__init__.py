"""Lua scripting: the embedded Lua 5.1 runtime (L{sonic.scripting.engine}).

EVAL and SCRIPT live in L{sonic.commands.scripting}; FUNCTION and FCALL in
L{sonic.commands.functions}; the Lua libraries Redis bundles (cjson,
cmsgpack, bit, struct) in L{sonic.scripting.libs}.
"""
