"""MusicIndex (exact vs FAISS) and Map2D (fit once, cheap placement, save/load without pickle)."""
import numpy as np
import pytest

from esmr_core.retrieval.index import MusicIndex, l2_normalize
from esmr_core.retrieval.map2d import Map2D


def _random(n=500, d=64, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)).astype(np.float32)


def test_exact_search_matches_brute_force_ranking():
    emb = _random(200, 16)
    q = _random(3, 16, seed=1)
    scores, idx = MusicIndex().fit(emb, [f"t{i}" for i in range(200)]).search(q, k=7)
    brute = l2_normalize(q) @ l2_normalize(emb).T
    for b in range(3):
        expected = np.argsort(-brute[b])[:7]
        assert list(idx[b]) == list(expected)
        assert np.allclose(scores[b], brute[b, expected], atol=1e-5)
        assert np.all(np.diff(scores[b]) <= 1e-7)  # best first


def test_faiss_and_exact_return_the_same_top_k():
    pytest.importorskip("faiss", reason="faiss-cpu is in the [train] extra")
    emb, q = _random(), _random(20, seed=2)
    ids = [f"t{i}" for i in range(len(emb))]
    s1, i1 = MusicIndex("exact").fit(emb, ids).search(q, k=10)
    s2, i2 = MusicIndex("faiss").fit(emb, ids).search(q, k=10)
    assert np.array_equal(i1, i2)
    assert np.allclose(s1, s2, atol=1e-5)


def test_index_save_load_round_trip(tmp_path):
    emb = _random(50, 8)
    ids = [f"t{i}" for i in range(50)]
    index = MusicIndex().fit(emb, ids)
    index.save(tmp_path)
    loaded = MusicIndex.load(tmp_path)
    assert loaded.ids_ == ids
    assert np.array_equal(loaded.search(emb[:2], 5)[1], index.search(emb[:2], 5)[1])
    assert MusicIndex().fit(emb, ids).search(emb[0], k=1000)[1].shape == (1, 50)  # k capped at N


def _clustered(n_per=30, d=32, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(3, d)) * 4
    emb = np.concatenate([c + rng.normal(size=(n_per, d)) for c in centres]).astype(np.float32)
    labels = [lab for lab in ("happy", "sad", "angry") for _ in range(n_per)]
    kinds = ["music" if i % 3 else "speech" for i in range(len(emb))]
    return emb, labels, kinds, centres


def test_map_places_queries_near_their_cluster_and_round_trips(tmp_path):
    emb, labels, kinds, centres = _clustered()
    m = Map2D(n_neighbors=15).fit(emb, labels, kinds, names=[f"n{i}" for i in range(len(emb))])
    assert m.coords_.shape == (len(emb), 2)
    # A reference point's own embedding lands next to its own coordinates.
    placed = m.transform(emb[:5])
    spread = np.ptp(m.coords_, axis=0).max()
    assert np.max(np.linalg.norm(placed - m.coords_[:5], axis=1)) < 0.1 * spread
    # A fresh query near the "sad" centre is placed closer to the sad points than to the others.
    xy = m.transform(centres[1])[0]
    lab = np.array(labels)
    d = {c: np.linalg.norm(m.coords_[lab == c].mean(0) - xy) for c in ("happy", "sad", "angry")}
    assert min(d, key=d.get) == "sad"
    m.save(tmp_path)
    loaded = Map2D.load(tmp_path)
    assert np.allclose(loaded.transform(centres[1]), m.transform(centres[1]), atol=1e-2)
    fig = loaded.figure(query_xy=xy, query_label="sad", labels=["sad", "happy"], highlight_ids=["0"])
    names = [t.name for t in fig.data]
    assert "your voice" in names and all("angry" not in n for n in names)
    symbols = {t.name.split(":")[0]: t.marker.symbol for t in fig.data if ":" in t.name}
    assert symbols == {"music": "circle", "speech": "star"}
