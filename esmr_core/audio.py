"""Audio front end: load any common format, validate, downmix, resample to 16 kHz, trim silence, cap length.

Decoding tries libsndfile (`soundfile`: wav, flac, ogg/vorbis, ogg/opus, mp3 here) first and PyAV (bundled
FFmpeg: webm, m4a and the rest) second. Speech queries go through `load_audio` / `from_array`, which find the
voice with silero-vad (Silero Team, github.com/snakers4/silero-vad, MIT), trim the silence around it, cut to
`max_seconds` and normalise loudness to -23 LUFS (EBU R128, measured with pyloudnorm, ITU-R BS.1770).
Catalogue building uses `load_music` (no VAD, no normalisation). Every problem with the input raises
`AudioError` with a message that tells the user what to do.
"""
from __future__ import annotations

import io
import math
import os
import threading
import warnings
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from .errors import AudioError, ModelUnavailableError

SAMPLE_RATE = 16000           # Hz, every model input
MAX_SECONDS = 30.0            # analysed length cap, s
MAX_BYTES = 25 * 1024 * 1024  # upload cap, bytes (checked before decoding)
MIN_VOICED_S = 0.5            # s of voice needed
TARGET_LUFS = -23.0           # integrated loudness after normalisation
PEAK_LIMIT = 0.98             # linear peak ceiling after normalisation
TRIM_PAD_S = 0.15             # s of context kept around the voice when trimming
LEAD_SLACK_S = 30.0           # decode this much beyond max_seconds so leading silence can be skipped
MIN_SR, MAX_SR = 4000, 768000  # accepted source sample rates, Hz
MAX_CHANNELS = 64
FORMATS = ("wav", "flac", "ogg", "opus", "mp3", "webm", "m4a")
_FORMATS_HINT = "WAV, FLAC, OGG, OPUS, MP3, WEBM or M4A"


class NotAudioError(AudioError):
    """The input is no usable audio at all: empty, over the size cap, not audio, undecodable, NaN samples or cut
    short. An app may delete such an upload as soon as it is refused."""


@dataclass(frozen=True)
class Audio:
    samples: np.ndarray          # (N,) float32 mono at `sr`, trimmed, normalised, cut
    sr: int                      # always SAMPLE_RATE
    duration_s: float            # of `samples`
    source_duration_s: float     # of the whole input (nan when the container does not say and it was not decoded)
    source_sr: int               # Hz
    channels: int
    truncated: bool              # True when cut to max_seconds
    voiced_s: float              # seconds of voice found by the VAD inside `samples`
    warnings: tuple[str, ...] = ()  # human-readable notes, e.g. "analysed the first 30 s of 42.0 s"


@dataclass
class _Decoded:
    samples: np.ndarray  # (N, C) float32
    sr: int
    total_s: float       # nan when unknown
    note: str = ""


# ----------------------------------------------------------------------------------------------- input checks
_NON_AUDIO_MAGIC = ((b"%PDF", "a PDF document"), (b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"),
                    (b"GIF8", "a GIF image"), (b"PK\x03\x04", "a ZIP archive or office document"),
                    (b"\x7fELF", "a program"), (b"{\\rtf", "an RTF document"))
_AUDIO_MAGIC = (b"RIFF", b"RIFX", b"RF64", b"fLaC", b"OggS", b"ID3", b"FORM", b".snd", b"caff", b"\x1aE\xdf\xa3",
                b"#!AMR", b"wvpk", b"MAC ")


def _non_audio_kind(head: bytes) -> str:
    """What `head` (first bytes of the input) is, when it is clearly not audio; '' otherwise."""
    for magic, kind in _NON_AUDIO_MAGIC:
        if head.startswith(magic):
            return kind
    if b"\x00" in head:
        return ""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # not just a character cut at the end of the head
            return ""
        text = head[: exc.start].decode("utf-8")
    printable = sum(ch.isprintable() or ch in "\t\r\n\f" for ch in text)
    return "text" if text and printable >= 0.95 * len(text) else ""


def _looks_like_audio(head: bytes) -> bool:
    return (head.startswith(_AUDIO_MAGIC) or head[4:8] == b"ftyp"
            or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0))  # MPEG / ADTS frame sync


