"""Reading Redis' RDB files and DUMP payloads into neutral L{Entry} records.

    reader = iter_rdb(open("dump.rdb", "rb"))
    for entry in reader:          # Entry(db, key, kind, value, expire_ms, encoding)
        ...
    reader.aux                    # {b"redis-ver": b"7.0.15", ...}

Everything Redis 7.0 writes for strings, lists, sets, hashes and sorted sets
is read, in every encoding older versions wrote too (linked lists, ziplists,
zipmaps, quicklists of ziplists, string-double zsets).  Streams and module
values are refused with an L{RdbError} naming the type and the key (or
skipped and counted, with C{skip_unsupported=True}); function
libraries (FUNCTION2) and module AUX data are skipped (kept in
C{reader.functions} / counted in C{reader.skipped}).  Empty collections are
skipped, as Redis skips them.  The CRC-64 trailer is checked (a stored 0
means "not computed", as in Redis).

L{RdbParser} is the push form (C{feed(data)} returns the entries complete so
far; C{close()} checks the end), for a replica reading a full-sync payload
off the socket; L{iter_rdb} pulls a file through it.  An entry is parsed
from one contiguous bytes buffer: when it runs off the end of the data held,
the parse is abandoned and retried once more data came (and the buffer has
at least doubled, so one huge value costs O(n), not O(n^2)).

Errors raise L{RdbError} with the absolute offset where the bad item starts.
Callers that load a keyspace must collect every entry before swapping it in,
so a corrupt file loads nothing.
"""

import gc
import struct

from sonic.rdb import Entry, RdbError
from sonic.rdb.format import (
    ENC_INT8, ENC_INT16, ENC_INT32, ENC_LZF, MAGIC, OP_AUX, OP_EOF, OP_EXPIRETIME,
    OP_EXPIRETIME_MS, OP_FREQ, OP_FUNCTION, OP_FUNCTION2, OP_IDLE, OP_MODULE_AUX, OP_RESIZEDB,
    OP_SELECTDB, OP_SLOT_INFO, QUICKLIST_NODE_PACKED, QUICKLIST_NODE_PLAIN, RDB_VERSION, TYPE_HASH,
    TYPE_HASH_LISTPACK, TYPE_HASH_ZIPLIST, TYPE_HASH_ZIPMAP, TYPE_LIST, TYPE_LIST_QUICKLIST,
    TYPE_LIST_QUICKLIST_2, TYPE_LIST_ZIPLIST, TYPE_MODULE_2, TYPE_MODULE_PRE_GA, TYPE_NAMES,
    TYPE_SET, TYPE_SET_INTSET, TYPE_SET_LISTPACK, TYPE_STREAM_LISTPACKS,
    TYPE_STREAM_LISTPACKS_2, TYPE_STREAM_LISTPACKS_3, TYPE_STRING, TYPE_ZSET, TYPE_ZSET_2,
    TYPE_ZSET_LISTPACK, TYPE_ZSET_ZIPLIST, crc64, lzf_decompress)

__all__ = ["RdbParser", "iter_rdb", "read_object", "parse_dump_payload", "DumpPayloadError",
           "MAX_VERSION"]

#: The newest RDB version read (Redis 7.0 writes 10; 11 and 12 only add types
#: that are refused one by one, so their files load when they hold none).
MAX_VERSION = 12

_u16 = struct.Struct("<H").unpack_from
_i16 = struct.Struct("<h").unpack_from
_u32 = struct.Struct("<I").unpack_from
_i32 = struct.Struct("<i").unpack_from
_u64 = struct.Struct("<Q").unpack_from
_i64 = struct.Struct("<q").unpack_from
_be32 = struct.Struct(">I").unpack_from
_be64 = struct.Struct(">Q").unpack_from
_double = struct.Struct("<d").unpack_from
_new_entry = tuple.__new__

_INTS = [b"%d" % i for i in range(128)]


class DumpPayloadError(RdbError):
    """A DUMP payload whose footer is wrong: too short, a newer RDB version, or a bad CRC-64."""


class _Short(Exception):
    """The data held ends inside the item being read (more may come)."""


class _Corrupt(Exception):
    """An item is malformed; the argument says how (the offset is added by the caller)."""


# --- strings and lengths (raise _Short past the end) ------------------------------------

