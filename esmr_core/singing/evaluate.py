"""Evaluation of the singing recommender on synthetic singers, and the grid search that sets the default weights.

Singers (synth.py): validation = guide patches 53/54 at training registers and vibrato (used ONLY to choose the
weights); test = patches, registers and vibrato never used in training, singing odd-indexed catalogue songs
(training renders use even-indexed ones). Each singer sings `clips` different songs for `seconds` s, the melody
centred in the singer's true range.

Metrics
  range-fit P@5     share of the top-5 songs whose WHOLE melody, after the proposed transposition (key change and
                    octave), lies inside the singer's true range (VOICE_TYPES), averaged over clips.
  voice-match@5     (validation) share of the top-5 songs having a guide vocal on the singer's own patch.
  same-voice acc.   for each clip, is the nearest other clip (cosine) by the same synthetic singer? Per embedding.
"""
from __future__ import annotations

import itertools
import logging
import time
from pathlib import Path

import numpy as np

from ..data.manifest import load_collection
from ..paths import default_songs_dir
from . import pitch as P
from . import synth
from .features import logmel
from .model import MoCo, embed_mel
from .recommend import EMBEDDERS, SingingRecommender, rank_songs

log = logging.getLogger(__name__)

GRID = (0.0, 0.25, 0.5, 1.0)


def make_clips(rows: list[dict], singers: list[synth.Singer], songs_idx: list[int], clips: int, seconds: float,
               seed: int) -> list[dict]:
    """Render clips: [{"singer", "song", "audio", "notes"}]; each singer sings `clips` distinct songs."""
    rng = np.random.default_rng(seed)
    out = []
    for n, singer in enumerate(singers):
        for j, i in enumerate(rng.choice(songs_idx, size=clips, replace=False)):
            y, notes = synth.sing(singer, rows[int(i)], seconds, seed=seed + 31 * n + j)
            out.append({"singer": singer, "song": rows[int(i)]["id"], "audio": y, "notes": notes})
    return out


def singable(row: dict, shift: int, low: int, high: int) -> bool:
    pitches = [int(m) + shift for m, _, _ in row["melody"]]
    return low <= min(pitches) and max(pitches) <= high


def precision_at_5(analyses: list, clips: list[dict], rows_by_id: dict, weights: dict) -> float:
    hits = []
    for a, c in zip(analyses, clips):
        lo, hi = c["singer"].range
        top = rank_songs(a, weights, 5)
        hits += [singable(rows_by_id[s["id"]], s["transpose_semitones"] + 12 * s["octave"], lo, hi) for s in top]
    return float(np.mean(hits))


def voice_match_at_5(analyses: list, clips: list[dict], rows_by_id: dict, weights: dict) -> float:
    hits = []
    for a, c in zip(analyses, clips):
        top = rank_songs(a, weights, 5)
        hits += [any(g.get("program") == c["singer"].program for g in rows_by_id[s["id"]]["guides"]) for s in top]
    return float(np.mean(hits))


def same_voice_accuracy(emb: np.ndarray, labels: list[str]) -> float:
    """emb (N, D) unit rows; leave-one-out nearest neighbour by cosine has the same label?"""
    sim = emb @ emb.T
    np.fill_diagonal(sim, -np.inf)
    nn = sim.argmax(1)
    return float(np.mean([labels[i] == labels[j] for i, j in enumerate(nn)]))


def grid_search(analyses: list, clips: list[dict], rows_by_id: dict) -> list[dict]:
    """All weight combinations (range fixed at 1, others in GRID), scored by P@5 + voice-match@5, best first
    (ties: smaller total weight on similarity factors)."""
    results = []
    for combo in itertools.product(GRID, repeat=len(EMBEDDERS)):
        w = {"range": 1.0, **dict(zip(EMBEDDERS, combo))}
        p5 = precision_at_5(analyses, clips, rows_by_id, w)
        vm = voice_match_at_5(analyses, clips, rows_by_id, w)
        results.append({"weights": w, "p_at_5": p5, "voice_match_at_5": vm, "objective": p5 + vm})
    results.sort(key=lambda r: (-round(r["objective"], 9), sum(r["weights"].values())))
    return results


