"""The lean HTTP/1.1 client of the direct S3 path, against scripted servers on 127.0.0.1:
bodies however they are framed and however they arrive, kept connections, the
failures a network gives (each one an error the retry layer retries), and big
request bodies under flow control."""

from __future__ import annotations

import asyncio
import hashlib
import os
from typing import Any, Awaitable, Callable

import pytest

from zarr_engine.storage.http1 import LARGE_BODY, HTTPProtocolError, Http1Client
from zarr_engine.storage.retry import is_transient

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, dict[bytes, bytes], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head[:-4].split(b"\r\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        headers[k.strip().lower()] = v.strip()
    body = await reader.readexactly(int(headers.get(b"content-length", b"0")))
    return lines[0], headers, body


def run(handler: Handler, client_fn: Callable[[Http1Client], Awaitable[Any]], **kw: Any) -> tuple[Any, list[int]]:
    """Serve ``handler`` (called per connection with its number) and run ``client_fn``."""
    async def main() -> tuple[Any, list[int]]:
        conns: list[int] = []

        async def on_conn(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            conns.append(len(conns))
            try:
                await handler(reader, writer, conns[-1])
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()

        server = await asyncio.start_server(on_conn, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = Http1Client("127.0.0.1", port, 8, **kw)
        try:
            return await client_fn(client), conns
        finally:
            client.close()
            server.close()
            await server.wait_closed()

    return asyncio.run(main())


def test_a_body_arriving_in_pieces_and_headers_split_across_packets() -> None:
    body = os.urandom(300_000)

    async def handler(reader, writer, n):
        await read_request(reader)
        head = f"HTTP/1.1 200 OK\r\nContent-Type: x\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        for piece in (head[:7], head[7:30], head[30:] + body[:5]):
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(0.01)
        for start in range(5, len(body), 70_000):
            writer.write(body[start : start + 70_000])
            await writer.drain()
            await asyncio.sleep(0.005)

    (status, got), conns = run(handler, lambda c: c.request("GET", "/b/k", {}))
    assert status == 200 and bytes(got) == body


@pytest.mark.parametrize("size", [LARGE_BODY - 1, LARGE_BODY, 3 * LARGE_BODY + 17])
def test_a_large_body_arrives_in_a_read_only_view_with_every_byte_in_place(size: int) -> None:
    # the head and the first bytes of the body share a packet; the rest comes in uneven pieces
    body = os.urandom(size)

    async def handler(reader, writer, n):
        for _ in range(2):
            await read_request(reader)
            writer.write(f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n".encode() + body[:1000])
            await writer.drain()
            for start in range(1000, size, 333_333):
                writer.write(body[start : start + 333_333])
                await writer.drain()

    async def two(c):
        return [await c.request("GET", "/b/k", {}) for _ in range(2)]

    answers, conns = run(handler, two)
    for status, got in answers:
        assert status == 200 and len(got) == size and got == body
        if size < LARGE_BODY:
            assert isinstance(got, bytearray)
        else:  # immutable like bytes, and each answer has its own memory
            assert isinstance(got, memoryview) and got.readonly and got.format == "B"
            with pytest.raises(TypeError):
                got[0] = 1
    assert answers[0][1] is not answers[1][1] and conns == [0]
    if size >= LARGE_BODY:
        assert answers[0][1].obj is not answers[1][1].obj


def test_a_large_body_cut_short_is_an_error_naming_what_arrived() -> None:
    async def handler(reader, writer, n):
        await read_request(reader)
        writer.write(f"HTTP/1.1 200 OK\r\nContent-Length: {2 * LARGE_BODY}\r\n\r\n".encode() + bytes(LARGE_BODY))
        await writer.drain()

    with pytest.raises(HTTPProtocolError, match=f"after {LARGE_BODY} of the {2 * LARGE_BODY} bytes") as info:
        run(handler, lambda c: c.request("GET", "/b/k", {}))
    assert is_transient(info.value)


def test_connections_are_kept_and_requests_go_out_as_given() -> None:
    seen: list[Any] = []

    async def handler(reader, writer, n):
        while True:
            try:
                line, headers, body = await read_request(reader)
            except asyncio.IncompleteReadError:
                return
            seen.append((n, line, headers, body))
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()

    async def client_fn(c):
        await c.request("GET", "/bucket/a%20b/c", {"Range": "bytes=0-9", "x-amz-date": "20261124T000000Z"})
        await c.request("PUT", "/bucket/k", {"Authorization": "sig"}, b"payload")
        await c.request("PUT", "/bucket/empty", {}, b"")
        return await c.request("DELETE", "/bucket/k", {})

    (status, got), conns = run(client_fn=client_fn, handler=handler)
    assert status == 200 and bytes(got) == b"ok"
    assert conns == [0] and [s[0] for s in seen] == [0, 0, 0, 0]  # one connection for all four
    assert [s[1] for s in seen] == [b"GET /bucket/a%20b/c HTTP/1.1", b"PUT /bucket/k HTTP/1.1",
                                    b"PUT /bucket/empty HTTP/1.1", b"DELETE /bucket/k HTTP/1.1"]
    assert seen[0][2][b"range"] == b"bytes=0-9" and seen[0][2][b"host"].startswith(b"127.0.0.1:")
    assert b"content-length" not in seen[0][2] and b"content-length" not in seen[3][2]
    assert seen[1][3] == b"payload" and seen[1][2][b"content-length"] == b"7" and seen[1][2][b"authorization"] == b"sig"
    assert seen[2][2][b"content-length"] == b"0" and seen[2][3] == b""


def test_a_kept_connection_the_server_closed_is_replaced_once() -> None:
    async def handler(reader, writer, n):
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n" + str(n).encode())
        await writer.drain()
        # and close: the client kept the connection, which is now dead

    async def client_fn(c):
        first = await c.request("GET", "/a", {})
        await asyncio.sleep(0.05)
        second = await c.request("GET", "/b", {})
        return first, second, c.connections_made

    ((s1, b1), (s2, b2), made), conns = run(handler, client_fn)
    assert bytes(b1) == b"0" and bytes(b2) == b"1" and made == 2


@pytest.mark.parametrize("reply, body, reused", [
    # chunked, with a chunk extension and a trailer
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n",
     b"hello world", True),
    # an interim 100 Continue first
    (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc", b"abc", True),
    # no length: the body ends with the connection
    (b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end", b"until the end", False),
    # HTTP/1.0: never kept
    (b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi", b"hi", False),
    # 204: no body whatever the headers say
    (b"HTTP/1.1 204 No Content\r\n\r\n", b"", True),
    # bytes past the announced length: the body is cut there, the connection dropped
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiEXTRA", b"hi", False),
])
def test_response_framings(reply: bytes, body: bytes, reused: bool) -> None:
    async def handler(reader, writer, n):
        while True:
            try:
                await read_request(reader)
            except asyncio.IncompleteReadError:
                return
            writer.write(reply)
            await writer.drain()
            if b"Connection: close" in reply:
                return

    async def client_fn(c):
        first = await c.request("GET", "/k", {})
        second = await c.request("GET", "/k", {})
        return first, second, c.connections_made

    ((s1, b1), (s2, b2), made), _ = run(handler, client_fn)
    assert bytes(b1) == body and bytes(b2) == body
    assert made == (1 if reused else 2)


@pytest.mark.parametrize("reply, match", [
    (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this", "after 9 of the 100 bytes"),
    (b"HTTP/1.1 200 OK\r\nContent-Len", "before a complete response"),
    (b"", "before any response"),
    (b"SMTP ready\r\n\r\n", "not an HTTP/1 response"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", "bad Content-Length"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc", "conflicting content-length"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "unsupported transfer encoding"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "malformed chunk size"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-3\r\nabc\r\n", "malformed chunk size"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc", "inside a chunked response"),
    (b"HTTP/1.1 200 OK\r\nX: " + b"y" * (70 << 10) + b"\r\n\r\n", "headers longer than"),
])
def test_broken_responses_raise_errors_the_retry_layer_retries(reply: bytes, match: str) -> None:
    async def handler(reader, writer, n):
        await read_request(reader)
        writer.write(reply)
        await writer.drain()

    async def client_fn(c):
        with pytest.raises(ConnectionError, match=match) as info:
            await c.request("GET", "/k", {})
        return info.value

    exc, _ = run(handler, client_fn)
    assert is_transient(exc)
    assert isinstance(exc, (HTTPProtocolError, ConnectionResetError))


def test_silence_is_a_timeout() -> None:
    async def handler(reader, writer, n):
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")  # then nothing
        await writer.drain()
        await asyncio.sleep(2)

    async def client_fn(c):
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        with pytest.raises(TimeoutError, match="no response data for 0.3 s") as info:
            await c.request("GET", "/k", {})
        return info.value, loop.time() - t0

    (exc, took), _ = run(handler, client_fn, read_timeout=0.3)
    assert is_transient(exc) and 0.25 < took < 1.5


def test_a_big_body_goes_out_whole_to_a_slow_reader() -> None:
    payload = os.urandom(9 << 20)  # pieces of 1 MiB, the transport pausing in between

    async def handler(reader, writer, n):
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        digest = hashlib.sha256()
        left = length
        while left:
            piece = await reader.read(min(left, 256 << 10))
            digest.update(piece)
            left -= len(piece)
            await asyncio.sleep(0.001)
        answer = digest.hexdigest().encode()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(answer) + answer)
        await writer.drain()

    (status, got), _ = run(handler, lambda c: c.request("PUT", "/big", {}, memoryview(payload)))
    assert status == 200 and bytes(got) == hashlib.sha256(payload).hexdigest().encode()


def test_an_answer_before_the_body_is_sent_ends_the_upload() -> None:
    # a server refusing a PUT at its headers (as S3 does for a bad signature)
    # while it still drains what arrives: the client stops sending, returns the
    # answer, and does not reuse a connection with half a request on it
    payload = os.urandom(32 << 20)

    async def handler(reader, writer, n):
        await reader.readuntil(b"\r\n\r\n")
        message = b"<Error><Code>AccessDenied</Code></Error>"
        writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: %d\r\n\r\n" % len(message) + message)
        await writer.drain()
        while await reader.read(1 << 20):  # drain until the client hangs up
            await asyncio.sleep(0.01)

    async def client_fn(c):
        status, body = await c.request("PUT", "/k", {}, payload)
        return status, bytes(body), len(c._idle)

    (status, body, idle), _ = run(handler, client_fn)
    assert status == 403 and b"AccessDenied" in body and idle == 0


def test_nobody_listening_is_a_refused_connection_the_retry_layer_retries() -> None:
    import socket

    with socket.socket() as s:  # a port that was free a moment ago and has no listener
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    async def main():
        client = Http1Client("127.0.0.1", port, 4, connect_timeout=5)
        with pytest.raises(ConnectionRefusedError) as info:
            await client.request("GET", "/k", {})
        return info.value

    assert is_transient(asyncio.run(main()))
