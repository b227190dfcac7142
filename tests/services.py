"""Local stand-ins for cloud services, shared by every test package.

All servers listen on 127.0.0.1 on a free port and run in daemon threads:

* :class:`S3Service`: moto's S3 server with one bucket;
* :class:`GCSService`: gcp-storage-emulator, in memory, with one bucket;
* :class:`HTTPFolderServer`: a read-only HTTP server of a folder, with Range support;
* :class:`FaultProxy`: an HTTP proxy that fails a seeded fraction of requests
  (503 SlowDown, 500 InternalError, or a dropped connection) or denies all.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import random
import re
import shutil
import socket
import threading
import types
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple

S3_BUCKET = "test-bucket"
GCS_BUCKET = "test-bucket"
HOST = "127.0.0.1"


def set_test_environment() -> None:
    """Environment every service test needs; call before s3fs/gcsfs are used."""
    # gcsfs otherwise probes for hierarchical-namespace buckets, and each probe
    # against the emulator waits 60 s before giving up.
    os.environ["GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"] = "false"
    # Dummy credentials, and no lookups of real ones (config files, EC2 metadata).
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }.items():
        os.environ[name] = value
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.pop("AWS_PROFILE", None)
    # Never send local traffic through a proxy from the environment.
    no_proxy = {p for p in os.environ.get("NO_PROXY", "").split(",") if p} | {HOST, "localhost"}
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = ",".join(sorted(no_proxy))


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer with a listen queue long enough for bursts of 64+ connections."""

    request_queue_size = 512
    daemon_threads = True


def _serve(server: ThreadingHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, name=f"serve-{server.server_address[1]}", daemon=True)
    thread.start()
    return thread


class _QuietHandler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass


