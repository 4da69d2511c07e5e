"""Retrieval and emotion metrics, exactly as docs/methods.md section 6 defines them (Doh et al.'s rank_eval; MATE's CCC).

Retrieval: every query (speech) ranks ALL catalogue items (music) by score (cosine).
- relevant[i, j]: music j's mood equals the best-matching mood of speech i's emotion (argmax label similarity).
- MRR = mean over queries of 1 / rank of the first relevant item (rank 1 = top).
- P@k = relevant items in the top k / k.
- NDCG@k = sklearn.metrics.ndcg_score(y_true = graded label similarity in [0, 1], y_score = score, k).
Ties in scores are broken by column order (stable sort), so results are deterministic.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from sklearn.metrics import f1_score, ndcg_score

from .emotion import MUSIC_MOODS, best_mood, label_similarity


def _ranking(scores: np.ndarray) -> np.ndarray:
    """Column indices of each row sorted by descending score: (N, M)."""
    return np.argsort(-np.asarray(scores, dtype=np.float64), axis=1, kind="stable")


def mrr(scores: np.ndarray, relevant: np.ndarray) -> float:
    """Mean reciprocal rank of the first relevant item. scores, relevant: (N, M); rows without any relevant
    item count 0."""
    order = _ranking(scores)
    rel_sorted = np.take_along_axis(np.asarray(relevant, dtype=bool), order, axis=1)
    has = rel_sorted.any(axis=1)
    first = rel_sorted.argmax(axis=1)
    return float(np.mean(np.where(has, 1.0 / (first + 1), 0.0)))


def precision_at_k(scores: np.ndarray, relevant: np.ndarray, k: int = 5) -> float:
    """Mean over queries of (relevant items among the top k) / k. scores, relevant: (N, M)."""
    order = _ranking(scores)[:, :k]
    rel = np.take_along_axis(np.asarray(relevant, dtype=bool), order, axis=1)
    return float(np.mean(rel.sum(axis=1) / k))


def ndcg_at_k(scores: np.ndarray, gains: np.ndarray, k: int = 5) -> float:
    """sklearn NDCG@k with graded gains (N, M) in [0, 1] (e.g. rescaled label similarity)."""
    gains = np.asarray(gains, dtype=np.float64)
    if gains.min() < 0:
        raise ValueError("NDCG gains must be non-negative; rescale label similarity to [0, 1]")
    return float(ndcg_score(gains, np.asarray(scores, dtype=np.float64), k=k))


def relevance(speech_labels: Sequence[str], music_moods: Sequence[str], space: str = "VAD",
              moods: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Binary relevance (N, M) and graded gains (N, M) in [0, 1] for emotions x music moods.

    The best mood of each emotion is the argmax of label similarity over `moods` (default: the moods present
    in `music_moods`, in MUSIC_MOODS order, so every query has at least one relevant item).
    """
    if moods is None:
        present = set(music_moods)
        moods = [m for m in MUSIC_MOODS if m in present] + sorted(present - set(MUSIC_MOODS))
    best = {e: best_mood(e, space, moods) for e in set(speech_labels)}
    rel = np.array([[m == best[e] for m in music_moods] for e in speech_labels], dtype=bool)
    gains = label_similarity(list(speech_labels), list(music_moods), space)  # already in [0, 1]
    return rel, np.clip(gains, 0.0, 1.0)


def retrieval_metrics(scores: np.ndarray, speech_labels: Sequence[str], music_moods: Sequence[str],
                      space: str = "VAD", k: int = 5) -> dict[str, float]:
    """MRR, P@k and NDCG@k of a score matrix (N speech, M music)."""
    rel, gains = relevance(speech_labels, music_moods, space)
    return {"mrr": mrr(scores, rel), f"p@{k}": precision_at_k(scores, rel, k), f"ndcg@{k}": ndcg_at_k(scores, gains, k)}


def ccc(x: np.ndarray, y: np.ndarray) -> float:
    """Concordance correlation coefficient 2 cov / (var_x + var_y + (mean_x - mean_y)^2), population
    (ddof 0) moments. x, y: (N,). 1 = perfect agreement; 0 for constant predictions."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    cov = np.mean((x - x.mean()) * (y - y.mean()))
    den = x.var() + y.var() + (x.mean() - y.mean()) ** 2
    return float(2 * cov / den) if den > 0 else 0.0


def classification_metrics(y_true: Sequence[int], y_pred: Sequence[int]) -> dict[str, float]:
    """Accuracy and macro-F1 over the classes present in y_true or y_pred."""
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    labels = sorted(set(y_true.tolist()) | set(y_pred.tolist()))
    return {
        "accuracy": float(np.mean(y_true == y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
    }


def wilson_lower(share: float, n: int, z: float = 1.96) -> float:
    """Lower end of the Wilson score interval (Wilson 1927) for a share observed over n trials: the share a
    choice can count on for new data of the same kind (z = 1.96: 95 % two-sided). 0.0 when n is 0."""
    if n <= 0:
        return 0.0
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"a share must lie in 0..1, got {share}")
    z2 = z * z
    centre = share + z2 / (2 * n)
    spread = z * math.sqrt(share * (1 - share) / n + z2 / (4 * n * n))
    return max(0.0, (centre - spread) / (1 + z2 / n))
