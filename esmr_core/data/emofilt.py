"""Rule-based emotion simulation on real recordings, and channel augmentation.

The idea follows Burkhardt's emofilt (F. Burkhardt, "Emofilt: the simulation of emotional speech by prosody
transformation", Interspeech 2005; after Burkhardt & Sendlmeier, ISCA Workshop on Speech and Emotion 2000):
take neutral speech and change its prosody and voice quality by rules derived from the acoustic correlates of
each emotion. The code is written for this project; emofilt worked on MBROLA phoneme files, here the
transformation works on a real recording analysed with the WORLD vocoder (Morise, Yokomori & Ozawa, IEICE
Trans. Inf. & Syst. E99-D(7), 2016; PyPI `pyworld-prebuilt`): F0 by DIO + StoneMask, spectral envelope by
CheapTrick, band aperiodicity by D4C, modified frame by frame, then resynthesised.

Per clip (every value drawn from the emotion's ranges in `resources/prosody_profiles.json`, see draw_settings):
  pitch_st      F0 level offset, semitones
  range         F0 range multiplier (log-F0 deviations from the clip's median scaled by it)
  contour_st    declination added over the voiced span, semitones from first to last voiced frame (< 0 falls)
  final_st      extra movement over the last quarter of the voiced span, semitones (surprise rises)
  jitter_pct    frame-to-frame random F0 perturbation, percent (irregular, rough voicing)
  tremor_st     depth of a 5-7 Hz F0 tremor, semitones (fear)
  rate          tempo multiplier of the speech frames (> 1 faster)
  pause         duration multiplier of the pauses (>= 60 ms unvoiced low-energy runs) on top of `rate`
  dynamics      contrast of the frame energy contour around its mean (> 1 more accented, < 1 flatter)
  tilt_db       spectral tilt / vocal effort: gain at 4 kHz relative to <= 1 kHz, dB (log-frequency ramp,
                1.5 x at 8 kHz); > 0 tense, effortful voice, < 0 lax, soft voice
  breath        aperiodicity change: > 0 mixes the bands above 500 Hz towards noise (breathy, whispery),
                < 0 makes voicing more periodic (pressed, tense)
  gain_db       level relative to REFERENCE_DBFS (lowered when a peak would pass 0.95: no limiter artefacts)
Neutral clips pass through the same analysis-resynthesis with near-identity settings, so the vocoder's own
traces are shared by every emotion and never mark one.

Channel augmentation (augment): room reverberation (synthetic impulse responses: exponentially decaying noise
in two bands after the stochastic model of late reverberation, e.g. Polack 1993, plus early reflections),
coloured noise at an SNR, telephone band (300-3400 Hz, 8 kHz, G.711 mu-law), Opus / MP3 at low bitrates
(PyAV's FFmpeg), gain with the [-1, 1] ceiling, and light clipping. Every function keeps the sample rate and
the length of its input.
"""
from __future__ import annotations

import io
import math
from typing import Any

import numpy as np

from ..errors import EsmrError
from ..audio import decode

SR = 16000                 # Hz, the project's speech rate
FRAME_MS = 5.0             # WORLD frame period, ms
F0_FLOOR, F0_CEIL = 60.0, 700.0  # Hz, DIO search range (low male voices to high female / child voices)
REFERENCE_DBFS = -26.0     # RMS level at gain_db = 0 (as the synthetic corpus, esmr_core.data.tts)
PEAK_CEIL = 0.95           # peak after the level is set; the gain is lowered rather than limited
PAUSE_MIN_FRAMES = 12      # 60 ms: shorter unvoiced low-energy runs are stop closures, not pauses
EMOTION_KEYS = ("rate", "pitch_st", "range", "gain_db", "contour_st", "final_st", "pause", "dynamics", "tilt_db",
                "jitter_pct", "tremor_st", "breath")
CHANNEL_KINDS = ("reverb", "noise", "telephone", "codec", "gain", "clip")


def _world():
    try:
        import pyworld
    except ImportError:
        raise EsmrError("the WORLD vocoder is not installed; run `.venv/bin/python -m pip install "
                        "pyworld-prebuilt` (or `make setup`, which installs the train extra)") from None
    return pyworld