def _length(buf, pos):
    """A plain length at C{pos}: C{(n, newpos)}."""
    first = buf[pos]
    kind = first >> 6
    if kind == 0:
        return first, pos + 1
    if kind == 1:
        return ((first & 0x3F) << 8) | buf[pos + 1], pos + 2
    if first == 0x80:
        if pos + 5 > len(buf):
            raise _Short
        return _be32(buf, pos + 1)[0], pos + 5
    if first == 0x81:
        if pos + 9 > len(buf):
            raise _Short
        return _be64(buf, pos + 1)[0], pos + 9
    raise _Corrupt("bad length encoding 0x%02x" % first)


def _string(buf, pos):
    """A string at C{pos}: C{(bytes, newpos)}; int-encoded ones come back as their digits."""
    first = buf[pos]
    if first < 0x40:
        end = pos + 1 + first
        if end > len(buf):
            raise _Short
        return buf[pos + 1:end], end
    if first >= 0xC0:
        return _special_string(buf, pos, first & 0x3F)[:2]
    n, pos = _length(buf, pos)
    end = pos + n
    if end > len(buf):
        raise _Short
    return buf[pos:end], end


def _special_string(buf, pos, enc):
    """An int- or LZF-encoded string: C{(bytes, newpos, is_int)}."""
    if enc == ENC_INT8:
        v = buf[pos + 1]
        return b"%d" % (v - 256 if v > 127 else v), pos + 2, True
    if enc == ENC_INT16:
        if pos + 3 > len(buf):
            raise _Short
        return b"%d" % _i16(buf, pos + 1)[0], pos + 3, True
    if enc == ENC_INT32:
        if pos + 5 > len(buf):
            raise _Short
        return b"%d" % _i32(buf, pos + 1)[0], pos + 5, True
    if enc == ENC_LZF:
        clen, p = _length(buf, pos + 1)
        ulen, p = _length(buf, p)
        end = p + clen
        if end > len(buf):
            raise _Short
        try:
            return lzf_decompress(buf[p:end], ulen), end, False
        except RdbError as e:
            raise _Corrupt(str(e)) from None
    raise _Corrupt("unknown string encoding %d" % enc)


def _string_enc(buf, pos):
    """A value string: C{(bytes, newpos, encoding hint)} ("int" when stored as an integer)."""
    first = buf[pos]
    if first < 0x40:
        end = pos + 1 + first
        if end > len(buf):
            raise _Short
        return buf[pos + 1:end], end, None
    if first >= 0xC0:
        s, pos, is_int = _special_string(buf, pos, first & 0x3F)
        return s, pos, "int" if is_int else None
    s, pos = _string(buf, pos)
    return s, pos, None


def _strings(buf, pos, count):
    """C{count} strings in a row: C{(list, newpos)} (short ones read inline)."""
    items = []
    append = items.append
    for _ in range(count):
        b = buf[pos]
        if b < 0x40:
            pos += 1 + b
            append(buf[pos - b:pos])
        else:
            s, pos = _string(buf, pos)
            append(s)
    if pos > len(buf):
        raise _Short
    return items, pos


def _old_double(buf, pos):
    """An old (type 3) zset score: a length byte then ASCII; 253/254/255 = nan/+inf/-inf."""
    n = buf[pos]
    if n == 253:
        return float("nan"), pos + 1
    if n == 254:
        return float("inf"), pos + 1
    if n == 255:
        return float("-inf"), pos + 1
    end = pos + 1 + n
    if end > len(buf):
        raise _Short
    try:
        return float(buf[pos + 1:end]), end
    except ValueError:
        raise _Corrupt("bad score %r" % buf[pos + 1:end]) from None


# --- compact blobs (whole in memory: any overrun is corruption) -----------------------

