"""Channel copies of a corpus's clean real-voice training clips (esmr_core/data/channel_copies.py)."""
import json

import numpy as np
import pytest
import soundfile as sf

from esmr_core.data import channel_copies as CC
from esmr_core.data.manifest import load_collection, write_jsonl
from esmr_core.errors import EsmrError

SR = 16000


def _corpus(tmp_path):
    root = tmp_path / "corpus"
    (root / "real").mkdir(parents=True)
    t = np.arange(SR) / SR
    rng = np.random.default_rng(0)
    rows = []
    for i, (split, channel, real) in enumerate([("train", [], True), ("train", [], True), ("val", [], True),
                                                ("train", [{"kind": "gain", "gain_db": 3.0}], True),
                                                ("train", [], False)]):
        # a buzz with harmonics up to 8 kHz and a little noise: energy in every band the effects touch
        y = sum(0.3 / k * np.sin(2 * np.pi * 150 * k * t) for k in range(1, 50)) + 0.01 * rng.normal(size=SR)
        y = (0.5 * y / np.abs(y).max()).astype(np.float32)
        path = f"real/c{i}.flac"
        sf.write(root / path, y, SR)
        rows.append({"id": f"c{i}", "path": path, "label": "angry", "valence": 0.1, "arousal": 0.8,
                     "dominance": 0.6, "text": "", "voice": f"v{i % 2}", "split": split, "channel": channel,
                     "real_voice": real, "tts": "real" if real else "espeak"})
    write_jsonl(rows, root / "manifest.jsonl")
    (root / "collection.json").write_text(json.dumps({"version": 1, "kind": "speech", "name": "tiny"}))
    return root


def _band_share(y, lo, hi):
    p = np.abs(np.fft.rfft(y)) ** 2
    f = np.fft.rfftfreq(len(y), 1 / SR)
    return float(p[(f >= lo) & (f < hi)].sum() / p.sum())


def test_copies_only_clean_real_training_clips_and_keeps_their_labels(tmp_path):
    src = _corpus(tmp_path)
    info = CC.build(src, tmp_path / "out", seed=3)
    assert info["source_rows"] == 2 and info["clips"] == 4
    coll = load_collection(tmp_path / "out", "speech")
    assert sorted(r["id"] for r in coll.rows) == ["c0-noise", "c0-telephone", "c1-noise", "c1-telephone"]
    for r in coll.rows:
        assert r["split"] == "train" and r["label"] == "angry" and r["voice"] in ("v0", "v1")
        assert r["channel_copy_of"] == r["id"].rsplit("-", 1)[0]
        assert r["channel"][0]["kind"] == r["id"].rsplit("-", 1)[1]
    orig, _ = sf.read(src / "real/c0.flac")
    tel, _ = sf.read(coll.path(next(r for r in coll.rows if r["id"] == "c0-telephone")))
    noisy, _ = sf.read(coll.path(next(r for r in coll.rows if r["id"] == "c0-noise")))
    assert len(tel) == len(orig) == len(noisy)
    assert _band_share(orig, 4500, 8000) > 0.005 and _band_share(tel, 4500, 8000) < 5e-4   # the telephone band
    snr = next(r for r in coll.rows if r["id"] == "c0-noise")["channel"][0]["snr_db"]
    assert 10 <= snr <= 25
    measured = 10 * np.log10(np.mean(orig ** 2) / np.mean((noisy - orig) ** 2))
    assert abs(measured - snr) < 1.5                                  # 16-bit FLAC rounding aside
    # the same seed gives the same files
    CC.build(src, tmp_path / "again", seed=3)
    assert np.array_equal(sf.read(tmp_path / "again/clips/c0-noise.flac")[0], noisy)


def test_bad_requests_are_refused(tmp_path):
    src = _corpus(tmp_path)
    with pytest.raises(EsmrError, match="unknown channel copy kind"):
        CC.build(src, tmp_path / "out", kinds=("telephone", "radio"))
    with pytest.raises(EsmrError, match="no clean"):
        CC.build(src, tmp_path / "out", splits=("test",))
    assert CC.main(["--speech", str(src), "--out", str(tmp_path / "x"), "--kinds", "radio"]) == 2
