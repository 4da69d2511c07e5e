"""`esmr dataset`: turn a local copy of a public emotion corpus into a collection.

  esmr dataset list
  esmr dataset import ravdess ~/data/RAVDESS --out data/ravdess
  esmr dataset import audioset-mood ~/data/audioset --out data/audioset-mood \
      --segments ~/data/audioset/balanced_train_segments.csv --audio ~/data/audioset/audio
"""
from __future__ import annotations

import argparse
from collections import Counter

from ..data import adapters


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "dataset", help="import a public emotion corpus from your local copy (IEMOCAP, RAVDESS, ...)",
        description="Turn a local copy of a public emotion corpus into a collection (collection.json + "
        "manifest.jsonl) that training and evaluation read. Audio is not copied: rows point at your files.")
    sub = parser.add_subparsers(dest="dataset_command", metavar="ACTION")

    ls = sub.add_parser("list", help="the corpora that can be imported and the layout each expects")
    ls.set_defaults(func=_list)

    imp = sub.add_parser("import", help="read a corpus folder and write a collection")
    imp.add_argument("name", help=f"corpus: {', '.join(adapters.ADAPTERS)}")
    imp.add_argument("root", help="the folder of your copy of the corpus")
    imp.add_argument("--out", required=True, help="collection folder to write (e.g. data/ravdess)")
    imp.add_argument("--force", action="store_true", help="replace a collection already in --out")
    imp.add_argument("--segments", action="append", metavar="CSV",
                     help="audioset-mood: a *_segments.csv (repeatable; default: all under ROOT)")
    imp.add_argument("--labels", metavar="CSV", help="audioset-mood: class_labels_indices.csv (default: under ROOT)")
    imp.add_argument("--audio", metavar="DIR", help="audioset-mood: folder of downloaded audio (default: ROOT)")
    imp.set_defaults(func=_import)
    parser.set_defaults(func=lambda args: (parser.print_help(), 0)[1])


def _list(args: argparse.Namespace) -> int:
    for a in adapters.ADAPTERS.values():
        print(f"{a.name:15s} {a.kind:7s} {a.expect}")
    return 0


def _import(args: argparse.Namespace) -> int:
    coll, result = adapters.import_dataset(
        args.name, args.root, args.out, overwrite=args.force,
        segments=args.segments, labels=args.labels, audio=args.audio)
    key = "label" if coll.kind == "speech" else "mood"
    splits = Counter(r.get("split", "?") for r in coll.rows)
    labels = Counter(r[key] for r in coll.rows)
    print(f"wrote {len(coll.rows)} {coll.kind} rows to {coll.root}")
    print("  splits: " + ", ".join(f"{k} {v}" for k, v in sorted(splits.items())))
    print(f"  {key}s: " + ", ".join(f"{k} {v}" for k, v in sorted(labels.items())))
    if result.skipped:
        print("  skipped: " + ", ".join(f"{n} {r}" for r, n in result.skipped.most_common()))
    return 0
