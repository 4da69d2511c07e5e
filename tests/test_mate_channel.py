"""MATE's channel options: the log-mel channel augmentation (shapes, seeding, padding, band limit, noise level),
the consistency term, per-band normalisation and the tilt numbers, and a tiny training run with every option on
that saves and loads back."""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import soundfile as sf
import torch

from esmr_core.emotion import vad
from esmr_core.errors import EsmrError
from esmr_core.mate.augment import ChannelAugParams, LogMelChannelAug, consistency_loss
from esmr_core.mate.config import MateConfig, TrainConfig
from esmr_core.mate.data import mels_of
from esmr_core.mate.model import AudioCNN, MateModel, mel_centres, tilt_basis
from esmr_core.mate.train import checkpoint_config, run

CFG = MateConfig(cnn_channels=(4, 8), audio_dim=16, lstm_hidden=16, n_mels=40, max_seconds=2.0)
LN_DB = np.log(10.0) / 10.0      # natural-log units of one dB of power
ONLY = dict(p_band=0.0, p_eq=0.0, p_noise=0.0, p_reverb=0.0, gain_db=0.0)


def _voice(f0: float, seed: int, seconds: float = 1.5, sr: int = 16000) -> np.ndarray:
    """Harmonics up to ~7 kHz with vibrato plus a little white noise: energy in every mel band."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.03 * np.sin(2 * np.pi * 5 * t))) / sr
    y = sum(np.sin(h * phase) / h ** 0.5 for h in range(1, int(7000 / f0)))
    return (0.05 * y + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


def _batch(n: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    mels = [mels_of(_voice(120 + 30 * i, i), CFG) for i in range(n)]
    t = max(m.shape[1] for m in mels)
    x = np.zeros((n, CFG.n_mels, t), np.float32)
    lens = np.array([m.shape[1] - 10 * i for i, m in enumerate(mels)])     # later rows shorter: padding
    for i, m in enumerate(mels):
        x[i, :, :lens[i]] = m[:, :lens[i]]
    return torch.from_numpy(x), torch.from_numpy(lens)


def test_augmentation_keeps_shapes_is_seeded_and_leaves_padding():
    mels, lens = _batch()
    aug = LogMelChannelAug(CFG)
    a = aug(mels, lens, np.random.default_rng(5))
    b = aug(mels, lens, np.random.default_rng(5))
    c = aug(mels, lens, np.random.default_rng(6))
    assert a.shape == mels.shape and a.dtype == mels.dtype and torch.isfinite(a).all()
    assert torch.equal(a, b) and not torch.equal(a, c)
    for i, n in enumerate(lens.tolist()):
        assert not torch.equal(a[i, :, :n], mels[i, :, :n])         # p = 1: every utterance changed
        assert torch.equal(a[i, :, n:], mels[i, :, n:])             # padding untouched
    assert torch.equal(aug(mels, lens, np.random.default_rng(5), p=0.0), mels)
    share = np.mean([not torch.equal(r, m) for _ in range(10)
                     for r, m in zip(aug(mels, lens, np.random.default_rng(_), p=0.5), mels)])
    assert 0.25 < share < 0.75
    with pytest.raises(ValueError, match="log-mels"):
        aug(mels[:, :10], lens, np.random.default_rng(0))


def test_band_limit_lowers_the_out_of_band_bands_only():
    mels, lens = _batch(2)
    params = ChannelAugParams(**{**ONLY, "p_band": 1.0, "lo_hz": (300.0, 300.0), "hi_hz": (3400.0, 3400.0),
                                 "stop_db": (40.0, 40.0)})
    out = LogMelChannelAug(CFG, params)(mels, lens, np.random.default_rng(0))
    f = mel_centres(CFG)
    drop = ((mels - out)[:, :, :int(lens.min())].mean((0, 2)) / LN_DB).numpy()   # dB per band
    assert (drop[f < 150] > 25).all() and (drop[f > 6000] > 25).all()    # 40 dB, less where the floor is hit
    assert (np.abs(drop[(f > 600) & (f < 2000)]) < 0.5).all()         # soft edges: 0.15 octave
    renorm = LogMelChannelAug(CFG, replace(params, renormalise=True))(mels, lens, np.random.default_rng(0))
    for i, n in enumerate(lens.tolist()):                            # the loudness is given back
        p0, p1 = np.exp(mels[i, :, :n].double().numpy()), np.exp(renorm[i, :, :n].double().numpy())
        assert p1.mean() == pytest.approx(p0.mean(), rel=1e-3)


def test_noise_floor_is_added_at_the_drawn_snr():
    mels, lens = _batch(2)
    params = ChannelAugParams(**{**ONLY, "p_noise": 1.0, "snr_db": (10.0, 10.0),
                                 "noise_slope_db_per_octave": (0.0, 0.0)})
    out = LogMelChannelAug(CFG, params)(mels, lens, np.random.default_rng(0))
    for i, n in enumerate(lens.tolist()):
        p0, p1 = np.exp(mels[i, :, :n].double().numpy()), np.exp(out[i, :, :n].double().numpy())
        assert (p1 >= p0 - 1e-9).all()                               # noise only adds power
        assert (p1 - p0).mean() / p0.mean() == pytest.approx(0.1, rel=0.1)   # 10 dB below the mean power


def test_consistency_term_is_zero_for_identical_readings_and_positive_otherwise():
    torch.manual_seed(0)
    out = {"logits": torch.randn(5, 1, 7, requires_grad=True), "arousal": 1 + 4 * torch.rand(5, 1),
           "valence": 1 + 4 * torch.rand(5, 1)}
    same = {k: v.detach().clone() for k, v in out.items()}
    assert float(consistency_loss(out, same).detach()) == pytest.approx(0.0, abs=1e-7)
    other = {**same, "logits": same["logits"] + torch.randn(5, 1, 7)}
    loss = consistency_loss(out, other)
    assert float(loss.detach()) > 0.01
    loss.backward()
    assert out["logits"].grad.abs().sum() > 0
    shifted = {**same, "arousal": same["arousal"] + 0.4}            # arousal alone: (0.4 / 4)^2 = 0.01
    assert float(consistency_loss(same, shifted)) == pytest.approx(0.01, rel=1e-4)
    assert float(consistency_loss(same, shifted, av_weight=0.0)) == pytest.approx(0.0, abs=1e-7)


def test_band_norm_ignores_a_fixed_colouration_and_the_tilt_reads_it():
    mels, lens = _batch(3)
    f = mel_centres(CFG)
    colour = torch.from_numpy(np.log2(f / 1000.0) * -1.5 + np.cos(np.arange(40) / 3.0)).float()[None, :, None]
    coloured = mels + colour * (torch.arange(mels.shape[2])[None, None, :] < lens[:, None, None])
    torch.manual_seed(0)
    plain = AudioCNN(CFG).eval()
    torch.manual_seed(0)
    banded = AudioCNN(replace(CFG, band_norm=True)).eval()
    with torch.no_grad():
        assert not torch.allclose(plain(mels, lens), plain(coloured, lens), atol=1e-3)
        assert torch.allclose(banded(mels, lens), banded(coloured, lens), atol=1e-4)
    basis = tilt_basis(replace(CFG, band_norm=True, tilt_features=2)).numpy()
    z = np.log2(f / 1000.0)
    assert basis @ (0.7 * z + 3.0) == pytest.approx([0.7, 0.0], abs=1e-6)        # slope per octave, no curvature
    assert (basis[:, (f < 400) | (f > 3000)] == 0).all()                         # a phone band cannot move it
    with pytest.raises(ValueError, match="tilt_features"):
        MateConfig(tilt_features=1)


def test_band_hz_reads_only_the_bands_inside():
    mels, lens = _batch(2)
    f = mel_centres(CFG)
    outside = torch.from_numpy(((f < 300) | (f > 3400)).astype(np.float32))[None, :, None]
    torch.manual_seed(0)
    cnn = AudioCNN(replace(CFG, band_hz=(300.0, 3400.0))).eval()
    with torch.no_grad():
        base = cnn(mels, lens)
        assert torch.equal(base, cnn(mels - 9.0 * outside, lens))     # a phone line's band limit: unseen
        assert not torch.allclose(base, cnn(mels - 9.0 * (1 - outside), lens))
    with pytest.raises(ValueError, match="band_hz"):
        MateConfig(band_hz=(3000.0, 300.0))
    with pytest.raises(ValueError, match="fewer than"):
        AudioCNN(replace(CFG, band_hz=(1000.0, 1100.0)))


def test_tiny_training_run_with_the_channel_options_saves_and_loads(tmp_path, monkeypatch):
    from esmr_core.data.manifest import new_collection

    monkeypatch.setenv("ESMR_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "speech"
    root.mkdir()
    coll = new_collection(root, "speech", name="mate-channel-test")
    for n in range(16):
        emo = ("angry", "sad")[n % 2]
        v, a, d = vad(emo)
        sf.write(root / f"{n}.flac", _voice(260.0 if emo == "angry" else 110.0, n, seconds=1.0), 16000)
        coll.rows.append({"id": f"u{n}", "path": f"{n}.flac", "label": emo, "valence": float(v),
                          "arousal": float(a), "dominance": float(d), "text": "", "voice": f"v{n % 4}",
                          "split": "test" if n >= 12 else "train", "sentence_id": str(n)})
    coll.save()
    model_cfg = replace(CFG, band_norm=True, tilt_features=2, band_hz=(300.0, 3400.0), use_text=False)
    cfg = TrainConfig(model=model_cfg, speech=str(root), epochs=2, batch_size=4, channel_aug=0.5, consistency=1.0)
    res = run(cfg, tmp_path / "ck")
    assert len(res["loss_history"]) == 2 and all(np.isfinite(res["loss_history"]))
    again = MateModel.from_pretrained(tmp_path / "ck")
    assert again.config.band_norm and again.config.tilt_features == 2 and again.config.band_hz == (300.0, 3400.0)
    back = checkpoint_config(tmp_path / "ck")
    assert back.channel_aug == 0.5 and back.consistency == 1.0
    meta = json.loads((tmp_path / "ck" / "config.json").read_text())["meta"]["train"]
    assert meta["consistency_av"] == 1.0
    mels, lens = _batch(2)
    with torch.no_grad():
        a = again(mels, lens, None, None)
    with pytest.raises(EsmrError, match="channel_aug_params"):
        run(replace(cfg, channel_aug_params={"p_telephone": 1.0}), tmp_path / "bad")
    assert a["probs"].shape == (2, 1, 7) and torch.isfinite(a["arousal"]).all()


def test_a_checkpoint_written_before_the_options_loads_with_them_off(tmp_path):
    torch.manual_seed(0)
    model = MateModel(replace(CFG, use_text=False)).eval()
    model.save_pretrained(tmp_path / "ck")
    payload = json.loads((tmp_path / "ck" / "config.json").read_text())
    for key in ("band_norm", "tilt_features", "band_hz"):       # what a config.json of an older checkpoint lacks
        payload["config"].pop(key)
    (tmp_path / "ck" / "config.json").write_text(json.dumps(payload))
    again = MateModel.from_pretrained(tmp_path / "ck")
    assert not again.config.band_norm and again.config.tilt_features == 0 and again.config.band_hz == ()
    mels, lens = _batch(2)
    with torch.no_grad():
        assert torch.equal(model(mels, lens, None, None)["probs"], again(mels, lens, None, None)["probs"])
