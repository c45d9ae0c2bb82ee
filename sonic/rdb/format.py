"""The constants and primitives of Redis' RDB format shared by the reader and the writer.

Opcodes, object types and length encodings are those of RDB version 10
(Redis 7.0).  C{crc64} is Redis' CRC-64/Jones (reflected, polynomial
0xad93d23594c935a9, init 0, no final xor), computed by the C{anycrc}
extension (several GB/s; a table-driven pure-Python fallback of about
2.5 MB/s is kept for platforms without a wheel).  LZF decompression uses
C{python-lzf} (liblzf's C code), with a pure-Python fallback.
"""

import struct

from sonic.rdb import RdbError

RDB_VERSION = 10
MAGIC = b"REDIS"

# Opcodes: a byte where an object type is expected.
OP_SLOT_INFO = 0xF4  # Redis 7.4+ cluster files (RDB 12): slot id, keys, expires
OP_FUNCTION = 0xF6  # RDB_OPCODE_FUNCTION (7.0 rc only, never in released files)
OP_FUNCTION2 = 0xF5
OP_MODULE_AUX = 0xF7
OP_IDLE = 0xF8
OP_FREQ = 0xF9
OP_AUX = 0xFA
OP_RESIZEDB = 0xFB
OP_EXPIRETIME_MS = 0xFC
OP_EXPIRETIME = 0xFD
OP_SELECTDB = 0xFE
OP_EOF = 0xFF

# Object types.
TYPE_STRING = 0
TYPE_LIST = 1
TYPE_SET = 2
TYPE_ZSET = 3
TYPE_HASH = 4
TYPE_ZSET_2 = 5  # scores as binary doubles
TYPE_MODULE_PRE_GA = 6
TYPE_MODULE_2 = 7
TYPE_HASH_ZIPMAP = 9
TYPE_LIST_ZIPLIST = 10
TYPE_SET_INTSET = 11
TYPE_ZSET_ZIPLIST = 12
TYPE_HASH_ZIPLIST = 13
TYPE_LIST_QUICKLIST = 14
TYPE_STREAM_LISTPACKS = 15
TYPE_HASH_LISTPACK = 16
TYPE_ZSET_LISTPACK = 17
TYPE_LIST_QUICKLIST_2 = 18
TYPE_STREAM_LISTPACKS_2 = 19
TYPE_SET_LISTPACK = 20  # Redis 7.2+
TYPE_STREAM_LISTPACKS_3 = 21  # Redis 7.2+
TYPE_HASH_METADATA_PRE_GA = 22  # Redis 7.4 hashes with field TTLs
TYPE_HASH_LISTPACK_EX_PRE_GA = 23
TYPE_HASH_METADATA = 24
TYPE_HASH_LISTPACK_EX = 25

#: Readable names of every object type, for error messages and summaries.
TYPE_NAMES = {
    TYPE_STRING: "string",
    TYPE_LIST: "list",
    TYPE_SET: "set",
    TYPE_ZSET: "zset",
    TYPE_HASH: "hash",
    TYPE_ZSET_2: "zset_2",
    TYPE_MODULE_PRE_GA: "module_pre_ga",
    TYPE_MODULE_2: "module_2",
    TYPE_HASH_ZIPMAP: "hash_zipmap",
    TYPE_LIST_ZIPLIST: "list_ziplist",
    TYPE_SET_INTSET: "set_intset",
    TYPE_ZSET_ZIPLIST: "zset_ziplist",
    TYPE_HASH_ZIPLIST: "hash_ziplist",
    TYPE_LIST_QUICKLIST: "list_quicklist",
    TYPE_STREAM_LISTPACKS: "stream_listpacks",
    TYPE_HASH_LISTPACK: "hash_listpack",
    TYPE_ZSET_LISTPACK: "zset_listpack",
    TYPE_LIST_QUICKLIST_2: "list_quicklist_2",
    TYPE_STREAM_LISTPACKS_2: "stream_listpacks_2",
    TYPE_SET_LISTPACK: "set_listpack",
    TYPE_STREAM_LISTPACKS_3: "stream_listpacks_3",
    TYPE_HASH_METADATA_PRE_GA: "hash_metadata_pre_ga",
    TYPE_HASH_LISTPACK_EX_PRE_GA: "hash_listpack_ex_pre_ga",
    TYPE_HASH_METADATA: "hash_metadata",
    TYPE_HASH_LISTPACK_EX: "hash_listpack_ex",
}

# Length encoding: the top two bits of the first byte.
LEN_6BIT = 0
LEN_14BIT = 1
LEN_32BIT = 0x80
LEN_64BIT = 0x81
LEN_ENCVAL = 3
# Special string encodings (first byte 0b11xxxxxx).
ENC_INT8 = 0
ENC_INT16 = 1
ENC_INT32 = 2
ENC_LZF = 3

# Quicklist 2 node containers.
QUICKLIST_NODE_PLAIN = 1
QUICKLIST_NODE_PACKED = 2

_be32 = struct.Struct(">I")
_be64 = struct.Struct(">Q")


