"""Fit the recogniser-confidence calibration (esmr_core/resources/asr_confidence.json).

    python scripts/fit_asr_confidence.py [--speech data/bootstrap] [--real data/raw] [--per-class 240]

Positive class ("usable words"): English clips of the bootstrap corpus whose PocketSphinx transcript keeps
the sentence's meaning: the MiniLM embedding of what was heard has cosine >= 0.5 with that of what was said
(what the models read is that embedding, so a transcript with a wrong article but the right content words is
usable; word error rate <= 0.5 was tried first: only 8% of clips pass it, too few to tell anything apart).
Negative class: English clips below that, and a real human voice speaking Russian (the asterisk
training voice): whatever English words the recogniser returns for them are invented.
Transcripts are cached in data/asr_transcripts.jsonl, so refitting costs seconds. Only the corpus's train split and the training voices are used for
fitting; the val split is reported (AUC, Brier score, accuracy at 0.5) and written into the file's meta.
A logistic regression on `Transcript.features()` (standardised), no other state.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import numpy as np

from esmr_core.audio import load_audio
from esmr_core.data.manifest import load_collection
from esmr_core.encoders import get_encoder
from esmr_core.encoders.asr import CONFIDENCE_FILE, Transcript
from esmr_core.errors import AudioError
from esmr_core.paths import RESOURCES_DIR

# real voices allowed for training (never the English, French or Italian core voices: benchmark / held out)
# Not the Spanish core voice: Allison Smith also recorded the held-out English asterisk voice.
REAL_GLOBS = ("asterisk-core-sounds-ru-g722/**/*.g722",)


def words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def wer(ref: str, hyp: str) -> float:
    """Word error rate: Levenshtein distance over words / reference length (1.0 when the reference is empty)."""
    r, h = words(ref), words(hyp)
    if not r:
        return 1.0
    d = np.arange(len(h) + 1)
    for i, rw in enumerate(r, 1):
        prev, d[0] = d.copy(), i
        for j, hw in enumerate(h, 1):
            d[j] = min(prev[j] + 1, d[j - 1] + 1, prev[j - 1] + (rw != hw))
    return float(d[len(h)]) / len(r)


def auc(y: np.ndarray, s: np.ndarray) -> float:
    pos, neg = s[y == 1], s[y == 0]
    if not len(pos) or not len(neg):
        return float("nan")
    return float(((pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean()))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--speech", default="data/bootstrap")
    ap.add_argument("--real", default="data/raw")
    ap.add_argument("--per-class", type=int, default=240, help="English clips per split drawn (train)")
    ap.add_argument("--out", default=str(RESOURCES_DIR / CONFIDENCE_FILE))
    args = ap.parse_args(argv)
    asr = get_encoder("asr")
    rng = np.random.default_rng(0)
    coll = load_collection(args.speech, "speech")
    en = [r for r in coll.rows if r.get("text") and r.get("tts") in ("piper", "espeak")]
    feats, ys, splits, kinds, wers = [], [], [], [], []
    text_enc = get_encoder("minilm")
    cache_path = Path("data") / "asr_transcripts.jsonl"
    cache = {}
    if cache_path.is_file():
        for line in cache_path.read_text(encoding="utf-8").splitlines():
            d = json.loads(line)
            cache[d["key"]] = d
    new_rows = []

    def heard(key: str, path) -> "Transcript | None":
        if key in cache:
            d = cache[key]
            return Transcript(d["text"], tuple((w, p) for w, p in d["words"]), d["duration_s"])
        try:
            y = load_audio(path).samples
        except AudioError:
            return None
        t = asr.transcribe_scored(y)
        new_rows.append({"key": key, "text": t.text, "words": [list(w) for w in t.words], "duration_s": t.duration_s})
        return t

    def usable(ref: str, hyp: str) -> bool:
        if not hyp.strip():
            return False
        a, b = text_enc.encode_texts([ref, hyp])
        return float(np.dot(a, b)) >= 0.5
    t0 = time.time()
    for split, n in (("train", args.per_class), ("val", args.per_class // 2)):
        rows = [r for r in en if r.get("split") == split]
        for r in rng.permutation(len(rows))[:n]:
            row = rows[int(r)]
            t = heard(f"{asr.version}:{row['id']}", coll.path(row))
            if t is None:
                continue
            feats.append(t.features())
            ys.append(int(usable(row["text"], t.text)))
            wers.append(wer(row["text"], t.text))
            splits.append(split)
            kinds.append(row["tts"])
    real = sorted(p for g in REAL_GLOBS for p in Path(args.real).glob(g))
    real = [real[int(i)] for i in rng.permutation(len(real))[: args.per_class]]
    for i, path in enumerate(real):
        t = heard(f"{asr.version}:{path.name}:{path.parent.parent.name}", path)
        if t is None:
            continue
        feats.append(t.features())
        ys.append(0)
        splits.append("train" if i % 3 else "val")   # prompts of the same voices: the val part is in-voice
        kinds.append("real-" + ("es" if "-es-" in str(path) else "ru"))
    if new_rows:
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        with cache_path.open("a", encoding="utf-8") as f:
            f.writelines(json.dumps(r) + "\n" for r in new_rows)
    X, Y, S = np.stack(feats).astype(np.float64), np.array(ys), np.array(splits)
    print(f"{len(Y)} clips transcribed in {time.time() - t0:.0f} s; usable share {Y.mean():.2f}", file=sys.stderr)
    from sklearn.linear_model import LogisticRegression

    tr, va = S == "train", S == "val"
    mean, std = X[tr].mean(0), np.where(X[tr].std(0) < 1e-9, 1.0, X[tr].std(0))
    lr = LogisticRegression(C=1.0, max_iter=1000).fit((X[tr] - mean) / std, Y[tr])
    p = lr.predict_proba((X[va] - mean) / std)[:, 1]
    kinds_a = np.array(kinds)
    report = {"val_auc": auc(Y[va], p), "val_brier": float(np.mean((p - Y[va]) ** 2)),
              "val_accuracy_at_0.5": float(np.mean((p > 0.5) == Y[va])), "n_train": int(tr.sum()),
              "n_val": int(va.sum()), "usable_share_train": float(Y[tr].mean()),
              "english_wer_mean": float(np.mean(wers)),
              "mean_confidence_val": {k: float(p[kinds_a[va] == k].mean()) for k in sorted(set(kinds_a[va]))}}
    print(json.dumps(report, indent=2))
    out = {"coef": lr.coef_[0].tolist(), "intercept": float(lr.intercept_[0]), "mean": mean.tolist(),
           "std": std.tolist(),
           "meta": {"features": ["mean_log10_posterior", "min_log10_posterior", "share_posterior_gt_0.5",
                                 "words_per_s", "log1p_words"],
                    "target": "cosine(MiniLM(heard), MiniLM(said)) >= 0.5", "asr_version": str(asr.version),
                    "fitted_by": "scripts/fit_asr_confidence.py", **report}}
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
