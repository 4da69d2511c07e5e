"""`esmr`: the command line. Each subcommand lives in its own module with `register(subparsers)`.

Exit status: 0 ok, 2 bad input or usage (one line `error: ...` on stderr), 1 unexpected failure.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from .. import logs
from ..errors import EsmrError

# Modules under esmr_core.cli, each exposing register(subparsers).
COMMAND_MODULES: tuple[str, ...] = (
    "analyze", "sing", "catalog", "songs", "corpus", "dataset", "train", "evaluate", "index", "mate", "timeline",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="esmr",
        description="Emotion-based speech-to-music retrieval: analyse a voice, find matching music; "
        "singing -> songs to sing; build catalogues and corpora; train and evaluate the models.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logs.configure()   # the package's log lines go to stderr: --json output on stdout stays clean
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except EsmrError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:   # the reader went away (`esmr analyze ... | head`): stop quietly, as cat does
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())   # so the interpreter's final flush does not fail again
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
