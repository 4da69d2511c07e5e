"""The real-voice benchmark's building blocks (issue #11): which real recordings it may use, how acted lines are
labelled, the pair/triple ordering scores, the untrained two-cue arousal rule, the prosody and channel transforms,
the music-response statistics and the pass/fail thresholds. `bench/realvoice.py` runs them through the service.

Everything here is a pure function of arrays or file names (no model is loaded), so each part is unit-tested on
tiny synthetic data. Audio is mono float32; sample rates are in Hz; arousal is on a 0..1 scale (MATE's 1..5
mapped by (a - 1) / 4).

Data it may touch, and only these (the other packs and voices are held out for independent checks, or reserved
for training by the corpus builder):
- acted emotion: Debian `hedgewars-data`, voice packs British, Classic, Default, Pirate, Default_es, Default_pl
  (game characters' lines, GFDL-1.3 per the package's copyright file); evaluation only.
- controlled prosody and channel: Debian `asterisk-core-sounds-fr-g722` (fr_CA, June Wallack, CC-BY-SA-3.0) and
  `asterisk-core-sounds-it-g722` (it_IT, Carlo Flora, CC-BY-3.0), 16 kHz G.722 voice prompts.
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from .errors import EsmrError

# ------------------------------------------------------------------------------------------- allowed data
HEDGEWARS_DEB = "hedgewars-data"
HEDGEWARS_VOICES = "usr/share/games/hedgewars/Data/Sounds/voices"      # inside the unpacked package
EVAL_PACKS: tuple[str, ...] = ("British", "Classic", "Default", "Pirate", "Default_es", "Default_pl")
PACK_LANGUAGE = {"British": "en", "Classic": "en", "Default": "en", "Pirate": "en", "Default_es": "es",
                 "Default_pl": "pl"}
# language -> (Debian package, voice folder under usr/share/asterisk/sounds, speaker)
ASTERISK_VOICES: dict[str, tuple[str, str, str]] = {
    "fr": ("asterisk-core-sounds-fr-g722", "fr_CA_f_June", "June Wallack (fr_CA, female; CC-BY-SA-3.0)"),
    "it": ("asterisk-core-sounds-it-g722", "it_IT_m_Carlo", "Carlo Flora (it_IT, male; CC-BY-3.0)"),
}
ASTERISK_SOUNDS = "usr/share/asterisk/sounds"
BENCH_DEBS: tuple[str, ...] = (HEDGEWARS_DEB, *(v[0] for v in ASTERISK_VOICES.values()))


def pack_dir(raw_dir: Path, pack: str) -> Path:
    """The folder of one Hedgewars voice pack; only the packs this benchmark may use (EVAL_PACKS)."""
    if pack not in EVAL_PACKS:
        raise EsmrError(f"voice pack {pack!r} is held out for independent checks; the benchmark uses only "
                        f"{', '.join(EVAL_PACKS)}")
    return Path(raw_dir) / HEDGEWARS_DEB / HEDGEWARS_VOICES / pack


def asterisk_dir(raw_dir: Path, lang: str) -> Path:
    """The prompt folder of the French or Italian asterisk voice; every other voice is refused (English: held
    out for independent checks; Spanish, Russian: reserved for training)."""
    if lang not in ASTERISK_VOICES:
        raise EsmrError(f"asterisk voice {lang!r} is not for this benchmark (English is held out, Spanish and "
                        f"Russian are training voices); use one of {', '.join(ASTERISK_VOICES)}")
    deb, folder, _ = ASTERISK_VOICES[lang]
    return Path(raw_dir) / deb / ASTERISK_SOUNDS / folder


def pick_evenly(items: Sequence, n: int) -> list:
    """n items spread evenly over a sorted sequence (all of them when there are fewer)."""
    if n >= len(items):
        return list(items)
    idx = np.linspace(0, len(items) - 1, n).round().astype(int)
    return [items[i] for i in idx]


def val_neutral_clips(rows: Iterable[dict], per_voice: int) -> list[dict]:
    """The corpus's proxy voices for choices made away from this benchmark: the VAL split's real speakers'
    neutral, channel-free clips of 1.5-6 s, up to per_voice per speaker (every len // per_voice-th by id),
    speakers in name order (scripts/moodmatch_sweep.py, scripts/val_channel.py)."""
    by: dict[str, list[dict]] = {}
    for r in rows:
        if (r.get("real_voice") and r["split"] == "val" and r["label"] == "neutral" and not r.get("channel")
                and 1.5 <= r["duration_s"] <= 6.0):
            by.setdefault(r["voice"], []).append(r)
    out = []
    for _, rs in sorted(by.items()):
        rs = sorted(rs, key=lambda r: r["id"])
        out += rs[::max(1, len(rs) // per_voice)][:per_voice]
    return out


# ----------------------------------------------------------------------------------------- acted line labels
@dataclass(frozen=True)
class LineLabel:
    emotion: str | None    # one of esmr_core.emotion.EMOTIONS, or None (not scored for the 7 classes)
    arousal: str | None    # "high" | "low" | None
    valence: str | None    # "positive" | "negative" | None
    why: str               # the line and the reasoning behind the label


_THREAT = "a threat or rebuke shouted at the enemy: anger, high arousal, negative"
_CHEER = "a cheer after a good shot: joy, high arousal, positive"
_PANIC = "a warning or panic shout: fear, high arousal, negative"
# File stem -> label. The line names are the game's (the same event in every pack, spoken in the pack's
# language). Left out on purpose: pain grunts and effort sounds (Ooff*, Ow*, Ouch, Jump*, Firepunch*, Kamikaze,
# Poison*), weapon and game calls whose delivery varies by pack (Fire, Grenade, Melon, Reinforcements, Flyaway,
# Sameteam, Watchit, Watchthis, Thisoneismine, Firstblood, Enemydown, Missed), insults and mild curses that can be
# played as anger, scorn or comedy (Coward, Stupid, Nutter, Bugger, Drat, Oops, Leavemealone).
LINE_LABELS: dict[str, LineLabel] = {
    "Illgetyou": LineLabel("angry", "high", "negative", f"\"I'll get you!\": {_THREAT}"),
    "Gonnagetyou": LineLabel("angry", "high", "negative", f"\"Gonna get you!\": {_THREAT}"),
    "Youllregretthat": LineLabel("angry", "high", "negative", f"\"You'll regret that!\": {_THREAT}"),
    "Revenge": LineLabel("angry", "high", "negative", f"\"Revenge!\": {_THREAT}"),
    "Justyouwait": LineLabel("angry", "high", "negative", f"\"Just you wait!\": {_THREAT}"),
    "Comeonthen": LineLabel("angry", "high", "negative", f"\"Come on then!\": a challenge; {_THREAT}"),
    "Traitor": LineLabel("angry", "high", "negative", f"\"Traitor!\" when hit by a team-mate: {_THREAT}"),
    "Cutitout": LineLabel("angry", "high", "negative", f"\"Cut it out!\": {_THREAT}"),
    "Victory": LineLabel("happy", "high", "positive", f"\"Victory!\": {_CHEER}"),
    "Amazing": LineLabel("happy", "high", "positive", f"\"Amazing!\": {_CHEER}"),
    "Brilliant": LineLabel("happy", "high", "positive", f"\"Brilliant!\": {_CHEER}"),
    "Excellent": LineLabel("happy", "high", "positive", f"\"Excellent!\": {_CHEER}"),
    "Flawless": LineLabel("happy", "high", "positive", f"\"Flawless!\" (a flawless victory): {_CHEER}"),
    "Laugh": LineLabel("happy", "high", "positive", "a laugh: joy, high arousal, positive"),
    "Incoming": LineLabel("fear", "high", "negative", f"\"Incoming!\": {_PANIC}"),
    "Takecover": LineLabel("fear", "high", "negative", f"\"Take cover!\": {_PANIC}"),
    "Runaway": LineLabel("fear", "high", "negative", f"\"Run away!\": {_PANIC}"),
    "Nooo": LineLabel("fear", "high", "negative", f"\"Nooo!\" before a fall or a blast: {_PANIC}"),
    "Uh-oh": LineLabel("fear", "high", "negative", "\"Uh-oh!\" when danger is seen coming: fear, high arousal, "
                       "negative (the mildest line of the group)"),
    "Whatthe": LineLabel("surprise", "high", None, "\"What the...!\": surprise, high arousal; valence unclear"),
    "Hurry": LineLabel(None, "high", None, "\"Hurry!\" when the turn time runs out: urgency, high arousal; no "
                       "single emotion or valence"),
    "Boring": LineLabel("neutral", "low", "negative", "\"Boring...\" when idle: boredom, low arousal, mildly "
                        "negative (bored is not one of the 7 classes; neutral is the nearest)"),
    "Hmm": LineLabel("neutral", "low", None, "\"Hmm...\" thinking: neutral, low arousal"),
    "Hello": LineLabel("neutral", "low", "positive", "\"Hello\" at the start of a turn: a polite greeting, low "
                       "arousal against the shouts, mildly positive"),
    "Yessir": LineLabel("neutral", "low", None, "\"Yes sir\" when selected: a polite acknowledgement, low "
                        "arousal, neutral"),
    "Byebye": LineLabel(None, "low", None, "\"Bye bye\" when leaving: a farewell, low arousal; played both "
                        "wistful and cheeky, so no emotion or valence"),
    "Solong": LineLabel(None, "low", None, "\"So long\": a farewell, low arousal; no emotion or valence"),
    "Ohdear": LineLabel("sad", "low", "negative", "\"Oh dear\": resigned dismay, low arousal, negative"),
}


# ------------------------------------------------------------------------------------------------ scoring
def pair_accuracy(scores: Sequence[float], classes: Sequence[str | None], groups: Sequence[str],
                  high: str, low: str) -> tuple[float, int]:
    """Share of (high, low) pairs INSIDE each group whose score is ordered high > low (a tie counts half).

    scores: (N,) predicted values; classes: (N,) the item's class (e.g. "high"/"low", None = not used);
    groups: (N,) group of each item (pairs never cross groups). Returns (accuracy, number of pairs);
    accuracy is nan when there is no pair."""
    s, c, g = np.asarray(scores, float), np.asarray(classes, object), np.asarray(groups, object)
    hits, n = 0.0, 0
    for grp in dict.fromkeys(g.tolist()):
        hi, lo = s[(g == grp) & (c == high)], s[(g == grp) & (c == low)]
        if hi.size and lo.size:
            diff = hi[:, None] - lo[None, :]
            hits += float((diff > 0).sum() + 0.5 * (diff == 0).sum())
            n += diff.size
    return (hits / n if n else math.nan), n


def ordered_pairs(levels: Sequence[float], values: Sequence[float]) -> tuple[float, int]:
    """Of all pairs of different levels of ONE clip, the share whose values keep the levels' order (tie: half)."""
    hits, n = 0.0, 0
    for (la, va), (lb, vb) in combinations(zip(levels, values), 2):
        if la == lb:
            continue
        d = (va - vb) * np.sign(la - lb)
        hits += 1.0 if d > 0 else 0.5 if d == 0 else 0.0
        n += 1
    return (hits / n if n else math.nan), n


def ordered_triples(values_by_level: dict[int, float]) -> list[bool]:
    """For each strength k with levels -k, 0, +k present: is value(-k) < value(0) < value(+k)? (strict)"""
    out = []
    for k in sorted(lv for lv in values_by_level if lv > 0):
        if -k in values_by_level and 0 in values_by_level:
            out.append(bool(values_by_level[-k] < values_by_level[0] < values_by_level[k]))
    return out


def accuracy(pred: Sequence[str], true: Sequence[str | None]) -> tuple[float, int]:
    """Share of items with a true label whose prediction equals it -> (accuracy, n)."""
    pairs = [(p, t) for p, t in zip(pred, true) if t is not None]
    return (sum(p == t for p, t in pairs) / len(pairs) if pairs else math.nan), len(pairs)


def zscore_within(values: Sequence[float], groups: Sequence[str]) -> np.ndarray:
    """(N,) values standardised inside each group (mean 0, std 1); nan entries stay nan, a constant group -> 0."""
    v, g = np.asarray(values, float), np.asarray(groups, object)
    out = np.full(v.shape, np.nan)
    for grp in dict.fromkeys(g.tolist()):
        m = (g == grp) & np.isfinite(v)
        if m.any():
            sd = v[m].std()
            out[m] = (v[m] - v[m].mean()) / sd if sd > 0 else 0.0
    return out


def two_cue_arousal(f0_median_st: Sequence[float], tilt_db: Sequence[float], groups: Sequence[str]) -> np.ndarray:
    """The untrained baseline: arousal score = mean of z(median F0) and z(alpha ratio), z-scored within group.

    A higher, and a flatter (more effortful) voice reads as more aroused (Juslin & Laukka 2003; Banse & Scherer
    1996). f0_median_st: semitones re 100 Hz (nan = unvoiced, scored as the group mean); tilt_db: alpha ratio in
    dB (energy 1-5 kHz over 50 Hz-1 kHz, higher = flatter)."""
    zf = np.nan_to_num(zscore_within(f0_median_st, groups))
    zt = np.nan_to_num(zscore_within(tilt_db, groups))
    return (zf + zt) / 2.0


def mate_arousal01(a_1to5: float) -> float:
    """MATE's arousal (1..5) on the 0..1 scale of the speech tower."""
    return (float(a_1to5) - 1.0) / 4.0


# --------------------------------------------------------------------------------------- measuring voices
def median_f0_hz(x: np.ndarray, sr: int, floor: float = 60.0, ceiling: float = 800.0) -> float:
    """Median F0 of the voiced frames in Hz (Praat's autocorrelation pitch, via parselmouth); nan if unvoiced."""
    import parselmouth

    f0 = parselmouth.Sound(np.asarray(x, np.float64), sampling_frequency=sr).to_pitch(
        pitch_floor=floor, pitch_ceiling=ceiling).selected_array["frequency"]
    f0 = f0[f0 > 0]
    return float(np.median(f0)) if f0.size else math.nan


def alpha_ratio_db(x: np.ndarray, sr: int) -> float:
    """Spectral tilt as the alpha ratio (eGeMAPS, Eyben et al. 2016): long-term energy 1-5 kHz over 50 Hz-1 kHz
    in dB, on frames within 30 dB of the loudest. Higher = flatter spectrum = more vocal effort."""
    x = np.asarray(x, np.float64)
    n_fft = 1 << int(round(math.log2(0.032 * sr)))
    hop = n_fft // 2
    if x.size < n_fft:
        x = np.pad(x, (0, n_fft - x.size))
    n = 1 + (x.size - n_fft) // hop
    frames = x[np.arange(n_fft)[None, :] + hop * np.arange(n)[:, None]] * np.hanning(n_fft)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    e = power.sum(axis=1)
    loud = e >= e.max() * 1e-3
    ltas = power[loud].mean(axis=0) + 1e-20
    f = np.fft.rfftfreq(n_fft, 1.0 / sr)
    hi, lo = ltas[(f >= 1000) & (f < 5000)].sum(), ltas[(f >= 50) & (f < 1000)].sum()
    return float(10 * np.log10(hi / lo))


# --------------------------------------------------------------------------------------- prosody transforms
@dataclass(frozen=True)
class ProsodyChange:
    """One calmer/livelier setting. pitch_st: shift of the F0 level in semitones; pitch_range: factor on the
    F0 excursions around the median (in log frequency); duration: factor on the length (> 1 slower);
    gain_db: level change; tilt_db_per_octave: spectral-tilt change above 500 Hz (> 0 flatter = more effort)."""
    pitch_st: float = 0.0
    pitch_range: float = 1.0
    duration: float = 1.0
    gain_db: float = 0.0
    tilt_db_per_octave: float = 0.0


LEVELS: tuple[int, ...] = (-3, -2, -1, 0, 1, 2, 3)


def prosody_level(level: int) -> ProsodyChange:
    """The change for a level in -3..3: negative = calmer (lower, narrower, slower, softer, steeper spectrum),
    positive = livelier (higher, wider, faster, louder, flatter spectrum), 0 = unchanged. At +-3 this is the
    issue's probe (calmer: 2 st lower, 30% slower, -6 dB; livelier: 3 st higher, 23% faster, +6 dB), in the
    direction of the arousal cues of Juslin & Laukka (2003) and Murray & Arnott (1993)."""
    if level not in LEVELS:
        raise EsmrError(f"prosody level must be one of {LEVELS}, got {level!r}")
    s = abs(level)
    if level > 0:
        return ProsodyChange(pitch_st=1.0 * s, pitch_range=1.0 + 0.2 * s, duration=1.0 / (1.0 + 0.1 * s),
                             gain_db=2.0 * s, tilt_db_per_octave=1.0 * s)
    if level < 0:
        return ProsodyChange(pitch_st=-2.0 / 3.0 * s, pitch_range=1.0 - 0.15 * s, duration=1.0 + 0.1 * s,
                             gain_db=-2.0 * s, tilt_db_per_octave=-1.0 * s)
    return ProsodyChange()


def tilt_filter(x: np.ndarray, sr: int, db_per_octave: float, pivot_hz: float = 500.0,
                max_octaves: float = 4.0) -> np.ndarray:
    """Zero-phase spectral tilt: gain 0 dB below pivot_hz, +db_per_octave per octave above it (capped at
    max_octaves). Vocal effort mostly changes the slope of the source spectrum above ~500 Hz (Sundberg;
    Traunmueller & Eriksson 2000), which a filter of this shape imitates."""
    x = np.asarray(x, np.float64)
    if db_per_octave == 0:
        return x.astype(np.float32)
    n = x.size + 1024                                   # zero-padding keeps the circular wrap out of the signal
    f = np.fft.rfftfreq(n, 1.0 / sr)
    octaves = np.clip(np.log2(np.maximum(f, 1e-9) / pivot_hz), 0.0, max_octaves)
    y = np.fft.irfft(np.fft.rfft(x, n) * 10 ** (db_per_octave * octaves / 20), n)[: x.size]
    return y.astype(np.float32)


def transform_prosody(x: np.ndarray, sr: int, change: ProsodyChange, floor: float = 60.0,
                      ceiling: float = 600.0, seed: int = 0) -> np.ndarray:
    """Apply one ProsodyChange to real speech: Praat PSOLA (To Manipulation -> pitch tier formula + duration
    tier -> overlap-add resynthesis; Moulines & Charpentier 1990, through parselmouth), then the tilt filter and
    the gain. (N,) float32 at sr -> (M,) float32 at sr (M ~ N * duration); never clips (scaled below 0.99).
    Praat's overlap-add draws random numbers, so its generator is seeded with `seed`: the same input and
    seed give the same output in every run."""
    import parselmouth
    from parselmouth.praat import call

    y = np.asarray(x, np.float64)
    if change.pitch_st or change.pitch_range != 1.0 or change.duration != 1.0:
        parselmouth.praat.run(f"random_initializeWithSeedUnsafelyButPredictably ({int(seed)})")
        snd = parselmouth.Sound(y, sampling_frequency=sr)
        median = median_f0_hz(y, sr, floor, ceiling)
        man = call(snd, "To Manipulation", 0.01, floor, ceiling)
        if math.isfinite(median) and (change.pitch_st or change.pitch_range != 1.0):
            tier = call(man, "Extract pitch tier")
            call(tier, "Formula", f"{median:.4f} * exp({change.pitch_range:.4f} * ln(self / {median:.4f}))"
                                  f" * {2 ** (change.pitch_st / 12):.6f}")
            call([tier, man], "Replace pitch tier")
        if change.duration != 1.0:
            dur = call("Create DurationTier", "duration", snd.xmin, snd.xmax)
            call(dur, "Add point", snd.xmin, float(change.duration))
            call([man, dur], "Replace duration tier")
        y = call(man, "Get resynthesis (overlap-add)").values[0]
    y = tilt_filter(y, sr, change.tilt_db_per_octave).astype(np.float64)
    y = y * 10 ** (change.gain_db / 20)
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    if peak > 0.99:
        y = y * (0.99 / peak)
    return y.astype(np.float32)


# ------------------------------------------------------------------------------------------- channel
def telephone(x: np.ndarray, sr: int) -> tuple[np.ndarray, int]:
    """Narrow-band telephone: 300-3400 Hz band-pass (4th-order Butterworth, zero phase), resampled to 8 kHz."""
    from scipy.signal import butter, resample_poly, sosfiltfilt

    sos = butter(4, [300.0, 3400.0], btype="bandpass", fs=sr, output="sos")
    y = sosfiltfilt(sos, np.asarray(x, np.float64))
    g = math.gcd(8000, sr)
    return resample_poly(y, 8000 // g, sr // g).astype(np.float32), 8000


def synthetic_rir(sr: int, rt60_s: float = 0.5, drr_db: float = 3.0, seed: int = 0) -> np.ndarray:
    """A room impulse response: a direct-path impulse plus exponentially decaying Gaussian noise whose energy
    falls 60 dB in rt60_s (the statistical reverberation model of Schroeder 1962 / Polack 1988), its energy
    drr_db below the direct sound. (rt60_s * 1.2 * sr,) float32."""
    rng = np.random.default_rng(seed)
    n = max(2, int(rt60_s * 1.2 * sr))
    t = np.arange(n) / sr
    tail = rng.standard_normal(n) * np.exp(-3.0 * math.log(10) * t / rt60_s)   # amplitude: -60 dB at rt60
    tail[: int(0.002 * sr) + 1] = 0.0                                          # 2 ms before the first echo
    tail *= math.sqrt(10 ** (-drr_db / 10) / max(float(np.sum(tail ** 2)), 1e-20))
    tail[0] = 1.0
    return tail.astype(np.float32)


def reverberate(x: np.ndarray, sr: int, rt60_s: float = 0.5, seed: int = 0) -> np.ndarray:
    """Speech in a reverberant room: convolved with synthetic_rir (the tail kept), same peak as the input."""
    from scipy.signal import fftconvolve

    x = np.asarray(x, np.float64)
    y = fftconvolve(x, synthetic_rir(sr, rt60_s, seed=seed).astype(np.float64))
    return (y * (np.max(np.abs(x)) / max(float(np.max(np.abs(y))), 1e-12))).astype(np.float32)


def active_power(x: np.ndarray, sr: int, top_db: float = 30.0) -> float:
    """Mean power of the 20 ms frames within top_db of the loudest (the speech, not the pauses)."""
    x = np.asarray(x, np.float64)
    hop = max(1, sr // 50)
    n = max(1, x.size // hop)
    p = np.mean(np.square(x[: n * hop].reshape(n, -1)), axis=1) if x.size >= hop else np.array([np.mean(x ** 2)])
    return float(p[p >= p.max() * 10 ** (-top_db / 10)].mean()) if p.max() > 0 else 0.0


def pink_noise(n: int, seed: int = 0) -> np.ndarray:
    """(n,) pink (1/f power) Gaussian noise with unit power."""
    rng = np.random.default_rng(seed)
    spec = np.fft.rfft(rng.standard_normal(n))
    spec /= np.sqrt(np.maximum(np.arange(spec.size), 1.0))
    y = np.fft.irfft(spec, n)
    return y / max(float(np.sqrt(np.mean(y ** 2))), 1e-20)


def add_noise(x: np.ndarray, sr: int, snr_db: float, seed: int = 0) -> np.ndarray:
    """Pink noise added at snr_db relative to the active speech power (active_power)."""
    x = np.asarray(x, np.float64)
    noise = pink_noise(x.size, seed) * math.sqrt(active_power(x, sr) * 10 ** (-snr_db / 10))
    y = x + noise
    peak = float(np.max(np.abs(y)))
    return (y * (0.99 / peak) if peak > 0.99 else y).astype(np.float32)


def lossy_codec(x: np.ndarray, sr: int, codec: str, kbps: int) -> bytes:
    """Encode with a lossy codec at a bit rate -> the file's bytes (what a phone or a web page uploads).
    codec: "opus" (Ogg/Opus, libopus) or "mp3" (libmp3lame), through PyAV's bundled FFmpeg."""
    import av

    fmt = {"opus": ("ogg", "libopus"), "mp3": ("mp3", "libmp3lame")}
    if codec not in fmt:
        raise EsmrError(f"codec must be one of {sorted(fmt)}, got {codec!r}")
    y = np.clip(np.asarray(x, np.float32), -1.0, 1.0)
    rate = sr
    if codec == "opus" and sr not in (8000, 12000, 16000, 24000, 48000):
        from scipy.signal import resample_poly

        g = math.gcd(48000, sr)
        y, rate = resample_poly(y, 48000 // g, sr // g).astype(np.float32), 48000
    buf = io.BytesIO()
    with av.open(buf, mode="w", format=fmt[codec][0]) as box:
        stream = box.add_stream(fmt[codec][1], rate=rate, layout="mono")
        stream.bit_rate = int(kbps) * 1000
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(y[None, :]), format="fltp", layout="mono")
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            box.mux(packet)
    return buf.getvalue()


def gain(x: np.ndarray, db: float) -> np.ndarray:
    """The level changed by db decibels (values may exceed full scale: the app scales a float input down)."""
    return (np.asarray(x, np.float64) * 10 ** (db / 20)).astype(np.float32)


def hard_clip(x: np.ndarray, drive_db: float = 6.0) -> np.ndarray:
    """Overdriven recording: peak set drive_db above full scale, then clipped to [-1, 1]."""
    x = np.asarray(x, np.float64)
    peak = max(float(np.max(np.abs(x))), 1e-12)
    return np.clip(x * (10 ** (drive_db / 20) / peak), -1.0, 1.0).astype(np.float32)


# name -> function (samples, sr, seed) -> (samples, sr) or encoded file bytes
CHANNELS: dict[str, Callable[[np.ndarray, int, int], tuple[np.ndarray, int] | bytes]] = {
    "telephone": lambda x, sr, seed: telephone(x, sr),
    "reverb_rt60_0.5s": lambda x, sr, seed: (reverberate(x, sr, 0.5, seed), sr),
    "noise_20db": lambda x, sr, seed: (add_noise(x, sr, 20.0, seed), sr),
    "noise_10db": lambda x, sr, seed: (add_noise(x, sr, 10.0, seed), sr),
    "opus_24kbps": lambda x, sr, seed: lossy_codec(x, sr, "opus", 24),
    "mp3_32kbps": lambda x, sr, seed: lossy_codec(x, sr, "mp3", 32),
    "gain_+12db": lambda x, sr, seed: (gain(x, 12.0), sr),
    "gain_-12db": lambda x, sr, seed: (gain(x, -12.0), sr),
    "clipping_+6db": lambda x, sr, seed: (hard_clip(x, 6.0), sr),
}


# ------------------------------------------------------------------------------------------- music response
ENERGETIC_MOODS: frozenset[str] = frozenset({"exciting", "angry", "scary", "happy", "funny"})


def energetic_share(moods_per_query: Iterable[Sequence[str]]) -> float:
    """Share of energetic-mood tracks over all retrieved lists (each the top k of one query); nan if none."""
    lists = [list(m) for m in moods_per_query]
    total = sum(len(m) for m in lists)
    return sum(x in ENERGETIC_MOODS for m in lists for x in m) / total if total else math.nan


def mean_of(values: Iterable[float]) -> float:
    v = [float(x) for x in values]
    return float(np.mean(v)) if v else math.nan


# ------------------------------------------------------------------------------------------- thresholds
# (id, what, key path in the result JSON, comparison, value) -- the "Done when" of issue #11.
THRESHOLDS: tuple[tuple[str, str, tuple[str, ...], str, float | tuple[str, ...]], ...] = (
    ("acted_arousal_tower", "acted: voice-only arousal pairs, speech tower", ("acted", "summary", "tower", "voice",
     "arousal_pairs"), ">=", 0.75),
    ("acted_arousal_mate", "acted: voice-only arousal pairs, MATE", ("acted", "summary", "mate", "voice",
     "arousal_pairs"), ">=", 0.75),
    ("acted_tower_above_baseline", "acted: speech tower above the two-cue rule", ("acted", "summary", "tower",
     "voice", "arousal_pairs"), ">", ("acted", "summary", "two_cue", "voice", "arousal_pairs")),
    ("acted_mate_above_baseline", "acted: MATE above the two-cue rule", ("acted", "summary", "mate", "voice",
     "arousal_pairs"), ">", ("acted", "summary", "two_cue", "voice", "arousal_pairs")),
    ("acted_valence_tower_asr", "acted: valence pairs with ASR, speech tower", ("acted", "summary", "tower", "asr",
     "valence_pairs"), ">=", 0.60),
    ("acted_valence_mate_asr", "acted: valence pairs with ASR, MATE", ("acted", "summary", "mate", "asr",
     "valence_pairs"), ">=", 0.60),
    ("prosody_pairs_tower", "controlled prosody: arousal ordered pairs, speech tower", ("prosody", "summary",
     "tower", "arousal_pairs"), ">=", 0.90),
    ("prosody_pairs_mate", "controlled prosody: arousal ordered pairs, MATE", ("prosody", "summary", "mate",
     "arousal_pairs"), ">=", 0.90),
    ("music_high_energetic", "music: energetic share of the top 5, high-arousal acted lines", ("music", "acted",
     "high", "energetic_share"), ">=", 0.65),
    ("music_low_energetic", "music: energetic share of the top 5, low-arousal acted lines", ("music", "acted",
     "low", "energetic_share"), "<=", 0.40),
    ("music_triples_energy", "music: mean top-5 energy rises with the level (controlled triples)", ("music",
     "prosody", "energy_triples_rising"), ">=", 0.90),
    *((f"channel_{c}_{m}_agreement", f"channel {c}: label agreement, {n}", ("channel", "conditions", c, m,
       "label_agreement"), ">=", 0.80) for c in ("noise_20db", "telephone", "opus_24kbps")
      for m, n in (("tower", "speech tower"), ("mate", "MATE"))),
    *((f"channel_{c}_{m}_shift", f"channel {c}: mean |arousal shift|, {n}", ("channel", "conditions", c, m,
       "arousal_shift"), "<=", 0.10) for c in ("noise_20db", "telephone", "opus_24kbps")
      for m, n in (("tower", "speech tower"), ("mate", "MATE"))),
    ("examples_tower", "example voices read as labelled by the model that picks the music (speech tower)",
     ("examples", "app", "tower_correct"), ">=", 5),
    ("synthetic_mrr", "synthetic test split MRR (as the service ranks)", ("synthetic", "service_mrr"), ">=", 0.50),
)


def lookup(result: dict, path: Sequence[str]):
    """result[path[0]][path[1]]...; None when a key is missing."""
    cur = result
    for key in path:
        if not isinstance(cur, dict) or key not in cur:
            return None
        cur = cur[key]
    return cur


def check_thresholds(result: dict) -> list[dict]:
    """Each threshold with its measured value and pass (True/False, None = not measured)."""
    ops = {">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b}
    out = []
    for tid, what, path, op, ref in THRESHOLDS:
        value = lookup(result, path)
        target = lookup(result, ref) if isinstance(ref, tuple) else ref
        ok = None
        if isinstance(value, (int, float)) and isinstance(target, (int, float)) \
                and math.isfinite(value) and math.isfinite(target):
            ok = bool(ops[op](value, target))
        out.append({"id": tid, "what": what, "value": value, "op": op, "target": target, "pass": ok})
    return out
