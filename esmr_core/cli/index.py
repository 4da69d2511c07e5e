"""`esmr index build`: the search index and the embedding map (UMAP) of a checkpoint over a catalogue."""
from __future__ import annotations

from pathlib import Path

from ..paths import assets_dir, checkpoints_dir, default_catalog_dir


def register(sub) -> None:
    from ..retrieval.catalog_index import MAP_SAMPLE

    p = sub.add_parser("index", help="build the search index and embedding map of a checkpoint over a catalogue")
    s = p.add_subparsers(dest="index_command", metavar="ACTION", required=True)
    b = s.add_parser("build", help="embed the catalogue, save its search index (CATALOG/index) and fit the map",
                     description="Embeds every track with the checkpoint's music tower, saves the search index "
                                 "in CATALOG/index (exact below 50000 tracks, FAISS IVF above; not for the bundled "
                                 "catalogue, which the app indexes at start-up) and fits the UMAP map over at most "
                                 "--map-sample tracks and the reference voices.")
    b.add_argument("--checkpoint", type=Path, default=checkpoints_dir() / "esmr-default")
    b.add_argument("--catalog", type=Path, default=default_catalog_dir())
    b.add_argument("--reference", type=Path, default=assets_dir() / "examples" / "speech",
                   help="a speech collection drawn as stars on the map (default: the bundled examples)")
    b.add_argument("--out", type=Path, default=None,
                   help="where the map goes (default: CATALOG/map, beside the catalogue it is built over; "
                        "the service looks for it there)")
    b.add_argument("--backend", choices=("auto", "exact", "faiss", "ivf"), default="auto",
                   help="search backend of CATALOG/index (default auto: exact below 50000 tracks, ivf above)")
    b.add_argument("--map-sample", type=int, default=MAP_SAMPLE,
                   help=f"catalogue tracks on the map at most (a uniform sample; default {MAP_SAMPLE})")
    b.add_argument("--quiet", action="store_true", help="no progress bars")
    b.set_defaults(func=run_build)


def run_build(args) -> int:
    from ..service import build_map

    bundled = args.catalog.resolve() == (assets_dir() / "music").resolve()
    out = args.out or args.catalog / "map"
    index_out = None if bundled else args.catalog / "index"   # the bundled one is small: searched exactly
    m = build_map(args.checkpoint, args.catalog, args.reference, out, progress=not args.quiet,
                  index_out=index_out, backend=args.backend, map_sample=args.map_sample)
    music = m.kinds_.count("music")
    total = m.info.get("catalog_size", music)
    print(f"map of {len(m.ids_)} items ({music} music{f' of {total}' if total != music else ''}, "
          f"{m.kinds_.count('speech')} speech) saved in {out}")
    if index_out is not None:
        from ..retrieval.index import MusicIndex

        meta = MusicIndex.read_meta(index_out) or {}
        extra = f", nlist {meta['nlist']}, nprobe {meta['nprobe']}" if meta.get("backend") == "ivf" else ""
        print(f"{meta.get('backend')} index of {meta.get('size')} tracks{extra} saved in {index_out}")
    return 0