def _listpack(blob):
    """The elements of a listpack, as bytes (integers as their digits)."""
    n = len(blob)
    if n < 7 or _u32(blob, 0)[0] != n:
        raise _Corrupt("listpack size header does not match its length")
    count = _u16(blob, 4)[0]
    out = []
    append = out.append
    pos = 6
    try:
        while True:
            b = blob[pos]
            if b < 0x80:  # 7-bit unsigned int
                append(_INTS[b])
                pos += 2
            elif b < 0xC0:  # 6-bit length string
                start = pos + 1
                end = start + (b & 0x3F)
                append(blob[start:end])
                pos = end + (1 if end - pos < 128 else 2)
            elif b < 0xE0:  # 13-bit signed int
                v = ((b & 0x1F) << 8) | blob[pos + 1]
                append(b"%d" % (v - 8192 if v >= 4096 else v))
                pos += 3
            elif b < 0xF0:  # 12-bit length string
                start = pos + 2
                end = start + (((b & 0x0F) << 8) | blob[pos + 1])
                append(blob[start:end])
                pos = end + _backlen_size(end - pos)
            elif b == 0xF0:  # 32-bit length string
                start = pos + 5
                end = start + _u32(blob, pos + 1)[0]
                append(blob[start:end])
                pos = end + _backlen_size(end - pos)
            elif b == 0xF1:
                append(b"%d" % _i16(blob, pos + 1)[0])
                pos += 4
            elif b == 0xF2:
                append(b"%d" % int.from_bytes(blob[pos + 1:pos + 4], "little", signed=True))
                pos += 5
            elif b == 0xF3:
                append(b"%d" % _i32(blob, pos + 1)[0])
                pos += 6
            elif b == 0xF4:
                append(b"%d" % _i64(blob, pos + 1)[0])
                pos += 10
            elif b == 0xFF:
                break
            else:
                raise _Corrupt("bad listpack entry encoding 0x%02x" % b)
    except (IndexError, struct.error):
        raise _Corrupt("listpack entry runs past its end") from None
    if pos != n - 1:
        raise _Corrupt("listpack ends before its size")
    if count != 65535 and count != len(out):
        raise _Corrupt("listpack holds %d entries, its header says %d" % (len(out), count))
    return out


def _backlen_size(entry_len):
    if entry_len < 128:
        return 1
    if entry_len < 16383:
        return 2
    if entry_len < 2097151:
        return 3
    if entry_len < 268435455:
        return 4
    return 5


def _ziplist(blob):
    """The elements of a ziplist, as bytes (integers as their digits)."""
    n = len(blob)
    if n < 11 or _u32(blob, 0)[0] != n:
        raise _Corrupt("ziplist size header does not match its length")
    count = _u16(blob, 8)[0]
    out = []
    append = out.append
    pos = 10
    try:
        while True:
            b = blob[pos]
            if b == 0xFF:
                break
            pos += 5 if b == 0xFE else 1  # previous entry's length
            b = blob[pos]
            kind = b >> 6
            if kind == 0:
                start = pos + 1
                end = start + (b & 0x3F)
                if end > n:
                    raise IndexError
                append(blob[start:end])
                pos = end
            elif kind == 1:
                start = pos + 2
                end = start + (((b & 0x3F) << 8) | blob[pos + 1])
                if end > n:
                    raise IndexError
                append(blob[start:end])
                pos = end
            elif b == 0x80:
                start = pos + 5
                end = start + _be32(blob, pos + 1)[0]
                if end > n:
                    raise IndexError
                append(blob[start:end])
                pos = end
            elif b == 0xC0:
                append(b"%d" % _i16(blob, pos + 1)[0])
                pos += 3
            elif b == 0xD0:
                append(b"%d" % _i32(blob, pos + 1)[0])
                pos += 5
            elif b == 0xE0:
                append(b"%d" % _i64(blob, pos + 1)[0])
                pos += 9
            elif b == 0xF0:
                if pos + 4 > n:
                    raise IndexError
                append(b"%d" % int.from_bytes(blob[pos + 1:pos + 4], "little", signed=True))
                pos += 4
            elif b == 0xFE:
                v = blob[pos + 1]
                append(b"%d" % (v - 256 if v > 127 else v))
                pos += 2
            elif 0xF1 <= b <= 0xFD:
                append(_INTS[b - 0xF1])
                pos += 1
            else:
                raise _Corrupt("bad ziplist entry encoding 0x%02x" % b)
    except (IndexError, struct.error):
        raise _Corrupt("ziplist entry runs past its end") from None
    if pos != n - 1:
        raise _Corrupt("ziplist ends before its size")
    if count != 65535 and count != len(out):
        raise _Corrupt("ziplist holds %d entries, its header says %d" % (len(out), count))
    return out


