"""The bootstrap emotional-speech corpus: sentence bank, splits, a tiny real build, prosody effect."""
from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
import soundfile as sf

from esmr_core.cli import main as cli_main
from esmr_core.data import corpus as C
from esmr_core.data.manifest import load_collection
from esmr_core.emotion import EMOTIONS, vad


@pytest.fixture(scope="module")
def bank():
    return C.load_sentence_bank()


@pytest.fixture(scope="module")
def plan():
    return C.plan_clips(seed=0)


def test_sentence_bank_size_and_lengths(bank):
    for emo in EMOTIONS:
        items = bank["emotions"][emo]
        assert len(items) >= 40, emo
        lengths = [len(s["text"].split()) for s in items]
        assert min(lengths) >= 3 and max(lengths) <= 25, emo
        assert len(set(lengths)) >= 6, f"{emo}: sentence lengths should vary"
    assert len(bank["lexically_neutral"]) >= 10
    texts = [s["text"] for items in bank["emotions"].values() for s in items] + \
            [s["text"] for s in bank["lexically_neutral"]]
    ids = [s["id"] for items in bank["emotions"].values() for s in items] + [s["id"] for s in bank["lexically_neutral"]]
    assert len(set(texts)) == len(texts) and len(set(ids)) == len(ids)


def test_sentences_and_voices_never_cross_splits(plan):
    sent_split, voice_split = {}, {}
    for c in plan:
        assert sent_split.setdefault(c.sentence_id, c.split) == c.split, c.sentence_id
        assert voice_split.setdefault(c.voice, c.split) == c.split, c.voice
    # the voice table itself: no espeak variant (voice quality) reused across splits
    variant_split = {}
    for v in C.VOICES:
        if v.tts == "espeak":
            assert variant_split.setdefault(v.spec.split("+")[1].lower(), v.split) == v.split, v.spec
    for split in C.SPLITS:
        voices = {v for v in C.VOICES if v.split == split}
        assert {v.tts for v in voices} == {"espeak", "piper"}
        assert {v.sex for v in voices} == {"M", "F"}
        assert any(not v.spec.startswith("en") for v in voices if v.tts == "espeak"), split
        # every emotion, and the lexically neutral sentences, reach every split
        assert {c.label for c in plan if c.split == split} == set(EMOTIONS)
        assert {c.label for c in plan if c.split == split and c.lexically_neutral} == set(EMOTIONS)


def test_plan_size_settings_unique_and_deterministic(plan):
    assert 1500 <= len(plan) <= 3000
    assert len({c.id for c in plan}) == len(plan)
    keys = {json.dumps(c.settings, sort_keys=True) for c in plan}
    assert len(keys) == len(plan), "no two clips may share exact settings"
    again = C.plan_clips(seed=0)
    assert [(c.id, c.settings) for c in again] == [(c.id, c.settings) for c in plan]
    other = C.plan_clips(seed=1)
    assert [c.settings for c in other][:50] != [c.settings for c in plan][:50]
    counts = Counter(c.split for c in plan)
    assert counts["train"] > counts["val"] > 0 and counts["test"] > 0


def test_settings_follow_the_profiles(plan):
    profiles = C.load_prosody_profiles()
    for c in plan[::7]:
        p = profiles[c.label]
        for key in ("rate", "pitch_st", "range", "gain_db"):
            assert p[key][0] - 1e-3 <= c.settings[key] <= p[key][1] + 1e-3, (c.id, key)
    # Juslin & Laukka direction: angry faster, higher, louder, more variable than sad
    assert profiles["angry"]["rate"][0] > profiles["sad"]["rate"][1]
    assert profiles["angry"]["pitch_st"][0] > profiles["sad"]["pitch_st"][1]
    assert profiles["angry"]["gain_db"][0] > profiles["sad"]["gain_db"][1]
    assert profiles["fear"]["range"][1] < profiles["neutral"]["range"][0]


def test_tiny_bootstrap_builds_a_readable_collection(tmp_path):
    out = tmp_path / "corpus"
    assert cli_main(["corpus", "bootstrap", "--out", str(out), "--limit", "14", "--workers", "1",
                     "--only", "synthetic"]) == 0
    coll = load_collection(out, kind="speech")
    assert len(coll) == 14
    assert coll.meta["seed"] == 0 and coll.meta["sentence_bank_sha256"] == C.bank_hash()
    assert "esmr corpus bootstrap" in coll.meta["command"] and len(coll.meta["voices"]) == len(C.VOICES)
    assert {r["tts"] for r in coll} == {"espeak", "piper"}
    assert {r["label"] for r in coll} == set(EMOTIONS)
    for r in coll:
        y, sr = sf.read(coll.path(r))
        assert sr == 16000 and y.ndim == 1 and str(coll.path(r)).endswith(".flac")
        words = len(r["text"].split())
        assert 0.12 * words < len(y) / sr < 1.2 * words + 1.5, r["id"]
        assert abs(len(y) / sr - r["duration_s"]) < 0.01
        assert np.sqrt(np.mean(y ** 2)) > 1e-3 and np.abs(y).max() <= 1.0
        assert np.allclose([r["valence"], r["arousal"], r["dominance"]], vad(r["label"]))
        assert {"rate", "pitch_st", "range", "gain_db", "semitones"} <= set(r["settings"])
        assert isinstance(r["lexically_neutral"], bool) and r["sentence_id"] and r["split"] in C.SPLITS
    assert cli_main(["corpus", "info", str(out), "--json"]) == 0


def test_info_on_missing_folder_is_a_user_error(tmp_path, capsys):
    assert cli_main(["corpus", "info", str(tmp_path / "nothing")]) == 2
    assert "esmr corpus bootstrap" in capsys.readouterr().err


def _measure(y: np.ndarray, sr: int) -> tuple[float, float, float]:
    """(duration s, RMS dBFS, median F0 Hz of confident frames via swift-f0)."""
    from swift_f0 import SwiftF0

    res = SwiftF0(threads=1).detect(y, sr, 60, 500)
    f0 = res.pitch_hz[res.confidence > 0.5]
    assert len(f0) > 10, "too few voiced frames to measure F0"
    rms = 20 * np.log10(np.sqrt(np.mean(y ** 2)))
    return len(y) / sr, float(rms), float(np.median(f0))


@pytest.mark.parametrize("voice_name", ["espeak-en-us-f1", "piper-joe"])
def test_angry_is_faster_louder_higher_than_sad(voice_name):
    voice = {v.name: v for v in C.VOICES}[voice_name]
    profiles = C.load_prosody_profiles()
    text = "The window was open when we arrived."
    clips = {}
    for label in ("angry", "sad"):
        settings = C.draw_settings(label, voice, np.random.default_rng(3), profiles)
        spec = C.ClipSpec(id=f"t-{label}", sentence_id="lex06", text=text, label=label, voice=voice_name,
                          split=voice.split, lexically_neutral=True, settings=settings)
        # piper samples its durations and noise itself (not seedable): average three renders of the same settings
        renders = 3 if voice.tts == "piper" else 1
        clips[label] = tuple(np.mean([_measure(C.render_audio(spec, voice), 16000) for _ in range(renders)], axis=0))
    (dur_a, rms_a, f0_a), (dur_s, rms_s, f0_s) = clips["angry"], clips["sad"]
    assert dur_a < 0.85 * dur_s
    assert rms_a > rms_s + 8
    assert f0_a > f0_s * 2 ** (3 / 12)  # at least 3 semitones higher
