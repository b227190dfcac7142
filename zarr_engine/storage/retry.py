"""Which remote failures are worth retrying, and the backoff between attempts."""

from __future__ import annotations

import asyncio
import errno
import random
import socket

#: Error codes (S3 and others) that mean "try again later".
TRANSIENT_CODES = frozenset({
    "SlowDown", "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottled",
    "RequestLimitExceeded", "TooManyRequestsException", "ProvisionedThroughputExceededException",
    "RequestTimeout", "RequestTimeoutException", "InternalError", "ServiceUnavailable",
    "InternalServerError", "BadGateway", "GatewayTimeout", "500", "502", "503", "504", "429",
})
#: Error codes that mean the target itself is missing (not just one key).
MISSING_CONTAINER_CODES = frozenset({"NoSuchBucket", "NoSuchBucketPolicy"})
_TRANSIENT_ERRNOS = frozenset({errno.ECONNRESET, errno.ECONNABORTED, errno.ECONNREFUSED, errno.EPIPE,
                               errno.ETIMEDOUT, errno.EAGAIN, errno.EHOSTUNREACH, errno.ENETUNREACH})
# Exception class names (from botocore, aiohttp, urllib3, requests) that mean
# the connection failed rather than the request being refused. Matched by
# name so that none of those packages has to be importable here.
_TRANSIENT_NAMES = frozenset({
    "EndpointConnectionError", "ConnectionClosedError", "ReadTimeoutError", "ConnectTimeoutError",
    "ResponseStreamingError", "IncompleteReadError", "ProxyConnectionError", "HTTPClientError",
    "ServerDisconnectedError", "ClientConnectionError", "ClientConnectorError", "ClientOSError",
    "ClientPayloadError", "ServerTimeoutError", "ContentLengthError", "TransferEncodingError",
    "IncompleteRead", "ProtocolError", "ChunkedEncodingError", "RemoteDisconnected",
    "FSTimeoutError", "ResponseParserError",
})


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and its causes/contexts, outermost first, without cycles."""
    seen: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in seen and len(seen) < 16:
        seen.append(cur)
        cur = cur.__cause__ or cur.__context__
    return seen


def _codes(exc: BaseException) -> tuple[str | None, int | None]:
    """The (error code, HTTP status) an exception carries, when it carries one."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):  # botocore ClientError
        code = (response.get("Error") or {}).get("Code")
        status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
        return (str(code) if code is not None else None), status
    status = getattr(exc, "status", None)  # aiohttp ClientResponseError
    if status is None:
        status = getattr(exc, "code", None)  # gcsfs HttpError
    if isinstance(status, int):
        return str(status), status
    return None, None


def is_missing_container(exc: BaseException) -> bool:
    """True when ``exc`` says the bucket (not just a key) does not exist."""
    for e in _chain(exc):
        code, _ = _codes(e)
        if code in MISSING_CONTAINER_CODES:
            return True
        text = str(e)
        if "NoSuchBucket" in text or "bucket does not exist" in text.lower():
            return True
    return False


def is_not_implemented(exc: BaseException) -> bool:
    """True when ``exc`` says the service does not implement the call at all
    (501, ``NotImplemented``: GCS's S3-compatible API answers DeleteObjects so)."""
    for e in _chain(exc):
        code, status = _codes(e)
        if code == "NotImplemented" or status == 501:
            return True
    return False


def is_transient(exc: BaseException) -> bool:
    """True for failures that may succeed when retried: throttling, 5xx, resets, timeouts."""
    if isinstance(exc, (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)):
        return False
    for e in _chain(exc):
        code, status = _codes(e)
        if code in TRANSIENT_CODES or (status is not None and (status >= 500 or status in (408, 429))):
            return True
        if code is not None or status is not None:
            return False  # a definite answer from the service, e.g. 403 or 404
        if isinstance(e, (asyncio.TimeoutError, TimeoutError, socket.timeout, ConnectionError)):
            return True
        if isinstance(e, OSError) and e.errno in _TRANSIENT_ERRNOS:
            return True
        if any(cls.__name__ in _TRANSIENT_NAMES for cls in type(e).__mro__):
            return True
    return False


def backoff(attempt: int, base: float, cap: float) -> float:
    """Seconds to wait before retry number ``attempt`` (0-based): capped exponential, full jitter."""
    return random.uniform(0.0, min(cap, base * (2.0 ** attempt)))
