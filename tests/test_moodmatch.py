"""Emotion-aware music ranking (esmr_core/moodmatch.py): calibration, the combined score, the pooled search,
storage, the fit from a real checkpoint, and the service using it."""
import json
import shutil

import numpy as np
import pytest

from esmr_core.errors import EsmrError
from esmr_core.retrieval.index import MusicIndex, l2_normalize
from esmr_core.retrieval.moodmatch import FILENAME, MoodMatch, fit
from esmr_core.paths import checkpoints_dir

Q = np.linspace(0.4, 0.8, 101).tolist()   # a model whose arousal spans 0.4..0.8 on its training voices


def rule(wa=0.5, wv=0.0, pool=200):
    return MoodMatch(wa, wv, Q, np.linspace(0.2, 0.7, 101).tolist(), pool=pool)


def test_calibration_is_the_training_cdf():
    a, v = rule().calibrate(np.array([0.3, 0.4, 0.6, 0.7, 0.8, 0.95]), np.array([0.45] * 6))
    assert np.allclose(a, [0.0, 0.0, 0.5, 0.75, 1.0, 1.0])
    assert np.allclose(v, 0.5)
    # ties in the stored quantiles map to the middle of their run, and the map never decreases
    m = MoodMatch(0.1, 0.0, [0.5] * 50 + np.linspace(0.5, 1.0, 51).tolist(), Q)
    x = np.linspace(0.0, 1.2, 200)
    c, _ = m.calibrate(x, x)
    assert np.all(np.diff(c) >= 0) and 0.2 < m.calibrate(np.array([0.5]), np.array([0.5]))[0][0] < 0.3


def test_scores_add_arousal_agreement_to_the_cosine():
    cos = np.array([[0.30, 0.30], [0.30, 0.30]])
    energy, val = np.array([0.1, 0.9]), np.array([0.5, 0.5])
    s = rule().scores(cos, np.array([0.42, 0.78]), np.array([0.45, 0.45]), energy, val)
    assert s[0, 0] > s[0, 1]          # a calm voice: the calm track first
    assert s[1, 1] > s[1, 0]          # a lively voice: the energetic one first
    assert np.allclose(MoodMatch(0.0, 0.0, Q, Q).scores(cos, [0.4, 0.8], [0.5, 0.5], energy, val), cos)
    with pytest.raises(EsmrError, match="energy and valence"):
        rule().scores(cos, [0.4, 0.8], [0.5, 0.5], np.array([0.1, np.nan]), val)
    with pytest.raises(EsmrError, match="one row per query"):
        rule().scores(cos, [0.4], [0.5], energy, val)


def _catalogue(n=40, dim=8, seed=0):
    rng = np.random.default_rng(seed)
    emb = l2_normalize(rng.normal(size=(n, dim)).astype(np.float32))
    tracks = [{"id": f"t{i}", "energy": float(e), "valence": float(v)}
              for i, (e, v) in enumerate(zip(rng.uniform(size=n), rng.uniform(size=n)))]
    return MusicIndex("exact").fit(emb, [t["id"] for t in tracks]), emb, tracks


