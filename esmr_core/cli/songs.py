"""`esmr songs build` (render the singable-song catalogue) and `esmr songs info` (summarise one)."""
from __future__ import annotations

import argparse
import json
import logging
import time

from ..errors import EsmrError
from ..paths import default_songs_dir

log = logging.getLogger(__name__)


def register(subparsers) -> None:
    parser = subparsers.add_parser("songs", help="build or summarise the singable-song catalogue",
                                   description="The catalogue of public-domain songs to sing (music21 corpus, "
                                   "rendered with fluidsynth + FluidR3_GM).")
    sub = parser.add_subparsers(dest="songs_command", metavar="ACTION")
    build = sub.add_parser("build", help="select songs from music21's corpus and render backing + guide vocals")
    build.add_argument("--out", default=str(default_songs_dir()), help="output folder (default: %(default)s)")
    build.add_argument("--limit", type=int, default=None, help="only the first N songs (quick test builds)")
    build.add_argument("--max-seconds", type=float, default=30.0, help="cap on each excerpt's length (s)")
    build.add_argument("--include-noncommercial", action="store_true",
                       help="also add the Essen folk songs, whose encodings are licensed for NON-COMMERCIAL use "
                       "only (rows and CREDITS.md are marked; not allowed for the bundled assets/songs)")
    build.set_defaults(func=_build)
    info = sub.add_parser("info", help="summary of a song catalogue")
    info.add_argument("dir", nargs="?", default=str(default_songs_dir()), help="catalogue folder")
    info.add_argument("--json", action="store_true", help="print one JSON object")
    info.set_defaults(func=_info)
    parser.set_defaults(func=lambda args: (parser.print_help(), 0)[1])


def _build(args: argparse.Namespace) -> int:
    from ..data.songs import build_catalogue, catalogue_info

    if args.limit is not None and args.limit < 1:
        raise EsmrError("--limit must be at least 1")
    if not 5 <= args.max_seconds <= 120:
        raise EsmrError("--max-seconds must be between 5 and 120")
    t0 = time.time()
    if args.include_noncommercial:
        log.warning("warning: including songs licensed for NON-COMMERCIAL use only (Essen folk songs)")
    build_catalogue(args.out, limit=args.limit, max_seconds=args.max_seconds,
                    include_noncommercial=args.include_noncommercial)
    info = catalogue_info(args.out)
    print(f"{info['songs']} songs, {info['voices']} guide voices, {info['size_mb']} MB, range "
          f"{info['lowest_note']}..{info['highest_note']} -> {args.out} ({time.time() - t0:.0f} s)")
    return 0


def _info(args: argparse.Namespace) -> int:
    from ..data.songs import catalogue_info

    info = catalogue_info(args.dir)
    if args.json:
        print(json.dumps(info))
    else:
        for key, value in info.items():
            print(f"{key:>14}: {value}")
    return 0
