"""The RDB writer: files (and DUMP payloads) in the forms Redis 7.0 writes.

    with open(path, "wb") as f:
        w = RdbWriter(f)
        w.header()
        w.redis_aux(used_mem=...)
        w.select_db(0, size, expires)
        for entry in entries:
            w.entry(entry)
        w.finish()

Each object is written the way Redis 7.0's rdbSaveObject writes it, so that
redis-server loads it into the same encoding and, for the values Redis would
hold the same way, DUMP gives the same bytes:

  - strings: integers of 32 bits or fewer as INT8/16/32 special encodings
    (Redis' rdbTryIntegerEncoding), then LZF past 20 bytes when it saves
    more than 4 bytes (C{compress}, Redis' rdbcompression), else raw;
  - lists: quicklist 2 (type 18) of packed listpack nodes, split as
    C{list-max-listpack-size} splits them (8 KB nodes by default);
  - sets: an intset (type 11) when the hint says so and every member is an
    integer, else a plain set (type 2); Redis 7.0 has no listpack sets;
  - hashes: a listpack (type 16) of field, value, ... or a plain hash
    (type 4);
  - sorted sets: a listpack (type 17) of member, score, ... in score order,
    scores written as Redis' d2string writes them, or zset_2 (type 5):
    member and binary little-endian double, from the highest score down
    (Redis' order, so that its loader always inserts at the skiplist head).

Blobs (listpacks, intsets) are written as RDB strings, so they are LZF
compressed too when that saves, as Redis does.  The writer buffers its
output and feeds the CRC-64 as it flushes, so the checksum costs one pass
of C{anycrc} over the data.
"""

import math
import struct

from sonic.rdb import RdbError
from sonic.rdb.format import (
    OP_AUX, OP_EOF, OP_EXPIRETIME_MS, OP_RESIZEDB, OP_SELECTDB, QUICKLIST_NODE_PACKED,
    RDB_VERSION, TYPE_HASH, TYPE_HASH_LISTPACK, TYPE_LIST_QUICKLIST_2, TYPE_SET,
    TYPE_SET_INTSET, TYPE_STRING, TYPE_ZSET_2, TYPE_ZSET_LISTPACK, crc64, encode_length)
from sonic.util import string2ll

try:
    import lzf as _lzf
except ImportError:  # pragma: no cover - python-lzf is a dependency
    _lzf = None

__all__ = ["RdbWriter", "dump_payload", "encode_object", "encode_string", "listpack",
           "intset", "d2string"]

#: The AUX fields' C{redis-ver}: the Redis release whose files these are.
REDIS_VER = b"7.0.15"

_FLUSH_AT = 1 << 20
_le16 = struct.Struct("<H")
_le32 = struct.Struct("<I")
_le64 = struct.Struct("<Q")
_le_i16 = struct.Struct("<h")
_le_i32 = struct.Struct("<i")
_le_i64 = struct.Struct("<q")
_le_double = struct.Struct("<d")

#: encode_length for the common small lengths, precomputed.
_LEN = [encode_length(i) for i in range(1 << 14)]


def _length(n):
    return _LEN[n] if n < 16384 else encode_length(n)


# -- strings ------------------------------------------------------------------


def _int_encoding(v):
    """The INT8/16/32 special encoding of C{v}, or None past 32 bits (rdbEncodeInteger)."""
    if -128 <= v <= 127:
        return b"\xc0" + struct.pack("<b", v)
    if -32768 <= v <= 32767:
        return b"\xc1" + _le_i16.pack(v)
    if -2147483648 <= v <= 2147483647:
        return b"\xc2" + _le_i32.pack(v)
    return None


#: First bytes of the strings that may be integers (string2ll).
_NUM_LEAD = frozenset(b"-0123456789")
#: Redis gives liblzf an output buffer of C{len - 4} bytes and writes the
#: string raw when it does not fit; python-lzf's C{max_length} allows one
#: byte more than it names (checked against redis-server's DUMP of
#: thousands of strings), hence C{len - 5}.  Without python-lzf strings are
#: written uncompressed (valid RDB, bigger files).
_lzf_compress = _lzf.compress if _lzf is not None else None


