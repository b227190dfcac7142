"""The compressions N5 applies to a block's payload (everything after its header).

Each is a pair of functions on bytes, built from the N5 ``compression``
object (see :data:`zarr_engine.format.n5.COMPRESSION_DEFAULTS` for the
parameters). gzip, zlib, bzip2 and xz are the standard streams (Python's
standard library); blosc and zstd are the libraries' own frames (numcodecs).
lz4 is *not* the LZ4 frame format: the Java N5 library writes lz4-java's
``LZ4BlockOutputStream`` stream, reproduced here (:func:`lz4_block_compress`).
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import struct
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import ChunkCorruptError, UnknownCodecError

Compress = Callable[[bytes, int], bytes]  # (payload, itemsize) -> compressed
Decompress = Callable[[bytes], bytes]


def _numcodecs(name: str) -> Any:
    import numcodecs

    cls = getattr(numcodecs, name, None)
    if cls is None:  # numcodecs built without this library
        raise UnknownCodecError(f"N5 compression {name.lower()!r} needs numcodecs built with {name.lower()}")
    return cls


def backend(compression: dict[str, Any]) -> tuple[Compress, Decompress]:
    """(compress, decompress) for a validated compression object with defaults filled in."""
    ctype = compression["type"]
    if ctype == "raw":
        return (lambda data, _: bytes(data)), bytes
    if ctype == "gzip" and not compression["useZlib"]:
        level = compression["level"]
        # Python's gzip takes 0..9; N5's -1 means zlib's default, 6
        gz_level = 6 if level < 0 else level
        return (lambda data, _: gzip.compress(data, compresslevel=gz_level, mtime=0)), gzip.decompress
    if ctype in ("gzip", "zlib"):
        level = compression["level"]
        return (lambda data, _: zlib.compress(data, level)), zlib.decompress
    if ctype == "bzip2":
        size = compression["blockSize"]
        return (lambda data, _: bz2.compress(data, size)), bz2.decompress
    if ctype == "xz":
        preset = compression["preset"]
        return (
            lambda data, _: lzma.compress(data, format=lzma.FORMAT_XZ, preset=preset),
            lambda data: lzma.decompress(data, format=lzma.FORMAT_XZ),
        )
    if ctype == "blosc":
        codec = _numcodecs("Blosc")(
            cname=compression["cname"], clevel=compression["clevel"], shuffle=compression["shuffle"],
            blocksize=compression["blocksize"],
        )

        def blosc_compress(data: bytes, itemsize: int) -> bytes:
            # blosc's shuffle works on elements: give it the element size
            arr = np.frombuffer(data, dtype=f"V{itemsize}") if itemsize > 1 else np.frombuffer(data, np.uint8)
            return bytes(codec.encode(arr))

        return blosc_compress, lambda data: bytes(codec.decode(data))
    if ctype == "zstd":
        codec = _numcodecs("Zstd")(level=compression["level"])
        return (lambda data, _: bytes(codec.encode(data))), lambda data: bytes(codec.decode(data))
    if ctype == "lz4":
        size = compression["blockSize"]
        return (lambda data, _: lz4_block_compress(data, size)), lz4_block_decompress
    raise UnknownCodecError(f"N5 compression {ctype!r} is not supported")  # validated earlier


# -- lz4-java's block stream ---------------------------------------------------------------
#
# A sequence of blocks, each: the magic "LZ4Block", a token byte (method in the
# high nibble: 0x10 stored, 0x20 lz4; log2(block size) - 10 in the low one),
# then little-endian int32s: compressed length, original length, checksum of
# the original bytes (xxhash32, seed 0x9747b28c, masked to 28 bits by
# lz4-java's Checksum adapter), then the compressed bytes. A block with both
# lengths and the checksum zero ends the stream.

_MAGIC = b"LZ4Block"
_HEAD = struct.Struct("<iii")
_METHOD_RAW = 0x10
_METHOD_LZ4 = 0x20
_SEED = 0x9747B28C
_P1, _P2, _P3, _P4, _P5 = 2654435761, 2246822519, 3266489917, 668265263, 374761393
_M32 = 0xFFFFFFFF


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (32 - r))) & _M32


def xxhash32(data: bytes, seed: int = 0) -> int:
    """XXH32 of ``data`` (pure Python: lz4 blocks are small, and no xxhash package is needed)."""
    n = len(data)
    stripes = n // 16
    words = np.frombuffer(data, dtype="<u4", count=stripes * 4).tolist() if stripes else []
    if stripes:
        v1, v2, v3, v4 = (seed + _P1 + _P2) & _M32, (seed + _P2) & _M32, seed & _M32, (seed - _P1) & _M32
        for i in range(0, len(words), 4):
            v1 = (_rotl((v1 + words[i] * _P2) & _M32, 13) * _P1) & _M32
            v2 = (_rotl((v2 + words[i + 1] * _P2) & _M32, 13) * _P1) & _M32
            v3 = (_rotl((v3 + words[i + 2] * _P2) & _M32, 13) * _P1) & _M32
            v4 = (_rotl((v4 + words[i + 3] * _P2) & _M32, 13) * _P1) & _M32
        h = (_rotl(v1, 1) + _rotl(v2, 7) + _rotl(v3, 12) + _rotl(v4, 18)) & _M32
    else:
        h = (seed + _P5) & _M32
    h = (h + n) & _M32
    pos = stripes * 16
    while pos + 4 <= n:
        (w,) = struct.unpack_from("<I", data, pos)
        h = (_rotl((h + w * _P3) & _M32, 17) * _P4) & _M32
        pos += 4
    while pos < n:
        h = (_rotl((h + data[pos] * _P5) & _M32, 11) * _P1) & _M32
        pos += 1
    h ^= h >> 15
    h = (h * _P2) & _M32
    h ^= h >> 13
    h = (h * _P3) & _M32
    h ^= h >> 16
    return h


def _checksum(data: bytes) -> int:
    value = xxhash32(data, _SEED) & 0x0FFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value  # Java int


def _level_bits(block_size: int) -> int:
    return max(0, (block_size - 1).bit_length() - 10)


def lz4_block_compress(data: bytes, block_size: int = 65536) -> bytes:
    """``data`` as lz4-java's LZ4BlockOutputStream writes it, blocks of ``block_size``."""
    lz4 = _numcodecs("LZ4")()
    level = _level_bits(block_size)
    out = bytearray()
    view = memoryview(data)
    for start in range(0, len(data), block_size):
        piece = bytes(view[start : start + block_size])
        # numcodecs' LZ4 prefixes the raw block with its original size (uint32 LE)
        packed = bytes(lz4.encode(piece))[4:]
        method, body = (_METHOD_LZ4, packed) if len(packed) < len(piece) else (_METHOD_RAW, piece)
        out += _MAGIC + bytes([method | level]) + _HEAD.pack(len(body), len(piece), _checksum(piece)) + body
    out += _MAGIC + bytes([_METHOD_RAW | level]) + _HEAD.pack(0, 0, 0)
    return bytes(out)


