"""The v3 core bytes->bytes codecs: ``blosc``, ``gzip``, ``zstd``, ``crc32c``.

Compression itself is numcodecs' (which releases the GIL). What is ours is
the guarding: before decompressing, the size the stream announces is checked
against the size the chain expects, so a corrupt or hostile chunk cannot
make us allocate more than one chunk, and a short stream cannot leave part of
the output uninitialised.
"""

from __future__ import annotations

import struct
import threading
import zlib
from typing import Any, Callable

import numcodecs
import numpy as np

try:  # optional: zstd contexts that a thread keeps from one chunk to the next
    import zstandard as _zstandard
except ImportError:  # pragma: no cover - numcodecs alone still does everything
    _zstandard = None

from ..errors import ChunkCorruptError
from ._util import FrozenConfig, byte_view, check_int, check_keys
from .base import BytesBytesCodec, ChunkSpec, CodecConfigError, QuickCoders

# -- stream inspection ---------------------------------------------------------

_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def zstd_content_size(data: Any) -> int | None:
    """The decompressed size announced in the header of a zstd frame, or None
    when the frame does not record it (or ``data`` is no zstd frame)."""
    if _zstandard is not None:  # its C parser: a tenth of a microsecond
        try:
            size = _zstandard.frame_content_size(data)
        except (_zstandard.ZstdError, TypeError, ValueError):
            return None
        return None if size < 0 else size
    head = bytes(byte_view(data)[:18])
    if len(head) < 5 or head[:4] != _ZSTD_MAGIC:
        return None
    fhd = head[4]
    fcs_flag, single_segment, did_flag = fhd >> 6, (fhd >> 5) & 1, fhd & 3
    pos = 5 + (0 if single_segment else 1) + (0, 1, 2, 4)[did_flag]
    size = (1 if single_segment else 0, 2, 4, 8)[fcs_flag]
    if size == 0 or len(head) < pos + size:
        return None
    value = int.from_bytes(head[pos : pos + size], "little")
    return value + 256 if size == 2 else value


def blosc_sizes(data: Any) -> tuple[int, int]:
    """(decompressed size, compressed size) from a blosc header; ChunkCorruptError if none."""
    buf = byte_view(data)
    if buf.size < 16:
        raise ChunkCorruptError(f"blosc: {buf.size} bytes is shorter than a blosc header")
    nbytes, _blocksize, cbytes = struct.unpack_from("<III", bytes(buf[4:16]))
    return nbytes, cbytes


#: deflate's densest code: a 258-byte match in two 1-bit codes, so a byte of
#: stream yields at most 1032 bytes (block, zlib and gzip headers only add)
DEFLATE_MAX_RATIO = 1032
#: zstd's densest block: an RLE block (3-byte header and the byte) repeats that
#: byte up to the 128 KiB block limit
_ZSTD_BLOCK_MAX = 1 << 17


def deflate_max_decoded(nbytes: int) -> int:
    """The most a zlib, gzip or raw deflate stream of ``nbytes`` can decode to."""
    return nbytes * DEFLATE_MAX_RATIO + DEFLATE_MAX_RATIO


