"""Channel views pooled by the speech tower (esmr_core/channel_views.py)."""
import numpy as np
import pytest
import torch

from esmr_core.retrieval import channel_views as CV
from esmr_core.errors import EsmrError
from esmr_core.paths import checkpoints_dir

SR = 16000


def _buzz(seconds=1.0):
    t = np.arange(int(SR * seconds)) / SR
    y = sum(0.3 / k * np.sin(2 * np.pi * 140 * k * t) for k in range(1, 55))
    return (0.5 * y / np.abs(y).max()).astype(np.float32)


def _band(y, lo, hi):
    p = np.abs(np.fft.rfft(y)) ** 2
    f = np.fft.rfftfreq(len(y), 1 / SR)
    return float(p[(f >= lo) & (f < hi)].sum() / p.sum())


def test_telephone_view_keeps_the_length_and_only_the_phone_band():
    y = _buzz()
    v = CV.views(y)
    assert len(v) == 2 and np.array_equal(v[0], y)
    tel = v[1]
    assert tel.shape == y.shape and tel.dtype == np.float32
    assert _band(y, 4500, 8000) > 0.004 and _band(tel, 4500, 8000) < 5e-4
    assert _band(tel, 280, 3600) > 0.95 and _band(y, 300, 3400) < 0.5
    assert len(CV.views(y, ())) == 1
    with pytest.raises(EsmrError, match="unknown channel view"):
        CV.views(y, ("radio",))
    with pytest.raises(EsmrError, match="finite"):
        CV.telephone_view(np.array([0.0, np.nan], np.float32))


def test_pooled_reading_is_the_mean_of_the_views():
    from esmr_core.retrieval.model import JointModel

    model = JointModel.from_pretrained(checkpoints_dir() / "esmr-default").eval()
    dim = sum(e["dim"] for e in model.feature_spec["speech"])
    x = np.random.default_rng(0).normal(size=(2, dim)).astype(np.float32)
    z, probs, vad = CV.pooled_reading(model, x)
    with torch.no_grad():
        zs = model.encode_speech(torch.from_numpy(x))
        logits, v = model.emotion_from_embedding(zs)
    assert np.allclose(probs, logits.softmax(-1).numpy().mean(0), atol=1e-6) and abs(probs.sum() - 1) < 1e-5
    assert np.allclose(vad, v.numpy().mean(0, keepdims=True), atol=1e-6)
    m = zs.numpy().mean(0)
    assert np.allclose(z.numpy()[0], m / np.linalg.norm(m), atol=1e-5)
    one = CV.pooled_reading(model, x[:1])
    assert np.allclose(one[0].numpy(), zs.numpy()[:1], atol=1e-6)   # one view: the plain reading
    with pytest.raises(EsmrError, match="at least one view"):
        CV.pooled_reading(model, x[0])