def lz4_block_decompress(data: bytes) -> bytes:
    """Inverse of :func:`lz4_block_compress`; checks every block's checksum."""
    lz4 = _numcodecs("LZ4")()
    out = bytearray()
    pos = 0
    head = len(_MAGIC) + 1 + _HEAD.size
    while True:
        if len(data) - pos < head or data[pos : pos + len(_MAGIC)] != _MAGIC:
            raise ChunkCorruptError("lz4: missing or bad LZ4Block header")
        token = data[pos + len(_MAGIC)]
        clen, olen, check = _HEAD.unpack_from(data, pos + len(_MAGIC) + 1)
        pos += head
        if clen == 0 and olen == 0:
            return bytes(out)
        if clen < 0 or olen < 0 or pos + clen > len(data):
            raise ChunkCorruptError("lz4: block lengths out of range")
        body = bytes(data[pos : pos + clen])
        pos += clen
        method = token & 0xF0
        if method == _METHOD_RAW:
            piece = body
        elif method == _METHOD_LZ4:
            piece = bytes(lz4.decode(struct.pack("<I", olen) + body))
        else:
            raise ChunkCorruptError(f"lz4: unknown block method 0x{method:02x}")
        if len(piece) != olen:
            raise ChunkCorruptError(f"lz4: block decoded to {len(piece)} bytes, expected {olen}")
        # accept the unmasked hash as well: writers other than lz4-java may not mask it
        if check not in (_checksum(piece), _as_int32(xxhash32(piece, _SEED))):
            raise ChunkCorruptError("lz4: block checksum mismatch")
        out += piece


def _as_int32(value: int) -> int:
    return value - (1 << 32) if value >= 1 << 31 else value
