"""The real-voice part of the corpus: rule-based emotion transforms (WORLD), channel augmentation, speakers and
splits, refused sources, and a tiny real build from a package made in the test."""
from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from esmr_core.data import emofilt as E
from esmr_core.data import realvoices as R
from esmr_core.data.manifest import load_collection, new_collection
from esmr_core.emotion import EMOTIONS, vad
from esmr_core.errors import EsmrError

SR = 16000
pytest.importorskip("pyworld")


def voiced(f0: float = 120.0, seconds: float = 2.0, seed: int = 0, pauses: bool = True) -> np.ndarray:
    """A speech-like test signal: a harmonic source (-6 dB/octave) with intonation and declination, three formant
    resonances, a 4 Hz syllable envelope, breath noise and, optionally, two 150 ms pauses. (T,) float64."""
    from scipy.signal import lfilter

    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    f = f0 * 2 ** ((1.5 * np.sin(2 * np.pi * 1.3 * t + rng.uniform(0, 6)) - 1.0 * t / seconds) / 12)
    phase = 2 * np.pi * np.cumsum(f) / SR
    y = sum(np.sin(k * phase) / k for k in range(1, int(3800 / f0)))
    for fc, bw in ((700, 90), (1220, 110), (2600, 160)):
        r = np.exp(-np.pi * bw / SR)
        y = y + 0.6 * lfilter([1 - r], [1, -2 * r * np.cos(2 * np.pi * fc / SR), r * r], y)
    env = 0.35 + 0.65 * np.sin(np.pi * (t * 4.0 % 1.0)) ** 2
    y = y * env + 0.01 * rng.standard_normal(len(t))
    if pauses:
        for c in (0.33, 0.66):
            i = int(c * len(t))
            y[i: i + int(0.15 * SR)] = 0.002 * rng.standard_normal(int(0.15 * SR))
    return 0.05 * y / np.sqrt(np.mean(y ** 2))


def _f0_median(y: np.ndarray) -> float:
    from swift_f0 import SwiftF0

    res = SwiftF0(threads=1).detect(np.asarray(y, np.float32), SR, 60, 700)
    v = res.pitch_hz[res.confidence > 0.6]
    assert len(v) > 20, "too few voiced frames to measure F0"
    return float(np.median(v))


def _f0_sd_st(y: np.ndarray) -> float:
    """Spread of F0 around its linear trend (the declination is a separate cue), semitones."""
    from swift_f0 import SwiftF0

    res = SwiftF0(threads=1).detect(np.asarray(y, np.float32), SR, 60, 700)
    ok = res.confidence > 0.6
    st, t = 12 * np.log2(res.pitch_hz[ok]), np.flatnonzero(ok).astype(float)
    return float(np.std(st - np.polyval(np.polyfit(t, st, 1), t)))


def _alpha(y: np.ndarray) -> float:
    """Energy 1-5 kHz over energy 50 Hz-1 kHz, dB (the alpha ratio: vocal effort)."""
    spec = np.abs(np.fft.rfft(y)) ** 2
    f = np.fft.rfftfreq(len(y), 1 / SR)
    return float(10 * np.log10(spec[(f > 1000) & (f < 5000)].sum() / spec[(f > 50) & (f < 1000)].sum()))


@pytest.fixture(scope="module")
def profiles():
    return R.load_prosody_profiles()


@pytest.fixture(scope="module")
def analysed():
    y = voiced(130.0, 2.4)
    return y, E.analyze(y)


# ---- profiles and settings ----------------------------------------------------------------------------
def test_profiles_have_the_real_voice_parameters_in_the_published_directions(profiles):
    for emo in EMOTIONS:
        for key in E.EMOTION_KEYS:
            low, high = profiles[emo][key]
            assert low <= high, (emo, key)
    p = profiles
    assert p["angry"]["tilt_db"][0] > p["happy"]["tilt_db"][1] >= p["neutral"]["tilt_db"][1] > p["sad"]["tilt_db"][1]
    assert p["sad"]["pause"][0] > p["neutral"]["pause"][1] > p["angry"]["pause"][1]
    assert p["sad"]["contour_st"][1] < p["neutral"]["contour_st"][0] and p["surprise"]["final_st"][0] > 1.0
    assert p["fear"]["jitter_pct"][0] >= max(p[e]["jitter_pct"][1] for e in EMOTIONS if e != "fear") - 0.1
    assert p["sad"]["breath"][0] > 0 > p["angry"]["breath"][1]
    assert p["angry"]["dynamics"][0] > 1 > p["sad"]["dynamics"][1]