# -- S3 ------------------------------------------------------------------------
class S3Service:
    """moto's threaded S3 server with the bucket :data:`S3_BUCKET` (region us-east-1)."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one log line per request otherwise
        self._server = ThreadedMotoServer(ip_address=HOST, port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{HOST}:{port}"
        self.create_bucket(S3_BUCKET)

    def create_bucket(self, name: str) -> None:
        request = urllib.request.Request(f"{self.endpoint}/{name}", method="PUT")
        with urllib.request.urlopen(request, timeout=30) as response:  # moto ignores signatures
            response.read()

    def options(self, endpoint: str | None = None) -> dict[str, Any]:
        """storage_options for s3fs talking to ``endpoint`` (default: the server)."""
        return {
            "key": "testing",
            "secret": "testing",
            "client_kwargs": {"endpoint_url": endpoint or self.endpoint, "region_name": "us-east-1"},
            "use_listings_cache": False,
        }

    def stop(self) -> None:
        self._server.stop()


class _BackloggedHTTPServer(HTTPServer):
    request_queue_size = 512


# -- GCS -----------------------------------------------------------------------
class GCSService:
    """gcp-storage-emulator in memory with the bucket :data:`GCS_BUCKET`."""

    def __init__(self) -> None:
        from gcp_storage_emulator import server as emulator

        logging.getLogger("gcp_storage_emulator").setLevel(logging.WARNING)
        # The emulator answers with separate writes for headers and body; with
        # Nagle's algorithm on, each response then waits ~40 ms for a delayed ACK.
        emulator.RequestHandler.disable_nagle_algorithm = True
        # Its single-threaded server listens with a backlog of 5: a burst of
        # concurrent connections overflows it and the dropped SYNs are resent
        # only after a second. A longer queue keeps batches fast.
        emulator.server = types.SimpleNamespace(HTTPServer=_BackloggedHTTPServer)
        create_server = emulator.create_server
        self._server = create_server(HOST, 0, in_memory=True)
        self._server.start()
        port = self._server._api._httpd.server_address[1]
        self.endpoint = f"http://{HOST}:{port}"
        self.create_bucket(GCS_BUCKET)

    def create_bucket(self, name: str) -> None:
        body = json.dumps({"name": name}).encode()
        request = urllib.request.Request(f"{self.endpoint}/storage/v1/b?project=test", data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()

    def options(self) -> dict[str, Any]:
        return {"endpoint_url": self.endpoint, "token": "anon", "project": "test"}

    def stop(self) -> None:
        self._server.stop()


# -- HTTP ----------------------------------------------------------------------
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class _RangeFolderHandler(SimpleHTTPRequestHandler):
    """SimpleHTTPRequestHandler plus single byte ranges (RFC 9110), read-only."""

    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def send_head(self):  # type: ignore[no-untyped-def]
        path = self.translate_path(self.path)
        spec = self.headers.get("Range")
        if spec is None or os.path.isdir(path) or not os.path.isfile(path):
            return super().send_head()
        match = _RANGE.match(spec.strip())
        f = open(path, "rb")
        size = os.fstat(f.fileno()).st_size
        first, last = (match.group(1), match.group(2)) if match else ("", "")
        if not match or (first == "" and last == ""):
            lo, hi = 0, size  # unparsable: whole body, as a server may
            status = 200
        elif first == "":
            lo, hi, status = max(0, size - int(last)), size, 206
        else:
            lo = int(first)
            hi = min(size, int(last) + 1) if last else size
            status = 206
            if lo >= size or hi <= lo:
                f.close()
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", f"bytes {lo}-{hi - 1}/{size}")
        self.send_header("Content-Length", str(hi - lo))
        self.end_headers()
        f.seek(lo)
        return _Limited(f, hi - lo)


class _Limited:
    """A file object that yields at most ``n`` bytes (copyfile reads until empty)."""

    def __init__(self, f: Any, n: int) -> None:
        self._f, self._left = f, n

    def read(self, size: int = -1) -> bytes:
        size = self._left if size < 0 else min(size, self._left)
        data = self._f.read(size) if size else b""
        self._left -= len(data)
        return data

    def close(self) -> None:
        self._f.close()


class HTTPFolder(NamedTuple):
    url: str  #: base URL, no trailing slash
    root: Path  #: the folder served


class HTTPFolderServer:
    """Serve ``root`` read-only over HTTP on 127.0.0.1."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        handler = lambda *a, **kw: _RangeFolderHandler(*a, directory=str(self.root), **kw)  # noqa: E731
        self._server = _Server((HOST, 0), handler)
        self._thread = _serve(self._server)
        self.url = f"http://{HOST}:{self._server.server_address[1]}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


# -- fault injection -------------------------------------------------------------
_S3_ERROR = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
    "<RequestId>fault-proxy</RequestId></Error>"
)
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
               "proxy-authorization", "proxy-authenticate"}


