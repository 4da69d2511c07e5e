"""How far the words count against the voice: recogniser confidence, text weights in both models, and
speech feature specs that leave single features out."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from esmr_core.encoders.asr import Transcript, TranscriptConfidence
from esmr_core.errors import EsmrError
from esmr_core.retrieval.features import _encoders, _select, make_spec, speech_vector, text_columns
from esmr_core.mate.config import MateConfig
from esmr_core.mate.model import MateModel
from esmr_core.paths import RESOURCES_DIR

TINY = dict(cnn_channels=(4, 8), audio_dim=16, lstm_hidden=16, n_mels=24, max_seconds=2.0)


def test_transcript_features_read_the_posteriors():
    sure = Transcript("we won the game", (("we", 0.95), ("won", 0.9), ("the", 0.99), ("game", 0.92)), 2.0)
    made_up = Transcript("a forehand date pass", (("a", 0.2), ("forehand", 0.05), ("date", 0.08),
                                                  ("pass", 0.006)), 2.0)
    fs, fm = sure.features(), made_up.features()
    assert fs[0] > fm[0] and fs[1] > fm[1] and fs[2] == 1.0 and fm[2] == 0.0
    assert fs[3] == pytest.approx(2.0) and fs[4] == pytest.approx(np.log1p(4))
    assert not Transcript("", (), 1.0).features().any()


def test_shipped_calibration_ranks_confident_words_higher():
    conf = TranscriptConfidence.load()
    meta = json.loads((RESOURCES_DIR / "asr_confidence.json").read_text())["meta"]
    assert meta["val_auc"] > 0.7, meta           # measured on held-out clips when it was fitted
    sure = Transcript("we won the game", (("we", 0.95), ("won", 0.9), ("the", 0.99), ("game", 0.92)), 2.0)
    made_up = Transcript("a forehand date yeah pass the buck and accountable but following day",
                         tuple((w, p) for w, p in zip("a forehand date yeah pass the buck and accountable but "
                                                      "following day".split(),
                                                      [0.23, 0.34, 0.08, 0.95, 0.006, 0.97, 0.007, 0.25, 0.01,
                                                       0.02, 0.05, 0.1])), 4.0)
    assert 0.0 <= conf(made_up) < conf(sure) <= 1.0
    assert conf(Transcript("", (), 1.0)) == 0.0


def test_spec_can_leave_named_prosody_features_out():
    full = make_spec("voice-text")
    spec = make_spec("voice-text", drop_speech_features=["mfcc1_mean", "f0_median_st"])
    pe = spec["speech"][0]
    assert pe["name"] == "prosody" and pe["dim"] == full["speech"][0]["dim"] - 2 and pe["full_dim"] == 44
    assert pe["drop"] == ["f0_median_st", "mfcc1_mean"]
    assert all(e["name"] != "timbre" for e in spec["speech"])          # no speaker embedding in "voice-text"
    enc = _encoders(spec, "speech")[0]
    x = np.arange(44, dtype=np.float32)
    kept = _select(x, pe, enc)
    assert kept.shape == (42,) and 0.0 not in kept and 13.0 + 5 not in kept   # f0_median (0), mfcc1_mean (18)
    assert text_columns(spec) == [(42, 42 + 384)]
    with pytest.raises(EsmrError, match="names no feature"):
        make_spec("voice-text", drop_speech_features=["no_such_feature"])


def test_text_weight_scales_the_words_block(speech_clip):
    y, sr = speech_clip
    spec = make_spec("voice-text")
    a = speech_vector(y, "I am so happy today", spec)
    h = speech_vector(y, "I am so happy today", spec, text_weight=0.5)
    z = speech_vector(y, "", spec)
    (s, e), = text_columns(spec)
    np.testing.assert_allclose(h[:s], a[:s])
    np.testing.assert_allclose(h[s:e], 0.5 * a[s:e], rtol=1e-6)
    assert not z[s:e].any() and np.abs(a[s:e]).sum() > 0


def test_mate_text_weight_blends_towards_the_missing_text_vector():
    torch.manual_seed(0)
    model = MateModel(MateConfig(**TINY)).eval()
    with torch.no_grad():
        model.missing_text.normal_()
    mels = torch.randn(3, 24, 50)
    lengths = torch.tensor([50, 50, 50])
    text = torch.randn(3, 384)
    with torch.no_grad():
        on = model.encode_utterances(mels, lengths, text, torch.tensor([True, True, True]))
        off = model.encode_utterances(mels, lengths, text, torch.tensor([False, False, False]))
        half = model.encode_utterances(mels, lengths, text, torch.tensor([0.5, 0.5, 0.5]))
    t = slice(16, None)   # the text part follows the 16-d audio part
    torch.testing.assert_close(half[:, t], 0.5 * (on[:, t] + off[:, t]), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(off[:, t], model.missing_text.expand(3, -1))
    assert not torch.allclose(on[:, t], off[:, t])
