"""GET, PUT and DELETE of single S3 objects straight over HTTP, signed with SigV4.

botocore spends about 2 ms of CPU on every request (endpoint rules, event
hooks, user agent, response parsing), which caps a client at a few hundred
small objects a second per core whatever the concurrency. A chunk read or
write is one plain request, so for those three calls :class:`FsspecStore`
uses this client instead, on the same event loop and with the same bounded
concurrency, retries and error classification; everything else (listing,
sizes, conditional writes) stays with s3fs.

It engages only where its requests are certain to be what botocore would send:
an S3-compatible service named by an explicit ``endpoint_url`` (path-style
addressing), with credentials taken from s3fs's own session (so profiles,
environment variables and refreshable credentials all work), and no option
that changes requests (requester pays, extra request arguments such as
server-side encryption, object versions, custom client settings). Set
``ZARR_ENGINE_S3_DIRECT=0`` to turn it off.

Requests to a plain ``http://`` endpoint without a proxy (MinIO, Ceph, moto
and other services on a private network) go through :mod:`.http1`, a lean
client that receives each body straight into one buffer and keeps connections
alive; ``https://`` endpoints and proxies go through aiohttp. Set
``ZARR_ENGINE_S3_HTTP1=0`` to send everything through aiohttp.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import inspect
import os
import re
import ssl
import urllib.parse
import urllib.request
import zlib
from typing import Any

from .._env import switched_off
from . import http1

#: client_kwargs / config_kwargs that do not change what a request looks like
_NEUTRAL_CLIENT = frozenset({"endpoint_url", "region_name", "verify", "use_ssl"})
_NEUTRAL_CONFIG = frozenset({"max_pool_connections", "connect_timeout", "read_timeout", "retries"})
_CODE = re.compile(rb"<Code>([^<]{1,100})</Code>")
_MESSAGE = re.compile(rb"<Message>([^<]{0,300})</Message>")
_UNSIGNED = "UNSIGNED-PAYLOAD"
#: bodies above this go to aiohttp as a stream of pieces of this size
_PIECE = 1 << 20


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


class S3ResponseError(Exception):
    """An S3 error response; carries ``response`` in botocore's shape so that
    :mod:`.retry` classifies it like a botocore ``ClientError``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code} (HTTP {status}): {message}" if message else f"{code} (HTTP {status})")
        self.status = status
        self.response = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}


class S3NotFoundError(FileNotFoundError):
    """404 from S3: a missing key (``NoSuchKey``) or bucket (``NoSuchBucket``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.response = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 404}}


class S3PermissionError(PermissionError):
    """403 from S3 (access denied, bad credentials, a signature S3 did not accept)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.response = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 403}}


def _lean_wanted() -> bool:
    """Whether plain http:// endpoints use :mod:`.http1` (``ZARR_ENGINE_S3_HTTP1=0``: aiohttp)."""
    return not switched_off("ZARR_ENGINE_S3_HTTP1")


def eligible(fs: Any) -> bool:
    """Whether requests of s3fs filesystem ``fs`` can go through :class:`S3Direct`."""
    if switched_off("ZARR_ENGINE_S3_DIRECT"):
        return False
    if type(fs).__name__ != "S3FileSystem" or not type(fs).__module__.startswith("s3fs"):
        return False
    client_kwargs = getattr(fs, "client_kwargs", None) or {}
    endpoint = getattr(fs, "endpoint_url", None) or client_kwargs.get("endpoint_url")
    if not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://")):
        return False
    if getattr(fs, "req_kw", None) or getattr(fs, "s3_additional_kwargs", None) or getattr(fs, "version_aware", False):
        return False
    if set(client_kwargs) - _NEUTRAL_CLIENT or set(getattr(fs, "config_kwargs", None) or {}) - _NEUTRAL_CONFIG:
        return False
    return not getattr(fs, "kwargs", None)  # session arguments (profiles...) are fine only through s3fs


def for_fs(fs: Any, max_connections: int) -> "S3Direct | None":
    """The direct client of ``fs`` (one per filesystem instance, which fsspec caches), or None."""
    if not eligible(fs):
        return None
    client = getattr(fs, "_zarr_engine_direct", None)
    if client is None:
        client = S3Direct(fs, max_connections)
        try:
            fs._zarr_engine_direct = client
        except AttributeError:  # pragma: no cover - s3fs instances take attributes
            pass
    return client


