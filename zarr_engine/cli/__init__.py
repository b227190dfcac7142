"""The ``zarr-engine`` command: inspect, read, copy, verify and benchmark Zarr
stores, and run the demo job.

``main(argv)`` returns the exit code instead of exiting, so tests (and other
programs) can call it in-process; the console script passes it to ``sys.exit``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import traceback
from pathlib import Path
from typing import NoReturn

from .. import __version__
from ._common import (
    EXIT_CODES_HELP,
    EXIT_INTERNAL,
    EXIT_NOT_FOUND,
    EXIT_USAGE,
    UsageError,
    exit_code_for,
)

PROG = "zarr-engine"

_EPILOG = f"""URLs: a local path, file://, zip:///path.zip[/inner], sqlite:///path.db, memory://name,
s3://bucket/prefix, gs://bucket/prefix, https://host/path, or any fsspec URL.
Options for remote stores: -O key=value (repeatable; values are JSON when they parse,
dotted keys nest), e.g. -O anon=true -O client_kwargs.endpoint_url=http://127.0.0.1:9000

{EXIT_CODES_HELP}"""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr, with exit code 2."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message} (see '{self.prog} --help')", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def _parents() -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """(options every subcommand has, options of subcommands that take URLs)."""
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: a subcommand's default must not hide a --debug given before it
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the full traceback on errors")
    urls = argparse.ArgumentParser(add_help=False)
    urls.add_argument("-O", "--storage-option", action="append", default=[], metavar="KEY=VALUE",
                      help="a storage option for fsspec stores (repeatable; JSON values; dotted keys nest)")
    return common, urls


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``zarr-engine`` and all its subcommands."""
    from . import copy as copy_cmd
    from . import demo as demo_cmd
    from . import inspect as inspect_cmd
    from . import pyramid as pyramid_cmd
    from . import verify as verify_cmd

    parser = _Parser(
        prog=PROG, formatter_class=argparse.RawDescriptionHelpFormatter, epilog=_EPILOG,
        description="Inspect, read, copy, verify and benchmark Zarr v2/v3 stores with zarr_engine.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument("--debug", action="store_true", default=False, help="show the full traceback on errors")
    common, urls = _parents()
    both = [common, urls]
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    def add(name: str, parents: list, help: str, description: str) -> argparse.ArgumentParser:  # noqa: A002
        return sub.add_parser(name, parents=parents, help=help, description=description, epilog=EXIT_CODES_HELP,
                              formatter_class=argparse.RawDescriptionHelpFormatter)

    p = add("info", both, "summarise an array or group",
            "Format, shape, data type, chunks, shards, codecs, fill value, stored size, compression ratio "
            "and chunks initialised of the array at URL (or a summary of the group at URL).")
    p.add_argument("url", metavar="URL")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=inspect_cmd.cmd_info)

    p = add("tree", both, "print a hierarchy", "Print the groups and arrays below the group at URL as a tree.")
    p.add_argument("url", metavar="URL")
    p.add_argument("--level", type=int, metavar="N", help="descend at most N levels")
    p.set_defaults(func=inspect_cmd.cmd_tree)

    p = add("ls", both, "list a group's members", "List the members of the group at URL, one per line.")
    p.add_argument("url", metavar="URL")
    p.add_argument("-r", "--recursive", action="store_true", help="list the whole hierarchy")
    p.add_argument("--json", action="store_true", help="print the listing as JSON")
    p.set_defaults(func=inspect_cmd.cmd_ls)

    p = add("get", both, "print a selection of an array",
            "Read a selection of the array at URL and print it. The selection is numpy-style text: integers, "
            "start:stop:step slices, '...' and integer lists, e.g. --select \"0:10, :, 5\" or \"..., [1, 3]\". "
            "It is parsed, never evaluated.")
    p.add_argument("url", metavar="URL")
    p.add_argument("-s", "--select", metavar="TEXT", help="the selection (default: everything)")
    p.add_argument("--json", action="store_true", help="print {shape, dtype, data} as JSON")
    p.add_argument("-o", "--output", metavar="FILE.npy", help="save the selection as a .npy file instead")
    p.add_argument("--max-bytes", default="256MiB", metavar="SIZE",
                   help="refuse selections larger than this (default 256MiB)")
    p.add_argument("--threshold", type=int, default=1000, metavar="N",
                   help="print at most about N elements, summarising the rest (numpy's threshold)")
    p.set_defaults(func=inspect_cmd.cmd_get)

    copy_cmd.add_parser(sub, both)
    verify_cmd.add_parsers(sub, both)

    p = add("bench", [common], "run the quick benchmark",
            "Run the benchmark suite's quick mode (python -m benchmarks --quick) from the source checkout; "
            "arguments after -- are passed on.")
    p.add_argument("extra", nargs=argparse.REMAINDER, help="arguments for the benchmark suite")
    p.set_defaults(func=cmd_bench)

    demo_cmd.add_parser(sub, both)
    pyramid_cmd.add_parser(sub, both)
    return parser


def _source_root() -> Path:
    """The checkout this package runs from (the folder holding ``zarr_engine/``)."""
    return Path(__file__).resolve().parents[2]


def cmd_bench(args: argparse.Namespace) -> int:
    """Run ``python -m benchmarks --quick`` when the suite is present."""
    root = _source_root()
    if not (root / "benchmarks" / "__main__.py").is_file():
        print(f"{PROG} bench: no benchmark suite here ({root / 'benchmarks'} has no __main__.py); "
              "it lives in the source repository's benchmarks/ folder", file=sys.stderr)
        return EXIT_NOT_FOUND
    extra = [a for a in args.extra if a != "--"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
    return subprocess.call([sys.executable, "-m", "benchmarks", "--quick", *extra], cwd=root, env=env)


def main(argv: list[str] | None = None) -> int:
    """Run ``zarr-engine`` with ``argv`` (default: the process's arguments); return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, --version and usage errors
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    debug = bool(getattr(args, "debug", False))
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `zarr-engine get ... | head`: the reader left; not an error of ours
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        except OSError:
            pass
        return 0
    except Exception as e:  # noqa: BLE001 - the one place every error becomes an exit code
        code = exit_code_for(e)
        if debug:
            traceback.print_exc()
        hint = " (unexpected: run again with --debug and report it)" if code == EXIT_INTERNAL and not debug else ""
        print(f"{PROG} {args.command}: error: {_one_line(e)}{hint}", file=sys.stderr)
        return code


def _one_line(exc: BaseException) -> str:
    """The exception's message on one line, prefixed by its type when that adds meaning."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, UsageError):
        return text
    name = type(exc).__name__
    return f"{text} [{name}]"


__all__ = ["build_parser", "main"]