def _check_source(source, max_bytes: int | None) -> tuple[str | bytes, str, bytes]:
    """Validate a path or bytes without decoding -> (path or data, name for messages, first 4 KiB)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        src, name = bytes(source), "the uploaded audio"
        size, head = len(src), src[:4096]
    elif isinstance(source, (str, os.PathLike)):
        src = os.fsdecode(os.fspath(source))
        name = f"'{os.path.basename(src) or src}'"
        if not src.strip():
            raise AudioError("no audio file was given; choose a file or record one")
        if not os.path.exists(src):
            raise AudioError(f"audio file not found: {src}; check the path or upload the file again")
        if os.path.isdir(src):
            raise AudioError(f"{src} is a folder, not an audio file; choose a file inside it")
        try:
            size = os.path.getsize(src)
            with open(src, "rb") as fh:
                head = fh.read(4096)
        except OSError as exc:
            raise AudioError(f"cannot read {src} ({exc.strerror}); check that the file is readable") from exc
    elif isinstance(source, np.ndarray):
        raise AudioError("got an array without a sample rate; use from_array(samples, sr) or pass (sr, samples)")
    else:
        raise AudioError(f"expected a file path or bytes, got {type(source).__name__}; pass a path to an audio file")
    if size == 0:
        raise NotAudioError(f"{name} is empty (0 bytes); record again or choose another file")
    if max_bytes is not None and size > max_bytes:
        raise NotAudioError(f"{name} is {size / 2**20:.1f} MB, over the {max_bytes / 2**20:.3g} MB limit; upload a "
                         f"shorter clip (only {MAX_SECONDS:g} s are analysed) or a compressed format such as MP3")
    kind = _non_audio_kind(head)
    if kind:
        ext = os.path.splitext(src)[1] if isinstance(src, str) else ""
        named = f" although its name ends in {ext}" if ext else ""
        raise NotAudioError(f"{name} is not an audio file: it contains {kind}{named}; "
                         f"choose a recording in {_FORMATS_HINT}")
    return src, name, head


def _check_rate(sr, what: str = "sample rate") -> int:
    """A sample rate in Hz as int, or AudioError."""
    if isinstance(sr, (bool, np.bool_)) or not isinstance(sr, (int, float, np.integer, np.floating)):
        raise AudioError(f"{what} must be a number in Hz, got {type(sr).__name__}; pass e.g. 16000")
    if not math.isfinite(float(sr)) or float(sr) != int(sr) or not MIN_SR <= int(sr) <= MAX_SR:
        raise AudioError(f"{what} {sr!r} Hz is not usable; record or export at {MIN_SR}-{MAX_SR} Hz, e.g. 16000")
    return int(sr)


def _check_channels(channels: int, name: str) -> None:
    if not 1 <= channels <= MAX_CHANNELS:
        raise AudioError(f"{name} claims {channels} channels; export it again as mono or stereo")


def _wav_lengths(head: bytes, size: int) -> tuple[float, float] | None:
    """(seconds the WAV header promises, seconds of sample data the file holds) from its RIFF chunks, or None
    when `head` is not a RIFF/WAVE header with both chunks (or the writer left the data size open).

    libsndfile quietly shortens a WAV whose data chunk is cut off, so this is the one place the shortfall shows."""
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    pos, rate, align = 12, 0, 0
    while pos + 8 <= len(head):
        cid, n = head[pos:pos + 4], int.from_bytes(head[pos + 4:pos + 8], "little")
        if cid == b"fmt " and pos + 8 + 14 <= len(head):
            rate = int.from_bytes(head[pos + 12:pos + 16], "little")
            align = int.from_bytes(head[pos + 20:pos + 22], "little")
        elif cid == b"data":
            if not rate or not align or n in (0, 0xFFFFFFFF):
                return None
            held = max(0, min(n, size - (pos + 8)))
            return n // align / rate, held // align / rate
        pos += 8 + n + (n & 1)
    return None


_DAMAGED_END = "its end is damaged"
_DAMAGED_NOTE = "is damaged ("   # in the note _read_pyav leaves when the end of a file does not decode


def _shortfall(src: str | bytes, head: bytes, dec: "_Decoded", window: float | None) -> str:
    """Why the input holds less audio than its header says ('' when it does not): the sign of an interrupted
    upload or export. Tolerates the small differences encoders leave (priming, frame rounding)."""
    size = len(src) if isinstance(src, bytes) else os.path.getsize(src)
    got = dec.samples.shape[0] / dec.sr
    lengths = _wav_lengths(head, size)
    promised = lengths[0] if lengths else dec.total_s
    if lengths:
        got = min(got, lengths[1])
    if window is not None and got >= window - 0.5:  # decoding stopped at the window on purpose
        return ""
    if math.isfinite(promised) and promised - got > max(0.25, 0.05 * promised):
        return f"its header promises {promised:.1f} s of audio but it holds only {got:.2f} s"
    return _DAMAGED_END if dec.note else ""


# --------------------------------------------------------------------------------------------------- decoding
def _read_soundfile(src: str | bytes, name: str, offset_s: float, limit_s: float | None) -> _Decoded:
    import soundfile as sf

    with sf.SoundFile(src if isinstance(src, str) else io.BytesIO(src)) as f:
        sr, frames = _check_rate(f.samplerate), f.frames
        _check_channels(f.channels, name)
        total = frames / sr if 0 < frames < 2**62 else math.nan
        start = int(round(offset_s * sr))
        if start:
            if frames > 0 and start >= frames:
                return _Decoded(np.zeros((0, f.channels), np.float32), sr, total)
            f.seek(start)
        count = -1 if limit_s is None else int(math.ceil(limit_s * sr))
        data = f.read(count, dtype="float32", always_2d=True)
    if data.shape[0] == 0 and start == 0:
        raise RuntimeError("no samples decoded")
    return _Decoded(data, sr, total)


def _read_pyav(src: str | bytes, name: str, offset_s: float, limit_s: float | None, count_rest: bool) -> _Decoded:
    import av

    with av.open(src if isinstance(src, str) else io.BytesIO(src), mode="r", metadata_errors="ignore") as box:
        if not box.streams.audio:
            raise NotAudioError(f"{name} has no audio track (a video or image without sound?); choose a recording "
                             f"with sound in {_FORMATS_HINT}")
        stream = box.streams.audio[0]
        total = math.nan
        if stream.duration and stream.time_base:
            total = float(stream.duration * stream.time_base)
        elif box.duration:
            total = box.duration / 1e6
        if offset_s > 0:
            try:
                box.seek(int(offset_s * 1e6), backward=True, any_frame=False)
            except Exception:  # unseekable: decode from the start, the skip below aligns
                pass
        chunks, got, need, skip, sr, resampler, note = [], 0, None, 0, None, None, ""
        frames = box.decode(stream)
        try:
            for frame in frames:
                if resampler is None:
                    sr = _check_rate(frame.sample_rate)
                    _check_channels(frame.layout.nb_channels, name)
                    resampler = av.AudioResampler(format="fltp", layout=frame.layout, rate=sr)
                    need = None if limit_s is None else int(math.ceil(limit_s * sr))
                    skip = max(0, int(round((offset_s - (frame.time or 0.0)) * sr)))
                for out in resampler.resample(frame):
                    arr = out.to_ndarray().T  # (n, C)
                    drop = min(skip, arr.shape[0])
                    skip -= drop
                    chunks.append(arr[drop:])
                    got += arr.shape[0] - drop
                if need is not None and got >= need:
                    break
            if need is not None and got >= need and count_rest and not math.isfinite(total):
                rest = sum(frame.samples for frame in frames)  # container gave no duration: count it
                total = (got + rest) / sr
        except (av.FFmpegError, EOFError) as exc:
            if not got:
                raise
            note = f"the end of {name} is damaged ({exc.__class__.__name__}); used the part that decoded"
    if not got:
        if offset_s > 0:  # nothing after the offset: let the caller say so
            return _Decoded(np.zeros((0, 1), np.float32), sr or 0, total)
        raise RuntimeError("no samples decoded")
    data = np.concatenate(chunks).astype(np.float32, copy=False)
    if need is not None:
        data = data[:need]
    if not math.isfinite(total) and need is None and not note:
        total = offset_s + data.shape[0] / sr
    return _Decoded(data, sr, total, note)


def _read(src: str | bytes, name: str, head: bytes, offset_s: float = 0.0, limit_s: float | None = None,
          count_rest: bool = False) -> _Decoded:
    """Decode with soundfile, then PyAV; AudioError when neither can."""
    errors: list[Exception] = []
    try:
        return _read_soundfile(src, name, offset_s, limit_s)
    except Exception as exc:  # libsndfile cannot read it: let FFmpeg try
        errors.append(exc)
    try:
        return _read_pyav(src, name, offset_s, limit_s, count_rest)
    except Exception as exc:
        errors.append(exc)
    for exc in reversed(errors):
        if isinstance(exc, AudioError):
            raise exc
    if _looks_like_audio(head):
        raise NotAudioError(f"{name} could not be decoded: the file looks damaged or cut short; export or record it "
                         "again") from errors[-1]
    raise NotAudioError(f"{name} could not be read as audio (unknown or damaged format); save it as "
                     f"{_FORMATS_HINT}") from errors[-1]


def _check_finite(x: np.ndarray, name: str) -> None:
    if not np.isfinite(x).all():
        raise NotAudioError(f"{name} contains invalid samples (NaN or infinity); export or record it again")


def decode(source, *, max_bytes: int | None = None) -> tuple[np.ndarray, int]:
    """Decode a whole file or bytes -> (samples (N, C) float32 in [-1, 1], native sample rate in Hz)."""
    src, name, head = _check_source(source, max_bytes)
    dec = _read(src, name, head)
    _check_finite(dec.samples, name)
    return dec.samples, dec.sr


def audio_info(path) -> tuple[float, int, int]:
    """(duration in s, sample rate in Hz, channels) from the container header; decodes only when it is silent."""
    src, name, head = _check_source(path, None)
    try:
        import soundfile as sf

        info = sf.info(src if isinstance(src, str) else io.BytesIO(src))
        if 0 < info.frames < 2**62 and info.samplerate > 0 and info.channels > 0:
            return info.frames / info.samplerate, int(info.samplerate), int(info.channels)
    except Exception:  # not for libsndfile: ask FFmpeg
        pass
    try:
        import av

        with av.open(src if isinstance(src, str) else io.BytesIO(src), metadata_errors="ignore") as box:
            if box.streams.audio:
                stream = box.streams.audio[0]
                ctx = stream.codec_context
                if stream.duration and stream.time_base:
                    dur = float(stream.duration * stream.time_base)
                else:
                    dur = box.duration / 1e6 if box.duration else math.nan
                if math.isfinite(dur) and ctx.sample_rate and ctx.layout.nb_channels:
                    return dur, int(ctx.sample_rate), int(ctx.layout.nb_channels)
    except Exception:
        pass
    dec = _read(src, name, head, count_rest=True)
    return dec.total_s, dec.sr, dec.samples.shape[1]


# --------------------------------------------------------------------------------------------------- encoding
_SF_ENCODINGS = {"wav": ("WAV", "PCM_16"), "flac": ("FLAC", "PCM_16"), "ogg": ("OGG", "VORBIS"),
                 "opus": ("OGG", "OPUS"), "mp3": ("MP3", "MPEG_LAYER_III")}
_AV_ENCODINGS = {"webm": ("webm", "libopus", 48000), "m4a": ("mp4", "aac", None)}


def encode(samples: np.ndarray, sr: int, fmt: str) -> bytes:
    """Encode (N,) or (N, C) float samples in [-1, 1] at `sr` Hz as one of FORMATS -> file bytes."""
    x = np.asarray(samples, dtype=np.float32)
    x = x[:, None] if x.ndim == 1 else x
    buf = io.BytesIO()
    if fmt in _SF_ENCODINGS:
        import soundfile as sf

        if fmt == "opus" and sr not in (8000, 12000, 16000, 24000, 48000):
            x, sr = _resample(x, sr, 48000), 48000
        sf.write(buf, x, sr, format=_SF_ENCODINGS[fmt][0], subtype=_SF_ENCODINGS[fmt][1])
        return buf.getvalue()
    if fmt not in _AV_ENCODINGS:
        raise AudioError(f"unknown audio format {fmt!r}; choose one of {', '.join(FORMATS)}")
    import av

    container, codec, rate = _AV_ENCODINGS[fmt]
    x = x[:, :2] if x.shape[1] <= 2 else x.mean(axis=1, keepdims=True)
    layout = "mono" if x.shape[1] == 1 else "stereo"
    with av.open(buf, mode="w", format=container) as box:
        stream = box.add_stream(codec, rate=rate or sr, layout=layout)
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(x.T), format="fltp", layout=layout)
        frame.sample_rate = sr
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            box.mux(packet)
    return buf.getvalue()


@lru_cache(maxsize=1)
def supported_formats() -> dict[str, bool]:
    """Which of FORMATS decode here, checked by a real encode -> decode round trip of a short tone."""
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(4000) / SAMPLE_RATE)).astype(np.float32)
    result = {}
    for fmt in FORMATS:
        try:
            result[fmt] = decode(encode(tone, SAMPLE_RATE, fmt))[0].shape[0] > 0
        except Exception:
            result[fmt] = False
    return result


# ------------------------------------------------------------------------------------------------ arrays, DSP
def _as_frames(samples) -> np.ndarray:
    """Any 1-D/2-D numeric array -> (N, C) (no scaling yet); (C, N) with few channels is transposed."""
    try:
        x = np.asarray(samples)
    except Exception as exc:
        raise AudioError(f"audio samples must be a numeric array; got {type(samples).__name__}") from exc
    if x.dtype.kind not in "iuf":
        raise AudioError(f"audio samples must be integers or floats, got dtype {x.dtype}; convert them first")
    if x.ndim > 2:
        x = x.squeeze()
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise AudioError(f"audio samples must have shape (N,) or (N, channels), got {np.shape(samples)}")
    if x.shape[1] > MAX_CHANNELS or (x.shape[0] < x.shape[1] and x.shape[0] <= MAX_CHANNELS):
        if x.shape[0] > MAX_CHANNELS:
            raise AudioError(f"audio samples of shape {x.shape} have too many channels; pass (N,) or (N, channels)")
        x = x.T
    if x.size == 0:
        raise AudioError("the recording is empty (no samples); record again")
    return x


def _to_float(x: np.ndarray) -> np.ndarray:
    """Integer PCM scaled by its full range (int16 / 32768, uint8 centred on 128, ...) -> float64 in [-1, 1]."""
    if x.dtype.kind == "f":
        return x.astype(np.float64)
    half = float(2 ** (np.iinfo(x.dtype).bits - 1))
    return (x.astype(np.float64) - (half if x.dtype.kind == "u" else 0.0)) / half


def _resample(x: np.ndarray, sr: int, target: int) -> np.ndarray:
    """(N,) or (N, C) float at sr -> target Hz with soxr (high quality)."""
    import soxr

    if sr == target:
        return x
    return soxr.resample(np.ascontiguousarray(x, dtype=np.float32), sr, target, quality="HQ").astype(np.float32)


def _mono16k(x: np.ndarray, sr: int) -> np.ndarray:
    """(N, C) float -> (M,) float32 mono at SAMPLE_RATE (mean downmix, soxr resample)."""
    mono = (x.mean(axis=1) if x.shape[1] > 1 else x[:, 0]).astype(np.float32)
    return _resample(mono, sr, SAMPLE_RATE)


def _normalize(x: np.ndarray) -> np.ndarray:
    """Loudness-normalise (N,) float32 at 16 kHz to TARGET_LUFS, peak-limited to PEAK_LIMIT; RMS when too short."""
    import pyloudnorm

    peak = float(np.max(np.abs(x)))
    loudness = -math.inf
    if x.shape[0] > int(0.4 * SAMPLE_RATE):  # one 400 ms gating block at least
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loudness = pyloudnorm.Meter(SAMPLE_RATE).integrated_loudness(x.astype(np.float64))
    if math.isfinite(loudness):
        gain = 10 ** ((TARGET_LUFS - loudness) / 20)
    else:
        gain = 10 ** (TARGET_LUFS / 20) / max(float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))), 1e-12)
    gain = min(gain, PEAK_LIMIT / peak)
    return (x * gain).astype(np.float32)


# --------------------------------------------------------------------------------------------- voice activity
_VAD_LOCK = threading.Lock()  # the silero model keeps recurrent state between calls
_VAD_MODEL = None


def _vad_model():
    """The silero-vad ONNX model, loaded once; call with _VAD_LOCK held."""
    global _VAD_MODEL
    if _VAD_MODEL is None:
        try:
            import torch

            threads = torch.get_num_threads()
            from silero_vad import load_silero_vad

            torch.set_num_threads(threads)  # importing silero_vad sets torch to 1 thread for the whole process
            _VAD_MODEL = load_silero_vad(onnx=True)
        except Exception as exc:
            raise ModelUnavailableError(f"the voice detector (silero-vad) could not be loaded ({exc}); reinstall "
                                        "it with `pip install silero-vad onnxruntime`") from exc
    return _VAD_MODEL


def speech_segments(samples: np.ndarray, threshold: float = 0.5) -> list[tuple[float, float]]:
    """Voiced stretches of (N,) float 16 kHz mono audio -> [(start_s, end_s), ...] in seconds (silero-vad)."""
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim != 1:
        raise AudioError(f"speech_segments needs mono (N,) samples at {SAMPLE_RATE} Hz, got shape {x.shape}")
    _check_finite(x, "the audio")
    if x.shape[0] < 512:  # shorter than one 32 ms VAD window
        return []
    import torch
    from silero_vad import get_speech_timestamps

    with _VAD_LOCK:
        model = _vad_model()
        try:
            stamps = get_speech_timestamps(torch.from_numpy(np.ascontiguousarray(x)), model, threshold=threshold,
                                           sampling_rate=SAMPLE_RATE, speech_pad_ms=30)
        finally:
            model.reset_states()
    return [(s["start"] / SAMPLE_RATE, s["end"] / SAMPLE_RATE) for s in stamps]


def _energy_bounds(x: np.ndarray, top_db: float = 40.0) -> tuple[float, float]:
    """(start_s, end_s) of the part of (N,) 16 kHz audio within top_db of its loudest 20 ms frame."""
    hop = SAMPLE_RATE // 50
    n = x.shape[0] // hop
    if n < 2:
        return 0.0, x.shape[0] / SAMPLE_RATE
    rms = np.sqrt(np.mean(np.square(x[: n * hop].reshape(n, hop), dtype=np.float64), axis=1) + 1e-20)
    db = 20 * np.log10(rms)
    loud = np.flatnonzero(db > db.max() - top_db)
    return loud[0] * hop / SAMPLE_RATE, min(x.shape[0], (loud[-1] + 1) * hop) / SAMPLE_RATE


# ----------------------------------------------------------------------------------------------- the pipeline
def _check_options(max_seconds, min_voiced_s) -> None:
    if max_seconds is not None and not (isinstance(max_seconds, (int, float)) and 0 < max_seconds < math.inf):
        raise AudioError(f"max_seconds must be a positive number of seconds or None, got {max_seconds!r}")
    if not (isinstance(min_voiced_s, (int, float)) and 0 <= min_voiced_s < math.inf):
        raise AudioError(f"min_voiced_s must be a number of seconds >= 0, got {min_voiced_s!r}")


def _finish(frames: np.ndarray, sr: int, total_s: float, name: str, notes: list[str], *, max_seconds,
            require_voice, trim, normalize, min_voiced_s, cut_short: bool, incomplete: str = "") -> Audio:
    """(N, C) float at sr -> Audio: downmix, resample, find voice, trim, cut, normalise.

    incomplete: why the file holds less than its header promises ('' if it does not). Such a file is analysed
    when what it holds passes every check (with a note); otherwise the message says it is cut short."""
    try:
        audio = _checked(frames, sr, total_s, name, notes, max_seconds=max_seconds, require_voice=require_voice,
                         trim=trim, normalize=normalize, min_voiced_s=min_voiced_s, cut_short=cut_short)
    except AudioError:
        if not incomplete:
            raise
        raise NotAudioError(f"{name} is cut short: {incomplete}; the upload or export was probably interrupted, so "
                         "upload the complete file or record again") from None
    if incomplete and not any(_DAMAGED_NOTE in n for n in notes):  # (a damaged end has its note already)
        audio = replace(audio, warnings=(*audio.warnings, f"{name} is cut short ({incomplete}); analysed the part "
                                                           "it holds"))
    return audio


def _checked(frames: np.ndarray, sr: int, total_s: float, name: str, notes: list[str], *, max_seconds,
             require_voice, trim, normalize, min_voiced_s, cut_short: bool) -> Audio:
    channels = frames.shape[1]
    peak = float(np.max(np.abs(frames)))
    if peak > 1.0:  # float input beyond full scale: scale down rather than clip
        frames = frames / peak
        notes.append(f"samples exceeded full scale (peak {peak:.3g}) and were scaled down")
    x = _mono16k(frames, sr)
    whole_s = x.shape[0] / SAMPLE_RATE
    if min_voiced_s > 0 and whole_s < min_voiced_s:
        raise AudioError(f"{name} is too short: {whole_s:.2f} s long, and at least {min_voiced_s:g} s of voice is "
                         "needed; record a sentence of a few seconds")
    if x.shape[0] == 0 or float(np.max(np.abs(x))) < 1e-5:  # below -100 dBFS
        raise AudioError(f"{name} is silent; check that the microphone works and is not muted, then record again")
    segments = speech_segments(x)
    if require_voice and not segments:
        raise AudioError(f"no speech detected in {name}: it holds silence, noise, music or singing; speak clearly "
                         "close to the microphone and record again (for singing, use the Sing tab / esmr sing)")
    start, end = 0.0, x.shape[0] / SAMPLE_RATE
    if trim:
        lo, hi = (segments[0][0], segments[-1][1]) if require_voice else _energy_bounds(x)
        start, end = max(start, lo - TRIM_PAD_S), min(end, hi + TRIM_PAD_S)
        if start + (x.shape[0] / SAMPLE_RATE - end) >= 0.5:
            notes.append(f"trimmed {start:.1f} s of silence at the start and "
                         f"{x.shape[0] / SAMPLE_RATE - end:.1f} s at the end")
    truncated = cut_short
    if max_seconds is not None and end - start > max_seconds:
        end, truncated = start + max_seconds, True
    if truncated:
        whole = f"{total_s:.1f} s" if math.isfinite(total_s) else "a longer recording"
        notes.append(f"analysed the first {end - start:.1f} s (after trimming) of {whole}")
    x = x[int(round(start * SAMPLE_RATE)): int(round(end * SAMPLE_RATE))]
    duration = x.shape[0] / SAMPLE_RATE
    voiced = sum(max(0.0, min(b, end) - max(a, start)) for a, b in segments)
    if require_voice and voiced < min_voiced_s:
        raise AudioError(f"{name} has only {voiced:.2f} s of voice; at least {min_voiced_s:g} s is needed: "
                         "record a longer sentence")
    if not require_voice and duration < min_voiced_s:
        raise AudioError(f"{name} is only {duration:.2f} s long after trimming silence; at least "
                         f"{min_voiced_s:g} s is needed: record a longer clip")
    if x.shape[0] == 0 or float(np.max(np.abs(x))) < 1e-5:
        raise AudioError(f"{name} is silent; check that the microphone works and is not muted, then record again")
    if normalize:
        x = _normalize(x)
    x = np.ascontiguousarray(np.clip(x, -1.0, 1.0), dtype=np.float32)
    return Audio(samples=x, sr=SAMPLE_RATE, duration_s=duration, source_duration_s=float(total_s), source_sr=sr,
                 channels=channels, truncated=truncated, voiced_s=float(voiced), warnings=tuple(notes))


def load_audio(source, *, max_seconds: float | None = MAX_SECONDS, max_bytes: int | None = MAX_BYTES,
               require_voice: bool = True, trim: bool = True, normalize: bool = True,
               min_voiced_s: float = MIN_VOICED_S) -> Audio:
    """A speech (or, with require_voice=False, singing) clip -> Audio, mono float32 at 16 kHz.

    source: a path, the file's bytes, or gradio's (sr, samples) tuple. The byte cap is checked before decoding;
    at most max_seconds (after trimming silence) are kept, reported by `truncated`.
    """
    if isinstance(source, tuple) and len(source) == 2:
        return from_array(source[1], source[0], max_seconds=max_seconds, require_voice=require_voice, trim=trim,
                          normalize=normalize, min_voiced_s=min_voiced_s)
    _check_options(max_seconds, min_voiced_s)
    src, name, head = _check_source(source, max_bytes)
    window = None if max_seconds is None else max_seconds + LEAD_SLACK_S
    dec = _read(src, name, head, limit_s=window, count_rest=True)
    _check_finite(dec.samples, name)
    notes = [dec.note] if dec.note else []
    decoded_s = dec.samples.shape[0] / dec.sr
    cut_short = bool(dec.note) or (window is not None and decoded_s >= window - 1 / dec.sr
                                   and not dec.total_s <= decoded_s + 0.1)  # stopped at the window, more follows
    return _finish(dec.samples, dec.sr, dec.total_s, name, notes, max_seconds=max_seconds,
                   require_voice=require_voice, trim=trim, normalize=normalize, min_voiced_s=min_voiced_s,
                   cut_short=cut_short, incomplete=_shortfall(src, head, dec, window))


def from_array(samples: np.ndarray, sr: int, *, max_seconds: float | None = MAX_SECONDS,
               max_bytes: int | None = None, require_voice: bool = True, trim: bool = True, normalize: bool = True,
               min_voiced_s: float = MIN_VOICED_S) -> Audio:
    """In-memory samples -> Audio. samples: (N,) or (N, C) (also (C, N) with C <= 64); int16/int32/uint8/... are
    scaled by their full range, floats are taken as [-1, 1]. sr in Hz. max_bytes (None: no cap) applies to
    samples.nbytes."""
    _check_options(max_seconds, min_voiced_s)
    rate = _check_rate(sr)
    x = _as_frames(samples)
    if max_bytes is not None and x.nbytes > max_bytes:
        raise AudioError(f"the recording is {x.nbytes / 2**20:.1f} MB, over the {max_bytes / 2**20:.3g} MB limit; "
                         "record a shorter clip")
    total = x.shape[0] / rate
    if max_seconds is not None:
        x = x[: int(math.ceil((max_seconds + LEAD_SLACK_S) * rate))]
    x = _to_float(x)
    _check_finite(x, "the recording")
    return _finish(x, rate, total, "the recording", [], max_seconds=max_seconds, require_voice=require_voice,
                   trim=trim, normalize=normalize, min_voiced_s=min_voiced_s,
                   cut_short=x.shape[0] < round(total * rate))


def load_music(path, sr: int = SAMPLE_RATE, offset_s: float = 0.0, duration_s: float | None = None) -> np.ndarray:
    """Music for the catalogue -> (N,) float32 mono at `sr` Hz from offset_s for duration_s seconds (None: to the
    end). No VAD, no normalisation; AudioError on failure."""
    rate = _check_rate(sr, "target sample rate")
    if not (isinstance(offset_s, (int, float)) and 0 <= offset_s < math.inf):
        raise AudioError(f"offset_s must be a number of seconds >= 0, got {offset_s!r}")
    if duration_s is not None and not (isinstance(duration_s, (int, float)) and 0 < duration_s < math.inf):
        raise AudioError(f"duration_s must be a positive number of seconds or None, got {duration_s!r}")
    src, name, head = _check_source(path, None)
    dec = _read(src, name, head, offset_s=float(offset_s), limit_s=duration_s)
    if dec.samples.shape[0] == 0:
        raise AudioError(f"{name} has no audio after {offset_s:g} s (it lasts {dec.total_s:.1f} s); "
                         "choose a smaller offset")
    _check_finite(dec.samples, name)
    mono = (dec.samples.mean(axis=1) if dec.samples.shape[1] > 1 else dec.samples[:, 0]).astype(np.float32)
    return np.ascontiguousarray(_resample(mono, dec.sr, rate), dtype=np.float32)
