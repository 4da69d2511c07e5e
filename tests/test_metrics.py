"""Retrieval and emotion metrics against hand-computed rankings."""
import numpy as np
import pytest

from esmr_core.emotion import label_similarity
from esmr_core.metrics import (ccc, classification_metrics, mrr, ndcg_at_k, precision_at_k, relevance,
                               retrieval_metrics)

SCORES = np.array([
    [0.9, 0.8, 0.7, 0.6, 0.5, 0.4],  # ranking 0 1 2 3 4 5
    [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],  # ranking 5 4 3 2 1 0
])
REL = np.array([
    [0, 0, 1, 0, 1, 1],  # first relevant at rank 3; top 5 holds items 2 and 4
    [0, 0, 0, 0, 0, 1],  # first relevant at rank 1; top 5 holds item 5
], dtype=bool)


def test_mrr_hand_computed():
    assert mrr(SCORES, REL) == pytest.approx((1 / 3 + 1) / 2)


def test_precision_at_5_hand_computed():
    assert precision_at_k(SCORES, REL, 5) == pytest.approx((2 / 5 + 1 / 5) / 2)
    assert precision_at_k(SCORES, REL, 1) == pytest.approx(0.5)


def test_ndcg_hand_computed():
    gains = np.array([[0.0, 1.0, 0.5]])
    scores = np.array([[3.0, 2.0, 1.0]])  # ranked gains 0, 1, 0.5; ideal 1, 0.5, 0
    dcg = 1 / np.log2(3) + 0.5 / np.log2(4)
    idcg = 1 + 0.5 / np.log2(3)
    assert ndcg_at_k(scores, gains, k=3) == pytest.approx(dcg / idcg)
    assert ndcg_at_k(gains, gains, k=3) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="non-negative"):
        ndcg_at_k(scores, gains - 0.5, k=3)


def test_perfect_and_reversed_rankings():
    rel = np.array([[1, 1, 0, 0, 0, 0, 0]], dtype=bool)
    good = np.array([[7, 6, 5, 4, 3, 2, 1]], dtype=float)
    assert mrr(good, rel) == 1.0 and precision_at_k(good, rel, 5) == pytest.approx(0.4)
    assert mrr(-good, rel) == pytest.approx(1 / 6)


def test_relevance_uses_best_mood_among_catalogue_moods():
    rel, gains = relevance(["angry", "sad"], ["angry", "sad", "happy"], "VAD")
    assert rel.tolist() == [[True, False, False], [False, True, False]]
    assert np.allclose(gains, label_similarity(["angry", "sad"], ["angry", "sad", "happy"], "VAD"))
    assert gains.min() >= 0 and gains.max() <= 1
    # a catalogue without "scary": fear falls back to the next-best mood present (angry)
    rel, _ = relevance(["fear"], ["happy", "angry", "calm"], "VAD")
    assert rel.tolist() == [[False, True, False]]


def test_retrieval_metrics_keys_and_oracle():
    labels = ["happy", "sad", "angry"]
    moods = ["happy", "sad", "angry", "calm", "happy"]
    _, gains = relevance(labels, moods)
    out = retrieval_metrics(gains, labels, moods)
    assert set(out) == {"mrr", "p@5", "ndcg@5"}
    assert out["mrr"] == 1.0 and out["ndcg@5"] == pytest.approx(1.0)


def test_ccc():
    x = np.array([0.1, 0.4, 0.5, 0.9])
    assert ccc(x, x) == pytest.approx(1.0)
    assert ccc(x, -x) < 0
    # shifted copy: correlation 1 but CCC < 1; hand-computed with population variances
    y = x + 0.2
    var = x.var()
    assert ccc(x, y) == pytest.approx(2 * var / (2 * var + 0.04))
    assert ccc(x, np.full(4, 0.5)) == 0.0


def test_classification_metrics():
    out = classification_metrics([0, 0, 1, 1], [0, 1, 1, 1])
    assert out["accuracy"] == 0.75
    # class 0: P 1, R .5 -> F1 2/3; class 1: P 2/3, R 1 -> F1 .8
    assert out["macro_f1"] == pytest.approx((2 / 3 + 0.8) / 2)


def test_wilson_lower_bound():
    from esmr_core.metrics import wilson_lower

    assert abs(wilson_lower(0.5, 100) - 0.4038) < 1e-3          # the textbook value (z = 1.96)
    assert abs(wilson_lower(1.0, 10) - 0.7225) < 1e-3           # a perfect record over few trials is not 1
    assert wilson_lower(0.92, 138) < 0.90 < wilson_lower(0.971, 138)
    assert wilson_lower(0.9, 10_000) > wilson_lower(0.9, 100)   # more trials, tighter
    assert wilson_lower(0.3, 0) == 0.0
    with pytest.raises(ValueError):
        wilson_lower(1.2, 10)