def _zipmap(blob):
    """The (field, value) pairs of a zipmap (hashes of Redis < 2.6)."""
    n = len(blob)
    pairs = []
    pos = 1  # zmlen
    try:
        while True:
            b = blob[pos]
            if b == 0xFF:
                break
            if b == 0xFE:
                klen = _u32(blob, pos + 1)[0]
                pos += 5
            else:
                klen = b
                pos += 1
            field = blob[pos:pos + klen]
            pos += klen
            b = blob[pos]
            if b == 0xFE:
                vlen = _u32(blob, pos + 1)[0]
                pos += 5
            else:
                vlen = b
                pos += 1
            free = blob[pos]
            pos += 1
            value = blob[pos:pos + vlen]
            pos += vlen + free
            if pos > n:
                raise IndexError
            pairs.append((field, value))
    except (IndexError, struct.error):
        raise _Corrupt("zipmap entry runs past its end") from None
    if pos != n - 1:
        raise _Corrupt("zipmap ends before its size")
    return pairs


def _intset(blob):
    """The members of an intset, as their digits."""
    if len(blob) < 8:
        raise _Corrupt("intset too short")
    width, count = struct.unpack_from("<II", blob, 0)
    code = {2: "h", 4: "i", 8: "q"}.get(width)
    if code is None:
        raise _Corrupt("bad intset encoding %d" % width)
    if len(blob) != 8 + width * count:
        raise _Corrupt("intset size does not match its length")
    return [b"%d" % v for v in struct.unpack_from("<%d%s" % (count, code), blob, 8)]


def _pairs(items, what):
    if len(items) & 1:
        raise _Corrupt("%s holds an odd number of elements" % what)
    it = iter(items)
    return list(zip(it, it))


def _zset_pairs(items, what):
    if len(items) & 1:
        raise _Corrupt("%s holds an odd number of elements" % what)
    try:
        return [(items[i], float(items[i + 1])) for i in range(0, len(items), 2)]
    except ValueError:
        raise _Corrupt("%s holds a score that is not a number" % what) from None


# --- objects -------------------------------------------------------------------------