def test_settings_are_reproducible_by_seed_and_follow_the_profiles(profiles):
    base = {"base_id": "real-x-000"}
    a = R.plan_renders(base, 0, profiles)
    assert a == R.plan_renders(base, 0, profiles)
    b = R.plan_renders(base, 1, profiles)
    assert [r["settings"] for r in a] != [r["settings"] for r in b]
    assert [r["label"] for r in a] == list(EMOTIONS) and len({r["id"] for r in a}) == 7
    for r in a:
        for key in E.EMOTION_KEYS:
            low, high = profiles[r["label"]][key]
            assert low - 1e-3 <= r["settings"][key] <= high + 1e-3, (r["id"], key)
    shares = [bool(r["channel"]) for k in range(40) for r in R.plan_renders({"base_id": f"b{k}"}, 0, profiles)]
    assert 0.35 < np.mean(shares) < 0.65                      # about half the clips get a channel
    assert not any(r["channel"] for r in R.plan_renders(base, 0, profiles, channel_share=0.0))


def test_transform_is_deterministic(analysed, profiles):
    _, params = analysed
    s = E.draw_settings("fear", R.seeded_rng(0, "det"), profiles)   # fear: jitter and tremor use the noise seed
    assert np.array_equal(E.transform(params, s), E.transform(params, s))


# ---- the transform moves the cues as intended ---------------------------------------------------------
@pytest.mark.parametrize("label", EMOTIONS)
def test_transform_moves_f0_duration_and_level_as_the_settings_say(label, analysed, profiles):
    y, params = analysed
    s = E.draw_settings(label, R.seeded_rng(5, label), profiles)
    z = E.transform(params, s)
    assert np.isfinite(z).all()
    shift = 12 * np.log2(_f0_median(z) / _f0_median(y))
    assert abs(shift - s["pitch_st"]) < 1.3, (shift, s["pitch_st"])
    # duration: speech frames scale by 1 / rate, the two 150 ms pauses by pause / rate
    n, pause = len(y) / SR, 0.30
    want = ((n - pause) + pause * s["pause"]) / s["rate"]
    assert abs(len(z) / SR - want) < 0.12 * want, (len(z) / SR, want)
    out, applied = E.finish(z, s["gain_db"])
    assert out.dtype == np.float32 and np.abs(out).max() <= E.PEAK_CEIL + 1e-4
    rms_db = 20 * np.log10(np.sqrt(np.mean(out.astype(np.float64) ** 2)))
    assert abs(rms_db - (E.REFERENCE_DBFS + applied)) < 0.1 and applied <= s["gain_db"] + 1e-3


def test_angry_is_higher_faster_brighter_and_wider_than_sad(analysed, profiles):
    y, params = analysed
    out = {}
    for label in ("angry", "sad", "neutral"):
        s = E.draw_settings(label, R.seeded_rng(1, label), profiles)
        z = E.transform(params, s)
        out[label] = (_f0_median(z), len(z), _alpha(z), _f0_sd_st(z))
    (fa, na, aa, ra), (fs, ns, as_, rs), (fn, nn, an, rn) = out["angry"], out["sad"], out["neutral"]
    assert fa > fn * 2 ** (1.5 / 12) and fs < fn * 2 ** (-1 / 12)      # F0 level
    assert na < 0.9 * nn < 0.9 * ns                                     # tempo and pauses
    assert aa > an + 1.0 > as_ + 2.0                                    # vocal effort (spectral tilt)
    assert ra > 1.3 * rn and rs < 0.75 * rn                             # F0 range


def test_neutral_is_nearly_the_source(analysed, profiles):
    y, params = analysed
    s = E.draw_settings("neutral", R.seeded_rng(2, "n"), profiles)
    z = E.transform(params, s)
    assert abs(12 * np.log2(_f0_median(z) / _f0_median(y))) < 0.8
    assert abs(len(z) / len(y) - 1) < 0.08 and abs(_alpha(z) - _alpha(y)) < 2.5


# ---- channel augmentation -----------------------------------------------------------------------------
CHAINS = [
    [{"kind": "reverb", "rt60_s": 0.6, "drr_db": 2.0, "seed": 1}],
    [{"kind": "noise", "snr_db": 10.0, "colour": 1.0, "hum": False, "seed": 2}],
    [{"kind": "noise", "snr_db": 20.0, "colour": 0.0, "hum": True, "seed": 3}],
    [{"kind": "telephone", "mu_law": True}],
    [{"kind": "codec", "codec": "opus", "kbps": 12}],
    [{"kind": "codec", "codec": "mp3", "kbps": 24}],
    [{"kind": "gain", "gain_db": 12.0}],
    [{"kind": "gain", "gain_db": -12.0}],
    [{"kind": "clip", "level": 0.5}],
]