def encode_string(s, compress=True):
    """An RDB string: int-encoded, LZF-compressed or raw, as Redis' rdbSaveRawString chooses.

    Redis tries the integer forms for strings of up to 11 bytes, then LZF
    for strings over 20 bytes (when C{compress}), else writes them raw.
    """
    n = len(s)
    if n > 20:
        if compress and _lzf_compress is not None:
            packed = _lzf_compress(s, n - 5)
            if packed:
                return b"\xc3" + _length(len(packed)) + _length(n) + packed
        return (_LEN[n] if n < 16384 else encode_length(n)) + s
    if n <= 11 and n and s[0] in _NUM_LEAD:
        v = string2ll(s)
        if v is not None:
            enc = _int_encoding(v)
            if enc is not None:
                return enc
    return _LEN[n] + s


# -- listpacks and intsets -----------------------------------------------------


def _backlen(n):
    """A listpack entry's back-length: C{n} in 7-bit groups, readable from its end."""
    if n <= 127:
        return bytes((n,))
    if n < 16383:
        return bytes((n >> 7, (n & 127) | 128))
    if n < 2097151:
        return bytes((n >> 14, ((n >> 7) & 127) | 128, (n & 127) | 128))
    if n < 268435455:
        return bytes((n >> 21, ((n >> 14) & 127) | 128, ((n >> 7) & 127) | 128,
                      (n & 127) | 128))
    return bytes((n >> 28, ((n >> 21) & 127) | 128, ((n >> 14) & 127) | 128,
                  ((n >> 7) & 127) | 128, (n & 127) | 128))


#: Whole encoded entries (with their back-length) of the small integers.
_SMALL_INT_ENTRIES = {}


def _lp_int(v):
    """A listpack integer entry of C{v} (the smallest of the six integer encodings)."""
    if 0 <= v <= 127:
        return bytes((v, 1))
    if -4096 <= v <= 4095:
        if v < 0:
            v += 8192
        return bytes((0xC0 | (v >> 8), v & 0xFF, 2))
    if -32768 <= v <= 32767:
        return b"\xf1" + _le_i16.pack(v) + b"\x03"
    if -8388608 <= v <= 8388607:
        return b"\xf2" + _le_i32.pack(v)[:3] + b"\x04"
    if -2147483648 <= v <= 2147483647:
        return b"\xf3" + _le_i32.pack(v) + b"\x05"
    return b"\xf4" + _le_i64.pack(v) + b"\x09"


def _lp_str(s):
    """A listpack string entry of C{s} (6-bit, 12-bit or 32-bit length)."""
    n = len(s)
    if n < 64:
        return bytes((0x80 | n,)) + s + bytes((n + 1,))
    if n < 4096:
        return bytes((0xE0 | (n >> 8), n & 0xFF)) + s + _backlen(n + 2)
    return b"\xf0" + _le32.pack(n) + s + _backlen(n + 5)


def lp_entry(s):
    """The listpack entry of C{s} (bytes): an integer encoding when Redis would pick one."""
    n = len(s)
    if n <= 20 and n:
        c = s[0]
        if 48 <= c <= 57 or c == 45:
            v = string2ll(s)
            if v is not None:
                return _lp_int(v)
    return _lp_str(s)


def _listpack_of(entries, count):
    """A whole listpack from its encoded C{entries}: header, entries, 0xFF."""
    body = b"".join(entries)
    total = 6 + len(body) + 1
    if total > 0xFFFFFFFF:
        raise RdbError("a listpack cannot hold more than 4 GB")
    return _le32.pack(total) + _le16.pack(min(count, 65535)) + body + b"\xff"


def listpack(items):
    """A listpack of C{items} (bytes, or ints written as integers)."""
    entries = [_lp_int(x) if type(x) is int else lp_entry(x) for x in items]
    return _listpack_of(entries, len(entries))


def intset(values):
    """An intset blob of the integers C{values}: encoding, length, sorted little-endian values."""
    values = sorted(values)
    if not values or (values[0] >= -32768 and values[-1] <= 32767):
        width, fmt = 2, "h"
    elif values[0] >= -2147483648 and values[-1] <= 2147483647:
        width, fmt = 4, "i"
    else:
        width, fmt = 8, "q"
    return (_le32.pack(width) + _le32.pack(len(values))
            + struct.pack("<%d%s" % (len(values), fmt), *values))


def d2string(score):
    """A score as Redis 7.0's d2string writes it into a listpack.

    Integral scores within +-2**62 as integers (so listpacks store them as
    integer entries), infinities as C{inf}/C{-inf}, the rest as C{%.17g}.
    """
    if score != score:
        return b"nan"
    if score == math.inf:
        return b"inf"
    if score == -math.inf:
        return b"-inf"
    if -4611686018427387904.0 <= score <= 4611686018427387904.0 and score == int(score):
        return b"%d" % int(score)
    return b"%.17g" % score