def _object(t, buf, pos):
    """The value of type C{t} at C{pos}: C{(kind, value, encoding, newpos)}.

    Raises L{_Short} when the data ends inside it, L{_Corrupt} when it is
    malformed, L{RdbError} when its type is unsupported.
    """
    if t == TYPE_STRING:
        s, pos, enc = _string_enc(buf, pos)
        return "string", s, enc, pos
    if t == TYPE_LIST_QUICKLIST_2:
        n, pos = _length(buf, pos)
        items = []
        for _ in range(n):
            container, pos = _length(buf, pos)
            blob, pos = _string(buf, pos)
            if container == QUICKLIST_NODE_PACKED:
                items += _listpack(blob)  # an empty node is skipped, as Redis does
            elif container == QUICKLIST_NODE_PLAIN:
                items.append(blob)
            else:
                raise _Corrupt("bad quicklist node container %d" % container)
        return "list", items, "quicklist", pos
    if t == TYPE_HASH_LISTPACK:
        blob, pos = _string(buf, pos)
        return "hash", _pairs(_listpack(blob), "hash listpack"), "listpack", pos
    if t == TYPE_ZSET_LISTPACK:
        blob, pos = _string(buf, pos)
        return "zset", _zset_pairs(_listpack(blob), "zset listpack"), "listpack", pos
    if t == TYPE_SET_INTSET:
        blob, pos = _string(buf, pos)
        return "set", _intset(blob), "intset", pos
    if t == TYPE_SET:
        n, pos = _length(buf, pos)
        items, pos = _strings(buf, pos, n)
        return "set", items, "hashtable", pos
    if t == TYPE_HASH:
        n, pos = _length(buf, pos)
        items, pos = _strings(buf, pos, 2 * n)
        it = iter(items)
        return "hash", list(zip(it, it)), "hashtable", pos
    if t == TYPE_ZSET_2:
        n, pos = _length(buf, pos)
        pairs = []
        append = pairs.append
        for _ in range(n):
            b = buf[pos]
            if b < 0x40:
                pos += 1 + b
                m = buf[pos - b:pos]
            else:
                m, pos = _string(buf, pos)
            append((m, _double(buf, pos)[0]))  # struct.error past the end
            pos += 8
        return "zset", pairs, "skiplist", pos
    if t == TYPE_ZSET:
        n, pos = _length(buf, pos)
        pairs = []
        for _ in range(n):
            m, pos = _string(buf, pos)
            score, pos = _old_double(buf, pos)
            pairs.append((m, score))
        return "zset", pairs, "skiplist", pos
    if t == TYPE_LIST:
        n, pos = _length(buf, pos)
        items, pos = _strings(buf, pos, n)
        return "list", items, "quicklist", pos
    if t == TYPE_LIST_QUICKLIST:
        n, pos = _length(buf, pos)
        items = []
        for _ in range(n):
            blob, pos = _string(buf, pos)
            items += _ziplist(blob)
        return "list", items, "quicklist", pos
    if t == TYPE_LIST_ZIPLIST:
        blob, pos = _string(buf, pos)
        return "list", _ziplist(blob), "quicklist", pos
    if t == TYPE_HASH_ZIPLIST:
        blob, pos = _string(buf, pos)
        return "hash", _pairs(_ziplist(blob), "hash ziplist"), "listpack", pos
    if t == TYPE_ZSET_ZIPLIST:
        blob, pos = _string(buf, pos)
        return "zset", _zset_pairs(_ziplist(blob), "zset ziplist"), "listpack", pos
    if t == TYPE_HASH_ZIPMAP:
        blob, pos = _string(buf, pos)
        return "hash", _zipmap(blob), "listpack", pos
    if t == TYPE_SET_LISTPACK:
        blob, pos = _string(buf, pos)
        return "set", _listpack(blob), "listpack", pos
    if t in (TYPE_STREAM_LISTPACKS, TYPE_STREAM_LISTPACKS_2, TYPE_STREAM_LISTPACKS_3):
        raise _Unsupported("stream values are not supported", "stream key",
                           lambda: _skip_stream(t, buf, pos))
    if t == TYPE_MODULE_2:
        module_id, pos = _length(buf, pos)
        raise _Unsupported("module values are not supported (module %s)"
                           % _module_name(module_id), "module key",
                           lambda: _skip_module_data(buf, pos))
    if t == TYPE_MODULE_PRE_GA:
        module_id, _ = _length(buf, pos)
        raise _Unsupported("module values are not supported (module %s, pre-GA format)"
                           % _module_name(module_id))
    if t in TYPE_NAMES:
        raise _Unsupported("%s values (type %d, from a newer Redis) are not supported"
                           % (TYPE_NAMES[t], t))
    raise _Corrupt("unknown object type %d" % t)


class _Unsupported(Exception):
    """A value of a type sonic cannot hold; C{skip()} gives where it ends, if it can be skipped."""

    def __init__(self, message, what=None, skip=None):
        Exception.__init__(self, message)
        self.what = what
        self.skip = skip


def _skip_stream(t, buf, pos):
    """The offset just past a stream value (its listpacks, metadata, groups, PELs, consumers)."""
    nodes, pos = _length(buf, pos)
    for _ in range(nodes):
        _, pos = _string(buf, pos)  # master ID
        _, pos = _string(buf, pos)  # listpack
    for _ in range(3):  # length, last ID (ms, seq)
        _, pos = _length(buf, pos)
    if t >= TYPE_STREAM_LISTPACKS_2:
        for _ in range(5):  # first ID, max deleted ID, entries added
            _, pos = _length(buf, pos)
    groups, pos = _length(buf, pos)
    for _ in range(groups):
        _, pos = _string(buf, pos)  # name
        for _ in range(3 if t >= TYPE_STREAM_LISTPACKS_2 else 2):  # last ID, entries read
            _, pos = _length(buf, pos)
        pel, pos = _length(buf, pos)
        for _ in range(pel):
            _, pos = _length(buf, pos + 24)  # raw ID (16), delivery time (8), count
        consumers, pos = _length(buf, pos)
        for _ in range(consumers):
            _, pos = _string(buf, pos)  # name
            pos += 16 if t >= TYPE_STREAM_LISTPACKS_3 else 8  # seen (and active) time
            pel, pos = _length(buf, pos)
            pos += 16 * pel
            if pos > len(buf):
                raise _Short
    return pos


