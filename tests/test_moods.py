"""Mood evidence and assignment (esmr_core/data/moods.py): descriptors on synthesised music, mood words in titles,
the balanced nearest-mood assignment, and the catalogue calibration that uses them."""
from __future__ import annotations

import numpy as np
import pytest

from esmr_core.data import catalog, moods
from esmr_core.emotion import MUSIC_MOODS

SR = moods.DESCRIPTOR_SR


def _note(freq: float, seconds: float, amp: float = 0.2) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    env = np.minimum(1.0, t / 0.01) * np.exp(-3 * t)                 # plucked: sharp attack, decay
    return amp * env * sum(np.sin(2 * np.pi * freq * k * t) / k for k in (1, 2, 3))


def _chords(chords: list[list[int]], beat: float = 0.5, repeat: int = 8) -> np.ndarray:
    """Block chords (MIDI notes), one per beat, repeated."""
    seq = [sum(_note(440 * 2 ** ((m - 69) / 12), beat) for m in ch) for ch in chords] * repeat
    return np.concatenate(seq).astype(np.float32)


C, F, G = [60, 64, 67], [65, 69, 72], [67, 71, 74]
AM, DM, E = [57, 60, 64], [62, 65, 69], [64, 68, 71]


@pytest.fixture(scope="module")
def major_minor():
    return moods.describe(_chords([C, F, G, C])), moods.describe(_chords([AM, DM, E, AM]))


def test_key_mode_and_clarity(major_minor):
    major, minor = major_minor
    assert major["key"] == "C major" and minor["key"] == "A minor"
    assert major["mode"] > 0.05 and minor["mode"] < -0.05
    noise = moods.describe((0.1 * np.random.default_rng(0).standard_normal(16 * SR)).astype(np.float32))
    assert noise["key_clarity"] < 0.5 < min(major["key_clarity"], minor["key_clarity"])


