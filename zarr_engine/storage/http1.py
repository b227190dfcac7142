"""A lean HTTP/1.1 client on asyncio, for the direct S3 path's plain requests.

:mod:`.s3direct` makes one request per chunk: a GET, PUT or DELETE of one
object, with headers it has already signed. Through aiohttp each such request
cost about 0.4 ms of CPU on top of the network (request and response objects,
header multidicts, a stream reader that allocates a ``bytes`` per socket read
and joins them at the end, a timer rescheduled on every read). This client does
only what those requests need:

* a response body of announced length is received straight into one buffer of
  that length (:class:`asyncio.BufferedProtocol`): no per-read objects and no
  join; bodies sent in chunked encoding or ending with the connection are
  supported too;
* connections are kept alive and reused; a kept connection the server has
  closed meanwhile is replaced once, transparently, when nothing of the
  response had arrived;
* large request bodies go out in 1 MiB pieces with the transport's flow
  control, so nothing is copied into the transport's buffer wholesale;
* a timeout bounds connecting, and the silence between two reads (as
  botocore's ``connect_timeout`` and ``read_timeout``).

Failures raise :class:`ConnectionError` subclasses or :class:`TimeoutError`,
which :mod:`.retry` treats as transient. Plain ``http://`` only: TLS and
proxies stay with aiohttp (see :func:`.s3direct.S3Direct`).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np

#: how long a response's status line and headers may be
MAX_HEAD = 64 << 10
#: a request body larger than this goes out in pieces of this size
PIECE = 1 << 20
#: at most this many idle connections are kept per client
MAX_IDLE = 64
#: a response body of at least this many bytes (announced length) is received
#: into a numpy buffer and handed back as a read-only memoryview (see :func:`_body_buffer`)
LARGE_BODY = 1 << 20


class HTTPProtocolError(ConnectionError):
    """A response this client cannot read (malformed, truncated or too long headers)."""


def _body_buffer(n: int) -> Any:
    """A writable buffer of ``n`` bytes for a response body.

    Small bodies get a ``bytearray``. A large one (a whole shard, say) is a
    numpy buffer instead: ``bytearray(n)`` zero-fills every byte before the
    socket writes them again, and its pages fault in 4 KiB at a time; numpy
    leaves the memory as it is and asks the kernel for huge pages. For 8
    bodies of 45 MB and the 1 GiB array they decode into, the memory work of a
    read fell from 540 ms (bytearray, then the copy into ``bytes`` the store
    used to make) to 160 ms."""
    if n < LARGE_BODY:
        return bytearray(n)
    return memoryview(np.empty(n, dtype=np.uint8))


class _Connection(asyncio.BufferedProtocol):
    """One connection; one request at a time (:meth:`exchange`)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: Any = None
        self.raw = bytearray(16 << 10)  # status line and headers; chunked or close-delimited bodies
        self.rlen = 0
        self.state = "idle"  # idle, head, body, chunked, close, done
        self.head_only = False
        self.status = 0
        self.keep = False
        self.body: Any = None  # buffer of the announced length (:func:`_body_buffer`)
        self.blen = 0
        self.cpos = 0  # chunked: where the next chunk's size line starts in raw
        self.waiter: asyncio.Future[Any] | None = None
        self.lost = False
        self.received = 0
        self.last = 0.0
        self.paused = False
        self.drained: asyncio.Future[None] | None = None
        self.timer: Any = None

    # -- asyncio callbacks ------------------------------------------------------
    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def get_buffer(self, sizehint: int) -> memoryview:
        if self.state == "body":
            return memoryview(self.body)[self.blen :]
        if len(self.raw) - self.rlen < 8192:  # (headers past MAX_HEAD fail the exchange when parsed)
            self.raw.extend(bytes(len(self.raw)))
        return memoryview(self.raw)[self.rlen :]

    def buffer_updated(self, nbytes: int) -> None:
        self.received += nbytes
        self.last = time.monotonic()
        state = self.state
        if state == "body":
            self.blen += nbytes
            if self.blen == len(self.body):
                self._finish(self._received_body())
            return
        if state == "idle" or state == "done":
            self.keep = False  # bytes nobody asked for: never reuse this connection
            self.rlen = 0
            return
        self.rlen += nbytes
        if state == "head":
            self._parse_head()
        elif state == "chunked":
            self._parse_chunks()

    def eof_received(self) -> bool:
        if self.state == "close":
            self._finish(bytes(self.raw[: self.rlen]))
        elif self.state in ("head", "body", "chunked"):
            self._fail(HTTPProtocolError(self._cut_short()))
        self.keep = False
        return False  # close the transport

    def connection_lost(self, exc: BaseException | None) -> None:
        self.lost = True
        self.keep = False
        if self.state == "close" and exc is None:
            self._finish(bytes(self.raw[: self.rlen]))
        elif self.state in ("head", "body", "chunked", "close"):
            err = ConnectionResetError(f"{self._cut_short()}: {exc}") if exc else HTTPProtocolError(self._cut_short())
            self._fail(err)
        if self.drained is not None and not self.drained.done():
            self.drained.set_result(None)  # the sender sees the exchange ended (or failed) and stops

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        if self.drained is not None and not self.drained.done():
            self.drained.set_result(None)

    # -- parsing ---------------------------------------------------------------------
    def _cut_short(self) -> str:
        if self.state == "head":
            return "the connection closed before a complete response" if self.received else \
                "the connection closed before any response"
        if self.state == "body":
            return f"the connection closed after {self.blen} of the {len(self.body)} bytes the response announced"
        return "the connection closed inside a chunked response"

    def _consume(self, n: int) -> None:
        """Drop the first ``n`` received bytes of ``raw``, in place: asyncio still
        holds a view of it while :meth:`buffer_updated` runs, so it cannot be resized."""
        raw = self.raw
        raw[: self.rlen - n] = raw[n : self.rlen]
        self.rlen -= n

    def _parse_head(self) -> None:
        raw = self.raw
        while True:
            end = raw.find(b"\r\n\r\n", 0, self.rlen)
            if end < 0:
                if self.rlen >= MAX_HEAD:
                    self._fail(HTTPProtocolError(f"response headers longer than {MAX_HEAD} bytes"))
                return
            lines = bytes(raw[:end]).split(b"\r\n")
            parts = lines[0].split(b" ", 2)
            if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
                self._fail(HTTPProtocolError(f"not an HTTP/1 response: {lines[0][:80]!r}"))
                return
            status = int(parts[1])
            rest = end + 4
            if 100 <= status < 200:  # an interim response (100 Continue): the real one follows
                self._consume(rest)
                continue
            break
        headers: dict[bytes, bytes] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep:
                self._fail(HTTPProtocolError(f"malformed response header line {line[:80]!r}"))
                return
            name = name.strip().lower()
            value = value.strip()
            if name in headers and name in (b"content-length", b"transfer-encoding"):
                if headers[name] != value:
                    self._fail(HTTPProtocolError(f"conflicting {name.decode()} headers"))
                    return
            headers[name] = value
        self.status = status
        connection = headers.get(b"connection", b"").lower()
        self.keep = parts[0] == b"HTTP/1.1" and b"close" not in connection
        extra = raw[rest : self.rlen]
        if self.head_only or status in (204, 304):
            if extra:
                self.keep = False
            self._finish(b"")
            return
        encoding = headers.get(b"transfer-encoding", b"").lower()
        if encoding:
            if encoding.rsplit(b",", 1)[-1].strip() != b"chunked":
                self._fail(HTTPProtocolError(f"unsupported transfer encoding {encoding.decode('latin-1')!r}"))
                return
            self.body = bytearray()
            self._consume(rest)
            self.cpos = 0
            self.state = "chunked"
            self._parse_chunks()
            return
        length = headers.get(b"content-length")
        if length is not None:
            if not length.isdigit():
                self._fail(HTTPProtocolError(f"bad Content-Length {length[:40]!r}"))
                return
            n = int(length)
            self.body = _body_buffer(n)
            got = min(n, len(extra))
            self.body[:got] = extra[:got]
            self.blen = got
            if len(extra) > n:
                self.keep = False
            self.state = "body"
            if got == n:
                self._finish(self._received_body())
            return
        # neither: the body ends when the server closes the connection
        self.keep = False
        self._consume(rest)
        self.state = "close"

    def _parse_chunks(self) -> None:
        raw, body = self.raw, self.body
        pos = self.cpos
        while True:
            eol = raw.find(b"\r\n", pos, self.rlen)
            if eol < 0:
                if self.rlen - pos > 4096:
                    self._fail(HTTPProtocolError("malformed chunk size line"))
                    return
                break
            size_text = bytes(raw[pos:eol]).split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16) if size_text[:1] not in (b"-", b"+") else -1
            except ValueError:
                size = -1
            if size < 0:
                self._fail(HTTPProtocolError(f"malformed chunk size {size_text[:40]!r}"))
                return
            if size == 0:  # the last chunk: then optional trailer lines and an empty line
                done = raw.find(b"\r\n\r\n", eol, self.rlen)
                if done < 0:
                    break
                if self.rlen > done + 4:
                    self.keep = False
                self._finish(body)
                return
            start, stop = eol + 2, eol + 2 + size
            if self.rlen < stop + 2:
                break
            if raw[stop : stop + 2] != b"\r\n":
                self._fail(HTTPProtocolError("chunk not followed by CRLF"))
                return
            body += raw[start:stop]
            pos = stop + 2
        if pos:  # drop what has been consumed
            self._consume(pos)
        self.cpos = 0

    def _received_body(self) -> Any:
        """The body of announced length, as the caller gets it: a large one as a
        read-only view (immutable, like ``bytes``)."""
        body = self.body
        return body.toreadonly() if isinstance(body, memoryview) else body

    # -- one exchange ----------------------------------------------------------------
    def _finish(self, body: Any) -> None:
        self.state = "done"
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result((self.status, body))
        if self.drained is not None and not self.drained.done():
            self.drained.set_result(None)  # answered before the body was all sent (an early refusal)

    def _fail(self, exc: BaseException) -> None:
        self.state = "done"
        self.keep = False
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        if self.transport is not None:
            self.transport.abort()

    def _watch(self, timeout: float) -> None:
        """Fail the exchange when nothing arrives for ``timeout`` seconds."""
        waited = time.monotonic() - self.last
        if self.waiter is None or self.waiter.done():
            return
        if waited >= timeout:
            self._fail(TimeoutError(f"no response data for {timeout:g} s"))
        else:
            self.timer = self.loop.call_later(timeout - waited, self._watch, timeout)

    async def exchange(self, method: str, head: bytes, body: Any, read_timeout: float) -> tuple[int, Any]:
        """Send one request (``head``: its encoded request line and headers) and
        return (status, body) of its response."""
        self.state = "head"
        self.head_only = method == "HEAD"
        self.rlen = self.blen = self.received = 0
        self.body = None
        self.waiter = waiter = self.loop.create_future()
        self.last = time.monotonic()
        self.timer = self.loop.call_later(read_timeout, self._watch, read_timeout)
        try:
            transport = self.transport
            view = None if body is None else memoryview(body).cast("B")
            if view is None or not view.nbytes:
                transport.write(head)
            elif view.nbytes <= PIECE:
                transport.write(b"".join((head, view)))
            else:
                transport.write(head)
                for start in range(0, view.nbytes, PIECE):
                    if self.lost or waiter.done():  # failed, or answered early: stop sending
                        self.keep = False  # (the server has not read the whole request)
                        break
                    transport.write(view[start : start + PIECE])
                    if self.paused:  # wait until the transport's buffer drains
                        self.drained = self.loop.create_future()
                        await self.drained
                        self.drained = None
                    self.last = time.monotonic()
            return await waiter
        finally:
            if self.timer is not None:
                self.timer.cancel()
                self.timer = None
            self.waiter = None
            self.body = None
            if self.state != "done":
                self.keep = False
            if waiter.done() and not waiter.cancelled():
                waiter.exception()  # retrieved: an error here was raised some other way

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class Http1Client:
    """Requests to one ``host:port`` over kept-alive connections; use from one event loop."""

    def __init__(self, host: str, port: int, max_connections: int, *, host_header: str | None = None,
                 connect_timeout: float = 60.0, read_timeout: float = 60.0) -> None:
        self.host, self.port = host, port
        self.host_header = host_header or (host if port == 80 else f"{host}:{port}")
        self.closed = False
        self.connect_timeout, self.read_timeout = connect_timeout, read_timeout
        self.max_connections = max(1, int(max_connections))
        self._idle: list[_Connection] = []
        self._slots: asyncio.Semaphore | None = None
        self.connections_made = 0

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        conn = _Connection(loop)
        async with asyncio.timeout(self.connect_timeout):  # (no extra task, unlike wait_for)
            await loop.create_connection(lambda: conn, self.host, self.port)
        self.connections_made += 1
        return conn

    async def request(self, method: str, target: str, headers: dict[str, str], body: Any = None) -> tuple[int, Any]:
        """(status, body) of ``method`` on ``target`` (the encoded path), with
        ``headers`` (Host and Content-Length are added)."""
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self.host_header}"]
        lines += [f"{k}: {v}" for k, v in headers.items() if k.lower() not in ("host", "content-length")]
        if body is not None or method in ("PUT", "POST"):
            lines.append(f"Content-Length: {0 if body is None else memoryview(body).nbytes}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.max_connections)
        async with self._slots:
            for attempt in (0, 1):
                conn = None
                while self._idle:
                    candidate = self._idle.pop()
                    if candidate.keep and not candidate.lost and not candidate.transport.is_closing():
                        conn = candidate
                        break
                    candidate.close()
                reused = conn is not None
                if conn is None:
                    conn = await self._connect()
                try:
                    status, data = await conn.exchange(method, head, body, self.read_timeout)
                except (ConnectionError, OSError) as exc:
                    conn.close()
                    if reused and attempt == 0 and conn.received == 0 and not isinstance(exc, TimeoutError):
                        continue  # a kept connection the server had closed: once more on a new one
                    raise
                except BaseException:
                    conn.close()
                    raise
                if conn.keep and not conn.lost and not self.closed and len(self._idle) < MAX_IDLE:
                    conn.state = "idle"
                    self._idle.append(conn)
                else:
                    conn.close()
                return status, data
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        """Close the idle connections; requests still running keep theirs until they end."""
        self.closed = True
        while self._idle:
            self._idle.pop().close()