@pytest.mark.parametrize("chain", CHAINS, ids=lambda c: f"{c[0]['kind']}-{list(c[0].values())[1]}")
def test_augmentation_keeps_length_rate_and_range(chain):
    y = (voiced(200.0, 1.5, pauses=False) * 4).astype(np.float32)
    z, done = E.augment(y, chain)
    assert z.shape == y.shape and z.dtype == np.float32 and np.isfinite(z).all() and np.abs(z).max() <= 1.0
    assert done[0]["kind"] == chain[0]["kind"]
    kind = chain[0]["kind"]
    corr = float(np.corrcoef(y, z)[0, 1])
    if kind in ("codec", "gain", "clip", "noise"):
        assert corr > (0.6 if kind == "noise" else 0.9), corr       # the same signal, time-aligned
    if kind == "noise":
        snr = 10 * np.log10(np.mean(y.astype(np.float64) ** 2) / np.mean((z - y).astype(np.float64) ** 2))
        assert abs(snr - chain[0]["snr_db"]) < 0.5
    if kind == "telephone":
        spec = np.abs(np.fft.rfft(z)) ** 2
        f = np.fft.rfftfreq(len(z), 1 / SR)
        assert spec[f > 4200].sum() < 1e-4 * spec.sum() and spec[f < 150].sum() < 1e-3 * spec.sum()
    if kind == "gain" and chain[0]["gain_db"] > 0:
        assert done[0]["clipped_share"] > 0                          # past full scale: recorded
    if kind == "clip":
        assert np.abs(z).max() <= 0.5 * np.abs(y).max() + 1e-6 and done[0]["clipped_share"] > 0


def test_synthetic_room_response_decays_at_its_rt60():
    rir = E.synth_rir(SR, 0.5, 3.0, seed=4)
    energy = np.cumsum((rir ** 2)[::-1])[::-1]                      # Schroeder backward integration
    db = 10 * np.log10(energy / energy[0])
    t20 = np.argmax(db < -25) - np.argmax(db < -5)                  # T20 fit of the late decay: 20 dB
    rt60 = 3 * t20 / SR
    assert 0.3 < rt60 < 0.7, rt60
    direct, rest = rir[0] ** 2, float(np.sum(rir[1:] ** 2))
    assert abs(10 * np.log10(direct / rest) - 3.0) < 1.0


def test_channel_draws_are_seeded_and_complete():
    a = [E.draw_channel(R.seeded_rng(0, f"c{k}"), 1.0) for k in range(60)]
    assert a == [E.draw_channel(R.seeded_rng(0, f"c{k}"), 1.0) for k in range(60)]
    assert all(a) and {fx["kind"] for chain in a for fx in chain} == set(E.CHANNEL_KINDS)
    assert not any(E.draw_channel(R.seeded_rng(0, f"c{k}"), 0.0) for k in range(20))


# ---- refused sources ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", [
    "asterisk-core-sounds-en-wav", "data/raw/asterisk-core-sounds-en-g722/usr/share/asterisk/sounds/en_US_f_Allison/x.g722",
    "usr/share/asterisk/sounds/en/vm-goodbye.gsm", "asterisk-core-sounds-fr-g722", "x/fr_CA_f_June/hello.g722",
    "asterisk-core-sounds-it-wav", "y/it_IT_m_Carlo/a.wav", "hedgewars-data", "asterisk-core-sounds-es-g722",
    "z/es_MX_f_Allison/agent-pass.g722",
    "data/raw/hedgewars-data/usr/share/games/hedgewars/Data/Sounds/voices/Default/Incoming.ogg"])
def test_forbidden_sources_are_refused(name, tmp_path):
    with pytest.raises(EsmrError, match="refusing"):
        R.check_allowed(name)
    if "/" not in name:  # a package name: not even fetched
        with pytest.raises(EsmrError, match="refusing"):
            R.ensure_package(name, tmp_path, tmp_path, fetch=True)


def test_forbidden_file_is_refused_even_when_it_exists(tmp_path):
    path = tmp_path / "hedgewars-data" / "voice.wav"
    path.parent.mkdir()
    sf.write(path, voiced(150.0, 0.5), SR)
    with pytest.raises(EsmrError, match="evaluation only"):
        R.decode_file(path)


