"""`esmr catalog build SRC... --out DIR [--engine ray [--address ADDR] [--workers N]] [--format F]` and
`esmr catalog info [DIR] [--json]`."""
from __future__ import annotations

import argparse
import json
import sys

from ..paths import default_catalog_dir


def register(subparsers) -> None:
    p = subparsers.add_parser("catalog", help="build or describe a music catalogue",
                              description="Build a music catalogue from folders of audio files, or summarise one.")
    sub = p.add_subparsers(dest="catalog_command", metavar="ACTION", required=True)

    b = sub.add_parser("build", help="turn folders of audio files into a catalogue (incremental)")
    b.add_argument("sources", nargs="+", metavar="SRC", help="folders (searched recursively) or audio files")
    b.add_argument("--out", required=True, help="catalogue folder to create or update")
    b.add_argument("--excerpt-seconds", type=float, default=30.0, help="excerpt length in seconds (default 30)")
    b.add_argument("--bitrate-kbps", type=float, default=48.0, help="approximate Opus bitrate (default 48)")
    b.add_argument("--licence", default=None, help="licence string recorded for every track (default unknown)")
    b.add_argument("--artist", default=None, help="artist recorded for every track (default unknown)")
    b.add_argument("--name", default="music", help="catalogue name stored in collection.json")
    b.add_argument("--quiet", action="store_true", help="no progress bar")
    b.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local: this process (default); ray: a Ray Data pipeline (needs the [scale] extra)")
    b.add_argument("--address", default=None,
                   help="with --engine ray: the Ray cluster to run on (e.g. ray://head:10001 or auto); "
                        "default: a local Ray started for the build")
    b.add_argument("--workers", type=int, default=None,
                   help="with --engine ray: analysis actors (default: every CPU Ray has)")
    b.add_argument("--format", dest="storage", choices=("auto", "jsonl", "parquet"), default="auto",
                   help="how the catalogue is stored: jsonl (manifest.jsonl + features.npz), parquet "
                        "(tracks.parquet) or auto (parquet from 20000 tracks on; default)")
    b.set_defaults(func=_build)

    i = sub.add_parser("info", help="summarise a catalogue (default: the bundled one)")
    i.add_argument("dir", nargs="?", default=None, help=f"catalogue folder (default {default_catalog_dir()})")
    i.add_argument("--json", action="store_true", help="print one JSON object")
    i.set_defaults(func=_info)


def _build(args: argparse.Namespace) -> int:
    from ..data.catalog import build_catalog, scan_folders

    from ..errors import EsmrError

    if args.engine == "local" and (args.address or args.workers):
        raise EsmrError("--address and --workers go with --engine ray")
    tracks = scan_folders(args.sources, licence=args.licence, artist=args.artist)
    rep = build_catalog(tracks, args.out, excerpt_seconds=args.excerpt_seconds, bitrate_kbps=args.bitrate_kbps,
                        name=args.name, progress=not args.quiet, engine=args.engine, address=args.address,
                        workers=args.workers, storage=args.storage)
    for line in rep.failed:
        print(f"skipped {line}", file=sys.stderr)
    info = _catalog_info(args.out)
    print(f"{args.out}: {rep.tracks} tracks ({rep.processed} analysed, {rep.reused} unchanged, "
          f"{rep.duplicates} duplicates, {len(rep.failed)} unreadable), {info['size_mb']} MB")
    return 0


def _catalog_info(root) -> dict:
    """catalog_info for either storage format (Parquet catalogues are summarised column-wise in Arrow)."""
    from ..data import store
    from ..data.catalog import catalog_info

    if store.catalog_format(root) == "parquet":
        return store.table_info(root)
    return catalog_info(root)


def _info(args: argparse.Namespace) -> int:
    from ..errors import EsmrError

    root = args.dir or default_catalog_dir()
    try:
        info = _catalog_info(root)
    except (FileNotFoundError, ValueError) as exc:
        raise EsmrError(f"{exc}") from None
    if args.json:
        print(json.dumps(info, ensure_ascii=False))
        return 0
    print(f"catalogue {root}")
    print(f"  {info['tracks']} tracks from {info['sources']} sources, {info['hours']} h of originals, "
          f"{info['size_mb']} MB on disk")
    print("  licences: " + ", ".join(f"{k} ({v})" for k, v in info["licences"].items()))
    print(f"  valence {info['valence']} (raw {info['valence_raw']}), energy {info['energy']} "
          f"(raw {info['energy_raw']})")
    print("  moods: " + ", ".join(f"{k} {v}" for k, v in info["moods"].items()))
    print("  sources: " + ", ".join(f"{k} ({v})" for k, v in info["per_source"].items()))
    return 0
