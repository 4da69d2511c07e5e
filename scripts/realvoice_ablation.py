"""Which speech inputs carry emotion across speakers? Train the joint model on several input blocks and
judge each on the HELD-OUT REAL VOICES of the corpus's val split (never on the benchmark's voices).

    .venv/bin/python scripts/realvoice_ablation.py [--speech data/bootstrap] [--seeds 0 1] [--out docs/inputs.json]

Features are computed once (prosody + timbre + minilm) and sliced per variant: with or without the speaker
embedding (resemblyzer), without the MFCC means/stds (spectral envelope: who speaks, and through what channel,
more than how), without the absolute pitch level, and on synthetic-only vs synthetic + real training voices.
Reported per variant (mean over seeds): on the val split's real voices, voice only (no words), the share of
within-speaker (higher, lower arousal) clip pairs whose predicted arousal is ordered, retrieval MRR and the
emotion accuracy; on the val split's synthetic voices, MRR with their words. The chosen variant maximises the
real-voice arousal pair accuracy + MRR; the synthetic val MRR must stay >= 0.45.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from esmr_core.emotion import MUSIC_MOODS
from esmr_core.retrieval.evaluate import evaluate_arrays
from esmr_core.retrieval.features import blank_text
from esmr_core.paths import PACKAGE_DIR, REPO_ROOT, default_catalog_dir
from esmr_core.retrieval.config import load_config
from esmr_core.retrieval.data import TrainData, load_data, resolve_dir
from esmr_core.retrieval.train import fit

MFCC_MEANS = [f"mfcc{i}_mean" for i in range(1, 14)]
MFCC_STDS = [f"mfcc{i}_std" for i in range(1, 14)]
PITCH_LEVEL = ["f0_median_st", "f0_mean_st"]
VARIANTS = [  # (name, speech encoders kept, prosody features dropped)
    ("prosody + timbre + words (before)", ("prosody", "timbre", "minilm"), []),
    ("prosody + words (no speaker embedding)", ("prosody", "minilm"), []),
    ("prosody - MFCC means + words", ("prosody", "minilm"), MFCC_MEANS),
    ("prosody - all MFCC + words", ("prosody", "minilm"), MFCC_MEANS + MFCC_STDS),
    ("prosody - pitch level + words", ("prosody", "minilm"), PITCH_LEVEL),
    ("prosody - MFCC means - pitch level + words", ("prosody", "minilm"), MFCC_MEANS + PITCH_LEVEL),
]
ENERGETIC = {"exciting", "angry", "scary", "happy", "funny"}


def slice_data(data: TrainData, keep: tuple[str, ...], drop: list[str]) -> TrainData:
    """The columns of a fusion TrainData that keep these encoders minus the dropped prosody features, with a
    feature spec that records the drop (so a checkpoint trained on it featurises queries the same way)."""
    from esmr_core.encoders import get_encoder

    cols, start, entries = [], 0, []
    for e in data.spec["speech"]:
        if e["name"] in keep:
            names = list(getattr(get_encoder(e["name"]), "feature_names", ()) or [])
            gone = [n for n in names if n in drop]
            cols += [start + i for i in range(e["dim"]) if not (names and names[i] in gone)]
            entries.append({**e, **({"full_dim": e["dim"], "drop": gone, "dim": e["dim"] - len(gone)} if gone else {})})
        start += e["dim"]
    modality = {("prosody", "timbre", "minilm"): "fusion", ("prosody", "minilm"): "voice-text"}[keep]
    if not set(keep) <= {e["name"] for e in data.spec["speech"]}:
        raise SystemExit(f"the features hold no {keep}: run with --with-timbre")
    return replace(data, speech_x=np.ascontiguousarray(data.speech_x[:, cols]),
                   spec={**data.spec, "modality": modality, "speech": entries})


def pair_accuracy(pred: np.ndarray, true: np.ndarray, groups: np.ndarray, min_gap: float = 0.2) -> float:
    """Share of within-group pairs (true_i >= true_j + min_gap) with pred_i > pred_j (ties count half)."""
    hits = total = 0.0
    for g in np.unique(groups):
        i = np.flatnonzero(groups == g)
        d_true = true[i][:, None] - true[i][None, :]
        d_pred = pred[i][:, None] - pred[i][None, :]
        m = d_true >= min_gap
        hits += float((d_pred[m] > 0).sum() + 0.5 * (d_pred[m] == 0).sum())
        total += float(m.sum())
    return hits / total if total else float("nan")


@torch.no_grad()
def real_voice_scores(model, data: TrainData, idx: np.ndarray) -> dict[str, float]:
    """Voice-only readings of real-voice rows idx: arousal/valence pair accuracy, MRR, emotion accuracy,
    energetic share of the top 5 for high- vs low-arousal clips."""
    x = blank_text(data.speech_x[idx], data.spec)
    sub = replace(data, speech_x=np.concatenate([data.speech_x, x]))
    j = np.arange(len(data.speech_x), len(data.speech_x) + len(idx))
    sub.speech_labels = np.concatenate([data.speech_labels, data.speech_labels[idx]])
    sub.speech_vad = np.concatenate([data.speech_vad, data.speech_vad[idx]])
    m = evaluate_arrays(model, sub, j)
    _, vad = model.predict_emotion(torch.from_numpy(x))
    vad = vad.numpy()
    groups = data.speech_voice[idx]
    zs = model.encode_speech(torch.from_numpy(x)).numpy()
    zm = model.encode_music(torch.from_numpy(data.music_x)).numpy()
    top = np.argsort(-(zs @ zm.T), axis=1)[:, :5]
    energetic = np.isin(data.music_moods[top], list(ENERGETIC)).mean(1)
    a_true = data.speech_vad[idx, 1]
    return {"arousal_pairs": pair_accuracy(vad[:, 1], a_true, groups),
            "valence_pairs": pair_accuracy(vad[:, 0], data.speech_vad[idx, 0], groups),
            "mrr": m["mrr"], "emotion_accuracy": m["emotion_accuracy"],
            "energetic_top5_high": float(energetic[a_true >= 0.6].mean()),
            "energetic_top5_low": float(energetic[a_true <= 0.4].mean())}


def mate_rows(speech: str, seeds: list[int], epochs: int | None = None) -> list[dict]:
    """MATE trained on the train split with and without the real voices, judged like the joint model on the
    val split's real voices (voice only) and its synthetic voices (with words)."""
    from esmr_core.mate.config import load_config as load_mate_config
    from esmr_core.mate.data import prepare_data
    from esmr_core.mate.evaluate import predict_data, score
    from esmr_core.mate.train import fit as fit_mate

    tcfg = load_mate_config(PACKAGE_DIR / "configs" / "mate.json", epochs=epochs)
    data = prepare_data(resolve_dir(speech), tcfg.model)
    from esmr_core.data.manifest import load_collection

    rows_meta = {r["id"]: r for r in load_collection(resolve_dir(speech), "speech").rows}
    real = np.array([bool(rows_meta[i].get("real_voice")) for i in data.ids])
    voice = np.array([str(rows_meta[i].get("voice", "")) for i in data.ids])
    val_real = np.flatnonzero((data.splits == "val") & real)
    val_syn = np.flatnonzero((data.splits == "val") & ~real)
    out = []
    for train_real in (False, True):
        per_seed = []
        for seed in seeds:
            train = data.splits == "train"
            tr = np.flatnonzero(train if train_real else train & ~real)
            t0 = time.time()
            model, _ = fit_mate(replace(tcfg, seed=seed, text_weight_aug=0.3), data, tr)
            pr = predict_data(model, data, val_real, use_text=False)
            ps = predict_data(model, data, val_syn)
            sc = score(ps, data, val_syn)
            per_seed.append({
                "real_arousal_pairs": pair_accuracy(pr["arousal"], data.arousal[val_real], voice[val_real], 0.8),
                "real_valence_pairs": pair_accuracy(pr["valence"], data.valence[val_real], voice[val_real], 0.8),
                "real_emotion_accuracy": float((pr["probs"].argmax(1) == data.labels[val_real]).mean()),
                "synthetic_val_f1": sc["f1_macro"], "synthetic_val_ccc_arousal": sc["ccc_arousal"],
                "seconds": time.time() - t0})
        mean = {k: float(np.mean([r[k] for r in per_seed])) for k in per_seed[0]}
        out.append({"model": "MATE", "train_real_voices": train_real, "mean": mean})
        print(f"MATE {'syn+real' if train_real else 'syn only':8s} | arousal pairs {mean['real_arousal_pairs']:.3f} | "
              f"real acc {mean['real_emotion_accuracy']:.3f} | syn val F1 {mean['synthetic_val_f1']:.3f}", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default=str(PACKAGE_DIR / "configs" / "default.json"))
    ap.add_argument("--speech", nargs="+", default=["data/bootstrap"])
    ap.add_argument("--catalog", default="")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--out", default=str(REPO_ROOT / "docs" / "inputs.json"))
    ap.add_argument("--with-timbre", action="store_true", help="also the variant with the speaker embedding "
                    "(its features cost as much as the prosody's)")
    ap.add_argument("--train-real", type=int, nargs="+", default=[0, 1], help="1: train with the real voices")
    ap.add_argument("--only-mate", action="store_true")
    ap.add_argument("--mate-epochs", type=int, default=None)
    args = ap.parse_args(argv)
    if args.only_mate:
        rows = mate_rows(args.speech[0], args.seeds, args.mate_epochs)
        Path(args.out).with_name("inputs_mate.json").write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
        return 0
    cfg = load_config(args.config)
    variants = [v for v in VARIANTS if args.with_timbre or "timbre" not in v[1]]
    full = load_data([resolve_dir(d) for d in args.speech], resolve_dir(args.catalog, default_catalog_dir()),
                     "fusion" if args.with_timbre else "voice-text")
    real = full.speech_real.astype(bool)
    if not real.any():
        print("error: the speech collections hold no real voices; build them with `esmr corpus bootstrap`",
              file=sys.stderr)
        return 2
    val_real = np.flatnonzero((full.split == "val") & real)
    val_syn = np.flatnonzero((full.split == "val") & ~real)
    print(f"{len(full.speech_x)} clips ({int(real.sum())} real); val: {len(val_real)} real "
          f"({len(set(full.speech_voice[val_real]))} voices), {len(val_syn)} synthetic", file=sys.stderr)
    rows = []
    for train_real in args.train_real:
        for name, keep, drop in variants:
            data = slice_data(full, keep, drop)
            if not train_real:   # synthetic-only training: real rows leave the train split (val stays)
                data = replace(data, split=np.where(real & (data.split == "train"), "unused", data.split))
            per_seed = []
            for seed in args.seeds:
                t0 = time.time()
                model, _ = fit(replace(cfg, seed=seed), data)
                r = {f"real_{k}": v for k, v in real_voice_scores(model, data, val_real).items()}
                r["synthetic_val_mrr"] = evaluate_arrays(model, data, val_syn)["mrr"]
                r["seconds"] = time.time() - t0
                per_seed.append(r)
            mean = {k: float(np.mean([r[k] for r in per_seed])) for k in per_seed[0]}
            std = {k: float(np.std([r[k] for r in per_seed])) for k in per_seed[0]}
            row = {"variant": name, "train_real_voices": train_real, "encoders": list(keep), "drop": drop,
                   "mean": mean, "std": std}
            rows.append(row)
            print(f"{'syn+real' if train_real else 'syn only':8s} | {name:45s} | arousal pairs "
                  f"{mean['real_arousal_pairs']:.3f} | real MRR {mean['real_mrr']:.3f} | real acc "
                  f"{mean['real_emotion_accuracy']:.3f} | syn val MRR {mean['synthetic_val_mrr']:.3f}", flush=True)
    ok = [r for r in rows if r["mean"]["synthetic_val_mrr"] >= 0.45] or rows
    best = max(ok, key=lambda r: r["mean"]["real_arousal_pairs"] + r["mean"]["real_mrr"])
    out = {"rows": rows, "chosen": {k: best[k] for k in ("variant", "train_real_voices", "encoders", "drop")},
           "seeds": args.seeds, "speech": args.speech, "n_val_real": int(len(val_real)),
           "val_real_voices": sorted(set(full.speech_voice[val_real]))}
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    md = ["| training voices | inputs | real val: arousal pairs | valence pairs | MRR | emotion acc | "
          "energetic top-5 high / low | synthetic val MRR |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        m, s = r["mean"], r["std"]
        md.append(f"| {'synthetic + real' if r['train_real_voices'] else 'synthetic'} | {r['variant']} | "
                  f"{m['real_arousal_pairs']:.3f} ± {s['real_arousal_pairs']:.3f} | {m['real_valence_pairs']:.3f} | "
                  f"{m['real_mrr']:.3f} | {m['real_emotion_accuracy']:.3f} | {m['real_energetic_top5_high']:.2f} / "
                  f"{m['real_energetic_top5_low']:.2f} | {m['synthetic_val_mrr']:.3f} |")
    Path(args.out).with_suffix(".md").write_text("\n".join(md) + "\n", encoding="utf-8")
    print("\n".join(md))
    print(f"chosen: {out['chosen']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
