"""W6: W4 and W2 through S3, served by moto on 127.0.0.1.

moto runs in a child process rather than in a thread of this one: an
in-process server would take the GIL from the engines being measured (and
from the Python ones more than from tensorstore), which would skew the
comparison. Dummy credentials only; nothing leaves the machine.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from typing import Any

from .common import Context, Row
from .engines import Loc
from .w_local import write_read

BUCKET = "bench"
HOST = "127.0.0.1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def s3_environment() -> None:
    """Dummy credentials and no proxy, for s3fs and tensorstore alike."""
    os.environ.update({
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    })
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE"):
        os.environ.pop(name, None)
    no_proxy = {p for p in os.environ.get("NO_PROXY", "").split(",") if p} | {HOST, "localhost"}
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = ",".join(sorted(no_proxy))


class MotoProcess:
    """``moto_server`` in a child process, with one bucket; a context manager."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.endpoint = f"http://{HOST}:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> "MotoProcess":
        # moto's dispatcher lists its own package folder (about 200 isdir calls)
        # on every request, under a lock that serialises all requests; that took
        # half of moto's CPU per request and capped every engine alike. The
        # listing never changes while the server runs, so it is computed once.
        code = ("import logging, sys; logging.disable(logging.CRITICAL); "
                "import functools, moto.backends as B; "
                "B.list_of_moto_modules = functools.lru_cache(None)(lambda f=B.list_of_moto_modules: tuple(f())); "
                "from moto.server import ThreadedMotoServer as S; "
                f"s = S(ip_address='{HOST}', port={self.port}, verbose=False); s.start(); sys.stdin.read()")
        self.proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            try:
                req = urllib.request.Request(f"{self.endpoint}/{BUCKET}", method="PUT")
                with urllib.request.urlopen(req, timeout=5) as r:
                    r.read()
                return self
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.__exit__()
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.2)

    def __exit__(self, *exc: Any) -> None:
        if self.proc is not None and self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc = None


def w6(ctx: Context) -> list[Row]:
    """W6: W4 (uint8, zstd level 1) and W2 (sharded float32, zstd level 1) written and read through S3."""
    s = ctx.sizes
    s3_environment()
    rows: list[Row] = []
    with MotoProcess() as moto:
        root = Loc("runs", bucket=BUCKET, endpoint=moto.endpoint)
        ctx.log(f"  moto at {moto.endpoint}")
        # one small untimed write and read per engine first: imports (s3fs,
        # botocore), clients and sessions are then ready for every engine, so
        # the first engine's first timed write does not pay them for the others
        warm = ctx.data((256, 256), "uint8")
        for ad in ctx.adapters:
            loc = root.child(f"W6-warm/{ad.name}")
            ad.write(loc, warm, (64, 64), None, "zstd1")
            ad.read(ad.open(loc))
        cases = [
            ("W4", ctx.data(s.w6_w4_shape, "uint8"), s.w4_chunks, None),
            ("W2", ctx.data(s.w6_w2_shape, "float32"), s.w1_chunks, s.w6_w2_shards),
        ]
        for label, data, chunks, shards in cases:
            for row in write_read(ctx, f"W6-{label}", "zstd1", data, chunks, shards, root):
                row.workload = "W6"
                row.case = f"{label} {'x'.join(map(str, data.shape))} {row.case}"
                rows.append(row)
    return rows


WORKLOADS: dict[str, Any] = {"W6": w6}
