"""The real-voice benchmark's parts (esmr_core.realvoice, bench/realvoice.py) on tiny data made here.

No Hedgewars or asterisk audio is needed: the transforms are checked on a synthetic voiced signal, the scores on
hand-made numbers whose answers are worked out by hand, and the report glue on fabricated readings."""
from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

from esmr_core import realvoice as rv
from esmr_core.emotion import EMOTIONS
from esmr_core.errors import EsmrError

SR = 16000
REPO = Path(__file__).resolve().parents[1]


def voiced(seconds: float = 1.2, f0: float = 130.0, sr: int = SR, seed: int = 0) -> np.ndarray:
    """A vowel-like voiced signal: a harmonic source (1/k amplitudes, slight vibrato) through three formant
    resonators (700, 1200, 2600 Hz), two syllable-like swells of loudness. (N,) float32, peak 0.5."""
    from scipy.signal import lfilter

    t = np.arange(int(seconds * sr)) / sr
    f = f0 * (1 + 0.04 * np.sin(2 * np.pi * 4.0 * t))
    phase = 2 * np.pi * np.cumsum(f) / sr
    src = sum(np.sin(k * phase) / k for k in range(1, int(sr / 2 / (f0 * 1.1))))
    y = src
    for fc, bw in ((700, 110), (1200, 120), (2600, 160)):
        r = math.exp(-math.pi * bw / sr)
        y = lfilter([1 - r], [1, -2 * r * math.cos(2 * math.pi * fc / sr), r * r], y)
    env = 0.3 + 0.7 * np.sin(np.pi * np.clip(t / seconds * 2 % 1, 0, 1)) ** 2
    y = y * env + 1e-4 * np.random.default_rng(seed).standard_normal(t.size)
    return (0.5 * y / np.max(np.abs(y))).astype(np.float32)