def evaluate(checkpoints: Path, songs_dir: Path, *, work: Path | None = None, clips: int = 3, seconds: float = 12.0,
             seed: int = 1) -> dict:
    """Run the whole evaluation; returns a JSON-able dict (see docs/singing.md)."""
    t0 = time.time()
    rec = SingingRecommender.load(checkpoints, songs_dir)
    rows, by_id = rec.rows, {r["id"]: r for r in rec.rows}
    odd, even = list(range(1, len(rows), 2)), list(range(0, len(rows), 2))
    valid = make_clips(rows, synth.singers(synth.VALID_PROGRAMS, synth.VALID_TYPES, synth.TRAIN_VIBRATO), even,
                       2, seconds, seed)
    test = make_clips(rows, synth.singers(synth.TEST_PROGRAMS, synth.TEST_TYPES, [synth.TEST_VIBRATO]), odd,
                      clips, seconds, seed + 1000)
    log.info(f"rendered {len(valid)} validation and {len(test)} test clips ({time.time() - t0:.0f} s)")
    va = [rec.analyze(c["audio"]) for c in valid]
    ta = [rec.analyze(c["audio"]) for c in test]
    log.info(f"analysed all clips ({time.time() - t0:.0f} s)")

    grid = grid_search(va, valid, by_id)
    best = grid[0]["weights"]
    range_only = {"range": 1.0}
    rng = np.random.default_rng(seed)
    rand_hits = []
    for c in test:  # baseline: 5 random songs in their original key, in the octave nearest the singer's range
        lo, hi = c["singer"].range
        for i in rng.choice(len(rows), 5, replace=False):
            mid = (rows[int(i)]["low_midi"] + rows[int(i)]["high_midi"]) / 2.0
            rand_hits.append(singable(rows[int(i)], 12 * round(((lo + hi) / 2.0 - mid) / 12), lo, hi))
    ranking = {
        "random songs, original key (nearest octave)": float(np.mean(rand_hits)),
        "range only (weights range=1)": precision_at_5(ta, test, by_id, range_only),
        "default weights (grid search)": precision_at_5(ta, test, by_id, best),
        "similarity only (range=0)": precision_at_5(ta, test, by_id, {**best, "range": 0.0})
        if sum(v for k, v in best.items() if k != "range") > 0 else None,
    }
    # range estimate quality on the test clips
    inside = [a.range.low_midi >= c["singer"].range[0] and a.range.high_midi <= c["singer"].range[1]
              for a, c in zip(ta, test)]
    # same-voice retrieval on the test clips
    labels = [c["singer"].key for c in test]
    retrieval = {k: same_voice_accuracy(np.stack([a.embeddings[k] for a in ta]), labels) for k in EMBEDDERS}
    plain_dir = (work or Path("data/singing")) / "sscl-plain"
    if (plain_dir / "model.safetensors").is_file():
        enc = MoCo.from_pretrained(plain_dir).encoder_q
        plain = np.stack([embed_mel(enc, logmel(c["audio"])) for c in test])
        retrieval["plain"] = same_voice_accuracy(plain, labels)
    per_voice = len(test) // max(1, len(set(labels)))
    return {
        "n_validation_clips": len(valid), "n_test_clips": len(test), "seconds_per_clip": seconds,
        "test_singers": len(set(labels)), "chance_same_voice": (per_voice - 1) / (len(test) - 1),
        "default_weights": best, "grid_top": grid[:5], "grid_size": len(grid),
        "range_p_at_5": ranking, "voice_match_at_5_valid": {"default": grid[0]["voice_match_at_5"],
                                                            "range only": voice_match_at_5(va, valid, by_id, range_only)},
        "estimated_range_inside_true": float(np.mean(inside)),
        "mean_estimated_width": float(np.mean([a.range.high_midi - a.range.low_midi for a in ta])),
        "same_voice_accuracy": retrieval, "runtime_s": round(time.time() - t0, 1),
    }


def speech_vs_singing(n: int = 4) -> dict:
    """Sustained-note ratio of piper speech (n sentences, joined to >= 10 s) vs rendered singers."""
    import librosa

    from ..data.tts import synth_piper   # piper (onnxruntime) only for this measurement

    texts = ["The weather today is quite pleasant, and I think we should go for a walk in the park.",
             "I can't believe you did that! Why would anyone leave the door open all night long?",
             "Please remember to bring your documents to the office tomorrow morning at nine.",
             "Well, I suppose we could try again next week, if everybody agrees with the plan."]
    speech = []
    for ls in (1.0, 1.6):
        y = np.concatenate([librosa.resample(synth_piper(t, length_scale=ls, noise_scale=0.667,
                                                         noise_w_scale=0.8)[0], orig_sr=22050, target_sr=16000)
                            for t in texts[:n]])
        f0, v = P.pitch_track(y)
        m = np.where(v, P.hz_to_midi(np.where(v, f0, 440.0)), 0.0)
        speech.append(float(P.sustained_mask(m, v).sum() / max(1, v.sum())))
    rows = load_collection(default_songs_dir(), "songs").rows
    sing = []
    for s in synth.singers((53, 85), ("bass", "soprano"), [(0.0, 0.0), synth.TEST_VIBRATO]):
        y, _ = synth.sing(s, rows[1], 12.0)
        f0, v = P.pitch_track(y)
        m = np.where(v, P.hz_to_midi(np.where(v, f0, 440.0)), 0.0)
        sing.append(float(P.sustained_mask(m, v).sum() / max(1, v.sum())))
    return {"speech": speech, "singing": sing, "threshold": P.MIN_SUSTAINED_RATIO}