class S3Direct:
    """Path-style requests to ``fs``'s endpoint, made on ``fs``'s event loop."""

    def __init__(self, fs: Any, max_connections: int) -> None:
        self.fs = fs
        client_kwargs = getattr(fs, "client_kwargs", None) or {}
        self.endpoint = (getattr(fs, "endpoint_url", None) or client_kwargs["endpoint_url"]).rstrip("/")
        parsed = urllib.parse.urlsplit(self.endpoint)
        self.host = parsed.netloc
        self.base_path = parsed.path.rstrip("/")
        self.verify = client_kwargs.get("verify", True)
        self.max_connections = max(1, int(max_connections))
        self._session: Any = None
        self._proxy: str | None = None
        self._loop: Any = None
        self._init_lock: Any = None
        self._init_loop: Any = None
        self._credentials: Any = None
        self._region = "us-east-1"
        self._anon = bool(getattr(fs, "anon", False))
        self._keys: dict[tuple[str, str, str], bytes] = {}

    # -- session ---------------------------------------------------------------
    async def _ready(self) -> Any:
        import asyncio

        loop = asyncio.get_running_loop()
        if self._session is not None and self._loop is loop and not self._session.closed:
            return self._session
        if self._init_loop is not loop:  # the first requests of a batch arrive together: one sets up
            self._init_lock, self._init_loop = asyncio.Lock(), loop
        async with self._init_lock:
            if self._session is not None and self._loop is loop and not self._session.closed:
                return self._session
            return await self._open(loop)

    async def _open(self, loop: Any) -> Any:
        import aiohttp

        client = await self.fs.set_session()  # credentials and region exactly as s3fs resolves them
        self._region = getattr(client.meta, "region_name", None) or "us-east-1"
        signer = getattr(client, "_request_signer", None)
        self._credentials = None if self._anon else getattr(signer, "_credentials", None)
        if self.verify is False:
            ssl_arg: Any = False
        elif isinstance(self.verify, str):
            ssl_arg = ssl.create_default_context(cafile=self.verify)
        else:
            ssl_arg = True
        connector = aiohttp.TCPConnector(limit=self.max_connections, ssl=ssl_arg)
        # botocore's default timeouts: 60 s to connect, 60 s between bytes read
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=60, sock_read=60)
        # proxies from the environment, as botocore does, looked up once (trust_env
        # would also read ~/.netrc on every request)
        self._proxy = None
        if not urllib.request.proxy_bypass_environment(self.host.rsplit(":", 1)[0]):
            scheme = self.endpoint.split("://", 1)[0]
            self._proxy = urllib.request.getproxies_environment().get(scheme)
        if self.endpoint.startswith("http://") and self._proxy is None and _lean_wanted():
            parsed = urllib.parse.urlsplit(self.endpoint)
            self._session = http1.Http1Client(parsed.hostname or "localhost", parsed.port or 80,
                                              self.max_connections, host_header=self.host)
        else:  # TLS and proxies: aiohttp
            self._session = aiohttp.ClientSession(connector=connector, timeout=timeout, auto_decompress=False)
        self._loop = loop
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            if isinstance(self._session, http1.Http1Client):
                self._session.close()
            else:
                await self._session.close()
        self._session = None

    # -- signing ---------------------------------------------------------------
    async def _frozen(self) -> Any:
        creds = self._credentials
        if creds is None:
            return None
        frozen = creds.get_frozen_credentials()
        if inspect.isawaitable(frozen):
            frozen = await frozen
        return frozen if getattr(frozen, "access_key", None) else None

    def _signing_key(self, secret: str, date: str) -> bytes:
        cache_key = (secret, date, self._region)
        key = self._keys.get(cache_key)
        if key is None:
            key = hmac.new(("AWS4" + secret).encode(), date.encode(), hashlib.sha256).digest()
            for part in (self._region, "s3", "aws4_request"):
                key = hmac.new(key, part.encode(), hashlib.sha256).digest()
            if len(self._keys) > 8:
                self._keys.clear()
            self._keys[cache_key] = key
        return key

    async def _headers(self, method: str, path: str, extra: dict[str, str]) -> dict[str, str]:
        """Signed headers (SigV4, unsigned payload) for ``method`` on the encoded ``path``."""
        frozen = await self._frozen()
        if frozen is None and not self._anon:
            # botocore refuses to send a request it cannot sign; sending it unsigned instead
            # would turn "no credentials" into an AccessDenied (reads) or an anonymous write
            from botocore.exceptions import NoCredentialsError

            raise NoCredentialsError()
        amz_date = _utcnow().strftime("%Y%m%dT%H%M%SZ")
        signed = {"host": self.host, "x-amz-content-sha256": _UNSIGNED, "x-amz-date": amz_date}
        signed.update((k, v) for k, v in extra.items() if k.startswith("x-amz-"))
        if frozen is None:  # anon=True: unsigned, as s3fs sends it
            return {k: v for k, v in {**signed, **extra}.items() if k != "host"}
        if getattr(frozen, "token", None):
            signed["x-amz-security-token"] = frozen.token
        names = sorted(signed)
        canonical = "\n".join([
            method, path, "", "".join(f"{n}:{signed[n].strip()}\n" for n in names), ";".join(names), _UNSIGNED,
        ])
        scope = f"{amz_date[:8]}/{self._region}/s3/aws4_request"
        to_sign = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        signature = hmac.new(self._signing_key(frozen.secret_key, amz_date[:8]), to_sign.encode(),
                             hashlib.sha256).hexdigest()
        headers = {k: v for k, v in signed.items() if k != "host"}
        headers.update((k, v) for k, v in extra.items() if not k.startswith("x-amz-"))
        headers["Authorization"] = (f"AWS4-HMAC-SHA256 Credential={frozen.access_key}/{scope}, "
                                    f"SignedHeaders={';'.join(names)}, Signature={signature}")
        return headers

    def _encoded_path(self, path: str) -> str:
        """``bucket/key`` as the URL path S3 signs: each byte outside RFC 3986's unreserved set escaped."""
        return self.base_path + "/" + urllib.parse.quote(path, safe="/~")

    async def _request(self, method: str, path: str, extra: dict[str, str], body: Any = None) -> tuple[int, bytes]:
        import yarl

        session = await self._ready()
        encoded = self._encoded_path(path)
        headers = await self._headers(method, encoded, extra)
        if isinstance(session, http1.Http1Client):
            return await session.request(method, encoded, headers, body)
        if body is not None and len(body) > _PIECE:
            # aiohttp wants big bodies as a stream; pieces of one memoryview copy nothing
            headers["Content-Length"] = str(len(body))
            body = _pieces(memoryview(body))
        url = yarl.URL(self.endpoint.split("://", 1)[0] + "://" + self.host + encoded, encoded=True)
        async with session.request(method, url, headers=headers, data=body, allow_redirects=False,
                                   proxy=self._proxy) as resp:
            data = await resp.read()
            return resp.status, data

    # -- the three calls -----------------------------------------------------------
    async def get(self, path: str, start: int | None = None, end: int | None = None) -> bytes:
        """The object at ``bucket/key`` ``path`` (or the range ``start``..``end``, python-style, end exclusive)."""
        extra: dict[str, str] = {}
        if start is not None:
            if start < 0 and end is None:
                extra["Range"] = f"bytes={start}"
            elif end is None:
                extra["Range"] = f"bytes={start}-"
            else:
                extra["Range"] = f"bytes={start}-{end - 1}"
        status, data = await self._request("GET", path, extra)
        if status in (200, 206):
            return data
        raise _error(status, data)

    async def put(self, path: str, value: bytes) -> None:
        crc = base64.b64encode(zlib.crc32(value).to_bytes(4, "big")).decode()
        extra = {"x-amz-checksum-crc32": crc}
        status, data = await self._request("PUT", path, extra, value)
        if status != 200:
            raise _error(status, data)

    async def delete(self, path: str) -> None:
        status, data = await self._request("DELETE", path, {})
        if status not in (200, 204):
            raise _error(status, data)


async def _pieces(view: memoryview) -> Any:
    for start in range(0, len(view), _PIECE):
        yield view[start : start + _PIECE]


def _error(status: int, body: bytes) -> Exception:
    found = _CODE.search(body)
    code = found.group(1).decode("utf-8", "replace") if found else ""
    said = _MESSAGE.search(body)
    message = said.group(1).decode("utf-8", "replace") if said else ""
    if status == 404:
        return S3NotFoundError(code or "NoSuchKey", message)
    if status == 403:
        return S3PermissionError(code or "AccessDenied", message)
    return S3ResponseError(status, code or str(status), message)