# ---- settings -----------------------------------------------------------------------------------------
def draw_settings(label: str, rng: np.random.Generator, profiles: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One clip's emotion settings: each EMOTION_KEYS value uniform in the profile's [low, high], plus the
    tremor rate (Hz) and the seed of the jitter noise, so that `transform` is a pure function of them."""
    prof = profiles[label]
    missing = [k for k in EMOTION_KEYS if k not in prof]
    if missing:
        raise EsmrError(f"prosody profile {label!r} lacks the real-voice parameters {missing}; "
                        "see resources/prosody_profiles.json")
    s: dict[str, Any] = {k: round(float(rng.uniform(*prof[k])), 4) for k in EMOTION_KEYS}
    s["tremor_hz"] = round(float(rng.uniform(5.0, 7.0)), 3)
    s["noise_seed"] = int(rng.integers(2**31))
    s["engine"] = "world"
    return s


# ---- WORLD analysis / transformation ------------------------------------------------------------------
def analyze(y: np.ndarray, sr: int = SR) -> dict[str, np.ndarray]:
    """WORLD parameters of (T,) audio: f0 (F,) Hz (0 = unvoiced), sp (F, 513) power envelope, ap (F, 513)."""
    pw = _world()
    x = np.ascontiguousarray(y, dtype=np.float64)
    if x.ndim != 1 or len(x) < sr * 0.1 or not np.isfinite(x).all():
        raise EsmrError("emotion transform needs a finite mono clip of at least 0.1 s")
    f0, t = pw.dio(x, sr, f0_floor=F0_FLOOR, f0_ceil=F0_CEIL, frame_period=FRAME_MS)
    f0 = pw.stonemask(x, f0, t, sr)
    sp = pw.cheaptrick(x, f0, t, sr)
    ap = pw.d4c(x, f0, t, sr)
    return {"f0": f0, "sp": sp, "ap": ap, "sr": np.array(sr)}


def _pauses(f0: np.ndarray, energy_db: np.ndarray) -> np.ndarray:
    """(F,) bool: frames inside unvoiced runs >= PAUSE_MIN_FRAMES whose energy is 30 dB under the loud frames."""
    quiet = (f0 <= 0) & (energy_db < np.percentile(energy_db, 95) - 30.0)
    out = np.zeros_like(quiet)
    start = None
    for i, q in enumerate(np.append(quiet, False)):
        if q and start is None:
            start = i
        elif not q and start is not None:
            if i - start >= PAUSE_MIN_FRAMES:
                out[start:i] = True
            start = None
    return out


def _new_f0(f0: np.ndarray, s: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
    """F0 after level, range, contour, final movement, jitter and tremor (unvoiced frames stay 0)."""
    out = f0.copy()
    v = np.flatnonzero(f0 > 0)
    if len(v) < 3:
        return out
    lf = np.log2(f0[v])
    mu = float(np.median(lf))
    span = max(v[-1] - v[0], 1)
    tn = (v - v[0]) / span                                   # 0..1 over the voiced span
    new = mu + s["range"] * (lf - mu) + s["pitch_st"] / 12.0
    new += s["contour_st"] / 12.0 * (tn - 0.5)
    new += s["final_st"] / 12.0 * np.clip((tn - 0.75) / 0.25, 0.0, 1.0)
    t_s = v * FRAME_MS / 1000.0
    new += s["tremor_st"] / 12.0 * np.sin(2 * np.pi * s["tremor_hz"] * t_s + rng.uniform(0, 2 * np.pi))
    if s["jitter_pct"] > 0:
        noise = rng.standard_normal(len(v)) * math.log2(1.0 + s["jitter_pct"] / 100.0)
        new += np.convolve(noise, [0.25, 0.5, 0.25], mode="same") * math.sqrt(8 / 3)  # keep the std
    out[v] = np.clip(2.0 ** new, F0_FLOOR * 0.8, 900.0)
    return out


def _time_map(n: int, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Output frame k <- source position pos[k] (fractional frame index) for per-frame output durations
    `weights` (in frames). Returns (i0, i1, frac)."""
    cum = np.concatenate([[0.0], np.cumsum(weights)])
    n_out = max(int(round(cum[-1])), 1)
    pos = np.interp(np.arange(n_out) + 0.5, cum, np.arange(n + 1, dtype=np.float64)) - 0.5
    pos = np.clip(pos, 0.0, n - 1)
    i0 = np.floor(pos).astype(int)
    i1 = np.minimum(i0 + 1, n - 1)
    return i0, i1, pos - i0


def transform(params: dict[str, np.ndarray], s: dict[str, Any]) -> np.ndarray:
    """Resynthesise the analysed clip with emotion settings `s` -> (T',) float64 at params' rate (not
    level-normalised; see finish)."""
    pw = _world()
    sr = int(params["sr"])
    f0, sp, ap = params["f0"], params["sp"].copy(), params["ap"].copy()
    rng = np.random.default_rng(s["noise_seed"])
    energy_db = 10 * np.log10(sp.sum(axis=1) + 1e-12)
    pause = _pauses(f0, energy_db)
    f0 = _new_f0(f0, s, rng)
    # intensity dynamics: expand / compress the energy contour of the speech frames around their mean
    speech = energy_db > np.percentile(energy_db, 95) - 40.0
    if speech.any():
        delta = np.clip((s["dynamics"] - 1.0) * (energy_db - energy_db[speech].mean()), -12.0, 12.0) * speech
        sp *= 10.0 ** (delta / 10.0)[:, None]
    # spectral tilt (vocal effort)
    freqs = np.linspace(0.0, sr / 2, sp.shape[1])
    ramp = np.clip(np.log2(np.maximum(freqs, 1.0) / 1000.0) / 2.0, 0.0, 1.5)
    sp *= 10.0 ** (s["tilt_db"] * ramp / 10.0)[None, :]
    # voice quality: breathy (more aperiodic energy above 500 Hz) or pressed (more periodic)
    b = float(s["breath"])
    if b > 0:
        w = np.clip((freqs - 500.0) / 1500.0, 0.0, 1.0)[None, :]
        ap = ap + b * w * (1.0 - ap)
    elif b < 0:
        ap = ap * (1.0 + b)
    ap = np.clip(ap, 1e-4, 1.0)
    # tempo and pauses: non-uniform time warp of the frame sequence
    weights = np.where(pause, s["pause"], 1.0) / s["rate"]
    i0, i1, frac = _time_map(len(f0), weights)
    fr = frac[:, None]
    sp_out = sp[i0] * (1 - fr) + sp[i1] * fr
    ap_out = ap[i0] * (1 - fr) + ap[i1] * fr
    both = (f0[i0] > 0) & (f0[i1] > 0)
    f0_out = np.where(frac < 0.5, f0[i0], f0[i1])
    f0_out[both] = np.exp(np.log(f0[i0][both]) * (1 - frac[both]) + np.log(f0[i1][both]) * frac[both])
    y = pw.synthesize(np.ascontiguousarray(f0_out), np.ascontiguousarray(sp_out), np.ascontiguousarray(ap_out),
                      sr, FRAME_MS)
    if not np.isfinite(y).all():
        raise EsmrError("the WORLD resynthesis produced invalid samples; check the source clip")
    return y


def finish(y: np.ndarray, gain_db: float, *, top_db: float = 40.0, pad_s: float = 0.08) -> tuple[np.ndarray, float]:
    """Trim leading/trailing silence (keeping pad_s), set the RMS to REFERENCE_DBFS + gain_db, lowering the gain
    when a peak would pass PEAK_CEIL. Returns ((T,) float32, gain actually applied in dB)."""
    import librosa

    y = np.asarray(y, dtype=np.float64)
    _, (start, end) = librosa.effects.trim(y, top_db=top_db)
    pad = int(pad_s * SR)
    y = y[max(0, start - pad): min(len(y), end + pad)]
    rms = float(np.sqrt(np.mean(y ** 2))) if len(y) else 0.0
    if rms < 1e-7:
        raise EsmrError("the transformed clip is silent; check the source clip")
    scale = 10 ** ((REFERENCE_DBFS + gain_db) / 20) / rms
    peak = float(np.abs(y).max()) * scale
    if peak > PEAK_CEIL:
        scale *= PEAK_CEIL / peak
    applied = 20 * math.log10(scale * rms) - REFERENCE_DBFS
    return (y * scale).astype(np.float32), round(applied, 3)


def resample(y: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """(T,) audio from sr_in to sr_out Hz (soxr, high quality) as float64."""
    import librosa

    y = np.asarray(y, dtype=np.float64)
    return y if sr_in == sr_out else librosa.resample(y, orig_sr=sr_in, target_sr=sr_out, res_type="soxr_hq")


# ---- channel augmentation -----------------------------------------------------------------------------
def draw_channel(rng: np.random.Generator, share: float = 0.5) -> list[dict[str, Any]]:
    """The channel chain of one clip: [] (clean) with probability 1 - share, else 1-3 effects in physical order
    (room, noise, telephone line, codec, device gain, clipping), each with its drawn parameters."""
    if rng.uniform() >= share:
        return []
    chain: list[dict[str, Any]] = []
    while not chain:
        if rng.uniform() < 0.4:
            chain.append({"kind": "reverb", "rt60_s": round(float(rng.uniform(0.15, 0.9)), 3),
                          "drr_db": round(float(rng.uniform(-3.0, 12.0)), 2), "seed": int(rng.integers(2**31))})
        if rng.uniform() < 0.55:
            chain.append({"kind": "noise", "snr_db": round(float(rng.uniform(5.0, 30.0)), 2),
                          "colour": round(float(rng.uniform(0.0, 2.0)), 3), "hum": bool(rng.uniform() < 0.2),
                          "seed": int(rng.integers(2**31))})
        if rng.uniform() < 0.25:
            chain.append({"kind": "telephone", "mu_law": bool(rng.uniform() < 0.7)})
        if rng.uniform() < 0.35:
            codec = "opus" if rng.uniform() < 0.6 else "mp3"
            kbps = int(rng.choice([8, 12, 16, 24, 32] if codec == "opus" else [16, 24, 32, 48]))
            chain.append({"kind": "codec", "codec": codec, "kbps": kbps})
        if rng.uniform() < 0.3:
            chain.append({"kind": "gain", "gain_db": round(float(rng.uniform(-12.0, 12.0)), 2)})
        if rng.uniform() < 0.12:
            chain.append({"kind": "clip", "level": round(float(rng.uniform(0.3, 0.8)), 3)})
    return chain


def synth_rir(sr: int, rt60_s: float, drr_db: float, seed: int) -> np.ndarray:
    """A synthetic room impulse response (N,) float64: direct sound, 4-8 early reflections (3-25 ms) and a late
    tail of Gaussian noise decaying by 60 dB in rt60_s below 1.5 kHz and faster above (air and wall absorption);
    reverberant energy set so that direct / reverberant = drr_db."""
    from scipy.signal import butter, sosfilt

    rng = np.random.default_rng(seed)
    n = int(sr * min(1.2 * rt60_s + 0.05, 1.2))
    t = np.arange(n) / sr
    noise = rng.standard_normal(n)
    low = sosfilt(butter(4, 1500, btype="low", fs=sr, output="sos"), noise)
    rt_high = rt60_s * rng.uniform(0.45, 0.8)
    late = low * 10 ** (-3 * t / rt60_s) + (noise - low) * 10 ** (-3 * t / rt_high)
    late[t < rng.uniform(0.004, 0.012)] = 0.0
    for _ in range(int(rng.integers(4, 9))):
        k = int(rng.uniform(0.003, 0.025) * sr)
        late[k] += rng.choice([-1.0, 1.0]) * rng.uniform(0.2, 0.7)
    late *= math.sqrt(10 ** (-drr_db / 10) / max(float(np.sum(late ** 2)), 1e-12))
    late[0] += 1.0
    return late


def coloured_noise(n: int, colour: float, rng: np.random.Generator) -> np.ndarray:
    """(n,) unit-RMS noise with power spectrum ~ 1 / f**colour (0 white, 1 pink, 2 brown)."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / SR)
    spec *= 1.0 / np.maximum(f, 20.0) ** (colour / 2.0)
    x = np.fft.irfft(spec, n)
    return x / max(float(np.sqrt(np.mean(x ** 2))), 1e-12)


def _codec(y: np.ndarray, codec: str, kbps: int) -> np.ndarray:
    """Encode to Opus (48 kHz in Ogg) or MP3 (16 kHz) at `kbps` with PyAV and decode back to 16 kHz, aligned to
    the input by cross-correlation (codecs add a delay) and cut / padded to its length."""
    import av

    buf = io.BytesIO()
    fmt, name, rate = ("ogg", "libopus", 48000) if codec == "opus" else ("mp3", "libmp3lame", SR)
    with av.open(buf, mode="w", format=fmt) as box:
        stream = box.add_stream(name, rate=rate, layout="mono")
        stream.bit_rate = int(kbps * 1000)
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(y.astype(np.float32)[None]), format="flt",
                                           layout="mono")
        frame.sample_rate = SR
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            box.mux(packet)
    x, sr = decode(buf.getvalue())
    return _align(resample(x.mean(axis=1), sr, SR), y)


def _align(z: np.ndarray, ref: np.ndarray, max_lag: int = 4000) -> np.ndarray:
    """z advanced by the delay (0..max_lag samples) that best matches ref on its first 2 s, then cut / padded
    to len(ref)."""
    from scipy.signal import correlate

    m = min(len(ref), SR * 2)
    padded = np.concatenate([z, np.zeros(max_lag + max(0, len(ref) - len(z)))])
    c = correlate(padded[: m + max_lag], ref[:m], mode="valid")
    lag = int(np.argmax(c))
    out = z[lag: lag + len(ref)]
    return np.concatenate([out, np.zeros(len(ref) - len(out))]) if len(out) < len(ref) else out


def _telephone(y: np.ndarray, mu_law: bool) -> np.ndarray:
    """300-3400 Hz band, through 8 kHz sampling and, optionally, 8-bit G.711 mu-law quantisation."""
    from scipy.signal import butter, sosfiltfilt

    band = sosfiltfilt(butter(6, [300, 3400], btype="band", fs=SR, output="sos"), y)
    x = resample(band, SR, 8000)
    if mu_law:
        mu = 255.0
        peak = max(float(np.abs(x).max()), 1e-9)
        c = np.sign(x / peak) * np.log1p(mu * np.abs(x / peak)) / np.log1p(mu)
        c = np.round(c * 127) / 127
        x = np.sign(c) * np.expm1(np.abs(c) * np.log1p(mu)) / mu * peak
    z = resample(x, 8000, SR)
    return np.concatenate([z, np.zeros(max(0, len(y) - len(z)))])[: len(y)]


def apply_effect(y: np.ndarray, fx: dict[str, Any]) -> tuple[np.ndarray, dict[str, Any]]:
    """One channel effect on (T,) float64 audio at SR -> (same length audio, measurements of what it did)."""
    from scipy.signal import fftconvolve

    kind = fx["kind"]
    info: dict[str, Any] = {}
    if kind == "reverb":
        rir = synth_rir(SR, fx["rt60_s"], fx["drr_db"], fx["seed"])
        out = fftconvolve(y, rir)[: len(y)]
        out *= math.sqrt(np.mean(y ** 2) / max(float(np.mean(out ** 2)), 1e-20))
    elif kind == "noise":
        rng = np.random.default_rng(fx["seed"])
        noise = coloured_noise(len(y), fx["colour"], rng)
        if fx.get("hum"):
            t = np.arange(len(y)) / SR
            base = rng.choice([50.0, 60.0])
            noise = 0.7 * noise + sum(0.5 / k * np.sin(2 * np.pi * base * k * t) for k in (1, 2, 3)) * 1.2
            noise /= max(float(np.sqrt(np.mean(noise ** 2))), 1e-12)
        rms = float(np.sqrt(np.mean(y ** 2)))
        out = y + noise * rms * 10 ** (-fx["snr_db"] / 20)
    elif kind == "telephone":
        out = _telephone(y, fx["mu_law"])
    elif kind == "codec":
        out = _codec(y, fx["codec"], fx["kbps"])
    elif kind == "gain":
        out = y * 10 ** (fx["gain_db"] / 20)
    elif kind == "clip":
        level = fx["level"] * float(np.abs(y).max())
        info["clipped_share"] = round(float(np.mean(np.abs(y) > level)), 5)
        out = np.clip(y, -level, level)
    else:
        raise EsmrError(f"unknown channel effect {kind!r}; choose one of {CHANNEL_KINDS}")
    over = np.abs(out) > 1.0
    if over.any():  # a file cannot hold more than full scale: what a recorder or a sound card does
        info["clipped_share"] = round(info.get("clipped_share", 0.0) + float(over.mean()), 5)
        out = np.clip(out, -1.0, 1.0)
    return out, info


def augment(y: np.ndarray, chain: list[dict[str, Any]]) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Apply a channel chain (draw_channel) to (T,) audio at SR. Returns ((T,) float32, the chain with what each
    effect measured, e.g. the share of clipped samples)."""
    x = np.asarray(y, dtype=np.float64)
    done = []
    for fx in chain:
        x, info = apply_effect(x, fx)
        done.append({**fx, **info})
    if not np.isfinite(x).all():
        raise EsmrError(f"channel augmentation {chain} produced invalid samples")
    return x.astype(np.float32), done