class FaultProxy:
    """An HTTP proxy to ``upstream`` that injects failures.

    With ``mode="flaky"`` each request fails with probability ``fail_rate``:
    a 503 SlowDown, a 500 InternalError, or a connection closed without any
    answer, chosen by a ``seed``-ed generator. With ``mode="deny"`` every
    request gets 403 AccessDenied. ``counts`` records what happened.

    ``delete_objects`` changes S3's DeleteObjects (``POST ?delete``) alone:
    an HTTP status (``"501"``, as GCS's XML API answers, or ``"404"``)
    refuses every such call with it; an error code answers the next call
    itself, with every key listed as failed with that code, and later calls
    pass.
    """

    def __init__(self, upstream: str, fail_rate: float = 0.25, seed: int = 1234) -> None:
        self.upstream = upstream.removeprefix("http://").rstrip("/")
        self.fail_rate = fail_rate
        self.mode = "flaky"
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.counts: dict[str, int] = {}
        self.delete_objects: str | None = None
        proxy = self

        class Handler(_QuietHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def _handle(self) -> None:
                proxy._handle(self)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        self._server = _Server((HOST, 0), Handler)
        self._thread = _serve(self._server)
        self.url = f"http://{HOST}:{self._server.server_address[1]}"

    def reset(self, seed: int = 1234, fail_rate: float | None = None, mode: str = "flaky",
              delete_objects: str | None = None) -> None:
        with self._lock:
            self._random = random.Random(seed)
            self.counts = {}
            self.mode = mode
            self.delete_objects = delete_objects
            if fail_rate is not None:
                self.fail_rate = fail_rate

    def _count(self, what: str) -> None:
        with self._lock:
            self.counts[what] = self.counts.get(what, 0) + 1

    def _fate(self) -> str:
        with self._lock:
            if self.mode == "deny":
                return "deny"
            if self._random.random() >= self.fail_rate:
                return "pass"
            return self._random.choice(["503", "500", "drop"])

    def _delete_objects_answer(self, h: BaseHTTPRequestHandler, body: bytes) -> tuple[int, bytes] | None:
        """The proxy's own answer to a DeleteObjects call (see ``delete_objects``), or None."""
        if h.command != "POST" or not re.search(r"\?(.*&)?delete(=|&|$)", h.path):
            return None
        with self._lock:
            code = self.delete_objects
            if code is None:
                return None
            if not code.isdigit():
                self.delete_objects = None
        self._count(f"delete-objects-{code}")
        if code.isdigit():
            name = {"404": "NoSuchKey", "501": "NotImplemented"}.get(code, code)
            return int(code), _S3_ERROR.format(code=name, message="refused by the fault proxy").encode()
        keys = [k.decode() for k in re.findall(rb"<Key>([^<]*)</Key>", body)]
        errors = "".join(f"<Error><Key>{key}</Key><Code>{code}</Code><Message>injected</Message></Error>"
                         for key in keys)
        return 200, (f'<?xml version="1.0" encoding="UTF-8"?>\n<DeleteResult '
                     f'xmlns="http://s3.amazonaws.com/doc/2006-03-01/">{errors}</DeleteResult>').encode()

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        own = self._delete_objects_answer(h, body)
        if own is not None:
            status, payload = own
            h.send_response(status)
            h.send_header("Content-Type", "application/xml")
            h.send_header("Content-Length", str(len(payload)))
            h.end_headers()
            h.wfile.write(payload)
            return
        fate = self._fate()
        self._count(fate)
        if fate == "drop":
            # Answer nothing and reset the connection.
            h.close_connection = True
            try:
                h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            except OSError:
                pass
            return
        if fate in ("503", "500", "deny"):
            code, message, status = {
                "503": ("SlowDown", "Please reduce your request rate.", 503),
                "500": ("InternalError", "We encountered an internal error.", 500),
                "deny": ("AccessDenied", "Access Denied", 403),
            }[fate]
            payload = _S3_ERROR.format(code=code, message=message).encode()
            h.send_response(status)
            h.send_header("Content-Type", "application/xml")
            h.send_header("Content-Length", str(len(payload)))
            h.end_headers()
            if h.command != "HEAD":
                h.wfile.write(payload)
            return
        conn = http.client.HTTPConnection(self.upstream, timeout=60)
        try:
            headers = {k: v for k, v in h.headers.items() if k.lower() not in _HOP_BY_HOP}
            conn.request(h.command, h.path, body=body if (body or h.command in ("PUT", "POST")) else None,
                         headers=headers)
            response = conn.getresponse()
            payload = response.read()
            h.send_response(response.status, response.reason)
            for k, v in response.getheaders():
                # A HEAD answer's Content-Length is the object's size: keep it.
                if k.lower() not in _HOP_BY_HOP and (k.lower() != "content-length" or h.command == "HEAD"):
                    h.send_header(k, v)
            if h.command != "HEAD":
                h.send_header("Content-Length", str(len(payload)))
            h.end_headers()
            if h.command != "HEAD":
                h.wfile.write(payload)
        finally:
            conn.close()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def copy_into(folder: Path, items: dict[str, bytes]) -> None:
    """Write ``{key: value}`` as files below ``folder`` (for the HTTP server)."""
    for key, value in items.items():
        path = folder.joinpath(*key.split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(value)


def remove_tree(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
