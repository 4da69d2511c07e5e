"""`esmr mate train` / `esmr mate evaluate`: the MATE audio+text emotion model (METHODS.md section 4)."""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from ..errors import EsmrError
from ..paths import PACKAGE_DIR, REPO_ROOT, checkpoints_dir

DEFAULT_SPEECH = REPO_ROOT / "data" / "bootstrap"
DEFAULT_CONFIG = PACKAGE_DIR / "configs" / "mate.json"


def register(subparsers) -> None:
    p = subparsers.add_parser("mate", help="MATE: emotion + arousal/valence from audio and transcript",
                              description="Train or cross-validate MATE on a speech collection.")
    sub = p.add_subparsers(dest="mate_command", metavar="ACTION")
    t = sub.add_parser("train", help="train on a speech collection's train+val rows, test on its test rows")
    t.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="MATE config JSON (default: %(default)s)")
    t.add_argument("--speech", type=Path, help="speech collection folder (default: the config's, else data/bootstrap)")
    t.add_argument("--out", type=Path, default=Path("runs/mate"), help="checkpoint folder (default: %(default)s)")
    t.add_argument("--epochs", type=int, help="override the config's epochs")
    t.set_defaults(func=_train)
    e = sub.add_parser("evaluate", help="k-fold cross-validation (folds by sentence) with a checkpoint's settings")
    e.add_argument("--checkpoint", type=Path, help="checkpoint folder (default: checkpoints/mate-default)")
    e.add_argument("--config", type=Path, help="use this config JSON instead of a checkpoint's")
    e.add_argument("--speech", type=Path, help="speech collection folder (default: data/bootstrap)")
    e.add_argument("--folds", type=int, default=5)
    e.add_argument("--json", action="store_true", help="print the full result as JSON")
    e.set_defaults(func=_evaluate)
    p.set_defaults(func=lambda args: (p.print_help(), 0)[1])


def _speech_dir(args, cfg_dict: dict) -> Path:
    speech = args.speech or (Path(cfg_dict["speech"]) if cfg_dict.get("speech") else DEFAULT_SPEECH)
    if not speech.is_absolute() and not speech.exists():
        speech = REPO_ROOT / speech
    if not (speech / "collection.json").is_file():
        raise EsmrError(f"no speech collection at {speech}; build it (`esmr bootstrap`) or pass --speech DIR")
    return speech


def _train(args) -> int:
    import numpy as np

    from ..mate.train import fit, load_config, predict_data, prepare_data, score

    cfg, tcfg, raw = load_config(args.config)
    if args.epochs:
        tcfg.epochs = args.epochs
    speech = _speech_dir(args, raw)
    print(f"preparing features of {speech} ...", flush=True)
    data = prepare_data(speech, cfg, verbose=True)
    test = np.where(data.splits == "test")[0]
    train = np.where(data.splits != "test")[0] if len(test) else np.arange(len(data))
    print(f"training on {len(train)} utterances, testing on {len(test)}", flush=True)
    model, hist = fit(data, train, cfg, tcfg, verbose=True)
    metrics = {}
    if len(test):
        metrics["test"] = score(predict_data(model, data, test), data, test)
        ln = test[data.lexically_neutral[test]]
        if len(ln):
            metrics["test_lexically_neutral"] = score(predict_data(model, data, ln), data, ln)
        if cfg.use_text and cfg.use_audio:
            metrics["test_audio_only"] = score(predict_data(model, data, test, use_text=False), data, test)
    meta = {"train": asdict(tcfg), "speech": str(speech), "n_train": int(len(train)), "n_test": int(len(test)),
            "loss_history": [round(h, 5) for h in hist], "metrics": metrics}
    model.save_pretrained(args.out, extra=meta)
    (Path(args.out) / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    for name, m in metrics.items():
        print(f"{name}: F1(macro) {m['f1_macro']:.3f} acc {m['accuracy']:.3f} CCC(A) {m['ccc_arousal']:.3f} "
              f"CCC(V) {m['ccc_valence']:.3f} (n={int(m['n'])})")
    print(f"saved {args.out}")
    return 0


def _evaluate(args) -> int:
    from ..mate.train import TrainConfig, cross_validate, load_config, prepare_data
    from ..mate.model import MateConfig

    if args.config:
        cfg, tcfg, raw = load_config(args.config)
    else:
        ckpt = args.checkpoint or checkpoints_dir() / "mate-default"
        path = Path(ckpt) / "config.json"
        if not path.is_file():
            raise EsmrError(f"no MATE checkpoint at {ckpt}; train one with `esmr mate train` or pass --config")
        raw = json.loads(path.read_text(encoding="utf-8"))
        meta = raw.pop("meta", {}) or {}
        raw.pop("model_type", None)
        cfg, tcfg = MateConfig.from_dict(raw), TrainConfig.from_dict(meta.get("train", {}))
        raw = {"speech": meta.get("speech")} if meta.get("speech") and Path(meta["speech"]).exists() else {}
    if args.folds < 2:
        raise EsmrError("--folds must be at least 2")
    data = prepare_data(_speech_dir(args, raw), cfg)
    res = cross_validate(data, cfg, tcfg, k=args.folds, verbose=not args.json)
    if args.json:
        print(json.dumps(res, indent=2))
    else:
        for key in ("all_recall_macro", "all_precision_macro", "all_f1_macro", "all_f1_weighted",
                    "all_ccc_arousal", "all_ccc_valence", "neutral_text_f1_macro", "no_text_f1_macro"):
            if key in res["mean"]:
                print(f"{key:24s} {res['mean'][key]:.3f} +- {res['std'][key]:.3f}")
    return 0