def test_loudness_range_brightness_and_onsets(major_minor):
    major, _ = major_minor
    y = _chords([C, F, G, C])
    quiet = moods.describe(0.1 * y)
    assert quiet["loudness_lufs"] == pytest.approx(major["loudness_lufs"] - 20.0, abs=0.5)
    quarter = len(y) // 4
    alternating = np.concatenate([y[:quarter], 0.05 * y[quarter:2 * quarter], y[2 * quarter:3 * quarter],
                                  0.05 * y[3 * quarter:]])
    assert moods.describe(alternating)["dynamic_range_db"] > 20 > 1 > major["dynamic_range_db"]
    rng = np.random.default_rng(1)
    from scipy.signal import butter, sosfilt
    noise = rng.standard_normal(10 * SR)
    dark = sosfilt(butter(4, 800, "low", fs=SR, output="sos"), noise)
    bright = sosfilt(butter(4, 4000, "high", fs=SR, output="sos"), noise)
    assert moods.describe((0.1 * bright).astype(np.float32))["centroid_hz"] > \
        2 * moods.describe((0.1 * dark).astype(np.float32))["centroid_hz"]
    clicks = np.zeros(16 * SR, np.float32)
    clicks[::SR // 4] = 0.8                                               # 4 clicks per second
    assert moods.describe(clicks)["onset_rate"] == pytest.approx(4.0, abs=0.3)
    assert major["onset_rate"] == pytest.approx(2.0, abs=0.3)            # one chord per half second


def test_title_moods():
    assert moods.title_moods("Victory2") == ("happy", "exciting")
    assert moods.title_moods("HellFortressEntrance") == ("scary", "sad")
    assert moods.title_moods("Ghostforest Map", "ghostforest_map") == ("scary", "sad")   # compound word
    assert moods.title_moods("Battle Theme") == ("angry", "exciting")
    assert moods.title_moods("Call Of The Winding Path") == ()           # "win" only as a whole word
    assert moods.title_moods("Forest", "forest") == ()                   # no "rest" inside "forest"
    assert moods.title_moods("AmbientBattle") == ()                      # calm and angry: no common mood
    assert moods.title_moods("Sad", "") == ("sad",)


def test_balanced_assignment_floor_slack_and_shortfall():
    rng = np.random.default_rng(0)
    v, a = rng.uniform(size=300), rng.uniform(size=300)
    d = moods.mood_distances(v, a)
    near = d.argmin(axis=1)
    same, short = moods.balanced_assignment(d, 0, 0.1)
    assert (same == near).all() and short == {}
    out, short = moods.balanced_assignment(d, 20, 0.15)
    counts = np.bincount(out, minlength=len(MUSIC_MOODS))
    assert short == {} and counts.min() >= 20
    extra = d[np.arange(300), out] - d[np.arange(300), near]
    assert extra.max() <= 0.15 + 1e-9                                    # nobody moved farther than the slack
    moved = out != near
    assert 0 < moved.sum() <= sum(max(0, 20 - c) for c in np.bincount(near, minlength=len(MUSIC_MOODS)))
    # exact: on a small problem no feasible assignment (floor met, moves within the slack) costs less
    import itertools
    small = rng.uniform(size=(7, 3))
    best, _ = moods.balanced_assignment(small, 2, 0.5)
    ok = small <= small.min(axis=1, keepdims=True) + 0.5
    feasible = [c for c in itertools.product(range(3), repeat=7)
                if all(ok[i, j] for i, j in enumerate(c)) and min(np.bincount(c, minlength=3)) >= 2]
    assert np.isclose(small[np.arange(7), best].sum(), min(small[np.arange(7), list(c)].sum() for c in feasible))
    tight, short = moods.balanced_assignment(d, 20, 0.01)                 # too small a margin: moods stay short
    assert short and all(np.bincount(tight, minlength=8)[j] == 20 - n for j, n in short.items())


def _rows(n: int, seed: int = 0, descriptors: bool = True) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        r = {"id": f"t{i}", "valence_raw": float(rng.uniform(0, 0.4)), "energy_raw": float(rng.uniform(0.3, 0.7))}
        if descriptors:
            r["descriptors"] = {"mode": float(rng.normal()), "key_clarity": float(rng.uniform(0.3, 0.9))}
        rows.append(r)
    return rows


def test_assign_moods_floor_and_valence_cues():
    rows = _rows(400)
    rep = catalog.calibrate(rows)
    counts = {m: sum(r["mood"] == m for r in rows) for m in MUSIC_MOODS}
    assert rep["descriptors"] and rep["floor"] == 20 and rep["short"] == {}
    assert min(counts.values()) >= 20, counts
    # valence follows the mean percentile of vibenet valence, mode and key clarity: raise a row's mode and key
    # clarity to the top and its valence rises, its vibenet valence unchanged
    lifted = [dict(r, descriptors=dict(r["descriptors"])) for r in rows]
    lifted[0]["descriptors"].update(mode=10.0, key_clarity=1.0)
    catalog.calibrate(lifted)
    assert lifted[0]["valence"] > rows[0]["valence"] and lifted[0]["energy"] == rows[0]["energy"]
    # without descriptors on every row: vibenet valence alone
    plain = _rows(400, descriptors=False)
    assert not catalog.calibrate(plain)["descriptors"]
    ranks = moods.percentile_ranks([r["valence_raw"] for r in plain])
    assert [r["valence"] for r in plain] == [round(float(x), 4) for x in ranks]
    # small catalogues are not forced: the floor is at most half an equal share
    few = _rows(40)
    assert catalog.calibrate(few)["floor"] == 2


def test_mood_areas_show_why_a_floor_is_needed():
    areas = moods.mood_areas(200)
    assert sum(areas.values()) == pytest.approx(1.0, abs=1e-6)
    assert areas["happy"] < 0.02 and areas["scary"] < 0.05 and areas["sad"] > 0.2
