"""The bridge between RDB entries and sonic's store.

 - L{entries_of}: the live keys of a server as L{Entry} records (values
   decompressed, Redis' encoding names, deadlines), for SAVE, full syncs
   and the tests.
 - L{entry_to_value}: an entry as the value sonic stores, encoded as Redis
   encodes what it loads (see below) and packed (compressed at rest) as the
   commands pack it.
 - L{load_entries}: replace the whole keyspace by a stream of entries.  The
   new databases are built aside (L{build_keyspace}, which touches no live
   state and may run in a thread) and swapped in at once
   (L{install_keyspace}), so an error half-way leaves the old keyspace
   whole, and no client ever sees a half-loaded one.
 - L{write_keyspace} and L{save_to}: a whole RDB file.

Encodings on load follow what redis-server 7.0 does with what it reads
(checked by RESTOREing payloads into a redis-server with small limits):
a listpack hash or sorted set turns into a hashtable/skiplist only when it
has more entries than allowed (long members are kept in the listpack); an
intset turns into a hashtable when it has too many members; a plain hash,
set or sorted set becomes compact again when it fits every limit (members
short enough, integers for an intset).
"""

import gc
import os
import time
from binascii import crc_hqx

from sortedcontainers import SortedList

from sonic.rdb import Entry, RdbError
from sonic.rdb.writer import RdbWriter
from sonic.store import expiry
from sonic.store.compression import Compressed
from sonic.store.keyspace import ENCODERS, key_hash_slot
from sonic.util import string2ll

__all__ = ["entries_of", "entry_of", "entry_to_value", "build_keyspace", "install_keyspace",
           "load_entries", "write_steps", "write_keyspace", "save_to"]

#: Encoding hints that mean "read from a compact form" (listpack, or the
#: ziplist/zipmap forms older files hold, which Redis converts to listpacks).
_COMPACT = frozenset(("listpack", "ziplist", "zipmap"))


# -- sonic -> entries -------------------------------------------------------------


def _decompressor(server):
    decompress = server.compressor.decompress

    def unpack(v):
        return decompress(v) if type(v) is Compressed else v
    return unpack


def entry_of(server, dbnum, key, value, deadline):
    """The L{Entry} of one stored value (decompressed: a new object, not the value itself)."""
    t = type(value)
    encoding = ENCODERS[t](value, server) if t in ENCODERS else None
    if t is bytes:
        return Entry(dbnum, key, "string", value, deadline, encoding)
    if t is Compressed:
        return Entry(dbnum, key, "string", server.compressor.decompress(value), deadline,
                     encoding)
    if t is List:
        if value.packed:
            unpack = _decompressor(server)
            items = [unpack(e) for e in value]
        else:
            items = list(value)
        return Entry(dbnum, key, "list", items, deadline, encoding)
    if t is Hash:
        if Compressed in map(type, value.values()):
            unpack = _decompressor(server)
            items = [(f, unpack(v)) for f, v in value.items()]
        else:
            items = list(value.items())
        return Entry(dbnum, key, "hash", items, deadline, encoding)
    if t is Set:
        return Entry(dbnum, key, "set", list(value), deadline, encoding)
    if t is ZSet:
        return Entry(dbnum, key, "zset", list(value), deadline, encoding)
    raise RdbError("cannot serialize a value of type %s (key %r)" % (t.__name__, key))


def entries_of(server, now_ms=None, dbs=None):
    """Every live key of C{server} as L{Entry} records, database by database.

    Keys whose deadline has passed are left out (not deleted: taking a
    snapshot changes nothing).  Each shard's items are listed before its
    keys are converted, so the generator survives keys being added or
    removed between two of its steps; a value changed in place between
    steps is seen as it is when its turn comes.

    @param now_ms: the time that decides what has expired (the clock's now).
    @param dbs: database numbers to include (all by default).
    """
    store = server.store
    if now_ms is None:
        now_ms = int(store.clock.seconds() * 1000)
    for db in store.dbs:
        if dbs is not None and db.index not in dbs:
            continue
        for sh in db.shards:
            exp = sh.expires
            for key, value in list(sh.data.items()):
                deadline = exp.get(key) if exp else None
                if deadline is not None and deadline < now_ms:
                    continue
                yield entry_of(server, db.index, key, value, deadline)


