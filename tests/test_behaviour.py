"""Behaviour is preserved: `esmr analyze --json` (with and without speech recognition) and `esmr sing recommend
--json` on every bundled example clip answer as recorded in tests/golden/examples.json (recorded before the
restructure of the package; re-record with scripts/record_examples.py only when a change is intended)."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("record_examples", ROOT / "scripts" / "record_examples.py")
rec = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rec)


def test_differences_finds_a_changed_score_and_label():
    a = {"x": {"score": 0.5, "label": "sad", "tracks": [1, 2]}}
    assert rec.differences(a, json.loads(json.dumps(a))) == []
    b = {"x": {"score": 0.5002, "label": "happy", "tracks": [1]}}
    assert rec.differences(a, b) == [".x.label: 'sad' vs 'happy'", ".x.score: 0.5 vs 0.5002", ".x.tracks: 2 vs 1 items"]


@pytest.mark.slow
def test_example_answers_are_unchanged():
    golden = json.loads(rec.GOLDEN.read_text(encoding="utf-8"))
    now = rec.record()
    diffs = [d for key in ("analyze", "analyze_no_asr", "sing") for d in rec.differences(golden[key], now[key], key)]
    assert not diffs, f"{len(diffs)} differences from the recording:\n" + "\n".join(diffs[:40])
