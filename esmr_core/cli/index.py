"""`esmr index build`: the embedding map (UMAP) of a checkpoint over a catalogue and reference speech."""
from __future__ import annotations

from pathlib import Path

from ..paths import assets_dir, checkpoints_dir, default_catalog_dir


def register(sub) -> None:
    p = sub.add_parser("index", help="build the embedding map of a checkpoint over a music catalogue")
    s = p.add_subparsers(dest="index_command", metavar="ACTION", required=True)
    b = s.add_parser("build", help="fit the UMAP map; saved in CHECKPOINT/map")
    b.add_argument("--checkpoint", type=Path, default=checkpoints_dir() / "esmr-default")
    b.add_argument("--catalog", type=Path, default=default_catalog_dir())
    b.add_argument("--reference", type=Path, default=assets_dir() / "examples" / "speech",
                   help="a speech collection drawn as stars on the map (default: the bundled examples)")
    b.add_argument("--out", type=Path, default=None,
                   help="default: CHECKPOINT/map for the bundled catalogue, CATALOG/map for any other")
    b.set_defaults(func=run_build)


def run_build(args) -> int:
    from ..service import build_map

    bundled = args.catalog.resolve() == (assets_dir() / "music").resolve()
    out = args.out or (args.checkpoint / "map" if bundled else args.catalog / "map")
    m = build_map(args.checkpoint, args.catalog, args.reference, out)
    print(f"map of {len(m.ids_)} items ({m.kinds_.count('music')} music, {m.kinds_.count('speech')} speech) "
          f"saved in {out}")
    return 0