def test_the_shipped_sources_are_allowed_and_split_by_whole_group():
    for src in R.SOURCES:
        R.check_allowed(src.package)
        R.check_allowed(src.pattern)
        assert src.package in R.PACKAGES
    for pkg in ("asterisk-core-sounds-ru-g722", "asterisk-prompt-fr-armelle", "klettres-data", "ktuberling-data"):
        R.check_allowed(pkg)
    groups = {src.group for src in R.SOURCES}
    assert set(R.GROUP_SPLITS) <= groups
    assert {R.group_split(g) for g in groups} == set(R.SPLITS)
    # a source's split is its group's: no group (hence no speaker) in two splits
    split_of: dict[str, set] = {}
    for src in R.SOURCES:
        split_of.setdefault(src.group, set()).add(R.group_split(src.group))
    assert all(len(v) == 1 for v in split_of.values())
    assert len({src.name for src in R.SOURCES}) == len(R.SOURCES)


# ---- speakers -----------------------------------------------------------------------------------------
def _scan(i: int, f0: float, sd: float = 1.5, speech: float = 1.0) -> dict:
    return {"path": f"/p/{i}.ogg", "start": 0, "end": int(speech * SR), "speech_s": speech, "rms": 0.05,
            "noise_rms": 0.001, "f0_hz": f0, "f0_sd_st": sd}


def test_a_folder_with_two_registers_becomes_two_speakers():
    src = R.Source("fake", "klettres-data", "x/*", "xx", "kde-xx")
    scans = [_scan(i, 105 + i) for i in range(14)] + [_scan(100 + i, 225 + 2 * i) for i in range(12)]
    spk = R.assign_speakers(src, [{**s, "speech_s": 2.0} for s in scans])
    assert [(s.voice, s.sex, s.sex_from) for s in spk] == [("real-fake-m", "M", "F0"), ("real-fake-f", "F", "F0")]
    assert len(spk[0].files) == 14 and len(spk[1].files) == 12 and spk[0].split == spk[1].split == "train"


def test_one_register_stays_one_speaker_and_outliers_beeps_and_short_voices_go():
    src = R.Source("fake", "klettres-data", "x/*", "xx", "kde-hu")
    scans = [_scan(i, 180 + 2 * i, speech=2.0) for i in range(15)]
    scans += [_scan(50, 420.0, speech=2.0), _scan(51, 200.0, sd=0.05, speech=2.0), _scan(52, 190.0, speech=9.0)]
    (spk,) = R.assign_speakers(src, scans)
    assert spk.voice == "real-fake" and spk.split == "val" and len(spk.files) == 15 and spk.sex == "F"
    assert R.assign_speakers(src, scans[:5]) == []                  # 10 s of speech: too little
    known = R.Source("fake2", "asterisk-prompt-es-co", "x/*", "es", "ast-es-co", "F")
    assert R.assign_speakers(known, [{**s, "f0_hz": 120.0} for s in scans[:15]])[0].sex_from == "package"


def test_base_clips_join_prompts_into_2_5_to_8_seconds_and_use_each_once():
    spk = R.Speaker("real-x", "x", "klettres-data", "xx", "kde-xx", "train", "F", "F0", 200.0,
                    [_scan(i, 200.0, speech=float(0.4 + (i % 7) * 0.5)) for i in range(80)])
    bases = R.plan_base_clips(spk, max_clips=100, seed=0)
    assert bases == R.plan_base_clips(spk, max_clips=100, seed=0) and len(bases) > 10
    used = [s["path"] for b in bases for s in b["segments"]]
    assert len(used) == len(set(used))
    for b in bases:
        total = sum(s["end"] - s["start"] for s in b["segments"]) / SR + sum(b["pauses"])
        assert R.MIN_CLIP_S <= total <= R.MAX_CLIP_S + 1e-6 and len(b["pauses"]) == len(b["segments"]) - 1
    assert len(R.plan_base_clips(spk, max_clips=3, seed=0)) == 3