# -- entries -> sonic -------------------------------------------------------------


def entry_to_value(server, entry):
    """The value sonic stores for C{entry}, encoded as redis-server 7.0 would load it.

    Raises L{RdbError} for an unknown kind, an empty collection, duplicate
    members, or a NaN score (Redis refuses each of these on load).
    """
    kind = entry.kind
    value = entry.value
    config = server.config
    if kind == "string":
        comp = server.compressor
        if len(value) >= comp.threshold and comp.enabled:
            return comp.compress(bytes(value))
        return bytes(value)
    if not value:
        raise RdbError("empty %s at key %r" % (kind, entry.key))
    encoding = entry.encoding
    if kind == "list":
        comp = server.compressor
        if comp.enabled:
            threshold = comp.threshold
            compress = comp.compress
            return List([compress(e) if len(e) >= threshold else e for e in value])
        return List(value)
    if kind == "hash":
        h = Hash()
        comp = server.compressor
        threshold = comp.threshold if comp.enabled else None
        maxlen = 0
        for f, v in value:
            n = len(v)
            if n > maxlen:
                maxlen = n
            if len(f) > maxlen:
                maxlen = len(f)
            h[f] = comp.compress(v) if threshold is not None and n >= threshold else v
        if len(h) != len(value):
            raise RdbError("duplicate hash fields at key %r" % (entry.key,))
        if len(h) > config.hash_max_listpack_entries:
            h.big = True
        elif encoding not in _COMPACT:
            h.big = maxlen > config.hash_max_listpack_value
        return h
    if kind == "set":
        s = Set(value)
        if len(s) != len(value):
            raise RdbError("duplicate set members at key %r" % (entry.key,))
        if len(s) <= config.set_max_intset_entries:
            # From an intset or a plain set alike: an intset while every
            # member is an integer (Redis' setTypeCreate + setTypeAdd).
            s.intset = all(string2ll(m) is not None for m in s)
        return s
    if kind == "zset":
        scores = dict(value)
        if len(scores) != len(value):
            raise RdbError("duplicate sorted set members at key %r" % (entry.key,))
        if len(scores) > config.zset_max_listpack_entries:
            big = True
        elif encoding in _COMPACT:
            big = False
        else:
            big = max(map(len, scores)) > config.zset_max_listpack_value
        for m, score in scores.items():
            if score != score:
                raise RdbError("NaN score at key %r" % (entry.key,))
            if not big and score == 0.0:
                scores[m] = 0.0  # a listpack stores -0 as 0
        zs = ZSet(big)
        zs.scores = scores
        zs.order = SortedList((score, m) for m, score in scores.items())
        return zs
    raise RdbError("unknown kind %r at key %r" % (kind, entry.key))


class BuiltKeyspace(object):
    """New databases built aside by L{build_keyspace}, ready for L{install_keyspace}.

    @ivar data: per database, per shard, key -> value.
    @ivar expires: per database, per shard, key -> deadline.
    @ivar keys: how many keys were loaded; C{expired}: how many were skipped.
    """

    def __init__(self, ndbs, nshards):
        self.data = [[{} for _ in range(nshards)] for _ in range(ndbs)]
        self.expires = [[{} for _ in range(nshards)] for _ in range(ndbs)]
        self.keys = 0
        self.expired = 0
        self.compressed = [0, 0, 0]  # keys, raw bytes, stored bytes
        self.functions = None  # the file's function library codes (FUNCTION2), if read


