"""MATE under a channel, judged on the corpus's VAL split only (never on the benchmark's voices): train a MATE
variant (or take a checkpoint), then report
  - channel: per condition of scripts/val_channel.py (telephone, 20 dB, Opus 24, 10 dB, reverb), the label
    agreement with the clean clip and the mean |arousal shift| on 0..1, voice only, on the val speakers' clips;
  - real val voices (voice only): within-speaker arousal / valence pair accuracy (true gap >= 0.8 on 1..5) and the
    7-class accuracy, as scripts/realvoice_ablation.py scores MATE;
  - synthetic val voices (with words): macro F1 and CCC(arousal).

    .venv/bin/python scripts/mate_channel.py --out runs/mate-aug --set channel_aug=0.5
    .venv/bin/python scripts/mate_channel.py --checkpoint checkpoints/mate-default --out runs/mate-shipped

--set KEY=JSON overrides a TrainConfig field (model fields as model.KEY). The clips come from the cache
scripts/val_channel.py writes (--cache; it is built when missing). Writes OUT/channel_eval.json.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
from realvoice_ablation import pair_accuracy  # noqa: E402
from val_channel import load_items  # noqa: E402


def channel_scores(mate, items: list[dict]) -> dict[str, dict[str, float]]:
    conds = ("telephone", "noise_20db", "opus_24kbps", "noise_10db", "reverb_rt60_0.5s")
    res: dict[str, dict[str, list]] = {c: {"agree": [], "shift": []} for c in conds}
    clean: dict[str, int] = {}
    for it in items:
        ref = mate.predict(it["clean"], None, text_weight=0.0)
        clean[ref["label"]] = clean.get(ref["label"], 0) + 1
        for c in conds:
            got = mate.predict(it[c], None, text_weight=0.0)
            res[c]["agree"].append(got["label"] == ref["label"])
            res[c]["shift"].append(abs(got["arousal"] - ref["arousal"]) / 4.0)
    out = {c: {k: round(float(np.mean(v)), 4) for k, v in d.items()} for c, d in res.items()}
    # agreement is easy for a reader that says the same label whatever it hears: how spread the clean labels are
    out["clean_labels"] = dict(sorted(clean.items(), key=lambda kv: -kv[1]))
    return out


def val_scores(model, speech: Path) -> dict[str, float]:
    from esmr_core.data.manifest import load_collection
    from esmr_core.mate.data import prepare_data
    from esmr_core.mate.evaluate import predict_data, score

    data = prepare_data(speech, model.config)
    meta = {r["id"]: r for r in load_collection(speech, "speech").rows}
    real = np.array([bool(meta[i].get("real_voice")) for i in data.ids])
    voice = np.array([str(meta[i].get("voice", "")) for i in data.ids])
    vr, vs = np.flatnonzero((data.splits == "val") & real), np.flatnonzero((data.splits == "val") & ~real)
    pr, ps = predict_data(model, data, vr, use_text=False), predict_data(model, data, vs)
    sc = score(ps, data, vs)
    return {"real_arousal_pairs": pair_accuracy(pr["arousal"], data.arousal[vr], voice[vr], 0.8),
            "real_valence_pairs": pair_accuracy(pr["valence"], data.valence[vr], voice[vr], 0.8),
            "real_emotion_accuracy": float((pr["probs"].argmax(1) == data.labels[vr]).mean()),
            "synthetic_val_f1": sc["f1_macro"], "synthetic_val_ccc_arousal": sc["ccc_arousal"],
            "n_real": int(len(vr)), "n_synthetic": int(len(vs))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default=str(REPO / "esmr_core" / "configs" / "mate.json"))
    ap.add_argument("--set", action="append", default=[], metavar="KEY=JSON")
    ap.add_argument("--checkpoint", default="", help="judge this checkpoint instead of training one")
    ap.add_argument("--speech", default="data/bootstrap")
    ap.add_argument("--cache", default="runs/val_channel_audio.npz")
    ap.add_argument("--out", required=True)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    from esmr_core.mate.config import load_config
    from esmr_core.mate.data import speech_dir
    from esmr_core.mate.infer import Mate
    from esmr_core.mate.model import MateModel
    from esmr_core.mate.train import run

    out = Path(args.out)
    speech = speech_dir(args.speech)
    t0 = time.time()
    if args.checkpoint:
        ckpt, settings = Path(args.checkpoint), {"checkpoint": args.checkpoint}
    else:
        d = json.loads(Path(args.config).read_text())
        d = {k: v for k, v in d.items() if not k.startswith("_")}
        for kv in args.set:
            k, v = kv.split("=", 1)
            if k.startswith("model."):
                d["model"][k[6:]] = json.loads(v)
            else:
                d[k] = json.loads(v)
        tmp = out / "train_config.json"
        out.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(d, indent=1))
        cfg = load_config(tmp)
        run(cfg, out)
        ckpt, settings = out, {"set": args.set}
    train_s = time.time() - t0
    model = MateModel.from_pretrained(ckpt)
    res = {**settings, "train_seconds": round(train_s, 1), "val": val_scores(model, speech),
           "channel": channel_scores(Mate(model), load_items(Path(args.cache), speech))}
    out.mkdir(parents=True, exist_ok=True)
    (out / "channel_eval.json").write_text(json.dumps(res, indent=1) + "\n")
    print(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
