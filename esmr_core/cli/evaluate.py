"""`esmr evaluate --checkpoint DIR [--speech DIR] [--catalog DIR] [--split test] [--subset lexically_neutral|synthetic|real]`."""
from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "evaluate", help="retrieval (MRR, P@5, NDCG@5) and emotion-head metrics of a joint checkpoint",
        description="Rank the whole catalogue for every speech clip of a split by cosine similarity and score "
        "the ranking; also the emotion head's accuracy, macro-F1 and CCC of valence/arousal/dominance.")
    p.add_argument("--checkpoint", default=None, help="checkpoint folder (default checkpoints/esmr-default)")
    p.add_argument("--speech", default="data/bootstrap", help="speech collection folder")
    p.add_argument("--catalog", default=None, help="music catalogue folder (default assets/music)")
    p.add_argument("--split", default="test", help="split to evaluate (train / val / test)")
    p.add_argument("--subset", default=None, choices=["lexically_neutral", "synthetic", "real"],
                   help="only these rows (synthetic: the TTS voices; real: the real voices made emotional by rule)")
    p.add_argument("--space", default="VAD", choices=["VA", "VAD"], help="relevance space")
    p.add_argument("--transcripts", default="given", choices=["given", "asr", "none"],
                   help="words the model reads: the corpus text, what the speech recogniser hears, or none")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..retrieval.evaluate import evaluate_checkpoint
    from ..paths import checkpoints_dir, default_catalog_dir
    from ..retrieval.data import resolve_dir

    ckpt = args.checkpoint or str(checkpoints_dir() / "esmr-default")
    res = evaluate_checkpoint(resolve_dir(ckpt), resolve_dir(args.speech), resolve_dir(args.catalog or "",
                              default_catalog_dir()), args.split, args.subset, args.space,
                              progress=not args.quiet, transcripts=args.transcripts)
    if args.json:
        print(json.dumps(res, indent=2))
    else:
        for k, v in res.items():
            print(f"{k:18s} {v:.4f}" if isinstance(v, float) else f"{k:18s} {v}")
    return 0