# -- objects ----------------------------------------------------------------------

#: list-max-listpack-size values below 0: node size limits in bytes.
_NODE_BYTES = {-1: 4096, -2: 8192, -3: 16384, -4: 32768, -5: 65536}


def _quicklist(elements, fill, compress):
    """The quicklist 2 body of a list: node count, then (container, listpack) per node.

    Nodes are cut where Redis' _quicklistNodeAllowInsert would start a new
    one: past the byte limit (C{fill} < 0, with its 8-byte estimate of
    per-entry overhead) or the count limit (C{fill} > 0).
    """
    if fill < 0:
        limit = _NODE_BYTES.get(fill, 65536)
    else:
        limit = None
        fill = fill or 1  # 0 still holds one element per node
    nodes = []
    entries = []
    size = 0  # Redis' node->sz: the node's listpack size
    for e in elements:
        enc = lp_entry(e)
        if entries:
            if limit is not None:
                full = size + len(e) + 8 > limit
            else:
                full = len(entries) + 1 > fill or size + len(e) + 8 > 8192
            if full or len(entries) >= 65535:
                nodes.append(_listpack_of(entries, len(entries)))
                entries = []
        if not entries:
            size = 7
        entries.append(enc)
        size += len(enc)
    if entries:
        nodes.append(_listpack_of(entries, len(entries)))
    out = [_length(len(nodes))]
    packed = _length(QUICKLIST_NODE_PACKED)
    for node in nodes:
        out.append(packed)
        out.append(encode_string(node, compress))
    return b"".join(out)


def _fits_intset(members):
    values = []
    for m in members:
        v = string2ll(m)
        if v is None:
            return None
        values.append(v)
    return values


def encode_object(kind, value, encoding=None, compress=True, list_fill=-2):
    """(type byte, serialized object) of one value, as Redis 7.0's rdbSaveObject writes it.

    @param encoding: the value's OBJECT ENCODING in its server; None lets
        the writer choose with Redis' default limits.
    """
    if kind == "string":
        return TYPE_STRING, encode_string(value, compress)
    if kind == "list":
        return TYPE_LIST_QUICKLIST_2, _quicklist(value, list_fill, compress)
    if kind == "set":
        if encoding == "intset" or (encoding is None and len(value) <= 512):
            values = _fits_intset(value)
            if values is not None:
                return TYPE_SET_INTSET, encode_string(intset(values), compress)
        return TYPE_SET, _length(len(value)) + b"".join(_strings(value, compress))
    if kind == "hash":
        if encoding == "listpack" or (encoding is None and len(value) <= 512 and all(
                len(f) <= 64 and len(v) <= 64 for f, v in value)):
            entries = []
            for f, v in value:
                entries.append(lp_entry(f))
                entries.append(lp_entry(v))
            return TYPE_HASH_LISTPACK, encode_string(_listpack_of(entries, len(entries)), compress)
        out = [_length(len(value))]
        for f, v in value:
            out.append(encode_string(f, compress))
            out.append(encode_string(v, compress))
        return TYPE_HASH, b"".join(out)
    if kind == "zset":
        if encoding == "listpack" or (encoding is None and len(value) <= 128 and all(
                len(m) <= 64 for m, _ in value)):
            entries = []
            for m, score in sorted(value, key=_score_order):
                entries.append(lp_entry(m))
                entries.append(lp_entry(d2string(score)))
            return TYPE_ZSET_LISTPACK, encode_string(_listpack_of(entries, len(entries)), compress)
        out = [_length(len(value))]
        pack = _le_double.pack
        for m, score in sorted(value, key=_score_order, reverse=True):
            out.append(encode_string(m, compress))
            out.append(pack(score))
        return TYPE_ZSET_2, b"".join(out)
    raise RdbError("cannot write a value of kind %r" % (kind,))


def _strings(items, compress):
    """The RDB strings of C{items}, one after the other (C-speed map for the usual case)."""
    if compress:
        return map(encode_string, items)
    return [encode_string(x, False) for x in items]


def _score_order(pair):
    return pair[1], pair[0]


def dump_payload(kind, value, encoding=None, compress=True, list_fill=-2):
    """DUMP's serialization: type byte, object, RDB version (2 bytes LE), CRC-64 (8 bytes LE)."""
    type_byte, body = encode_object(kind, value, encoding, compress, list_fill)
    data = bytes((type_byte,)) + body + _le16.pack(RDB_VERSION)
    return data + _le64.pack(crc64(data))