_MODULE_CHARSET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _module_name(module_id):
    """The 9-character name packed in the top 54 bits of a module type id."""
    bits = module_id >> 10
    return "".join(_MODULE_CHARSET[(bits >> (6 * (8 - i))) & 63] for i in range(9))


def _skip_module_data(buf, pos):
    """Skip a module's self-describing serialization (opcodes until EOF 0)."""
    while True:
        op, pos = _length(buf, pos)
        if op == 0:  # EOF
            return pos
        if op in (1, 2):  # signed / unsigned int
            _, pos = _length(buf, pos)
        elif op == 3:  # float
            pos += 4
        elif op == 4:  # double
            pos += 8
        elif op == 5:  # string
            _, pos = _string(buf, pos)
        else:
            raise _Corrupt("bad module data opcode %d" % op)
        if pos > len(buf):
            raise _Short


# --- the public API --------------------------------------------------------------------

def read_object(type_byte, data, pos=0):
    """Read one value of type C{type_byte} from C{data} at C{pos}.

    Returns C{(kind, value, encoding, newpos)}; raises L{RdbError} if the
    data is short, malformed or of an unsupported type.
    """
    try:
        return _object(type_byte, data, pos)
    except (_Short, IndexError, struct.error):
        raise RdbError("unexpected end of data reading a %s value at offset %d"
                       % (TYPE_NAMES.get(type_byte, "?"), pos)) from None
    except _Corrupt as e:
        raise RdbError("corrupt %s value at offset %d: %s"
                       % (TYPE_NAMES.get(type_byte, "?"), pos, e)) from None
    except _Unsupported as e:
        raise RdbError(str(e)) from None


def parse_dump_payload(payload, check_crc=True):
    """Parse a DUMP payload: C{(kind, value, encoding)}.

    The payload is a type byte, the value, the RDB version (2 bytes LE) and
    the CRC-64 of all that (8 bytes LE).  Raises L{DumpPayloadError} when
    that footer is wrong (Redis' "version or checksum" error), L{RdbError}
    when the value is bad, unsupported or an empty collection (its "Bad data
    format").  As in Redis, a stored CRC of 0 is checked like any other, and
    bytes after the value are ignored.
    """
    payload = bytes(payload)
    if len(payload) < 10:
        raise DumpPayloadError("DUMP payload too short")
    version = _u16(payload, len(payload) - 10)[0]
    if version > RDB_VERSION:
        raise DumpPayloadError("DUMP payload version %d is newer than %d" % (version, RDB_VERSION))
    if check_crc and crc64(memoryview(payload)[:-8]) != _u64(payload, len(payload) - 8)[0]:
        raise DumpPayloadError("DUMP payload checksum is wrong")
    body = payload[:-10]
    if not body:
        raise RdbError("DUMP payload holds no value")
    kind, value, encoding, pos = read_object(body[0], body, 1)
    if kind != "string" and not value:
        raise RdbError("DUMP payload holds an empty %s" % kind)
    return kind, value, encoding


