"""Lua scripting: the embedded Lua 5.1 runtime (L{sonic.scripting.engine}).

EVAL and SCRIPT live in L{sonic.commands.scripting}; FUNCTION and FCALL in
L{sonic.commands.functions}; the Lua libraries Redis bundles (cjson,
cmsgpack, bit, struct) in L{sonic.scripting.libs}.
"""

__all__ = ["eval_memory"]


def eval_memory(server):
    """INFO memory's EVAL figures: (Lua VM bytes, cached script bytes, cached scripts).

    Here rather than in L{sonic.scripting.engine} so INFO does not load the
    engine (and lupa's Lua runtime) before the first script.
    """
    engine = getattr(server, "lua_engine", None)
    if engine is None:
        return 0, 0, 0
    return engine.memory(), engine.scripts_size, len(engine.scripts)