def build_keyspace(server, entries, now_ms, master=None):
    """Build the databases holding C{entries}, touching nothing live.

    @param now_ms: entries with a deadline before it are skipped on a master.
    @param master: whether this server is a master (skips expired keys);
        None decides from the server's role.
    @raise RdbError: a database number out of range, a duplicate key, or a
        value L{entry_to_value} refuses; nothing is then changed.
    """
    store = server.store
    if master is None:
        master = not store.replica and server.master_host is None
    built = BuiltKeyspace(len(store.dbs), store.nshards)
    # The cyclic collector is paused: a load creates millions of container
    # objects, and each full collection they trigger would walk them all.
    enabled = gc.isenabled()
    gc.disable()
    try:
        _fill(server, built, entries, now_ms, master)
    finally:
        if enabled:
            gc.enable()
    built.functions = getattr(entries, "functions", None)
    return built


def _fill(server, built, entries, now_ms, master):
    ndbs = len(built.data)
    nshards = len(built.data[0]) if ndbs else 1
    data_of, expires_of = built.data, built.expires
    compressed = built.compressed
    to_value = entry_to_value
    for entry in entries:
        dbnum = entry.db
        if not 0 <= dbnum < ndbs:
            raise RdbError("database %d out of range (this server has %d databases)"
                           % (dbnum, ndbs))
        key = entry.key
        deadline = entry.expire_ms
        if deadline is not None and master and deadline < now_ms:
            built.expired += 1
            continue
        if 123 in key:  # ord("{"): an int test is 7x faster than b"{" in key
            i = key_hash_slot(key) % nshards
        else:
            i = (crc_hqx(key, 0) & 16383) % nshards
        shard = data_of[dbnum][i]
        if key in shard:
            raise RdbError("duplicate key %r in database %d" % (key, dbnum))
        value = to_value(server, entry)
        shard[key] = value
        if type(value) is Compressed:
            compressed[0] += 1
            compressed[1] += value.size
            compressed[2] += len(value)
        if deadline is not None:
            expires_of[dbnum][i][key] = deadline
        built.keys += 1


def install_keyspace(server, built):
    """Swap the databases of C{built} in for the current ones (in the reactor thread).

    Clients WATCHing a key that existed before or exists now are
    invalidated, clients blocked on a key that now exists are served, the
    shards' expiry timers are re-aimed, and the compression counters are
    set to what the new values hold.
    """
    store = server.store
    # Redis empties the old data first (emptyData): tracking clients get the
    # null invalidation of a flush (a replica's full sync...).
    from sonic.tracking import flushed as tracking_flushed
    tracking_flushed(server)
    for db, data, expires in zip(store.dbs, built.data, built.expires):
        db.touch_all_watched()
        for sh, d, e in zip(db.shards, data, expires):
            expiry.cancel(sh)
            sh.data = d
            sh.expires = e
            sh.scan = None
            expiry.reschedule(store, sh)
        db.touch_all_watched()
        for key in list(db.blocking):
            if db.lookup(key) is not None:
                store.signal_ready(db, key)
    comp = server.compressor
    comp.reset()
    comp.compressed_keys, comp.raw_bytes, comp.stored_bytes = built.compressed
    acct = store.acct
    if acct is not None:
        # maxmemory's byte count starts again from the loaded keys; their
        # access clocks start now (sonic.store.eviction).
        acct.epoch_s = store.snapshot() // 1000
        for db in store.dbs:
            for sh in db.shards:
                if sh.access is not None:
                    sh.access = acct.new_access(sh)
        acct.recount()
    if built.functions is not None:
        # The file's function libraries replace the current ones (Lua runs here, on the reactor).
        from sonic.commands.functions import load_libraries
        load_libraries(server, built.functions)


def load_entries(server, entries, now_ms, master=None):
    """Replace the whole keyspace by C{entries}; return how many keys were loaded.

    All or nothing: on an L{RdbError} (or any error) from the entries the
    old keyspace stays as it was.
    """
    built = build_keyspace(server, entries, now_ms, master)
    install_keyspace(server, built)
    return built.keys


