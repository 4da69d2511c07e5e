"""`esmr train --config FILE [--out runs/NAME] [--seed N]`: train the joint speech-music model."""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train", help="train the speech-music joint embedding model from a config",
        description="Featurise the speech corpus and music catalogue (cached), train, keep the best epoch on the "
        "validation split, and write a run folder: config.json, metrics.jsonl, results.json, checkpoint/.")
    p.add_argument("--config", required=True, help="JSON config, e.g. esmr_core/configs/default.json")
    p.add_argument("--out", default=None, help="run folder (default runs/<config name>)")
    p.add_argument("--seed", type=int, default=None, help="override the config's seed")
    p.add_argument("--speech", default=None, help="override the speech collection folder")
    p.add_argument("--catalog", default=None, help="override the music catalogue folder")
    p.add_argument("--epochs", type=int, default=None, help="override the maximum number of epochs")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..retrieval.config import load_config
    from ..retrieval.train import run as train_run

    cfg = load_config(args.config, seed=args.seed, speech=args.speech, catalog=args.catalog, epochs=args.epochs)
    out = Path(args.out) if args.out else Path("runs") / cfg.name
    results = train_run(cfg, out, progress=not args.quiet)
    print(json.dumps({"run": str(out), "checkpoint": str(out / "checkpoint"), **results}, indent=2))
    return 0