# ---- a tiny build from a package made here -------------------------------------------------------------
@pytest.fixture()
def fake_package(tmp_path, monkeypatch):
    """A package 'fake-voices-data' with two speakers in one folder (110 Hz and 230 Hz) and one in another."""
    raw = tmp_path / "raw"
    root = raw / "fake-voices-data"
    (root / "usr/share/doc/fake-voices-data").mkdir(parents=True)
    (root / "usr/share/doc/fake-voices-data/copyright").write_text("License: GPL-2+\n")
    for folder, voices in (("a", (110.0, 230.0)), ("b", (160.0,))):
        (root / "snd" / folder).mkdir(parents=True)
        for v, f0 in enumerate(voices):
            for k in range(8):
                y = np.concatenate([np.zeros(1600), voiced(f0 * 2 ** (k % 3 / 24), 0.8 + 0.1 * (k % 4), seed=k,
                                                           pauses=False), np.zeros(1600)])
                sf.write(root / "snd" / folder / f"w{v}{k}.wav", y.astype(np.float32), 22050 if v else SR)
    monkeypatch.setitem(R.PACKAGES, "fake-voices-data", R.Package("fake-voices-data", "GPL-2+", "GPL-2+", "tests"))
    monkeypatch.setitem(R.GROUP_SPLITS, "g-b", "val")
    monkeypatch.setattr(R, "MIN_SPEAKER_S", 4.0)
    sources = (R.Source("fa", "fake-voices-data", "snd/a/*.wav", "xx", "g-a"),
               R.Source("fb", "fake-voices-data", "snd/b/*.wav", "yy", "g-b"))
    return raw, sources


@pytest.mark.slow
def test_tiny_build_writes_real_rows_next_to_the_synthetic_ones(tmp_path, fake_package):
    raw, sources = fake_package
    out = tmp_path / "corpus"
    syn = new_collection(out, "speech", name="bootstrap-emotional-speech", builder="esmr corpus bootstrap", seed=0)
    syn.rows = [{"id": "s1-angry-piper-joe", "path": "clips/s1.flac", "label": "angry", "valence": 0.1,
                 "arousal": 0.9, "dominance": 0.7, "text": "No!", "voice": "piper-joe", "split": "train",
                 "tts": "piper"}]
    syn.save()
    coll = R.build(out, raw_dir=raw, debs_dir=tmp_path / "debs", seed=0, workers=1, limit=21, fetch=False,
                   sources=sources)
    again = load_collection(out, kind="speech")
    assert len(again) == 22 and again.by_id()["s1-angry-piper-joe"] == syn.rows[0]
    real = [r for r in again if R.is_real(r)]
    assert len(real) == 21 and {r["label"] for r in real} == set(EMOTIONS)
    voices = {r["voice"] for r in real}
    assert voices == {"real-fa-m", "real-fa-f", "real-fb"}          # the two registers of folder a, and b
    split_of = {}
    for r in real:
        assert split_of.setdefault(r["voice"], r["split"]) == r["split"]   # a speaker in one split only
        assert r["text"] == "" and r["tts"] == "real" and r["real_voice"] is True
        assert np.allclose([r["valence"], r["arousal"], r["dominance"]], vad(r["label"]))
        assert r["licence"] == "GPL-2+" and r["source_files"] and r["base_id"] in r["id"]
        y, sr = sf.read(again.path(r))
        assert sr == SR and y.ndim == 1 and np.isfinite(y).all() and np.abs(y).max() <= 1.0
        assert abs(len(y) / SR - r["duration_s"]) < 0.01 and 1.5 < r["duration_s"] < 12.0
        assert {"pitch_st", "rate", "tilt_db", "breath", "noise_seed"} <= set(r["settings"])
        assert isinstance(r["channel"], list)
    assert split_of["real-fb"] == "val" and split_of["real-fa-m"] == "train"
    meta = again.meta["real_voices"]
    assert {s["voice"] for s in meta["speakers"]} == voices and meta["packages"][0]["licence"] == "GPL-2+"
    assert coll.meta["real_voices"]["clips"] == 21
    # a smaller rebuild replaces the real rows and removes their stale clips; the synthetic row stays
    R.build(out, raw_dir=raw, debs_dir=tmp_path / "debs", seed=0, workers=1, limit=7, fetch=False, sources=sources)
    again = load_collection(out, kind="speech")
    assert len(again) == 8 and len(list((out / "real").glob("*.flac"))) == 7
    assert json.loads((out / "real" / "scan-cache.json").read_text())     # the scans were cached


def test_build_refuses_a_forbidden_source_before_reading_anything(tmp_path):
    bad = (R.Source("hw", "hedgewars-data", "usr/share/games/hedgewars/Data/Sounds/voices/Default/*.ogg", "en", "hw"),)
    with pytest.raises(EsmrError, match="refusing"):
        R.build(tmp_path / "c", raw_dir=tmp_path, debs_dir=tmp_path, fetch=False, sources=bad)
    assert not (tmp_path / "c").exists()
