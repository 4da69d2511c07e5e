"""`esmr mate train` / `esmr mate evaluate`: the MATE audio+text emotion model (docs/methods.md section 4).
Thin shim over esmr_core.mate.train.run / cross_validate and esmr_core.mate.evaluate.evaluate_checkpoint."""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import EsmrError
from ..paths import PACKAGE_DIR, checkpoints_dir

DEFAULT_CONFIG = PACKAGE_DIR / "configs" / "mate.json"


def register(subparsers) -> None:
    p = subparsers.add_parser("mate", help="MATE: emotion + arousal/valence from audio and transcript",
                              description="Train or cross-validate MATE on a speech collection.")
    sub = p.add_subparsers(dest="mate_command", metavar="ACTION")
    t = sub.add_parser("train", help="train on a speech collection's training rows, score its held-out rows")
    t.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="MATE config JSON (default: %(default)s)")
    t.add_argument("--speech", help="speech collection folder (default: the config's)")
    t.add_argument("--out", type=Path, default=Path("runs/mate"), help="checkpoint folder (default: %(default)s)")
    t.add_argument("--epochs", type=int, help="override the config's epochs")
    t.add_argument("--seed", type=int, help="override the config's seed")
    t.set_defaults(func=_train)
    e = sub.add_parser("evaluate", help="k-fold cross-validation (folds by sentence) with a checkpoint's settings")
    e.add_argument("--checkpoint", type=Path, help="checkpoint folder (default: checkpoints/mate-default)")
    e.add_argument("--config", type=Path, help="use this config JSON instead of a checkpoint's")
    e.add_argument("--speech", help="speech collection folder (default: the config's or checkpoint's)")
    e.add_argument("--folds", type=int, default=5)
    e.add_argument("--held-out", metavar="SPLIT",
                   help="instead: score the checkpoint itself on this split of the collection (e.g. test)")
    e.add_argument("--json", action="store_true", help="print the full result as JSON")
    e.set_defaults(func=_evaluate)
    p.set_defaults(func=lambda args: (p.print_help(), 0)[1])


def _print_scores(scores: dict) -> None:
    for name, m in scores.items():
        print(f"{name}: F1(macro) {m['f1_macro']:.3f} acc {m['accuracy']:.3f} CCC(A) {m['ccc_arousal']:.3f} "
              f"CCC(V) {m['ccc_valence']:.3f} (n={int(m['n'])})")


def _train(args) -> int:
    from ..mate.config import load_config
    from ..mate.train import run

    cfg = load_config(args.config, speech=args.speech, epochs=args.epochs, seed=args.seed)
    result = run(cfg, args.out)
    _print_scores(result["metrics"])
    print(f"saved {args.out}")
    return 0


def _evaluate(args) -> int:
    from ..mate.config import load_config
    from ..mate.data import prepare_data
    from ..mate.evaluate import evaluate_checkpoint
    from ..mate.train import checkpoint_config, cross_validate

    ckpt = args.checkpoint or checkpoints_dir() / "mate-default"
    if args.held_out:
        if args.config:
            raise EsmrError("--held-out scores a checkpoint; drop --config")
        cfg = checkpoint_config(ckpt)
        res = evaluate_checkpoint(ckpt, args.speech or cfg.speech, args.held_out)
        if args.json:
            print(json.dumps(res, indent=2))
        else:
            _print_scores(res)
        return 0
    if args.folds < 2:
        raise EsmrError("--folds must be at least 2")
    if args.config:
        cfg = load_config(args.config, speech=args.speech)
    else:
        if not (Path(ckpt) / "config.json").is_file():
            raise EsmrError(f"no MATE checkpoint at {ckpt}; train one with `esmr mate train` or pass --config")
        cfg = checkpoint_config(ckpt)
        if args.speech:
            cfg.speech = args.speech
    res = cross_validate(cfg, prepare_data(cfg.speech, cfg.model), k=args.folds)
    if args.json:
        print(json.dumps(res, indent=2))
    else:
        for key in ("all_recall_macro", "all_precision_macro", "all_f1_macro", "all_f1_weighted",
                    "all_ccc_arousal", "all_ccc_valence", "neutral_text_f1_macro", "no_text_f1_macro"):
            if key in res["mean"]:
                print(f"{key:24s} {res['mean'][key]:.3f} +- {res['std'][key]:.3f}")
    return 0