def _bench():
    spec = importlib.util.spec_from_file_location("bench_realvoice", REPO / "bench" / "realvoice.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# ------------------------------------------------------------------------------------------- data guards
def test_only_the_allowed_packs_and_voices(tmp_path):
    for pack in rv.EVAL_PACKS:
        assert rv.pack_dir(tmp_path, pack).name == pack
    for held_out in ("Robot", "Default_ru", "Singer", "Mobster", "../Robot"):
        with pytest.raises(EsmrError, match="held out"):
            rv.pack_dir(tmp_path, held_out)
    assert rv.asterisk_dir(tmp_path, "fr").name == "fr_CA_f_June"
    assert rv.asterisk_dir(tmp_path, "it").name == "it_IT_m_Carlo"
    for other in ("en", "es", "ru", "en_US"):
        with pytest.raises(EsmrError):
            rv.asterisk_dir(tmp_path, other)
    assert not any("-en" in d or "-es" in d or "-ru" in d for d in rv.BENCH_DEBS)


def test_pick_evenly():
    assert rv.pick_evenly(list(range(11)), 3) == [0, 5, 10]
    assert rv.pick_evenly([1, 2], 5) == [1, 2]


# ------------------------------------------------------------------------------------------- labels
def test_line_labels_are_consistent():
    for name, lab in rv.LINE_LABELS.items():
        assert lab.emotion is None or lab.emotion in EMOTIONS, name
        assert lab.arousal in (None, "high", "low"), name
        assert lab.valence in (None, "positive", "negative"), name
        assert lab.arousal or lab.valence or lab.emotion, name
        assert len(lab.why) > 10, name
    # the groups of the issue
    for line in ("Illgetyou", "Gonnagetyou", "Youllregretthat", "Revenge", "Justyouwait", "Comeonthen"):
        lab = rv.LINE_LABELS[line]
        assert (lab.emotion, lab.arousal, lab.valence) == ("angry", "high", "negative")
    for line in ("Victory", "Amazing", "Brilliant", "Excellent", "Flawless", "Laugh"):
        lab = rv.LINE_LABELS[line]
        assert (lab.emotion, lab.arousal, lab.valence) == ("happy", "high", "positive")
    for line in ("Incoming", "Takecover", "Runaway", "Nooo", "Uh-oh"):
        lab = rv.LINE_LABELS[line]
        assert (lab.emotion, lab.arousal) == ("fear", "high")
    for line in ("Boring", "Hmm", "Hello", "Byebye", "Solong", "Yessir", "Ohdear"):
        assert rv.LINE_LABELS[line].arousal == "low"
    # pain grunts and effort sounds are not labelled
    for line in ("Ow1", "Ooff2", "Ouch", "Jump1", "Firepunch3", "Kamikaze", "PoisonCough"):
        assert line not in rv.LINE_LABELS
    # both classes of each scored dimension exist
    assert {lab.arousal for lab in rv.LINE_LABELS.values()} >= {"high", "low"}
    assert {lab.valence for lab in rv.LINE_LABELS.values()} >= {"positive", "negative"}


# ------------------------------------------------------------------------------------------- scores
def test_pair_accuracy_by_hand():
    # group a: high {0.9, 0.5}, low {0.4, 0.5} -> pairs (0.9>0.4) (0.9>0.5) (0.5>0.4) (0.5=0.5 half) = 3.5 / 4
    # group b: high {0.1}, low {0.2} -> 0 / 1. Pooled: 3.5 / 5.
    scores = [0.9, 0.5, 0.4, 0.5, 0.1, 0.2, 0.7]
    classes = ["high", "high", "low", "low", "high", "low", None]
    groups = ["a", "a", "a", "a", "b", "b", "a"]
    acc, n = rv.pair_accuracy(scores, classes, groups, "high", "low")
    assert n == 5 and acc == pytest.approx(3.5 / 5)
    # pairs never cross groups: b's low 0.2 would lose to a's highs if they did, b's high 0.1 to a's lows
    acc_a, n_a = rv.pair_accuracy(scores[:4], classes[:4], groups[:4], "high", "low")
    assert (acc_a, n_a) == (pytest.approx(3.5 / 4), 4)
    # a constant shift of one group (another speaker's register) changes nothing
    shifted = [s + 10 if g == "b" else s for s, g in zip(scores, groups)]
    assert rv.pair_accuracy(shifted, classes, groups, "high", "low") == (pytest.approx(3.5 / 5), 5)
    acc, n = rv.pair_accuracy([1.0, 2.0], ["high", "high"], ["a", "a"], "high", "low")
    assert n == 0 and math.isnan(acc)


def test_ordered_pairs_and_triples():
    levels = [-1, 0, 1]
    assert rv.ordered_pairs(levels, [0.1, 0.2, 0.3]) == (1.0, 3)
    assert rv.ordered_pairs(levels, [0.3, 0.2, 0.1]) == (0.0, 3)
    assert rv.ordered_pairs(levels, [0.2, 0.2, 0.3]) == (pytest.approx(2.5 / 3), 3)
    assert rv.ordered_triples({-2: 0.1, -1: 0.3, 0: 0.2, 1: 0.25, 2: 0.9}) == [False, True]
    assert rv.ordered_triples({-1: 0.2, 0: 0.2, 1: 0.3}) == [False]      # a tie is not a rise
    assert rv.ordered_triples({0: 0.2, 1: 0.3}) == []


def test_accuracy_skips_unlabelled():
    assert rv.accuracy(["angry", "happy", "sad"], ["angry", None, "happy"]) == (0.5, 2)
    acc, n = rv.accuracy(["angry"], [None])
    assert n == 0 and math.isnan(acc)


def test_two_cue_rule_is_speaker_relative():
    f0 = [10.0, 14.0, 12.0, 22.0, 26.0, 24.0]          # speaker b is an octave higher than a
    tilt = [-20.0, -10.0, -15.0, -20.0, -10.0, -15.0]
    groups = ["a", "a", "a", "b", "b", "b"]
    s = rv.two_cue_arousal(f0, tilt, groups)
    assert np.allclose(s[:3], s[3:])                    # only the voice's position in its own register counts
    assert s[1] > s[2] > s[0]
    z = rv.zscore_within([1.0, 1.0, np.nan, 3.0], ["a", "a", "a", "b"])
    assert z[0] == 0.0 and np.isnan(z[2]) and z[3] == 0.0
    assert np.isfinite(rv.two_cue_arousal([np.nan, 12.0], [-10.0, -12.0], ["a", "a"])).all()
    assert rv.mate_arousal01(1.0) == 0.0 and rv.mate_arousal01(5.0) == 1.0 and rv.mate_arousal01(3.0) == 0.5


# ------------------------------------------------------------------------------------------- measuring
def test_cues_on_a_synthetic_voice():
    x = voiced(f0=130.0)
    assert rv.median_f0_hz(x, SR) == pytest.approx(130.0, rel=0.03)
    assert math.isnan(rv.median_f0_hz(np.zeros(SR, np.float32), SR))
    # a flatter spectrum (more high-frequency energy) has a higher alpha ratio
    assert rv.alpha_ratio_db(rv.tilt_filter(x, SR, 3.0), SR) > rv.alpha_ratio_db(x, SR) + 2
    assert np.allclose(rv.tilt_filter(x, SR, 0.0), x)


# ------------------------------------------------------------------------------------------- transforms
def test_prosody_levels_are_monotone():
    ch = [rv.prosody_level(lv) for lv in rv.LEVELS]
    for field, rising in (("pitch_st", True), ("pitch_range", True), ("duration", False), ("gain_db", True),
                          ("tilt_db_per_octave", True)):
        vals = [getattr(c, field) for c in ch]
        assert vals == sorted(vals, reverse=not rising) and len(set(vals)) == len(vals), field
    assert rv.prosody_level(0) == rv.ProsodyChange()
    assert rv.prosody_level(3).pitch_st == pytest.approx(3.0) and rv.prosody_level(-3).pitch_st == pytest.approx(-2.0)
    with pytest.raises(EsmrError):
        rv.prosody_level(4)


def test_transform_moves_f0_duration_and_tilt_the_intended_way():
    x = voiced(seconds=1.2, f0=130.0)
    f0_0, tilt_0 = rv.median_f0_hz(x, SR), rv.alpha_ratio_db(x, SR)
    out = {lv: rv.transform_prosody(x, SR, rv.prosody_level(lv)) for lv in (-3, -1, 0, 1, 3)}
    assert np.allclose(out[0], x, atol=1e-6)
    f0 = {lv: rv.median_f0_hz(y, SR) for lv, y in out.items()}
    st = {lv: 12 * math.log2(f / f0_0) for lv, f in f0.items()}
    assert st[3] == pytest.approx(3.0, abs=0.5) and st[-3] == pytest.approx(-2.0, abs=0.5)
    assert st[-3] < st[-1] < st[0] < st[1] < st[3]
    for lv, y in out.items():
        assert len(y) / len(x) == pytest.approx(rv.prosody_level(lv).duration, rel=0.03)
        assert np.max(np.abs(y)) <= 0.99 and np.isfinite(y).all() and y.dtype == np.float32
    tilt = {lv: rv.alpha_ratio_db(y, SR) for lv, y in out.items()}
    assert tilt[-3] < tilt[-1] < tilt_0 < tilt[1] < tilt[3]
    # pitch range: the vibrato's excursion (p90 - p10 of F0 in semitones) grows when livelier, shrinks when calmer
    import parselmouth

    def spread(y):
        f = parselmouth.Sound(y.astype(np.float64), sampling_frequency=SR).to_pitch(
            pitch_floor=60).selected_array["frequency"]
        st = 12 * np.log2(f[f > 0])
        return np.subtract(*np.percentile(st, [90, 10]))

    assert spread(out[-3]) < spread(x) < spread(out[3])
    # reproducible: Praat's random generator is seeded
    assert np.array_equal(rv.transform_prosody(x, SR, rv.prosody_level(-2)), rv.transform_prosody(
        x, SR, rv.prosody_level(-2)))


# ------------------------------------------------------------------------------------------- channel
def _band_power(y: np.ndarray, sr: int, lo: float, hi: float) -> float:
    f = np.fft.rfftfreq(y.size, 1 / sr)
    p = np.abs(np.fft.rfft(y)) ** 2
    return float(p[(f >= lo) & (f < hi)].sum())


def test_telephone_band():
    t = np.arange(SR) / SR
    x = (0.3 * (np.sin(2 * np.pi * 100 * t) + np.sin(2 * np.pi * 1000 * t) + np.sin(2 * np.pi * 6000 * t))
         ).astype(np.float32)
    y, sr = rv.telephone(x, SR)
    assert sr == 8000 and abs(len(y) - len(x) // 2) <= 1
    mid = _band_power(y, sr, 900, 1100)
    assert _band_power(y, sr, 80, 120) < 0.01 * mid
    assert _band_power(rv.telephone(0.3 * np.sin(2 * np.pi * 3900 * t).astype(np.float32), SR)[0], 8000,
                       3800, 4000) < 0.1 * _band_power(0.3 * np.sin(2 * np.pi * 3900 * t), SR, 3800, 4000) / 2


def test_noise_at_the_asked_snr():
    x = voiced()
    for snr in (20.0, 10.0):
        y = rv.add_noise(x, SR, snr, seed=1)
        noise = y.astype(np.float64) - x
        measured = 10 * np.log10(rv.active_power(x, SR) / np.mean(noise ** 2))
        assert measured == pytest.approx(snr, abs=0.3)
    assert not np.allclose(rv.add_noise(x, SR, 20, seed=1), rv.add_noise(x, SR, 20, seed=2))
    n = rv.pink_noise(SR * 2, seed=0)
    assert _band_power(n, SR, 100, 200) > 5 * _band_power(n, SR, 3000, 3100)    # 1/f: more power low


def test_synthetic_rir_decay():
    h = rv.synthetic_rir(SR, rt60_s=0.5, drr_db=3.0, seed=0).astype(np.float64)
    assert h[0] == 1.0
    assert 10 * np.log10(1.0 / np.sum(h[1:] ** 2)) == pytest.approx(3.0, abs=0.01)
    edc = np.cumsum((h[1:] ** 2)[::-1])[::-1]               # Schroeder backward integral of the tail
    edc_db = 10 * np.log10(edc / edc[0])
    t5, t25 = np.argmax(edc_db < -5) / SR, np.argmax(edc_db < -25) / SR
    assert 3 * (t25 - t5) == pytest.approx(0.5, rel=0.15)    # T20 extrapolated to 60 dB
    x = voiced()
    y = rv.reverberate(x, SR, 0.5)
    assert len(y) > len(x) and np.max(np.abs(y)) == pytest.approx(np.max(np.abs(x)), rel=1e-4)


@pytest.mark.parametrize("codec,kbps", [("opus", 24), ("mp3", 32)])
def test_lossy_codec_round_trip(codec, kbps):
    from esmr_core.audio import decode

    x = voiced(seconds=1.0)
    data = rv.lossy_codec(x, SR, codec, kbps)
    assert isinstance(data, bytes) and len(data) < 0.5 * x.size * 2     # well under 16-bit PCM
    assert len(data) * 8 / 1.0 < kbps * 1000 * 1.6                         # about the asked bit rate
    y, sr = decode(data)
    assert abs(y.shape[0] / sr - 1.0) < 0.1
    assert rv.median_f0_hz(y[:, 0], sr) == pytest.approx(130.0, rel=0.03)
    with pytest.raises(EsmrError):
        rv.lossy_codec(x, SR, "aac", 64)


def test_gain_and_clipping():
    x = voiced()
    assert np.max(np.abs(rv.gain(x, 12.0))) == pytest.approx(np.max(np.abs(x)) * 10 ** 0.6, rel=1e-5)
    y = rv.hard_clip(x, 6.0)
    assert np.max(np.abs(y)) == 1.0 and 0.01 < np.mean(np.abs(y) >= 1.0) < 0.8
    for name, fn in rv.CHANNELS.items():
        out = fn(x, SR, 0)
        assert isinstance(out, bytes) or (out[0].ndim == 1 and np.isfinite(out[0]).all() and out[1] > 0), name


# ------------------------------------------------------------------------------------------- music, thresholds
def test_music_response_stats():
    assert rv.energetic_share([["happy", "sad", "calm", "angry"], ["funny"]]) == pytest.approx(3 / 5)
    assert math.isnan(rv.energetic_share([]))
    assert rv.mean_of([0.2, 0.4]) == pytest.approx(0.3) and math.isnan(rv.mean_of([]))


def test_check_thresholds():
    result = {"acted": {"summary": {"tower": {"voice": {"arousal_pairs": 0.8}, "asr": {"valence_pairs": 0.5}},
                                    "mate": {"voice": {"arousal_pairs": 0.6}},
                                    "two_cue": {"voice": {"arousal_pairs": 0.7}}}},
              "music": {"acted": {"low": {"energetic_share": 0.3}}}}
    got = {t["id"]: t for t in rv.check_thresholds(result)}
    assert got["acted_arousal_tower"]["pass"] is True
    assert got["acted_arousal_mate"]["pass"] is False
    assert got["acted_tower_above_baseline"]["pass"] is True and got["acted_tower_above_baseline"]["target"] == 0.7
    assert got["acted_mate_above_baseline"]["pass"] is False
    assert got["acted_valence_tower_asr"]["pass"] is False
    assert got["music_low_energetic"]["pass"] is True
    assert got["synthetic_mrr"]["pass"] is None and got["synthetic_mrr"]["value"] is None
    assert len(got) == len(rv.THRESHOLDS)


# ------------------------------------------------------------------------------------------- report glue
def _reading(a: float, v: float, label: str, energetic: bool) -> dict:
    moods = ["exciting"] * 5 if energetic else ["sad", "calm", "tender", "sad", "sad"]
    return {"tower_label": label, "tower_arousal": a, "tower_valence": v, "tower_dominance": a,
            "mate_label": label, "mate_arousal": a, "mate_valence": v, "moods": moods,
            "energy": 0.8 if energetic else 0.2, "transcript": ""}


def test_summaries_and_markdown_on_fabricated_readings(tmp_path):
    bench = _bench()
    lines = []
    for pack, shift in (("British", 0.0), ("Pirate", 0.3)):
        for line, a, v, lab in (("Illgetyou", 0.9, 0.2, "angry"), ("Victory", 0.8, 0.9, "happy"),
                                ("Boring", 0.3, 0.3, "neutral"), ("Hello", 0.95, 0.8, "surprise")):
            lab_true = rv.LINE_LABELS[line]
            r = _reading(min(1.0, a + shift) if line != "Hello" else a, v, lab, a > 0.5)
            lines.append({"pack": pack, "line": line, "read": "app", "emotion": lab_true.emotion,
                          "arousal": lab_true.arousal, "valence": lab_true.valence, "f0_median_hz": 150.0 + 50 * a,
                          "alpha_ratio_db": -20 + 10 * a, "voice": r, "asr": r})
    s = bench.acted_summary(lines)
    # high {Illgetyou, Victory} vs low {Boring, Hello}. British: Boring below both, Hello (0.95) above both -> 2/4;
    # Pirate (highs shifted up to 1.0, Boring to 0.6): 4/4. Pooled 6/8.
    assert s["tower"]["voice"]["arousal_pairs"] == pytest.approx(0.75) and s["tower"]["voice"]["arousal_n_pairs"] == 8
    assert s["tower"]["voice"]["per_pack"] == {"British": {"arousal_pairs": 0.5, "valence_pairs": 1.0,
                                                           "accuracy7": 0.75},
                                               "Pirate": {"arousal_pairs": 1.0, "valence_pairs": 1.0,
                                                          "accuracy7": 0.75}}
    # valence: positive {Victory, Hello} vs negative {Illgetyou, Boring}: all 4 ordered
    assert s["mate"]["asr"]["valence_pairs"] == 1.0
    assert s["tower"]["voice"]["accuracy7"] == pytest.approx(0.75)          # Hello read as surprise
    assert set(s["two_cue"]["voice"]) >= {"arousal_pairs", "per_pack"}
    items = []
    for clip in ("fr/a", "it/b"):
        for lv in rv.LEVELS:
            r = _reading(0.5 + 0.1 * lv, 0.5, "neutral", lv > 0)
            r["energy"] = 0.5 + 0.05 * lv
            items.append({"clip": clip, "voice": clip[:2], "level": lv, "f0_median_hz": 150 * 2 ** (lv / 12),
                          "alpha_ratio_db": -15.0 + lv, "duration_s": 2.0, **r})
    p = bench.prosody_summary(items)
    assert p["tower"]["arousal_pairs"] == 1.0 and p["tower"]["arousal_triples"] == 1.0
    assert p["two_cue"]["arousal_pairs"] == 1.0 and p["n_clips"] == 2
    m = bench.music_summary(lines, items)
    assert m["prosody"]["energy_triples_rising"] == 1.0 and m["prosody"]["n_triples"] == 6
    assert m["acted"]["low"]["energetic_share"] == pytest.approx(0.5)       # Hello's top 5 were energetic
    result = {"models": {"checkpoint": "c", "checkpoint_sha256": "x", "mate_checkpoint": "m", "mate_sha256": "y",
                         "catalog": "assets/music", "n_tracks": 146}, "code": {"commit": None},
              "settings": {"min_voiced_s": 0.5}, "runtime_s": {"total": 1.0},
              "acted": {"summary": s, "summary_with_refused": s, "n_analysed": 8, "n_read_relaxed": 0, "refused": [],
                        "per_pack": {"British": {"language": "en", "labelled_lines": 4, "analysed": 4, "refused": 0},
                                     "Pirate": {"language": "en", "labelled_lines": 4, "analysed": 4, "refused": 0}}},
              "prosody": {"summary": p}, "music": m, "synthetic": {"run": False, "reason": "not run"}}
    result["thresholds"] = rv.check_thresholds(result)
    md = bench.markdown_report(result, before=result)
    assert "| Illgetyou | angry | high | negative |" in md and "## (b) Controlled prosody" in md
    assert "| measure | before | now |" in md


def test_fetch_reports_missing_packages_without_apt(tmp_path):
    bench = _bench()
    status = bench.fetch_packages(tmp_path, rv.BENCH_DEBS, allow=False)
    assert set(status) == set(rv.BENCH_DEBS) and all(s.startswith("missing") for s in status.values())
    (tmp_path / "raw" / rv.HEDGEWARS_DEB / "usr").mkdir(parents=True)
    assert bench.fetch_packages(tmp_path, rv.BENCH_DEBS, allow=False)[rv.HEDGEWARS_DEB] == "present"


def _write_g722(path: Path, y: np.ndarray, sr: int) -> None:
    """Raw G.722 at 16 kHz, as the asterisk packages ship their prompts."""
    import av
    from scipy.signal import resample_poly

    g = math.gcd(16000, sr)
    y16 = resample_poly(y, 16000 // g, sr // g)
    pcm = (np.clip(y16, -1, 1) * 32767).astype(np.int16)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="g722") as box:
        stream = box.add_stream("g722", rate=16000, layout="mono")
        frame = av.AudioFrame.from_ndarray(pcm[None, :], format="s16", layout="mono")
        frame.sample_rate = 16000
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            box.mux(packet)


@pytest.mark.slow
def test_benchmark_end_to_end_on_a_tiny_voice_folder(tmp_path):
    """The whole command through the real service: two espeak-ng sentences stand in for the French prompts
    (G.722 in the package's folder layout); no Hedgewars pack, so that part reports itself skipped."""
    from esmr_core.data.tts import synth_espeak

    bench = _bench()
    voice_dir = rv.asterisk_dir(tmp_path / "data" / "raw", "fr")
    for i, text in enumerate(("The parcel arrived at the station this morning.",
                              "Please call me back after the meeting on Tuesday.")):
        y, sr = synth_espeak(text, "en-us", rate_wpm=150, pitch=50, range_pct=100)
        _write_g722(voice_dir / f"prompt{i}.g722", 0.5 * y / np.max(np.abs(y)), sr)
    out, md = tmp_path / "rv.json", tmp_path / "rv.md"
    assert bench.main(["--data", str(tmp_path / "data"), "--no-fetch", "--synthetic", "skip", "--prosody-clips",
                       "2", "--channel-clips", "1", "--channel-levels", "0", "--out", str(out), "--markdown",
                       str(md), "--before", str(tmp_path / "none.json")]) == 0
    import json

    r = json.loads(out.read_text(encoding="utf-8"))
    assert r["acted"]["skipped"].startswith("missing")
    assert r["data"]["packages"][rv.HEDGEWARS_DEB]["status"].startswith("missing")
    items = r["prosody"]["items"]
    assert len(items) == 2 * len(rv.LEVELS) and all("refused" not in x for x in items)
    f0 = {x["level"]: x["f0_median_hz"] for x in items if x["clip"] == "fr/prompt0"}
    assert f0[-3] < f0[0] < f0[3]                              # the real transform reached the service's input
    assert all(0.0 <= x["tower_arousal"] <= 1.0 and 0.0 <= x["mate_arousal"] <= 1.0 for x in items)
    s = r["prosody"]["summary"]
    assert s["tower"]["n_pairs"] == 2 * 21 and 0.0 <= s["tower"]["arousal_pairs"] <= 1.0
    assert set(r["channel"]["conditions"]) == set(rv.CHANNELS)
    for cond, d in r["channel"]["conditions"].items():
        assert d["tower"]["n"] + d["refused"] == 1, cond
    gain = r["channel"]["conditions"]["gain_-12db"]["tower"]
    assert gain["arousal_shift"] < 0.02            # the app normalises loudness: a quieter copy reads the same
    assert r["examples"]["app"]["n"] == 7 and len(r["examples"]["voice"]["items"]) == 7
    assert {t["id"] for t in r["thresholds"]} == {t[0] for t in rv.THRESHOLDS}
    text = md.read_text(encoding="utf-8")
    assert "## (b) Controlled prosody" in text and "## (c) Channel" in text and "## (e)" in text


def test_fetch_downloads_and_unpacks_with_apt_get(tmp_path, monkeypatch):
    """The fetch step runs `apt-get download` in data/debs and `dpkg -x` into data/raw/<package>; here apt-get is a
    stand-in that hands over a tiny package built in the test (no network), dpkg is the real one."""
    import shutil
    import subprocess

    if not (shutil.which("dpkg-deb") and shutil.which("dpkg")):
        pytest.skip("dpkg is not installed")
    root = tmp_path / "pkg"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text("Package: hedgewars-data\nVersion: 9.9-1\nArchitecture: all\n"
                                             "Maintainer: test <t@example.org>\nDescription: test package\n")
    (root / "usr" / "share").mkdir(parents=True)
    (root / "usr" / "share" / "hello.txt").write_text("hi")
    store = tmp_path / "repo"
    store.mkdir()
    subprocess.run(["dpkg-deb", "--build", "--root-owner-group", str(root),
                    str(store / "hedgewars-data_9.9-1_all.deb")], check=True, capture_output=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "apt-get"
    fake.write_text(f'#!/bin/sh\n[ "$1" = download ] && cp "{store}/$2"_*.deb . || {{ echo "E: Unable to locate '
                    f'package $2" >&2; exit 100; }}\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{__import__('os').environ['PATH']}")
    bench = _bench()
    data = tmp_path / "data"
    status = bench.fetch_packages(data, ("hedgewars-data", "no-such-package"), allow=True)
    assert status["hedgewars-data"] == "fetched"
    assert (data / "raw" / "hedgewars-data" / "usr" / "share" / "hello.txt").read_text() == "hi"
    assert bench.deb_version(data, "hedgewars-data") == "9.9-1"
    assert status["no-such-package"].startswith("missing: apt-get could not fetch it (E: Unable to locate")
    assert bench.fetch_packages(data, ("hedgewars-data",), allow=True)["hedgewars-data"] == "present"


def test_val_neutral_clips_picks_val_speakers_neutral_channel_free_clips():
    def row(i, voice, **kw):
        base = {"id": f"{voice}-{i:02d}", "voice": voice, "real_voice": True, "split": "val", "label": "neutral",
                "duration_s": 3.0}
        return {**base, **kw}

    rows = [row(i, "b") for i in range(10)] + [row(i, "a") for i in range(3)]
    rows += [row(50, "a", split="train"), row(51, "a", label="angry"), row(52, "a", channel="telephone"),
             row(53, "a", duration_s=1.0), row(54, "a", duration_s=7.0), row(55, "a", real_voice=False)]
    got = rv.val_neutral_clips(rows, per_voice=4)
    assert [r["id"] for r in got] == ["a-00", "a-01", "a-02", "b-00", "b-02", "b-04", "b-06"]