# -- files ------------------------------------------------------------------------


class RdbWriter(object):
    """Writes one RDB file to C{fileobj} (anything with C{write}: a file, a transport), checksummed.

    Output is buffered and handed to C{fileobj.write} as C{bytes} in pieces
    of about 1 MB (L{flush}), so a caller streaming a full sync can call
    L{flush} between steps of L{sonic.rdb.keyspace.write_steps}.

    @ivar compress: LZF-compress strings and blobs (Redis' rdbcompression).
    @ivar checksum: write the CRC-64 (Redis' rdbchecksum); else 8 zero bytes.
    @ivar list_fill: list-max-listpack-size, for cutting quicklist nodes.
    @ivar bytes_written: the size of the file so far (after L{flush}).
    """

    def __init__(self, fileobj, compress=True, checksum=True, list_fill=-2):
        self.fileobj = fileobj
        self.compress = compress
        self.checksum = checksum
        self.list_fill = list_fill
        self.buf = bytearray()
        self.crc = 0
        self.bytes_written = 0
        self.keys = 0

    def flush(self):
        """Hand the buffered bytes to the file (and to the checksum)."""
        buf = self.buf
        if buf:
            if self.checksum:
                self.crc = crc64(buf, self.crc)
            # bytes, not the bytearray: Twisted transports take only bytes.
            self.fileobj.write(bytes(buf))
            self.bytes_written += len(buf)
            self.buf = bytearray()

    def header(self):
        """The magic and version: C{REDIS0010}."""
        self.buf += b"REDIS%04d" % RDB_VERSION

    def aux(self, key, value):
        """One AUX field (strings; ints are written as Redis writes them, int-encoded)."""
        if isinstance(key, str):
            key = key.encode()
        if isinstance(value, int):
            value = b"%d" % value
        elif isinstance(value, str):
            value = value.encode()
        self.buf += bytes((OP_AUX,)) + encode_string(key, self.compress) + encode_string(
            value, self.compress)

    def redis_aux(self, ctime, used_mem=0, extra=()):
        """The AUX fields Redis 7.0 writes at the top of every file (plus C{extra} pairs)."""
        self.aux("redis-ver", REDIS_VER)
        self.aux("redis-bits", 64)
        self.aux("ctime", int(ctime))
        self.aux("used-mem", int(used_mem))
        for key, value in extra:
            self.aux(key, value)
        self.aux("aof-base", 0)

    def select_db(self, n, size, expires):
        """SELECTDB n, then RESIZEDB with the database's key and TTL counts."""
        self.buf += (bytes((OP_SELECTDB,)) + encode_length(n) + bytes((OP_RESIZEDB,))
                     + encode_length(size) + encode_length(expires))

    def string(self, key, value, expire_ms=None):
        """One string key (the fast path of L{entry}: no L{Entry} record needed)."""
        buf = self.buf
        if expire_ms is not None:
            buf += b"\xfc" + _le_i64.pack(expire_ms)
        buf += b"\x00"
        compress = self.compress
        buf += encode_string(key, compress)
        buf += encode_string(value, compress)
        self.keys += 1
        if len(buf) >= _FLUSH_AT:
            self.flush()

    def entry(self, entry):
        """One key: EXPIRETIME_MS if it has a deadline, its type, its name and its value."""
        buf = self.buf
        if entry.expire_ms is not None:
            buf += b"\xfc" + _le_i64.pack(entry.expire_ms)
        key = entry.key
        if entry.kind == "string":
            buf += b"\x00"
            buf += encode_string(key, self.compress)
            buf += encode_string(entry.value, self.compress)
        else:
            type_byte, body = encode_object(entry.kind, entry.value, entry.encoding,
                                            self.compress, self.list_fill)
            buf.append(type_byte)
            buf += encode_string(key, self.compress)
            buf += body
        self.keys += 1
        if len(buf) >= _FLUSH_AT:
            self.flush()

    def finish(self):
        """EOF and the CRC-64 of everything before it (8 bytes LE); flush the file object."""
        self.buf.append(OP_EOF)
        buf = self.buf
        if self.checksum:
            self.crc = crc64(buf, self.crc)
            buf += _le64.pack(self.crc)
        else:
            buf += bytes(8)
        self.fileobj.write(bytes(buf))
        self.bytes_written += len(buf)
        self.buf = bytearray()
        flush = getattr(self.fileobj, "flush", None)
        if flush is not None:
            flush()
