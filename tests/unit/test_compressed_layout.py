"""The memory layout of L{Compressed}: the gzip stream less its constant first 8 bytes and its CRC-32, read back whole."""

import sys
import zlib

import pytest

from sonic.store.compression import GZIP_HEAD, Compressed, Compressor, gzip_compress, inflate

VALUE = b'{"id": 1, "name": "sonic", "tags": ["a", "b", "c"]}' * 60


def test_stores_the_stream_without_its_head_and_crc():
    """A Compressed holds 12 bytes less than the gzip stream; data, stored_size and size describe the whole stream."""
    stream = gzip_compress(VALUE, 1)
    assert stream.startswith(GZIP_HEAD)
    comp = Compressed(stream, len(VALUE))
    assert len(comp) == len(stream) - 12
    assert comp == stream[8:-8] + stream[-4:]
    assert comp.data == stream and type(comp.data) is bytes
    assert comp.stored_size == len(stream)
    assert comp.size == len(VALUE)
    assert sys.getsizeof(comp) == sys.getsizeof(stream) + 16 - 12  # 16: the GC header of a subclass


def test_round_trip_and_counters():
    """The compressor decompresses what it stored and counts the gzip stream's length in stored_bytes."""
    c = Compressor()
    comp = c.compress(VALUE)
    assert type(comp) is Compressed
    assert c.decompress(comp) == VALUE
    assert zlib.decompress(comp.data, 31) == VALUE
    c.added(comp)
    assert c.stored_bytes == len(gzip_compress(VALUE, 1)) and c.raw_bytes == len(VALUE)
    c.removed(comp)
    assert c.stored_bytes == 0


def test_every_level_has_the_same_head():
    """zlib's gzip streams start with the same 8 bytes at every level (only XFL, the 9th, differs) and read back whole."""
    for level in range(1, 10):
        stream = gzip_compress(VALUE, level)
        assert stream.startswith(GZIP_HEAD), level
        comp = Compressed(stream)
        assert Compressor(level=level).decompress(comp) == VALUE
        assert comp.data == stream


def test_damaged_data_is_an_error():
    """Deflate data that no longer inflates to the recorded length raises zlib.error, as a bad gzip CRC did."""
    comp = Compressed(gzip_compress(VALUE, 1))
    short = Compressed(comp[:-4] + (comp.size + 1).to_bytes(4, "little"))
    with pytest.raises(zlib.error):
        inflate(short)