def test_search_reranks_the_pool_like_the_brute_force_score():
    index, emb, tracks = _catalogue()
    rng = np.random.default_rng(1)
    z = l2_normalize(rng.normal(size=(3, emb.shape[1])).astype(np.float32))
    a, v = np.array([0.42, 0.6, 0.79]), np.array([0.3, 0.5, 0.6])
    m = rule(wa=0.3, wv=0.1)
    s, idx = m.search(index, z, a, v, 5, lambda i: tracks[i])
    full = m.scores(z @ emb.T, a, v, np.array([t["energy"] for t in tracks]), np.array([t["valence"] for t in tracks]))
    assert s.shape == idx.shape == (3, 5)
    assert np.array_equal(idx, np.argsort(-full, axis=1, kind="stable")[:, :5])
    assert np.allclose(s, np.take_along_axis(full, idx, 1), atol=1e-6)
    assert np.all(np.diff(s, axis=1) <= 0)
    # a calm query gets calmer music than a lively one from the same place in the joint space
    calm = m.search(index, z[:1], [0.41], [0.5], 5, lambda i: tracks[i])[1][0]
    lively = m.search(index, z[:1], [0.79], [0.5], 5, lambda i: tracks[i])[1][0]
    assert np.mean([tracks[i]["energy"] for i in calm]) < np.mean([tracks[i]["energy"] for i in lively])
    # a small pool only re-orders the cosine's own top of that size
    s2, idx2 = rule(wa=0.3, pool=8).search(index, z, a, v, 5, lambda i: tracks[i])
    top8 = np.argsort(-(z @ emb.T), axis=1)[:, :8]
    assert all(set(idx2[r]) <= set(top8[r]) for r in range(3))


def test_search_refuses_tracks_without_energy():
    index, emb, tracks = _catalogue(n=6)
    bare = [{"id": t["id"]} for t in tracks]
    with pytest.raises(EsmrError, match="esmr catalog build"):
        rule().search(index, emb[:1], [0.5], [0.5], 3, lambda i: bare[i])


def test_save_load_round_trip_and_bad_files(tmp_path):
    assert MoodMatch.load(tmp_path) is None
    (tmp_path / "model.safetensors").write_bytes(b"weights A")
    m = rule(wa=0.1, wv=0.05, pool=50)
    m.save(tmp_path)
    back = MoodMatch.load(tmp_path)
    assert (back.arousal_weight, back.valence_weight, back.pool) == (0.1, 0.05, 50)
    assert np.allclose(back.arousal_quantiles, Q)
    (tmp_path / "model.safetensors").write_bytes(b"weights B")   # retrained without refitting the rule
    with pytest.raises(EsmrError, match="other weights"):
        MoodMatch.load(tmp_path)
    (tmp_path / FILENAME).write_text("{not json", encoding="utf-8")
    with pytest.raises(EsmrError, match="refit"):
        MoodMatch.load(tmp_path)
    (tmp_path / FILENAME).write_text(json.dumps({"version": 1, "arousal_weight": 0.1}), encoding="utf-8")
    with pytest.raises(EsmrError, match="lacks"):
        MoodMatch.load(tmp_path)
    with pytest.raises(EsmrError, match=">= 0"):
        MoodMatch(-0.1, 0.0, Q, Q)
    with pytest.raises(EsmrError, match="non-decreasing"):
        MoodMatch(0.1, 0.0, Q[::-1], Q)


def test_fit_takes_the_quantiles_of_the_models_own_predictions():
    import torch

    from esmr_core.retrieval.features import blank_text
    from esmr_core.retrieval.model import JointModel

    model = JointModel.from_pretrained(checkpoints_dir() / "esmr-default").eval()
    dim = sum(e["dim"] for e in model.feature_spec["speech"])
    x = np.random.default_rng(0).normal(size=(64, dim)).astype(np.float32)
    m = fit(model, x, model.feature_spec, 0.1, 0.0)
    with torch.no_grad():
        a = np.concatenate([model.predict_emotion(torch.from_numpy(v))[1][:, 1].numpy()
                            for v in (x, blank_text(x, model.feature_spec))])
    assert len(m.arousal_quantiles) == 101 and np.all(np.diff(m.arousal_quantiles) >= 0)
    assert m.arousal_quantiles[0] == pytest.approx(a.min(), abs=1e-5)
    assert m.arousal_quantiles[-1] == pytest.approx(a.max(), abs=1e-5)
    assert m.calibrate(np.array([np.median(a)]), np.array([0.5]))[0][0] == pytest.approx(0.5, abs=0.02)
    with pytest.raises(EsmrError, match="at least two"):
        fit(model, x[:1], model.feature_spec, 0.1, 0.0)