# -- files ------------------------------------------------------------------------


def write_steps(server, writer, now_ms=None, aux=(), step=10000):
    """Write a whole RDB file of C{server}'s live keys, yielding every C{step} keys.

    A generator: each C{next()} writes about C{step} more keys, hands their
    bytes to the writer's file object, and yields how many were written so
    far, so a caller can spread a big file over many reactor turns
    (C{task.cooperate}); the last step writes the EOF and checksum.
    Between two steps the keyspace may change: each shard's key list is
    taken when the walk reaches it, and a key gone by its turn is skipped.
    Values are read when their turn comes, so a caller that needs a
    point-in-time snapshot must keep writers away (or copy) meanwhile.

    @param aux: more AUX (key, value) pairs, written after used-mem as Redis
        writes its replication fields (repl-stream-db, repl-id, repl-offset).
    """
    store = server.store
    if now_ms is None:
        now_ms = int(store.clock.seconds() * 1000)
    writer.header()
    writer.redis_aux(now_ms // 1000, server.used_memory(), aux)
    functions = getattr(server, "functions", None)
    if functions is not None:
        # FUNCTION2 records come after the AUX fields, as in Redis' files.
        writer.buf += functions.rdb_records(writer.compress)
    keys = 0
    next_yield = step
    put_string = writer.string
    put_entry = writer.entry
    for db in store.dbs:
        size = len(db)
        if not size:
            continue
        writer.select_db(db.index, size, db.expires_count())
        dbnum = db.index
        for sh in db.shards:
            data = sh.data
            exp = sh.expires
            for key in list(data):
                value = data.get(key)
                if value is None:
                    continue
                deadline = exp.get(key) if exp else None
                if deadline is not None and deadline < now_ms:
                    continue
                if type(value) is bytes:
                    # Most keys: no Entry record, no encoding name.
                    put_string(key, value, deadline)
                else:
                    put_entry(entry_of(server, dbnum, key, value, deadline))
                keys += 1
                if keys >= next_yield:
                    next_yield += step
                    writer.flush()  # this step's bytes reach the file/transport now
                    yield keys
    writer.finish()
    yield keys


def write_keyspace(server, writer, now_ms=None, aux=()):
    """Write a whole RDB file of C{server}'s live keys to C{writer} at once; return the key count.

    Python's cyclic garbage collector is paused meanwhile: the walk creates
    only short-lived acyclic objects, and with millions of live objects in
    the store each full collection it would trigger costs tens of ms.
    """
    keys = 0
    enabled = gc.isenabled()
    gc.disable()
    try:
        for keys in write_steps(server, writer, now_ms, aux, step=1 << 62):
            pass
    finally:
        if enabled:
            gc.enable()
    return keys


def save_to(server, path, now_ms=None):
    """Write an RDB file of C{server}'s keyspace at C{path} (a temp file renamed over it).

    Returns (keys, bytes).  The file is written with the server's
    rdbcompression, rdbchecksum and list-max-listpack-size settings, fsynced,
    then renamed, so C{path} always holds a whole file.
    """
    config = server.config
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, "temp-%d-%d.rdb" % (os.getpid(), int(time.time() * 1000)))
    try:
        with open(tmp, "wb") as f:
            writer = RdbWriter(f, compress=config.rdbcompression, checksum=config.rdbchecksum,
                               list_fill=config.list_max_listpack_size)
            keys = write_keyspace(server, writer, now_ms)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return keys, writer.bytes_written


# The value classes live in the command modules, and importing any of them
# imports the whole sonic.commands package, whose DUMP and RESTORE import
# this module: importing them last lets either side be imported first (the
# functions above only look the names up when called).
from sonic.commands.hashes import Hash  # noqa: E402
from sonic.commands.lists import List  # noqa: E402
from sonic.commands.sets import Set  # noqa: E402
from sonic.commands.zsets import ZSet  # noqa: E402
