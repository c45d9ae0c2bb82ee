"""gzip compression of string values at rest.

A string value at or above C{compression-threshold} bytes is stored as a
L{Compressed} object (gzip, level C{compression-level}) when that saves at
least C{compression-min-saving} percent; reads decompress it, so no command
and no client can tell.  zlib releases the GIL, so values at or above
C{compression-thread-threshold} are compressed in the reactor's thread pool:
the raw value is stored at once (the write is visible immediately) and the
compressed form replaces it later only if the key still holds that very
object.
"""

import time
import zlib

__all__ = ["Compressed", "Compressor"]

GZIP_WBITS = 31  # zlib's "gzip container" mode
MAX_SIZE = 1 << 32  # gzip's ISIZE holds the length modulo 2**32
#: The first 8 bytes of every gzip stream zlib writes (magic, deflate, no
#: flags, no modification time), which a L{Compressed} leaves out.
GZIP_HEAD = b"\x1f\x8b\x08\x00\x00\x00\x00\x00"
_HEAD_LEN = len(GZIP_HEAD)
#: Bytes of a gzip stream a L{Compressed} does not hold: the head and the CRC-32.
_LEFT_OUT = _HEAD_LEN + 4


class Compressed(bytes):
    """A string value held gzip-compressed: the gzip stream less its constant first 8 bytes.

    A bytes subclass with no fields of its own, so a compressed value costs
    no more memory than its bytes: the original length is read from the gzip
    trailer (ISIZE, the length modulo 2**32; values of 4 GiB or more are
    never compressed).  The 8 bytes every zlib gzip stream starts with are
    not stored (0.8 MiB per 100,000 values): L{data} puts them back, so the
    figures (INFO's stored_bytes, DEBUG OBJECT's stored_size) are the gzip
    stream's.  Code that tells raw from compressed values tests
    C{type(v) is bytes}, never C{isinstance}.

    @ivar data: the gzip stream (a new bytes object).
    @ivar size: the length of the original value.
    @ivar stored_size: the length of the gzip stream.
    """
    __slots__ = ()

    def __new__(cls, data, size=None):
        if data[:_HEAD_LEN] == GZIP_HEAD:  # always so for zlib's streams
            view = memoryview(data)
            return bytes.__new__(cls, b"".join((view[_HEAD_LEN:-8], view[-4:])))
        return bytes.__new__(cls, data)

    @property
    def data(self):
        crc = zlib.crc32(inflate(self)).to_bytes(4, "little")
        return b"".join((GZIP_HEAD, self[:-4], crc, self[-4:]))

    @property
    def size(self):
        return int.from_bytes(self[-4:], "little")

    @property
    def stored_size(self):
        return len(self) + _LEFT_OUT


def inflate(comp):
    """The original bytes of L{Compressed} C{comp} (its deflate data, checked against its length)."""
    value = zlib.decompress(memoryview(comp)[2:-4], -15)
    if len(value) & 0xFFFFFFFF != comp.size:
        raise zlib.error("compressed value does not inflate to its recorded length")
    return value

    def __repr__(self):
        return "<Compressed %d -> %d bytes>" % (self.size, self.stored_size)


def gzip_compress(value, level):
    """gzip C{value} at C{level}; safe to call from a thread (zlib releases the GIL).

    The window is sized to the value (512 bytes to 32 KB): a window larger
    than the data cannot find more matches, but zlib allocates and clears it
    on every call, which for a 2 KB value doubled the time taken.  Any gzip
    reader (ours decompresses with the full 32 KB window) reads the result.
    """
    bits = min(15, max(9, (len(value) - 1).bit_length()))
    c = zlib.compressobj(level, zlib.DEFLATED, 16 + bits)
    return c.compress(value) + c.flush()


class Compressor(object):
    """Policy and statistics of compression at rest; one per server.

    @ivar enabled: C{compression gzip} (True) or C{none}.
    @ivar threshold: smallest value, in bytes, that is considered.
    @ivar level: zlib level, 1 (fast) to 9 (small).
    @ivar min_saving: the fraction (0..1) the compressed form must save.
    @ivar thread_threshold: values this large are compressed in a thread.
    """

    def __init__(self, enabled=True, threshold=1024, level=1, min_saving=0.20,
                 thread_threshold=64 * 1024):
        self.enabled = enabled
        self.threshold = threshold
        self.level = level
        self.min_saving = min_saving
        self.thread_threshold = thread_threshold
        self.compressed_keys = 0
        self.raw_bytes = 0      # original size of the values held compressed
        self.stored_bytes = 0   # their compressed size
        self.compress_seconds = 0.0
        self.decompress_seconds = 0.0
        self.compressions = 0
        self.decompressions = 0
        self.rejected = 0       # values compressed but kept raw (saving too small)

    def in_thread(self, value):
        """Whether C{value} is big enough to be compressed off the reactor."""
        return len(value) >= self.thread_threshold

    def build(self, value, data, seconds):
        """Account one compression of C{value} into C{data}; return the stored form.

        Returns a L{Compressed} when it saves enough, else C{value} itself.
        """
        self.compress_seconds += seconds
        self.compressions += 1
        if len(data) <= len(value) * (1.0 - self.min_saving) and len(value) < MAX_SIZE:
            return Compressed(data, len(value))
        self.rejected += 1
        return value

    def compress(self, value):
        """Compress in the calling thread; return the form to store."""
        start = time.perf_counter()
        data = gzip_compress(value, self.level)
        return self.build(value, data, time.perf_counter() - start)

    def decompress(self, comp):
        """The original bytes of a L{Compressed}."""
        start = time.perf_counter()
        value = inflate(comp)
        self.decompress_seconds += time.perf_counter() - start
        self.decompressions += 1
        return value

    def added(self, comp):
        """Count a L{Compressed} that entered the keyspace."""
        self.compressed_keys += 1
        self.raw_bytes += comp.size
        self.stored_bytes += comp.stored_size

    def removed(self, comp):
        """Count a L{Compressed} that left the keyspace."""
        self.compressed_keys -= 1
        self.raw_bytes -= comp.size
        self.stored_bytes -= comp.stored_size

    def reset(self):
        """Forget the per-value counters (after FLUSHALL)."""
        self.compressed_keys = self.raw_bytes = self.stored_bytes = 0

    def info(self):
        """The C{# Compression} INFO section as (field, value) pairs."""
        ratio = (self.raw_bytes / self.stored_bytes) if self.stored_bytes else 1.0
        return [
            ("compression", "gzip" if self.enabled else "none"),
            ("compression_threshold", self.threshold),
            ("compression_level", self.level),
            ("compression_min_saving", "%d%%" % round(self.min_saving * 100)),
            ("compression_thread_threshold", self.thread_threshold),
            ("compressed_keys", self.compressed_keys),
            ("raw_bytes", self.raw_bytes),
            ("stored_bytes", self.stored_bytes),
            ("ratio", "%.2f" % ratio),
            ("bytes_saved", self.raw_bytes - self.stored_bytes),
            ("compressions", self.compressions),
            ("compressions_rejected", self.rejected),
            ("decompressions", self.decompressions),
            ("compress_ms", int(self.compress_seconds * 1000)),
            ("decompress_ms", int(self.decompress_seconds * 1000)),
        ]