def encode_length(n):
    """The RDB length encoding of C{n} (1, 2, 5 or 9 bytes)."""
    if n < 0x40:
        return bytes((n,))
    if n < 0x4000:
        return bytes((0x40 | (n >> 8), n & 0xFF))
    if n <= 0xFFFFFFFF:
        return b"\x80" + _be32.pack(n)
    return b"\x81" + _be64.pack(n)


def decode_length(buf, pos):
    """Read a length at C{buf[pos]}: C{(value, is_encoded, newpos)}.

    When C{is_encoded} is true, C{value} is one of the C{ENC_*} special
    string encodings rather than a length.  Raises L{RdbError} past the end.
    """
    try:
        first = buf[pos]
        kind = first >> 6
        if kind == 0:
            return first, False, pos + 1
        if kind == 1:
            return ((first & 0x3F) << 8) | buf[pos + 1], False, pos + 2
        if kind == 3:
            return first & 0x3F, True, pos + 1
        if first == LEN_32BIT:
            if pos + 5 > len(buf):
                raise IndexError
            return _be32.unpack_from(buf, pos + 1)[0], False, pos + 5
        if first == LEN_64BIT:
            if pos + 9 > len(buf):
                raise IndexError
            return _be64.unpack_from(buf, pos + 1)[0], False, pos + 9
    except (IndexError, struct.error):
        raise RdbError(f"unexpected end of data reading a length at offset {pos}") from None
    raise RdbError(f"unknown length encoding 0x{first:02x} at offset {pos}")


# --- CRC-64/Jones ---------------------------------------------------------

_POLY_REFLECTED = 0x95AC9329AC4BC9B5  # 0xad93d23594c935a9 bit-reversed


def _make_table():
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ _POLY_REFLECTED if crc & 1 else crc >> 1
        table.append(crc)
    return table


def _crc64_python(data, crc=0):
    """Table-driven CRC-64/Jones in pure Python (about 2.5 MB/s: a fallback only)."""
    table = _TABLE
    for b in bytes(data):
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc


try:
    import anycrc as _anycrc
except ImportError:  # pragma: no cover - anycrc is a dependency
    _anycrc = None
    _TABLE = _make_table()
    crc64 = _crc64_python
else:
    _TABLE = None
    _jones = _anycrc.CRC(
        width=64, poly=0xAD93D23594C935A9, init=0, refin=True, refout=True, xorout=0
    )
    _calc = _jones.calc

    def crc64(data, crc=0):
        """Redis' CRC-64/Jones of C{data}, continuing from C{crc} (0 to start)."""
        return _calc(data, crc) if crc else _calc(data)


# --- LZF ------------------------------------------------------------------


def _lzf_decompress_python(data, length):
    """LZF decompression in pure Python (slow: a fallback only)."""
    data = bytes(data)
    out = bytearray()
    i, n = 0, len(data)
    while i < n:
        ctrl = data[i]
        i += 1
        if ctrl < 32:
            run = ctrl + 1
            if i + run > n:
                raise RdbError("LZF literal run past the end of the data")
            out += data[i : i + run]
            i += run
            continue
        ref_len = ctrl >> 5
        if ref_len == 7:
            if i >= n:
                raise RdbError("LZF back reference past the end of the data")
            ref_len += data[i]
            i += 1
        if i >= n:
            raise RdbError("LZF back reference past the end of the data")
        ref = len(out) - ((ctrl & 0x1F) << 8) - data[i] - 1
        i += 1
        if ref < 0:
            raise RdbError("LZF back reference before the start of the output")
        for _ in range(ref_len + 2):  # may overlap its own output
            out.append(out[ref])
            ref += 1
    if len(out) != length:
        raise RdbError(f"LZF data decompressed to {len(out)} bytes, expected {length}")
    return bytes(out)


try:
    import lzf as _lzf
except ImportError:  # pragma: no cover - python-lzf is a dependency
    _lzf = None


#: The most bytes LZF can produce per compressed byte: a 3-byte back
#: reference copies up to 264 bytes.
LZF_MAX_EXPANSION = 88


def lzf_decompress(data, length):
    """Decompress LZF C{data} to exactly C{length} bytes; L{RdbError} if it does not fit.

    A C{length} beyond what C{data} could expand to is refused before
    python-lzf sees it: it allocates the claimed length up front and
    crashes the process when that fails (RESTORE with a crafted length).
    """
    if length == 0:
        return b""
    if length > len(data) * LZF_MAX_EXPANSION + 16:
        raise RdbError(f"corrupt LZF data: {len(data)} bytes cannot decompress to {length}")
    if _lzf is None:
        return _lzf_decompress_python(data, length)
    try:
        out = _lzf.decompress(bytes(data), length)
    except ValueError as e:
        raise RdbError(f"corrupt LZF data: {e}") from None
    if out is None or len(out) != length:
        raise RdbError(f"corrupt LZF data: does not decompress to {length} bytes")
    return out


def lzf_compress(data):
    """LZF-compress C{data}; None unless it saves more than 4 bytes (then Redis stores it raw)."""
    if _lzf is None:  # pragma: no cover
        return None
    if len(data) <= 4:
        return None
    try:
        return _lzf.compress(bytes(data), len(data) - 4)
    except ValueError:  # pragma: no cover
        return None
