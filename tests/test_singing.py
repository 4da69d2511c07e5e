"""Singing -> singable songs: MoCo/InfoNCE/TJAE properties, range and transposition, the recommender end to end."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from esmr_core.errors import AudioError, EsmrError
from esmr_core.singing import pitch as P
from esmr_core.singing import sscl, tjae
from esmr_core.singing.recommend import rank_songs, transpose_key


# ---- MoCo, InfoNCE, TJAE ------------------------------------------------------------------------------------
def tiny_cfg(**kw):
    return sscl.SSCLConfig(channels=(4, 8, 8, 8), dim=16, queue_size=10, crop_frames=32, **kw)


def test_momentum_update_is_ema_of_query_weights():
    torch.manual_seed(0)
    model = sscl.MoCo(tiny_cfg(momentum=0.9))
    with torch.no_grad():
        for p in model.encoder_q.parameters():
            p.add_(torch.randn_like(p))
    before_k = [p.clone() for p in model.encoder_k.parameters()]
    q = [p.clone() for p in model.encoder_q.parameters()]
    model.momentum_update()
    for bk, pq, pk in zip(before_k, q, model.encoder_k.parameters()):
        assert torch.allclose(pk, 0.9 * bk + 0.1 * pq, atol=1e-6)
        assert not pk.requires_grad
    assert any(not torch.allclose(pk, pq) for pk, pq in zip(model.encoder_k.parameters(), q))


def test_queue_is_a_saved_buffer_and_wraps_around():
    model = sscl.MoCo(tiny_cfg())
    assert "queue" in model.state_dict() and "queue_ptr" in model.state_dict()
    keys = torch.nn.functional.normalize(torch.randn(7, 16), dim=1)
    model.enqueue(keys)
    assert int(model.queue_ptr) == 7 and torch.allclose(model.queue[:7], keys)
    more = torch.nn.functional.normalize(torch.randn(6, 16), dim=1)
    model.enqueue(more)                                   # 7 + 6 = 13 -> wraps to 3
    assert int(model.queue_ptr) == 3
    assert torch.allclose(model.queue[7:10], more[:3]) and torch.allclose(model.queue[:3], more[3:])
    assert torch.allclose(model.queue[3:7], keys[3:7])    # not yet overwritten


def test_info_nce_hand_example():
    q = torch.tensor([[1.0, 0.0]])
    pos = torch.tensor([[1.0, 0.0]])
    queue = torch.tensor([[0.0, 1.0], [-1.0, 0.0]])
    # logits [1, 0, -1] / T with T = 0.5 -> [2, 0, -2]; loss = -log(e^2 / (e^2 + 1 + e^-2))
    expected = -math.log(math.exp(2) / (math.exp(2) + 1 + math.exp(-2)))
    assert sscl.info_nce(q, pos, queue, 0.5).item() == pytest.approx(expected, abs=1e-6)
    # an extra per-sample negative equal to the positive adds e^2 to the denominator
    expected2 = -math.log(math.exp(2) / (2 * math.exp(2) + 1 + math.exp(-2)))
    assert sscl.info_nce(q, pos, queue, 0.5, extra_neg=pos).item() == pytest.approx(expected2, abs=1e-6)


def test_moco_training_step_lowers_loss_and_policies_differ():
    rng = np.random.default_rng(0)
    bases = torch.rand(12, 64, 48).half()
    shifted = torch.rand(12, 2, 64, 48).half()
    q, k, n = sscl.batch_views(bases[:4], shifted[:4], "timbre", 32, rng)
    assert q.shape == k.shape == n.shape == (4, 64, 32)
    assert sscl.batch_views(bases[:4], shifted[:4], "plain", 32, rng)[2] is None
    model = sscl.train_moco(tiny_cfg(), bases, shifted, steps=3, batch=4, log=lambda m: None)
    assert model.encoder_q(q).shape == (4, 16)
    assert torch.allclose(model.encoder_q(q).norm(dim=1), torch.ones(4), atol=1e-5)


def test_tjae_shapes_and_causality():
    torch.manual_seed(0)
    model = tjae.TJAE(tjae.TJAEConfig(hidden=16, latent=4, skip=2)).eval()
    x = torch.rand(2, 64, 50)
    recon, z = model(x)
    assert recon.shape == (2, 64, 50) and z.shape == (2, 4, 50)
    t = 20
    y = x.clone()
    y[:, :, t + 1:] = torch.rand(2, 64, 50 - t - 1)      # change only the future
    recon2, z2 = model(y)
    assert torch.allclose(recon[:, :, :t + 1], recon2[:, :, :t + 1], atol=1e-6)
    assert torch.allclose(z[:, :, :t + 1], z2[:, :, :t + 1], atol=1e-6)
    assert not torch.allclose(recon[:, :, t + 1:], recon2[:, :, t + 1:])
    e = model.embed(x[0])
    assert e.shape == (8,) and abs(np.linalg.norm(e) - 1) < 1e-5


# ---- pitch range and transposition --------------------------------------------------------------------------
def scale_melody(low: int, high: int, beats: float = 1.0) -> list[list[float]]:
    """Up and down a major-ish scale between low and high (MIDI), each note `beats` long, ~12 s at 90 bpm."""
    up = list(range(low, high + 1, 2)) + [high]
    seq = (up + up[::-1]) * 2
    return [[m, i * beats, beats] for i, m in enumerate(seq)]


def render(notes, shift=0, program=53):
    from esmr_core.data.songs import render_melody

    return render_melody(notes, program, shift, 16000, tempo_bpm=90.0)


def test_range_of_a_rendered_melody():
    notes = scale_melody(57, 69)                            # A3..A4
    y = render(notes)
    f0, v = P.pitch_track(y)
    r = P.estimate_range(f0, v, len(y) / 16000)
    assert 57 <= r.low_midi <= 60 and 66 <= r.high_midi <= 69
    assert r.sustained_ratio > 0.9
    assert r.low_hz == pytest.approx(440 * 2 ** ((r.low_midi - 69) / 12), rel=1e-6)
    d = r.as_dict()
    assert d["low"][0] in "ABCDEFG" and d["high"].endswith("4")


def test_best_transposition_and_tie_break():
    pitches, durs = P.melody_arrays([[60, 0, 1], [64, 1, 1], [67, 2, 2]])
    # singer range 57..64: shift -3 puts 60..67 at 57..64, fully inside
    assert P.best_transposition(pitches, durs, 57, 64) == (-3, 0, 1.0)
    # wide range: 0 is already perfect, so no transposition
    assert P.best_transposition(pitches, durs, 50, 80) == (0, 0, 1.0)
    # a bass range 15 semitones lower: one octave down, then -3
    assert P.best_transposition(pitches, durs, 45, 52) == (-3, -1, 1.0)
    # duration weighting in 60..64: shift 0 keeps the two short notes (0.5); -3 and -4 keep a short and the long
    # note (0.75); the smaller shift wins the tie
    assert P.range_fit(pitches, durs, 60, 64, 0) == pytest.approx(0.5)
    assert P.range_fit(pitches, durs, 60, 64, -4) == pytest.approx(0.75)
    assert P.best_transposition(pitches, durs, 60, 64) == (-3, 0, 0.75)


def test_transpose_key():
    assert transpose_key("C major", 2) == "D major"
    assert transpose_key("A minor", -3) == "F# minor"
    assert transpose_key("Bb major", 1) == "B major"
    assert transpose_key("weird", 3) == "weird"


def test_short_and_silent_input_rejected():
    y = render(scale_melody(57, 69)[:6])                    # ~4 s
    f0, v = P.pitch_track(y)
    with pytest.raises(AudioError, match="at least 10 s"):
        P.estimate_range(f0, v, len(y) / 16000)
    with pytest.raises(AudioError, match="pitched voice"):
        P.estimate_range(np.zeros(800), np.zeros(800, bool), 12.8)


def test_speech_is_rejected():
    import librosa

    from esmr_core.data.tts import synth_piper

    text = ("The weather today is quite pleasant, and I think we should go for a walk in the park before dinner. "
            "Please remember to bring your documents to the office tomorrow morning at nine o'clock.")
    y, sr = synth_piper(text, length_scale=1.3, noise_scale=0.667, noise_w_scale=0.8)
    y = librosa.resample(y, orig_sr=sr, target_sr=16000)
    assert len(y) / 16000 >= 10
    f0, v = P.pitch_track(y)
    with pytest.raises(AudioError, match="speech, not singing"):
        P.estimate_range(f0, v, len(y) / 16000)


# ---- the recommender end to end (trained checkpoints + song catalogue) ----------------------------------------
@pytest.fixture(scope="module")
def recommender():
    from esmr_core.paths import checkpoints_dir, default_songs_dir
    from esmr_core.singing.recommend import SingingRecommender

    return SingingRecommender.load(checkpoints_dir(), default_songs_dir())


@pytest.fixture(scope="module")
def low_high(recommender):
    notes = scale_melody(60, 69)
    bass = render(notes, -17)                               # G2..E3 region (23 semitones lower)
    soprano = render(notes, 6, program=52)                  # F#4..D#5 region
    return recommender.analyze(bass), recommender.analyze(soprano)


def test_bass_and_soprano_get_different_keys_within_their_ranges(recommender, low_high):
    from esmr_core.data.songs import name_to_midi

    bass, soprano = low_high
    assert bass.range.high_midi < soprano.range.low_midi
    top_b, top_s = rank_songs(bass, None, 5), rank_songs(soprano, None, 5)
    assert [(s["id"], s["key"], s["octave"]) for s in top_b] != [(s["id"], s["key"], s["octave"]) for s in top_s]
    for analysis, top in ((bass, top_b), (soprano, top_s)):
        for s in top:
            lo, hi = (name_to_midi(n) for n in s["melody_range"])
            assert s["range_fit"] >= 0.8
            # the transposed melody sits around the singer's range (+-3 semitones of the estimate)
            assert lo >= analysis.range.low_midi - 3 and hi <= analysis.range.high_midi + 3
            assert s["reasons"] and s["key"].split()[1] in ("major", "minor")


def test_rerank_needs_no_audio(low_high, monkeypatch):
    bass, _ = low_high

    def no_audio(*a, **k):
        raise AssertionError("re-ranking must not touch audio")

    monkeypatch.setattr(P, "pitch_track", no_audio)
    a = rank_songs(bass, {"range": 1.0}, 72)
    b = rank_songs(bass, {"range": 0.0, "timbre": 1.0}, 72)
    assert {s["id"] for s in a} == {s["id"] for s in b}
    assert [s["id"] for s in a] != [s["id"] for s in b]
    assert all(x["score"] >= y["score"] for x, y in zip(b, b[1:]))
    with pytest.raises(EsmrError):
        rank_songs(bass, {"loudness": 1.0})


def test_cli_json(tmp_path, capsys):
    import soundfile as sf

    from esmr_core.cli import main

    path = tmp_path / "me.wav"
    sf.write(path, render(scale_melody(55, 64)), 16000)
    assert main(["sing", str(path), "--json", "--top-k", "3"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["range"]) >= {"low", "high", "low_hz", "high_hz"}
    assert len(out["songs"]) == 3
    for s in out["songs"]:
        assert set(s) >= {"id", "title", "key", "transpose_semitones", "melody_range", "range_fit", "score",
                          "reasons"}
        assert -6 <= s["transpose_semitones"] <= 6 and len(s["melody_range"]) == 2
    assert main(["sing", str(tmp_path / "missing.wav"), "--json"]) == 2


def test_excursion_penalty():
    pitches = np.array([55.0, 60.0, 64.0])
    assert P.excursion_penalty(pitches, 55, 64) == 1.0        # all inside
    assert P.excursion_penalty(pitches, 56, 64) == 1.0        # one semitone below: still singable
    assert P.excursion_penalty(pitches, 57, 64) == pytest.approx(2 / 3)
    assert P.excursion_penalty(pitches, 59, 64) == 0.0        # four below: not singable
    assert P.excursion_penalty(pitches, 55, 60, shift=-2) == pytest.approx(2 / 3)  # 62 is two above 60