class RdbParser(object):
    """An RDB file parsed as its bytes arrive.

    C{feed(data)} returns the entries completed by C{data}; C{close()} says
    the data ended (an L{RdbError} if the file was not whole).  A parser is
    done once the EOF opcode and checksum have been read (C{done}); bytes
    after that are ignored.

    @ivar aux: the AUX fields, bytes -> bytes, in file order.
    @ivar version: the RDB version from the header.
    @ivar resize: db number -> (keys, expires) from RESIZEDB hints.
    @ivar functions: the FUNCTION2 library codes met (not loaded by sonic).
    @ivar skipped: names of skipped items (module AUX data, empty keys, and
        with C{skip_unsupported} stream and module keys) -> count.
    @ivar offset: how many bytes were consumed.
    """

    def __init__(self, skip_unsupported=False):
        """
        @param skip_unsupported: skip stream and module keys (counted in
            C{skipped}) instead of raising L{RdbError}: for a replica that
            would rather hold every other key than none.
        """
        self.skip_unsupported = skip_unsupported
        self.aux = {}
        self.version = None
        self.resize = {}
        self.functions = []
        self.skipped = {}
        self.done = False
        self.checksum = None
        self._buf = b""
        self._pos = 0
        self._base = 0  # offset of _buf[0] in the file
        self._crc = 0
        self._retry_at = 0  # wait for this much data before retrying a short item
        self._pending = []  # chunks held while waiting for _retry_at
        self._pending_len = 0
        self._db = 0
        self._expire = None

    @property
    def offset(self):
        return self._base + self._pos

    def _keep(self, data):
        """Drop the consumed prefix (folding it into the CRC) and append C{data} and any pending."""
        buf, pos = self._buf, self._pos
        if pos:
            self._crc = crc64(memoryview(buf)[:pos], self._crc)
            self._base += pos
            buf = buf[pos:]
            self._pos = 0
        if self._pending:
            self._pending.append(data)
            data = b"".join(self._pending)
            self._pending = []
            self._pending_len = 0
        self._buf = buf + data if buf else bytes(data)

    def feed(self, data):
        """Take the next bytes of the file; return the list of entries they completed."""
        if self.done or not data:
            return []
        if self._retry_at and len(self._buf) - self._pos + self._pending_len + len(data) \
                < self._retry_at:
            # Still short of what the last attempt needed: hold the chunk
            # aside rather than copy the whole buffer for every chunk of
            # a big value.
            self._pending.append(bytes(data))
            self._pending_len += len(data)
            return []
        self._keep(data)
        return self._parse(final=False)

    def close(self):
        """The data ended: return the last entries, or raise L{RdbError} if it was cut short."""
        if self.done:
            return []
        if self._pending:
            self._keep(b"")
        out = self._parse(final=True)
        if not self.done:
            raise RdbError("unexpected end of file at offset %d (no EOF opcode)" % self.offset)
        return out

    def _error(self, pos, what):
        return RdbError("%s at offset %d" % (what, self._base + pos))

    def _parse(self, final):
        # Entries hold no cycles, but a million new tuples trigger full
        # collections that scan them all: ~40% of the time, without the pause.
        if gc.isenabled():
            gc.disable()
            try:
                return self._parse_items(final)
            finally:
                gc.enable()
        return self._parse_items(final)

    def _parse_items(self, final):
        buf = self._buf
        pos = self._pos
        out = []
        append = out.append
        string = _string
        new = _new_entry
        db = self._db
        if self.version is None:
            if len(buf) < 9:
                if final:
                    raise self._error(len(buf), "unexpected end of file in the header")
                self._retry_at = 9
                return out
            if buf[:5] != MAGIC:
                raise self._error(0, "not an RDB file (no REDIS magic)")
            try:
                self.version = int(buf[5:9])
            except ValueError:
                raise self._error(5, "bad RDB version %r" % buf[5:9]) from None
            if not 1 <= self.version <= MAX_VERSION:
                raise self._error(5, "unsupported RDB version %d" % self.version)
            pos = self._pos = 9
        n = len(buf)
        expire = self._expire
        start = pos
        try:
            while True:
                start = pos
                t = buf[pos]
                if t < 0xF4:
                    # A key.  Short keys and short string values are read
                    # inline: DEBUG POPULATE-like files are mostly that.
                    b = buf[pos + 1]
                    if b < 0x40:
                        pos += 2 + b
                        key = buf[pos - b:pos]
                    else:
                        key, pos = string(buf, pos + 1)
                    if t == 0 and buf[pos] < 0x40:
                        b = buf[pos]
                        pos += 1 + b
                        if pos > n:
                            raise _Short
                        append(new(Entry, (db, key, "string", buf[pos - b:pos], expire, None)))
                    else:
                        if pos > n:
                            raise _Short
                        try:
                            kind, value, enc, pos = _object(t, buf, pos)
                        except _Unsupported as e:
                            if not self.skip_unsupported or e.skip is None:
                                raise RdbError("%s: key %r at offset %d"
                                               % (e, key, self._base + start)) from None
                            pos = e.skip()
                            self.skipped[e.what] = self.skipped.get(e.what, 0) + 1
                            expire = None
                            continue
                        if kind != "string" and not value:
                            self.skipped["empty key"] = self.skipped.get("empty key", 0) + 1
                        else:
                            append(new(Entry, (db, key, kind, value, expire, enc)))
                    expire = None
                    continue
                pos += 1
                if t == OP_EXPIRETIME_MS:
                    if pos + 8 > n:
                        raise _Short
                    expire = _i64(buf, pos)[0]
                    pos += 8
                elif t == OP_SELECTDB:
                    db, pos = _length(buf, pos)
                elif t == OP_RESIZEDB:
                    size, pos = _length(buf, pos)
                    expires, pos = _length(buf, pos)
                    self.resize[db] = (size, expires)
                elif t == OP_AUX:
                    k, pos = string(buf, pos)
                    v, pos = string(buf, pos)
                    self.aux[k] = v
                elif t == OP_EXPIRETIME:
                    if pos + 4 > n:
                        raise _Short
                    expire = _i32(buf, pos)[0] * 1000
                    pos += 4
                elif t == OP_IDLE:
                    _, pos = _length(buf, pos)
                elif t == OP_FREQ:
                    if pos >= n:
                        raise _Short
                    pos += 1
                elif t == OP_SLOT_INFO:
                    for _ in range(3):  # slot, its keys, its expires: hints only
                        _, pos = _length(buf, pos)
                elif t == OP_FUNCTION2:
                    code, pos = string(buf, pos)
                    self.functions.append(code)
                elif t == OP_MODULE_AUX:
                    _, pos = _length(buf, pos)  # module id
                    when_op, pos = _length(buf, pos)
                    _, pos = _length(buf, pos)  # when
                    if when_op != 2:  # RDB_MODULE_OPCODE_UINT
                        raise _Corrupt("bad module AUX header")
                    pos = _skip_module_data(buf, pos)
                    self.skipped["module aux"] = self.skipped.get("module aux", 0) + 1
                elif t == OP_EOF:
                    self._finish(buf, pos)
                    pos = self._pos
                    break
                elif t == OP_FUNCTION:
                    raise _Unsupported("the pre-release FUNCTION opcode (Redis 7.0 rc) is not"
                                       " supported")
                else:
                    raise _Corrupt("unknown opcode 0x%02x" % t)
        except (_Short, IndexError, struct.error):
            if final:
                raise self._error(start, "unexpected end of file inside an item") from None
            self._retry_at = 2 * (n - start) + 1
            pos = start
        except _Corrupt as e:
            raise self._error(start, "corrupt data (%s)" % e) from None
        except _Unsupported as e:
            raise self._error(start, str(e)) from None
        else:
            self._retry_at = 0
        self._pos = pos
        self._db = db
        self._expire = expire
        return out

    def _finish(self, buf, pos):
        """After the EOF opcode at C{pos - 1}: check the checksum (RDB >= 5)."""
        if self.version >= 5:
            if pos + 8 > len(buf):
                raise _Short
            stored = _u64(buf, pos)[0]
            self.checksum = stored
            if stored:  # 0: written with rdbchecksum no
                computed = crc64(memoryview(buf)[:pos], self._crc)
                if stored != computed:
                    raise RdbError("RDB checksum mismatch (stored %016x, computed %016x)"
                                   " at offset %d" % (stored, computed, self._base + pos))
            pos += 8
        self._pos = pos
        self.done = True