@pytest.mark.slow
def test_service_ranks_music_with_the_checkpoints_rule(tmp_path):
    """A checkpoint with moodmatch.json: the service's top 5 follows the rule; without it, the cosine."""
    from esmr_core.service import Service, ServiceConfig

    ckpt = tmp_path / "ckpt"
    shutil.copytree(checkpoints_dir() / "esmr-default", ckpt, ignore=shutil.ignore_patterns(FILENAME))
    from esmr_core.data.manifest import load_collection
    from esmr_core.paths import assets_dir

    coll = load_collection(assets_dir() / "examples" / "speech", kind="speech")
    clip = str(coll.path(next(r for r in coll.rows if r["label"] == "angry")))
    plain = Service(ServiceConfig(checkpoint=ckpt, singing=False))
    assert plain.moodmatch is None
    r0 = plain.analyze_speech(clip, asr=False, top_k=5)
    # a strong rule whose quantiles put this voice at the calm end: the music must be calmer than by cosine
    a = r0["vad"]["arousal"]
    MoodMatch(2.0, 0.0, np.linspace(a + 0.01, a + 0.5, 101).tolist(), Q).save(ckpt)
    ruled = Service(ServiceConfig(checkpoint=ckpt, singing=False))
    r1 = ruled.analyze_speech(clip, asr=False, top_k=5)
    energy = {row["id"]: row["energy"] for row in ruled.catalog.rows}
    e0 = np.mean([energy[x["id"]] for x in r0["tracks"]])
    e1 = np.mean([energy[x["id"]] for x in r1["tracks"]])
    assert e1 < 0.2 < e0 or e1 < e0 - 0.1
    assert [x["score"] for x in r1["tracks"]] == sorted((x["score"] for x in r1["tracks"]), reverse=True)
    off = Service(ServiceConfig(checkpoint=ckpt, singing=False, mood_match=False))
    assert [x["id"] for x in off.analyze_speech(clip, asr=False, top_k=5)["tracks"]] == \
        [x["id"] for x in r0["tracks"]]


def test_retrieval_metrics_with_rule_ranks_the_whole_catalogue_by_the_combined_score():
    import torch

    from esmr_core.metrics import retrieval_metrics
    from esmr_core.retrieval.model import JointModel
    from esmr_core.retrieval.moodmatch import retrieval_metrics_with_rule

    model = JointModel.from_pretrained(checkpoints_dir() / "esmr-default").eval()
    rng = np.random.default_rng(0)
    dim = sum(e["dim"] for e in model.feature_spec["speech"])
    mdim = sum(e["dim"] for e in model.feature_spec["music"])
    xs, xm = rng.normal(size=(12, dim)).astype(np.float32), rng.normal(size=(9, mdim)).astype(np.float32)
    labels = ["angry", "sad", "happy", "neutral"] * 3
    moods = ["sad", "calm", "exciting", "angry", "happy", "tender", "scary", "funny", "sad"]
    rows = [{"mood": m, "energy": float(e), "valence": float(v)}
            for m, e, v in zip(moods, rng.uniform(size=9), rng.uniform(size=9))]
    with torch.no_grad():
        cos = model.encode_speech(torch.from_numpy(xs)).numpy() @ model.encode_music(torch.from_numpy(xm)).numpy().T
    plain = retrieval_metrics(cos, labels, moods)
    off = retrieval_metrics_with_rule(model, MoodMatch(0.0, 0.0, Q, Q), xs, labels, xm, rows)
    assert off == pytest.approx({f"mood_match_{k}": v for k, v in plain.items()})
    strong = retrieval_metrics_with_rule(model, MoodMatch(5.0, 0.0, Q, Q), xs, labels, xm, rows)
    assert set(strong) == set(off) and all(0 <= v <= 1 for v in strong.values())
    with pytest.raises(EsmrError, match="energy/valence"):
        retrieval_metrics_with_rule(model, rule(), xs, labels, xm, [{"mood": m} for m in moods])
