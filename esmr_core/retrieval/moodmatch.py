"""Emotion-aware music retrieval: the joint space's cosine plus the agreement between the voice's predicted
arousal/valence and each track's energy/valence.

Why: voice queries sit far from every track in the joint space (the modality gap of contrastive models; Liang
et al., NeurIPS 2022, "Mind the Gap"), so the cosine top 5 mostly follows where a track lies, not how calm the
voice is: the speech tower orders calm against lively renderings of a real voice (controlled prosody, arousal
pairs 1.00), yet its cosine top 5 had energetic music for 89 % of the actors' low-arousal lines and the top-5
energy rose with the level in only 60 % of the controlled triples (bench/realvoice.json).

The two scales differ: the tower's arousal spans about 0.46-0.84 on its training voices, while the catalogue's
energy and valence are rank-calibrated to 0..1 (about uniform). The query's value is therefore mapped through
the empirical distribution function of the model's OWN predictions on its training voices (quantile matching):
a voice calmer than 80 % of the training voices asks for music calmer than 80 % of the catalogue.

    score(q, t) = cos(z_q, z_t) + w_a * (1 - |A_q - E_t|) + w_v * (1 - |V_q - V_t|)

A_q, V_q: the query's calibrated arousal and valence (0..1); E_t, V_t: the track's calibrated energy and valence.
The weights were chosen on the corpus's val split (real speakers and controlled prosody of val speakers;
scripts/moodmatch_sweep.py, docs/moodmatch.md), never on the benchmark's voices. The catalogue is first searched
by cosine for a pool of candidates (all tracks of a small catalogue) that are then re-scored; over a large
catalogue a track outside the cosine pool cannot come back, which bounds what the rule can move.

Stored next to a checkpoint as moodmatch.json (`MoodMatch.save` / `MoodMatch.load`; fitted by
`esmr_core.moodmatch.fit` from the model and its training features). A checkpoint without the file is searched
by the cosine alone.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import EsmrError, ModelUnavailableError
from ..files import atomic_write_text, file_sha256
from ..metrics import retrieval_metrics
from .features import blank_text

FILENAME = "moodmatch.json"
N_QUANTILES = 101
DEFAULT_POOL = 200


def _check_quantiles(q: Sequence[float], what: str) -> np.ndarray:
    q = np.asarray(q, dtype=np.float64)
    if q.ndim != 1 or q.size < 2 or not np.isfinite(q).all() or np.any(np.diff(q) < 0):
        raise EsmrError(f"{what} must be at least two finite, non-decreasing numbers; refit with moodmatch.fit")
    return q


@dataclass
class MoodMatch:
    arousal_weight: float
    valence_weight: float
    arousal_quantiles: list[float]       # the model's arousal at probability levels 0, 1/(n-1), ..., 1
    valence_quantiles: list[float]
    pool: int = DEFAULT_POOL
    info: dict[str, Any] = field(default_factory=dict)   # what it was fitted on (documentation only)

    def __post_init__(self) -> None:
        for name in ("arousal_weight", "valence_weight"):
            v = float(getattr(self, name))
            if not np.isfinite(v) or v < 0:
                raise EsmrError(f"{name} must be a number >= 0, got {getattr(self, name)!r}")
            setattr(self, name, v)
        self._qa = _check_quantiles(self.arousal_quantiles, "arousal_quantiles")
        self._qv = _check_quantiles(self.valence_quantiles, "valence_quantiles")
        if not isinstance(self.pool, int) or self.pool < 1:
            raise EsmrError(f"pool must be a whole number >= 1, got {self.pool!r}")

    # ---- the rule ----------------------------------------------------------------------------------------
    @staticmethod
    def _cdf(values: np.ndarray, q: np.ndarray) -> np.ndarray:
        """Empirical CDF through the stored quantiles (piecewise linear; 0 below the lowest, 1 above the top).
        Runs of equal quantiles are collapsed to their middle probability so ties map consistently."""
        probs = np.linspace(0.0, 1.0, q.size)
        uq, first = np.unique(q, return_index=True)
        last = np.r_[first[1:] - 1, q.size - 1]
        p = (probs[first] + probs[last]) / 2
        if uq.size == 1:
            return np.full(np.shape(values), 0.5)
        return np.interp(np.asarray(values, dtype=np.float64), uq, p, left=0.0, right=1.0)

    def calibrate(self, arousal: np.ndarray, valence: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The model's arousal/valence (any shape) -> probability levels among its training voices (0..1)."""
        return self._cdf(arousal, self._qa), self._cdf(valence, self._qv)

    def scores(self, cosine: np.ndarray, arousal: np.ndarray, valence: np.ndarray, track_energy: np.ndarray,
               track_valence: np.ndarray) -> np.ndarray:
        """cosine (Q, P) of Q queries against P tracks; arousal, valence (Q,) raw model outputs; track_energy,
        track_valence (P,) or (Q, P) calibrated 0..1 -> combined scores (Q, P)."""
        cosine = np.asarray(cosine, dtype=np.float64)
        a, v = self.calibrate(np.asarray(arousal, np.float64).reshape(-1), np.asarray(valence, np.float64).reshape(-1))
        if cosine.ndim != 2 or cosine.shape[0] != a.size:
            raise EsmrError(f"cosine must be (queries, tracks) with one row per query, got {cosine.shape}")
        e = np.broadcast_to(np.asarray(track_energy, np.float64), cosine.shape)
        tv = np.broadcast_to(np.asarray(track_valence, np.float64), cosine.shape)
        if not (np.isfinite(e).all() and np.isfinite(tv).all()):
            raise EsmrError("every track needs a finite energy and valence (0..1) for emotion-aware retrieval; "
                            "rebuild the catalogue with `esmr catalog build`")
        return (cosine + self.arousal_weight * (1.0 - np.abs(a[:, None] - e))
                + self.valence_weight * (1.0 - np.abs(v[:, None] - tv)))

    def search(self, index: Any, z: np.ndarray, arousal: np.ndarray, valence: np.ndarray, k: int,
               track_of: Callable[[int], dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        """Top k tracks by the combined score: the index's cosine top `pool` re-scored. index: a MusicIndex
        (search(z, k) -> cosines, positions); z (Q, D) unit queries; track_of(position) -> the catalogue row
        (with 'energy' and 'valence'). Returns (scores (Q, k), positions (Q, k)) like MusicIndex.search."""
        n = len(index)
        pool = min(n, max(int(k), self.pool))
        cos, idx = index.search(np.asarray(z, dtype=np.float32), k=pool)
        out_s, out_i = [], []
        for row in range(idx.shape[0]):
            keep = idx[row] >= 0                         # FAISS pads a short result with -1
            pos, c = idx[row][keep], cos[row][keep]
            rows = [track_of(int(i)) for i in pos]
            try:
                e = np.array([float(r["energy"]) for r in rows])
                tv = np.array([float(r["valence"]) for r in rows])
            except (KeyError, TypeError, ValueError):
                raise EsmrError("the catalogue's tracks have no energy/valence, which emotion-aware retrieval "
                                "needs: rebuild it with `esmr catalog build`") from None
            s = self.scores(c[None], np.asarray(arousal).reshape(-1)[row:row + 1],
                            np.asarray(valence).reshape(-1)[row:row + 1], e, tv)[0]
            order = np.argsort(-s, kind="stable")[:k]
            out_s.append(s[order])
            out_i.append(pos[order])
        width = max((len(x) for x in out_i), default=0)
        pad = lambda xs, fill, dt: np.array([np.r_[x, np.full(width - len(x), fill)] for x in xs], dtype=dt)
        return pad(out_s, -np.inf, np.float32), pad(out_i, -1, np.int64)

    # ---- storage -----------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["arousal_quantiles"] = [round(float(x), 6) for x in self.arousal_quantiles]
        d["valence_quantiles"] = [round(float(x), 6) for x in self.valence_quantiles]
        return {"version": 1, **d}

    def save(self, checkpoint: str | Path) -> Path:
        """Write CHECKPOINT/moodmatch.json, recording the weights it was fitted for."""
        d = self.to_dict()
        d["weights"] = _weights_id(checkpoint)
        return atomic_write_text(Path(checkpoint) / FILENAME, json.dumps(d, indent=1) + "\n")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "MoodMatch":
        if not isinstance(d, dict) or d.get("version") != 1:
            raise EsmrError("moodmatch.json is not version 1; refit it with scripts/moodmatch_sweep.py")
        try:
            return cls(**{k: d[k] for k in ("arousal_weight", "valence_weight", "arousal_quantiles",
                                            "valence_quantiles")}, pool=d.get("pool", DEFAULT_POOL),
                       info=d.get("info", {}))
        except KeyError as exc:
            raise EsmrError(f"moodmatch.json lacks {exc}; refit it with scripts/moodmatch_sweep.py") from None

    @classmethod
    def load(cls, checkpoint: str | Path) -> "MoodMatch | None":
        """The checkpoint's rule, or None when it has none (then retrieval is by cosine alone)."""
        path = Path(checkpoint) / FILENAME
        if not path.is_file():
            return None
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise EsmrError(f"cannot read {path}: {exc}; refit it with scripts/moodmatch_sweep.py") from None
        if d.get("weights") not in (None, _weights_id(checkpoint)):
            raise ModelUnavailableError(f"{path} was fitted for other weights than {Path(checkpoint) / 'model.safetensors'}"
                                        "; refit it with scripts/moodmatch_sweep.py (make default-models does)")
        return cls.from_dict(d)


def _weights_id(checkpoint: str | Path) -> str:
    """Short SHA-256 of a checkpoint's model.safetensors: which weights a rule was fitted for."""
    return file_sha256(Path(checkpoint) / "model.safetensors")[:16]


def fit(model: Any, speech_x: np.ndarray, spec: dict[str, Any], arousal_weight: float, valence_weight: float,
        pool: int = DEFAULT_POOL, info: dict[str, Any] | None = None) -> MoodMatch:
    """The rule for `model`: quantiles of its arousal/valence on speech features speech_x (N, Ds), read both with
    their words and voice only (the service gets both kinds of query), and the given weights."""
    import torch

    x = np.asarray(speech_x, dtype=np.float32)
    if x.ndim != 2 or len(x) < 2:
        raise EsmrError("fitting the mood match needs the features of at least two training clips")
    with torch.no_grad():
        vads = [model.predict_emotion(torch.from_numpy(v))[1].numpy() for v in (x, blank_text(x, spec))]
    vad = np.concatenate(vads)
    probs = np.linspace(0.0, 1.0, N_QUANTILES)
    return MoodMatch(arousal_weight, valence_weight, np.quantile(vad[:, 1], probs).tolist(),
                     np.quantile(vad[:, 0], probs).tolist(), pool=pool,
                     info={"n_clips": int(len(x)), **(info or {})})


def retrieval_metrics_with_rule(model: Any, rule: MoodMatch, speech_x: np.ndarray, speech_labels: Sequence[str],
                                music_x: np.ndarray, music_rows: Sequence[dict[str, Any]], space: str = "VAD"
                                ) -> dict[str, float]:
    """MRR / P@5 / NDCG@5 of speech rows ranked over the WHOLE catalogue by the rule's combined score (what the
    service answers with), keys prefixed "mood_match_"; music_rows carry each track's energy and valence."""
    import torch

    with torch.no_grad():
        z = model.encode_speech(torch.from_numpy(np.asarray(speech_x, np.float32)))
        vad = model.emotion_from_embedding(z)[1].numpy()
        zm = model.encode_music(torch.from_numpy(np.asarray(music_x, np.float32))).numpy()
    try:
        e = np.array([float(r["energy"]) for r in music_rows])
        v = np.array([float(r["valence"]) for r in music_rows])
    except (KeyError, TypeError, ValueError):
        raise EsmrError("the catalogue's tracks have no energy/valence; rebuild it with `esmr catalog build`") from None
    s = rule.scores(z.numpy() @ zm.T, vad[:, 1], vad[:, 0], e, v)
    out = retrieval_metrics(s, list(speech_labels), [str(r["mood"]) for r in music_rows], space)
    return {f"mood_match_{k}": float(x) for k, x in out.items()}