class _Reader(object):
    """An iterator over the entries of a file, with the parser's findings as attributes."""

    def __init__(self, fileobj, chunk, skip_unsupported):
        self.parser = RdbParser(skip_unsupported)
        self._gen = self._run(fileobj, chunk)

    def __iter__(self):
        # The generator itself: no Python-level call per entry in a for loop.
        return self._gen

    def __next__(self):
        return next(self._gen)

    def __getattr__(self, name):
        if name in ("aux", "version", "resize", "functions", "skipped", "checksum", "offset",
                    "done"):
            return getattr(self.parser, name)
        raise AttributeError(name)

    def _run(self, fileobj, chunk):
        parser = self.parser
        read = fileobj.read
        while True:
            data = read(chunk)
            if not data:
                yield from parser.close()
                return
            yield from parser.feed(data)
            if parser.done:
                return


def iter_rdb(fileobj, chunk=1 << 22, skip_unsupported=False):
    """Iterate over the L{Entry} records of the RDB file C{fileobj} (opened in binary mode).

    The returned iterator also has C{aux}, C{version}, C{resize},
    C{functions}, C{skipped} and C{checksum} (filled as the file is read;
    complete once the iteration ended).  Raises L{RdbError} on corrupt,
    truncated or unsupported data (unless C{skip_unsupported}: see
    L{RdbParser}).
    """
    return _Reader(fileobj, chunk, skip_unsupported)