def zstd_max_decoded(nbytes: int) -> int:
    """The most zstd frames of ``nbytes`` in all can decode to (whatever their headers say)."""
    return (nbytes // 4 + 1) * _ZSTD_BLOCK_MAX


def blosc_max_decoded(nbytes: int, data: Any) -> int | None:
    """The size a blosc header announces (a blosc buffer decodes to exactly that)."""
    if data is None or nbytes < 16:
        return None  # no header to go by: the decode names the problem
    return blosc_sizes(data)[0]


def bounded_decompress(make: Callable[[], Any], data: Any, limit: int, what: str) -> np.ndarray:
    """Run a stdlib streaming decompressor (zlib/bz2 style) over ``data``,
    producing at most ``limit + 1`` bytes, and across concatenated members.

    Raises ChunkCorruptError when the output is not exactly ``limit`` bytes
    or the stream is truncated.
    """
    parts: list[bytes] = []
    total = 0
    rest: Any = data
    while True:
        dec = make()
        part = dec.decompress(rest, limit - total + 1)
        total += len(part)
        parts.append(part)
        if total > limit:
            raise ChunkCorruptError(f"{what}: stream decodes to more than the expected {limit} bytes")
        if not dec.eof:
            raise ChunkCorruptError(f"{what}: stream is truncated ({total} of {limit} bytes decoded)")
        rest = dec.unused_data
        if not rest or not rest.strip(b"\x00"):
            break
    if total != limit:
        raise ChunkCorruptError(f"{what}: decoded {total} bytes, expected {limit}")
    joined = parts[0] if len(parts) == 1 else b"".join(parts)
    return np.frombuffer(joined, dtype=np.uint8)


def gunzip_into(data: Any, out: np.ndarray, what: str = "gzip") -> None:
    """Decompress a gzip stream into ``out`` (uint8, exact expected size)."""
    out[...] = bounded_decompress(lambda: zlib.decompressobj(31), byte_view(data), out.size, what)


# -- codecs --------------------------------------------------------------------

_CNAMES = ("lz4", "lz4hc", "blosclz", "zstd", "snappy", "zlib")
_SHUFFLES = {"noshuffle": 0, "shuffle": 1, "bitshuffle": 2}


class BloscCodec(FrozenConfig, BytesBytesCodec):
    """``blosc``: configuration ``cname``, ``clevel``, ``shuffle``
    (noshuffle/shuffle/bitshuffle), ``typesize``, ``blocksize`` (0 = automatic),
    as zarr-python 3 writes them. ``typesize``/``shuffle`` left out are filled
    from the data type by :meth:`evolve` (bitshuffle for 1-byte types)."""

    name = "blosc"

    def __init__(
        self,
        cname: str = "zstd",
        clevel: int = 5,
        shuffle: str | None = None,
        typesize: int | None = None,
        blocksize: int = 0,
    ) -> None:
        if cname not in _CNAMES:
            raise CodecConfigError(f"codec 'blosc': cname must be one of {list(_CNAMES)}, got {cname!r}")
        clevel = check_int("blosc", "clevel", clevel, 0, 9)
        if shuffle is not None and shuffle not in _SHUFFLES:
            raise CodecConfigError(
                f"codec 'blosc': shuffle must be one of {list(_SHUFFLES)}, got {shuffle!r}"
            )
        if typesize is not None:
            typesize = check_int("blosc", "typesize", typesize, 1, 255)
        blocksize = check_int("blosc", "blocksize", blocksize, 0)
        self._set(cname=cname, clevel=clevel, shuffle=shuffle, typesize=typesize, blocksize=blocksize)
        self._set(
            _nc=numcodecs.Blosc(
                cname=cname,
                clevel=clevel,
                shuffle=_SHUFFLES[shuffle or "bitshuffle"],
                blocksize=blocksize,
                typesize=typesize or 1,
            )
        )

    @classmethod
    def from_config(cls, configuration: dict[str, Any]) -> "BloscCodec":
        config = check_keys("blosc", configuration, {"cname", "clevel", "shuffle", "typesize", "blocksize"})
        return cls(**config)

    def to_config(self) -> dict[str, Any]:
        return {
            "typesize": self.typesize or 1,
            "cname": self.cname,
            "clevel": self.clevel,
            "shuffle": self.shuffle or "bitshuffle",
            "blocksize": self.blocksize,
        }

    def __reduce__(self) -> tuple[Any, ...]:
        # keep the open fields open across pickling
        return (BloscCodec, (self.cname, self.clevel, self.shuffle, self.typesize, self.blocksize))

    def evolve(self, spec: ChunkSpec) -> "BloscCodec":
        if self.typesize is not None and self.shuffle is not None:
            return self
        size = spec.dtype.itemsize if spec.dtype.itemsize > 0 else 1
        typesize = self.typesize or min(size, 255)
        shuffle = self.shuffle or ("bitshuffle" if size == 1 else "shuffle")
        return BloscCodec(self.cname, self.clevel, shuffle, typesize, self.blocksize)

    def encode(self, data: Any, spec: ChunkSpec) -> Any:
        return self._nc.encode(byte_view(data))

    def max_decoded_size(self, nbytes: int, data: Any = None) -> int | None:
        return blosc_max_decoded(nbytes, data)

    def decode(self, data: Any, spec: ChunkSpec, out: np.ndarray | None = None) -> Any:
        nbytes, _ = blosc_sizes(data)
        target = np.empty(nbytes, dtype=np.uint8)
        self.decode_into(data, target, spec)
        return target

    def decode_into(self, data: Any, out: np.ndarray, spec: ChunkSpec) -> None:
        nbytes, cbytes = blosc_sizes(data)
        size = byte_view(data).size
        if nbytes != out.size:
            raise ChunkCorruptError(f"blosc: header announces {nbytes} bytes, expected {out.size}")
        if cbytes != size:
            raise ChunkCorruptError(f"blosc: header announces {cbytes} compressed bytes, chunk holds {size}")
        if nbytes:  # blosc reports an error for an empty buffer
            self._nc.decode(data, out=out)


class GzipCodec(FrozenConfig, BytesBytesCodec):
    """``gzip``: configuration ``level`` (0-9)."""

    name = "gzip"

    def __init__(self, level: int = 5) -> None:
        level = check_int("gzip", "level", level, 0, 9)
        self._set(level=level, _nc=numcodecs.GZip(level=level))

    @classmethod
    def from_config(cls, configuration: dict[str, Any]) -> "GzipCodec":
        config = check_keys("gzip", configuration, {"level"})
        return cls(**config)

    def to_config(self) -> dict[str, Any]:
        return {"level": self.level}

    def encode(self, data: Any, spec: ChunkSpec) -> Any:
        return self._nc.encode(byte_view(data))

    def decode(self, data: Any, spec: ChunkSpec, out: np.ndarray | None = None) -> Any:
        # no size to bound by here: the chain uses decode_into when it knows one
        return zlib.decompress(byte_view(data), 31)

    def decode_into(self, data: Any, out: np.ndarray, spec: ChunkSpec) -> None:
        gunzip_into(data, out)

    def max_decoded_size(self, nbytes: int, data: Any = None) -> int | None:
        return deflate_max_decoded(nbytes)


class ZstdCodec(FrozenConfig, BytesBytesCodec):
    """``zstd``: configuration ``level`` (-131072..22, 0 = library default) and ``checksum``."""

    name = "zstd"

    def __init__(self, level: int = 0, checksum: bool = False) -> None:
        level = check_int("zstd", "level", level, -131072, 22)
        if not isinstance(checksum, bool):
            raise CodecConfigError(f"codec 'zstd': checksum must be true or false, got {checksum!r}")
        self._set(level=level, checksum=checksum, _nc=numcodecs.Zstd(level=level, checksum=checksum))

    @classmethod
    def from_config(cls, configuration: dict[str, Any]) -> "ZstdCodec":
        config = check_keys("zstd", configuration, {"level", "checksum"})
        return cls(**config)

    def to_config(self) -> dict[str, Any]:
        return {"level": self.level, "checksum": self.checksum}

    def encode(self, data: Any, spec: ChunkSpec) -> Any:
        buf = byte_view(data)
        if _zstandard is not None and buf.size <= ZSTD_SMALL and self.level >= 0:
            return _zstd_compressor(self.level, self.checksum).compress(buf)
        return self._nc.encode(buf)

    def decode(self, data: Any, spec: ChunkSpec, out: np.ndarray | None = None) -> Any:
        return self._nc.decode(data)

    def decode_into(self, data: Any, out: np.ndarray, spec: ChunkSpec) -> None:
        zstd_decode_into(self._nc, data, out)

    def max_decoded_size(self, nbytes: int, data: Any = None) -> int | None:
        return zstd_max_decoded(nbytes)

    def decode_prefix_into(self, data: Any, out: np.ndarray, need: int) -> bool:
        """Decode the first ``need`` bytes of the frame ``data`` into ``out`` (the
        whole chunk's bytes, 1-d uint8), leaving the rest of ``out`` undefined, and
        return True; or return False for the caller to decode the whole frame.

        zstd decodes a frame front to back, block by block, so the part of a
        chunk a small selection needs costs that part's blocks only. Frames with
        a checksum are always decoded whole (the checksum covers all of it), as
        are frames that do not announce exactly ``out``'s size; any error in the
        part is left for the whole decode to report."""
        if _zstandard is None or need >= out.size:
            return False
        try:
            params = _zstandard.get_frame_parameters(data)
            if params.content_size != out.size or params.has_checksum:
                return False
            dctx = _zstd_decompressor()
            target = memoryview(out)[:need]
            got = 0
            with dctx.stream_reader(data) as reader:
                while got < need:
                    n = reader.readinto(target[got:])
                    if not n:
                        return False
                    got += n
        except (_zstandard.ZstdError, ValueError, TypeError):
            return False
        return True

    def quick_coders(self, nbytes: int) -> QuickCoders | None:
        """Coders for a loop over many chunks of ``nbytes`` (see :class:`QuickCoders`):
        one compression context for the whole loop, and the thread's decompression
        context (as :meth:`decode_into` uses); None without ``zstandard``
        or for chunks where a context per call costs nothing."""
        if _zstandard is None or nbytes > ZSTD_SMALL or self.level < 0:
            return None
        cctx = _zstandard.ZstdCompressor(level=self.level, write_checksum=self.checksum, write_content_size=True)
        compress = cctx.compress
        content_size = _zstandard.frame_content_size
        # this thread's context, bound once (these coders serve one thread): the
        # per-call lookups of _zstd_small_into cost a tenth of a 4 KiB decode
        decompress = _zstd_decompressor().decompress
        error = _zstandard.ZstdError

        def decode(data: Any, out: memoryview) -> bool:
            # _zstd_small_into's checks, with False for any failure: the caller's
            # checked decode then names it. The frame must announce exactly
            # nbytes (so decompress allocates no more), hold nothing after it,
            # and fill out exactly (a memoryview refuses another length)
            try:
                if content_size(data) != nbytes:
                    return False
                out[:] = decompress(data, allow_extra_data=False)
            except (error, ValueError, TypeError):
                return False
            return True

        def encode_many(src: np.ndarray, offsets: np.ndarray, threads: int) -> list[Any]:
            # zstd's own threads compress every chunk in one call, without the GIL;
            # the frames are the ones compress() makes (same context parameters)
            segments = np.empty((len(offsets), 2), dtype=np.uint64)
            segments[:, 0], segments[:, 1] = offsets, nbytes
            frames = cctx.multi_compress_to_buffer(
                _zstandard.BufferWithSegments(src, segments.tobytes()), threads=threads
            )
            return [frames[j] for j in range(len(offsets))]

        many = encode_many if hasattr(cctx, "multi_compress_to_buffer") else None
        decode_many = None
        batch = hasattr(_zstandard.ZstdDecompressor, "multi_decompress_to_buffer")
        if batch and hasattr(_zstandard, "BufferWithSegments"):
            def decode_many(src: np.ndarray, offsets: np.ndarray, sizes: np.ndarray, out: memoryview) -> np.ndarray:
                # frames libzstd decodes to exactly nbytes in one call without the
                # GIL; decompressed_sizes caps every output at nbytes whatever a
                # frame claims, and the frame check keeps trailing bytes (which
                # that call ignores and decode refuses) out of the batch
                ok = zstd_single_frames(src, offsets, sizes)
                take = np.flatnonzero(ok)
                if not len(take):
                    return ok
                segments = np.empty((len(take), 2), dtype=np.uint64)
                segments[:, 0], segments[:, 1] = offsets[take], sizes[take]
                try:  # the context of the thread this runs on (a pool thread, usually)
                    frames = _zstd_decompressor().multi_decompress_to_buffer(
                        _zstandard.BufferWithSegments(src, segments.tobytes()),
                        decompressed_sizes=np.full(len(take), nbytes, dtype=np.uint64), threads=1,
                    )
                except (error, ValueError, TypeError):
                    ok[:] = False  # one bad frame fails the call: the caller decodes each
                    return ok
                for j, i in enumerate(take.tolist()):
                    out[i * nbytes : (i + 1) * nbytes] = frames[j]
                return ok

        return QuickCoders(compress, decode, many, decode_many)


def zstd_single_frames(src: np.ndarray, offsets: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """For each stored value ``src[offsets[i] : offsets[i] + sizes[i]]``: whether
    it is one zstd frame of a single block and nothing else (RFC 8878, 3.1.1),
    found from the frame and block headers alone, for all values at once.

    Chunks of under 128 KiB encode to one block, so this holds for what any
    encoder writes for them; anything else (more blocks, bytes after the frame,
    not a zstd frame) is False, for the caller's checked path to handle."""
    ok = sizes >= 9  # magic, descriptor, a block header and at least one byte
    if not ok.any():
        return ok
    end = len(src)
    offs = offsets.astype(np.int64)

    def at(pos: np.ndarray) -> np.ndarray:
        return src[np.minimum(pos, end - 1)].astype(np.int64)

    magic = at(offs) | at(offs + 1) << 8 | at(offs + 2) << 16 | at(offs + 3) << 24
    fhd = at(offs + 4)
    fcs_flag, single, checksum, did_flag = fhd >> 6, (fhd >> 5) & 1, (fhd >> 2) & 1, fhd & 3
    fcs_size = np.where(fcs_flag == 0, single, 1 << fcs_flag)
    did_size = np.array([0, 1, 2, 4])[did_flag]
    header = 5 + (1 - single) + did_size + fcs_size
    block = at(offs + header) | at(offs + header + 1) << 8 | at(offs + header + 2) << 16
    last, kind, block_size = block & 1, (block >> 1) & 3, block >> 3
    body = np.where(kind == 1, 1, block_size)  # an RLE block stores one byte
    total = header + 3 + body + 4 * checksum
    ok &= (magic == 0xFD2FB528) & ((fhd & 8) == 0) & (last == 1) & (kind != 3)
    ok &= total == sizes.astype(np.int64)
    return ok


#: chunks up to this size go through zstd contexts kept per thread (``zstandard``):
#: numcodecs creates and frees a context per call, which costs more than
#: compressing or decompressing a few KiB. Above it the context is noise.
ZSTD_SMALL = 1 << 20
_zstd_tls = threading.local()


def _zstd_compressor(level: int, checksum: bool) -> Any:
    cache: dict[tuple[int, bool], Any] | None = getattr(_zstd_tls, "compressors", None)
    if cache is None:
        cache = _zstd_tls.compressors = {}
    comp = cache.get((level, checksum))
    if comp is None:
        comp = cache[(level, checksum)] = _zstandard.ZstdCompressor(
            level=level, write_checksum=checksum, write_content_size=True
        )
    return comp


def _zstd_decompressor() -> Any:
    """This thread's zstd decompression context."""
    dctx = getattr(_zstd_tls, "decompressor", None)
    if dctx is None:
        dctx = _zstd_tls.decompressor = _zstandard.ZstdDecompressor()
    return dctx


def _zstd_small_into(data: Any, out: np.ndarray, what: str) -> None:
    """Decode one zstd frame that announced ``out.size`` bytes into ``out`` with this thread's context."""
    dctx = _zstd_decompressor()
    target = memoryview(out).cast("B")
    try:
        # one call: the frame announced exactly out's size (checked by the caller,
        # so this allocates no more), and anything after the frame is an error
        raw = dctx.decompress(data, allow_extra_data=False)
    except _zstandard.ZstdError as e:
        raise ChunkCorruptError(f"{what}: {e}") from None
    if len(raw) != target.nbytes:
        raise ChunkCorruptError(f"{what}: stream does not hold exactly the {target.nbytes} bytes its frame announces")
    target[:] = raw


def zstd_decode_into(nc: Any, data: Any, out: np.ndarray, what: str = "zstd") -> None:
    """Decode a zstd stream with numcodecs codec ``nc`` straight into ``out``."""
    announced = zstd_content_size(data)
    if announced is not None and announced > out.size:
        raise ChunkCorruptError(f"{what}: frame announces {announced} bytes, expected {out.size}")
    if announced == out.size:
        if _zstandard is not None and announced <= ZSTD_SMALL:
            _zstd_small_into(data, out, what)
        else:
            nc.decode(data, out=out)
        return
    # size not recorded (streamed frame) or several frames: decode, then check
    decoded = byte_view(nc.decode(data))
    if decoded.size != out.size:
        raise ChunkCorruptError(f"{what}: decoded {decoded.size} bytes, expected {out.size}")
    out[...] = decoded


def _crc32c_function() -> Callable[[Any], int]:
    try:
        from crc32c import crc32c as fn  # the fast C implementation

        return fn
    except ImportError:  # pragma: no cover - numcodecs bundles one
        from numcodecs.checksum32 import CRC32C

        def fallback(buf: Any) -> int:
            return int(np.frombuffer(CRC32C().encode(buf)[-4:], "<u4")[0])

        return fallback


_crc32c = _crc32c_function()


class Crc32cCodec(FrozenConfig, BytesBytesCodec):
    """``crc32c``: appends the CRC-32C of the data as 4 little-endian bytes."""

    name = "crc32c"

    @classmethod
    def from_config(cls, configuration: dict[str, Any]) -> "Crc32cCodec":
        check_keys("crc32c", configuration, set())
        return cls()

    def to_config(self) -> dict[str, Any]:
        return {}

    def encode(self, data: Any, spec: ChunkSpec) -> bytes:
        buf = byte_view(data)
        return b"".join((buf, struct.pack("<I", _crc32c(buf))))

    def decode(self, data: Any, spec: ChunkSpec, out: np.ndarray | None = None) -> np.ndarray:
        buf = byte_view(data)
        if buf.size < 4:
            raise ChunkCorruptError(f"crc32c: {buf.size} bytes is too short to hold a checksum")
        payload = buf[:-4]
        stored = int.from_bytes(bytes(buf[-4:]), "little")
        computed = _crc32c(payload)
        if stored != computed:
            raise ChunkCorruptError(
                f"crc32c: checksum mismatch (stored {stored:#010x}, computed {computed:#010x})"
            )
        return payload

    def encoded_size(self, input_size: int) -> int:
        return input_size + 4

    def max_decoded_size(self, nbytes: int, data: Any = None) -> int | None:
        return max(0, nbytes - 4)
