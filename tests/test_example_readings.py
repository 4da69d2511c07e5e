"""The app's example voices show the method working: read as labelled, and answered with music of their mood."""
from __future__ import annotations

import json

import pytest

from esmr_core.paths import assets_dir

FOLDER = assets_dir() / "examples" / "speech"
ROWS = [json.loads(x) for x in (FOLDER / "manifest.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
BRIGHT, CALM = {"happy", "funny", "exciting"}, {"calm", "tender", "sad"}


@pytest.fixture(scope="module")
def readings(svc):
    """Each example as the app runs it: the 'words' group with its known words, the rest from the voice alone."""
    return {r["id"]: svc.analyze_speech(FOLDER / r["path"], text=r["text"] or None, asr=False) for r in ROWS}


def test_both_groups_hold_one_clip_per_emotion():
    for group in ("words", "voice-only"):
        labels = sorted(r["label"] for r in ROWS if r["group"] == group)
        assert len(labels) == 7 and len(set(labels)) == 7, (group, labels)
    assert all(r["text"] for r in ROWS if r["group"] == "words")
    assert all(not r["text"] for r in ROWS if r["group"] == "voice-only")
    assert all(3.0 <= r["duration_s"] <= 10.0 for r in ROWS)


def test_the_reading_that_picks_the_music_gets_the_worded_examples_right(readings):
    words = [r for r in ROWS if r["group"] == "words"]
    right = [r["id"] for r in words if readings[r["id"]]["emotion"]["label"] == r["label"]]
    assert len(right) >= 5, right


def test_happy_and_calm_examples_get_music_of_their_mood(readings):
    by_label = {r["label"]: readings[r["id"]] for r in ROWS if r["group"] == "words"}
    happy = [t["mood"] for t in by_label["happy"]["tracks"]]
    calm = [t["mood"] for t in by_label["neutral"]["tracks"]]   # the calm voice: neutral words, a level voice
    assert sum(m in BRIGHT for m in happy) >= 3, happy
    assert sum(m in CALM for m in calm) >= 3, calm


def test_voice_alone_moves_the_arousal(readings):
    """Real voices without words: the aroused renderings read higher arousal than the sad and neutral ones."""
    voice = {r["label"]: readings[r["id"]]["vad"]["arousal"] for r in ROWS if r["group"] == "voice-only"}
    assert min(voice[e] for e in ("angry", "fear", "happy", "surprise")) > max(voice[e] for e in ("sad", "neutral")), voice
