"""The real-voice part of the bootstrap corpus: real human speech from Debian packages, made emotional by rule.

What it is
  Neutral recordings of real people -- telephone-system prompts read by professional voices (asterisk) and
  words, letters and syllables read by KDE volunteers for children's software (KLettres, KTuberling) -- are cut
  and joined into clips of 2.5-8 s (several prompts with short pauses), 16 kHz mono. Each clip is rendered in
  all seven emotions by `emofilt` (WORLD analysis-resynthesis with per-emotion prosody and voice-quality rules,
  after Burkhardt's emofilt; settings drawn per clip, seeded), and half the clips then pass through a random
  channel (room, noise, telephone band, low-bitrate codec, gain, clipping; recorded per row).

Speakers and splits
  Whole speakers go to one split, and so do all the speakers of one language in the KDE packages (a volunteer
  may have recorded for both), see GROUP_SPLITS. Asterisk voices are one known speaker each. A KDE language
  folder may hold two people: its files' median F0s are split in two when they form two clusters at least
  0.55 octave apart (each >= 15% of the files); each cluster is a speaker, sex inferred from its median F0
  (< 165 Hz: M). Files whose F0 is flat (std < 0.3 semitone: beeps, synthetic voices), outside 70-450 Hz or
  0.6 octave away from their speaker's median are left out; speakers with < 20 s of speech too.

Never used (refused by `check_allowed`): the asterisk English voice (held out for independent checks), the
  asterisk French (June) and Italian (Carlo) core voices and every Hedgewars voice -- the real-voice benchmark's.

Text: the prompts are not English and the English text encoder must not learn from them, so `text` is "";
  the original words are kept in `transcript_original` (KLettres names its sounds) with `lang`.

Rows: the speech-collection keys (id, path, label, valence, arousal, dominance, text, voice, split) plus
  tts="real", real_voice=True, base_id (the 7 emotions of one clip share it), sex, sex_from, lang, package,
  licence, source_files, settings (emotion rules), channel (effects applied), duration_s. Clips: real/<id>.flac.
"""
from __future__ import annotations

import glob
import gzip
import hashlib
import json
import logging
import math
import os
import re
import shutil
import subprocess
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import soundfile as sf

from ..audio import decode
from ..emotion import EMOTIONS, vad
from ..errors import EsmrError
from ..files import atomic_write_text
from ..paths import RESOURCES_DIR
from . import emofilt
from .manifest import Collection, load_collection, new_collection
from .profiles import load_prosody_profiles, seeded_rng

logger = logging.getLogger(__name__)

SR = emofilt.SR
SPLITS = ("train", "val", "test")
CLIP_S = (3.0, 7.0)         # s, target length of a base clip (drawn uniformly), before the emotion's tempo
MAX_CLIP_S = 8.0            # s, never longer (before tempo)
MIN_CLIP_S = 2.5            # s, never shorter
PAUSE_S = (0.2, 0.5)        # s, pause inserted between joined prompts
MAX_PROMPT_S = 7.5          # s of speech: longer prompts are left out
MIN_PROMPT_S = 0.25         # s of speech: shorter files are left out
MIN_SPEAKER_S = 20.0        # s of speech a speaker needs to be used
MALE_BELOW_HZ = 165.0       # median F0 under which a KDE speaker is taken as male
CHANNEL_SHARE = 0.5         # share of clips that pass through a random channel
NONSPEECH = re.compile(r"(beep|silence|tone|ring|click|music|dtmf|hold|sil\d)", re.I)
REAL_DIR = "real"           # clips folder inside the collection
SCAN_VERSION = 1            # bump when scan_file changes (invalidates the scan cache)

# Sources that must never enter training (the benchmark's voices and the held-out English voice).
FORBIDDEN: tuple[tuple[str, str], ...] = (
    ("asterisk-core-sounds-en", "the English asterisk voice is held out for independent checks"),
    ("asterisk/sounds/en", "the English asterisk voice is held out for independent checks"),
    ("en_US_f_Allison", "the English asterisk voice is held out for independent checks"),
    # Allison Smith recorded the Spanish core prompts too: the held-out English voice's speaker, so her
    # Spanish is out of training as well (a held-out check must meet a speaker no model has heard)
    ("asterisk-core-sounds-es", "its voice (Allison Smith) is the held-out English asterisk voice's speaker"),
    ("es_MX_f_Allison", "its voice (Allison Smith) is the held-out English asterisk voice's speaker"),
    ("asterisk-core-sounds-fr", "the French asterisk core voice (June) belongs to the real-voice benchmark"),
    ("fr_CA_f_June", "the French asterisk core voice (June) belongs to the real-voice benchmark"),
    ("asterisk-core-sounds-it", "the Italian asterisk core voice (Carlo) belongs to the real-voice benchmark"),
    ("it_IT_m_Carlo", "the Italian asterisk core voice (Carlo) belongs to the real-voice benchmark"),
    ("hedgewars", "Hedgewars voices are for evaluation only"),
)


def check_allowed(name: str | os.PathLike) -> None:
    """Raise EsmrError when a package name or path belongs to a source that must not be used for training."""
    text = os.fspath(name).replace("\\", "/").lower()
    for token, why in FORBIDDEN:
        if token.lower() in text:
            raise EsmrError(f"refusing {os.fspath(name)!r} as training speech: {why}")


@dataclass(frozen=True)
class Package:
    """A Debian package of real speech: its licence as its copyright file states it (checked at build time:
    `licence_token` must appear in that file) and who recorded it."""

    name: str
    licence: str
    licence_token: str
    credit: str


@dataclass(frozen=True)
class Source:
    """One folder of recordings. group: the speaker group that decides the split; sex: known (asterisk voices)
    or None (inferred from F0; the folder may hold two speakers)."""

    name: str
    package: str
    pattern: str          # glob inside the package root
    lang: str
    group: str
    sex: str | None = None
    max_clips: int = 36   # base clips per speaker at most
    names: str = ""       # file naming the sounds (KLettres sounds.xml), relative to the package root


PACKAGES: dict[str, Package] = {p.name: p for p in (
    Package("asterisk-core-sounds-ru-g722", "CC-BY-3.0", "CC-BY-3.0", "Maxim Topal, ivrvoice.ru (ru_RU voice)"),
    Package("asterisk-prompt-es-co", "GPL-2", "GNU General Public License",
            "Avatar Ltda., voice of July E. Jimenez (Colombian Spanish)"),
    Package("asterisk-prompt-fr-armelle", "BSD-style (redistribution with or without modification, keep notice)",
            "Redistribution and use, with or without modification, are permitted",
            "voice actor Armelle Desjardins, (C) 2006 Michel Gutierrez"),
    Package("asterisk-prompt-it-menardi-wav", "CC-BY-SA-3.0-IT", "CC-SA-BY-3.0",
            "Marco Menardi and Paola Dal Zot, http://www.voip.ammdomus.it"),
    Package("klettres-data", "GPL-2+", "GPL-2+", "KDE KLettres contributors (Anne-Marie Mahfouf et al.)"),
    Package("ktuberling-data", "GPL-2+", "GPL-2+", "KDE KTuberling contributors (Eric Bischoff et al.)"),
)}

_AST = "usr/share/asterisk/sounds"
_KL = "usr/share/klettres"
_KT = "usr/share/ktuberling/sounds"
# KLettres French is left out: its F0 sits at exactly 200 Hz in every file (a synthetic voice).
_KLETTRES = ("ar", "cs", "da", "de", "en", "en_GB", "es", "he", "hu", "it", "lt", "ml", "nb", "nds", "nl", "pt_BR",
             "ru", "tn", "uk")
_KTUBERLING = ("ca", "da", "de", "el", "en", "fr", "gl", "lt", "nn", "ru", "sl", "uk", "wa")  # >= 20 s of speech


def _kde_group(lang: str) -> str:
    base = lang.split("_")[0]
    return "kde-" + {"nb": "no", "nn": "no"}.get(base, base)


SOURCES: tuple[Source, ...] = (
    Source("ast-ru-ivrvoice", "asterisk-core-sounds-ru-g722", f"{_AST}/ru_RU_f_IvrvoiceRU/*.g722", "ru-RU",
           "ast-ru", "F", 60),
    Source("ast-es-co-july", "asterisk-prompt-es-co", f"{_AST}/es/*.gsm", "es-CO", "ast-es-co", "F", 60),
    Source("ast-fr-armelle", "asterisk-prompt-fr-armelle", f"{_AST}/fr/*.gsm", "fr-FR", "ast-fr", "F", 60),
    Source("ast-it-menardi", "asterisk-prompt-it-menardi-wav", f"{_AST}/it_IT_f_Menardi/*.wav", "it-IT", "ast-it",
           "F", 60),
    *(Source(f"klettres-{lang.lower().replace('_', '-')}", "klettres-data", f"{_KL}/{lang}/*/*.ogg",
             lang.replace("_", "-"), _kde_group(lang), names=f"{_KL}/{lang}/sounds.xml") for lang in _KLETTRES),
    *(Source(f"ktuberling-{lang}", "ktuberling-data", f"{_KT}/{lang}/*", lang, _kde_group(lang))
      for lang in _KTUBERLING),
)

# Split of each speaker group. val and test hold a male and a female speaker at least; everything else trains.
GROUP_SPLITS: dict[str, str] = {
    "ast-es-co": "val", "kde-hu": "val", "kde-no": "val", "kde-el": "val",
    "ast-fr": "test", "kde-lt": "test", "kde-uk": "test",
}


def group_split(group: str) -> str:
    return GROUP_SPLITS.get(group, "train")


# ---- fetching the packages ----------------------------------------------------------------------------
def _package_version(pkg: str, root: Path, debs_dir: Path) -> str:
    deb = next(iter(sorted(debs_dir.glob(f"{pkg}_*.deb"))), None)
    if deb is not None:
        return deb.stem.split("_")[1].replace("%3a", ":")
    log = root / "usr/share/doc" / pkg / "changelog.Debian.gz"
    if log.is_file():
        with gzip.open(log, "rt", encoding="utf-8", errors="replace") as fh:
            m = re.match(r"\S+ \(([^)]+)\)", fh.readline())
            if m:
                return m.group(1)
    return "unknown"


def ensure_package(pkg: str, raw_dir: str | Path, debs_dir: str | Path, fetch: bool = True) -> dict[str, Any]:
    """Make sure raw_dir/pkg holds the unpacked package (apt-get download into debs_dir + dpkg -x; no root
    needed) and that its copyright file still states the licence recorded in PACKAGES. Returns its record."""
    check_allowed(pkg)
    if pkg not in PACKAGES:
        raise EsmrError(f"{pkg} is not a known real-voice package; known: {', '.join(PACKAGES)}")
    info = PACKAGES[pkg]
    raw_dir, debs_dir = Path(raw_dir), Path(debs_dir)
    root = raw_dir / pkg
    copyright_file = root / "usr/share/doc" / pkg / "copyright"
    if not copyright_file.is_file():
        if not fetch:
            raise EsmrError(f"{root} does not hold {pkg}; run `esmr corpus bootstrap --only real` to fetch it")
        debs_dir.mkdir(parents=True, exist_ok=True)
        deb = next(iter(sorted(debs_dir.glob(f"{pkg}_*.deb"))), None)
        if deb is None:
            if shutil.which("apt-get") is None:
                raise EsmrError(f"apt-get is not available to download {pkg}; on another system download the "
                                f"Debian package {pkg} into {debs_dir} yourself")
            proc = subprocess.run(["apt-get", "download", pkg], cwd=debs_dir, capture_output=True, timeout=900)
            deb = next(iter(sorted(debs_dir.glob(f"{pkg}_*.deb"))), None)
            if proc.returncode != 0 or deb is None:
                err = proc.stderr.decode(errors="replace").strip().splitlines()
                raise EsmrError(f"`apt-get download {pkg}` failed ({err[-1] if err else 'no file'}); run "
                                "`sudo apt-get update` and try again")
        root.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], capture_output=True, timeout=900)
        if proc.returncode != 0:
            raise EsmrError(f"cannot unpack {deb}: {proc.stderr.decode(errors='replace').strip()}")
    text = copyright_file.read_text(encoding="utf-8", errors="replace")
    if info.licence_token not in text:
        raise EsmrError(f"the copyright file of {pkg} no longer states {info.licence_token!r}; check its licence "
                        "before training on it (esmr_core/data/realvoices.py PACKAGES)")
    return {"package": pkg, "version": _package_version(pkg, root, debs_dir), "licence": info.licence,
            "credit": info.credit, "copyright_sha256": hashlib.sha256(text.encode()).hexdigest()[:16]}


# ---- decoding and scanning ----------------------------------------------------------------------------
def decode_file(path: str | Path) -> np.ndarray:
    """A prompt file (g722 / gsm raw streams, wav, ogg, ...) -> (T,) float32 mono at 16 kHz."""
    check_allowed(path)
    path = str(path)
    if path.endswith((".g722", ".gsm")):
        import av

        with av.open(path, format="g722" if path.endswith(".g722") else "gsm", metadata_errors="ignore") as box:
            rs = av.AudioResampler(format="flt", layout="mono", rate=SR)
            parts = [g.to_ndarray().reshape(-1) for f in box.decode(box.streams.audio[0]) for g in rs.resample(f)]
            parts += [g.to_ndarray().reshape(-1) for g in rs.resample(None)]
        y = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    else:
        x, sr = decode(path)
        y = emofilt.resample(x.mean(axis=1), sr, SR)
    return np.asarray(y, dtype=np.float32)


_DETECTOR = None


def _f0(y: np.ndarray) -> np.ndarray:
    """Confident F0 values (Hz) of (T,) 16 kHz audio by swift-f0."""
    global _DETECTOR
    if _DETECTOR is None:
        from swift_f0 import SwiftF0

        _DETECTOR = SwiftF0(threads=1, spin=False)
    res = _DETECTOR.detect(np.asarray(y, dtype=np.float32), SR, 60.0, 700.0)
    return res.pitch_hz[res.confidence > 0.7]


def scan_file(path: str | Path) -> dict[str, Any]:
    """Trim bounds (samples at 16 kHz), speech length, median F0 and its spread (semitones), noise floor."""
    import librosa

    y = decode_file(path)
    if len(y) < SR * 0.1 or not np.isfinite(y).all() or np.abs(y).max() < 1e-4:
        return {"path": str(path), "speech_s": 0.0, "f0_hz": None}
    _, (a, b) = librosa.effects.trim(y, top_db=35, frame_length=512, hop_length=128)
    pad = int(0.04 * SR)
    a, b = max(0, int(a) - pad), min(len(y), int(b) + pad)
    edge = np.concatenate([y[:a], y[b:]])
    noise = float(np.sqrt(np.mean(edge.astype(np.float64) ** 2))) if len(edge) > SR * 0.02 else 0.0
    f0 = _f0(y[a:b])
    voiced = len(f0) >= 8
    return {"path": str(path), "start": a, "end": b, "speech_s": round((b - a) / SR, 3),
            "rms": round(float(np.sqrt(np.mean(y[a:b].astype(np.float64) ** 2))), 6), "noise_rms": round(noise, 7),
            "f0_hz": round(float(np.median(f0)), 2) if voiced else None,
            "f0_sd_st": round(float(np.std(12 * np.log2(f0))), 3) if voiced else None}


def list_files(src: Source, raw_dir: str | Path) -> list[Path]:
    """The source's files (sorted), each checked by check_allowed; non-speech names left out."""
    check_allowed(src.package)
    root = Path(raw_dir) / src.package
    files = [Path(p) for p in sorted(glob.glob(str(root / src.pattern))) if Path(p).is_file()]
    for f in files:
        check_allowed(f)
    return [f for f in files if not NONSPEECH.search(f.stem) and f.suffix.lower() in
            (".g722", ".gsm", ".wav", ".ogg", ".opus", ".flac", ".mp3")]


def sound_names(src: Source, raw_dir: str | Path) -> dict[str, str]:
    """file name -> the word it says, from the source's sounds.xml (KLettres); {} when there is none."""
    if not src.names:
        return {}
    path = Path(raw_dir) / src.package / src.names
    if not path.is_file():
        return {}
    text = path.read_text(encoding="utf-8", errors="replace")
    return {Path(f).name: n for n, f in re.findall(r'<sound\s+name="([^"]*)"\s+file="([^"]*)"', text)}


# ---- speakers -----------------------------------------------------------------------------------------
@dataclass
class Speaker:
    voice: str            # "real-<source>[-m|-f]"
    source: str
    package: str
    lang: str
    group: str
    split: str
    sex: str
    sex_from: str         # "package" (stated) | "F0" (inferred)
    f0_hz: float
    files: list[dict[str, Any]]

    @property
    def speech_s(self) -> float:
        return float(sum(f["speech_s"] for f in self.files))


def _usable(scan: dict[str, Any]) -> bool:
    return (scan.get("f0_hz") is not None and MIN_PROMPT_S <= scan["speech_s"] <= MAX_PROMPT_S
            and 70.0 <= scan["f0_hz"] <= 450.0 and scan["f0_sd_st"] >= 0.3)


def _two_clusters(log_f0: np.ndarray) -> float | None:
    """The log2-F0 threshold between two clusters of file medians (2-means), or None when they do not form two
    clusters 0.55 octave apart with >= 15% of the files each."""
    if len(log_f0) < 8:
        return None
    lo, hi = np.percentile(log_f0, 20), np.percentile(log_f0, 80)
    for _ in range(50):
        cut = (lo + hi) / 2
        a, b = log_f0[log_f0 < cut], log_f0[log_f0 >= cut]
        if not len(a) or not len(b):
            return None
        lo, hi = float(a.mean()), float(b.mean())
    share = min(len(a), len(b)) / len(log_f0)
    return (lo + hi) / 2 if hi - lo >= 0.55 and share >= 0.15 else None


def assign_speakers(src: Source, scans: list[dict[str, Any]]) -> list[Speaker]:
    """The speaker(s) of one source from its file scans (see the module docstring for the rules)."""
    ok = [s for s in scans if _usable(s)]
    if not ok:
        return []
    lf = np.log2([s["f0_hz"] for s in ok])
    cut = None if src.sex else _two_clusters(lf)
    clusters = [ok] if cut is None else [[s for s, v in zip(ok, lf) if v < cut], [s for s, v in zip(ok, lf) if v >= cut]]
    out = []
    for members in clusters:
        med = float(np.median([s["f0_hz"] for s in members]))
        keep = [s for s in members if abs(math.log2(s["f0_hz"] / med)) <= 0.6]
        if sum(s["speech_s"] for s in keep) < MIN_SPEAKER_S:
            continue
        sex = src.sex or ("M" if med < MALE_BELOW_HZ else "F")
        suffix = "" if cut is None else f"-{sex.lower()}"
        out.append(Speaker(voice=f"real-{src.name}{suffix}", source=src.name, package=src.package, lang=src.lang,
                           group=src.group, split=group_split(src.group), sex=sex,
                           sex_from="package" if src.sex else "F0", f0_hz=round(med, 1), files=keep))
    return out


# ---- plan ---------------------------------------------------------------------------------------------


def plan_base_clips(spk: Speaker, max_clips: int, seed: int = 0) -> list[dict[str, Any]]:
    """Join the speaker's prompts (shuffled, seeded; each used once) into base clips of CLIP_S seconds with
    PAUSE_S pauses. Returns [{"base_id", "voice", "segments": [{"path", "start", "end", "noise_rms"}], "pauses"}]."""
    rng = seeded_rng(seed, f"order:{spk.voice}")
    files = [spk.files[i] for i in rng.permutation(len(spk.files))]
    clips, cur, pauses, length = [], [], [], 0.0
    target = float(rng.uniform(*CLIP_S))
    for f in files:
        if len(clips) >= max_clips:
            break
        pause = float(rng.uniform(*PAUSE_S)) if cur else 0.0
        if length + pause + f["speech_s"] > MAX_CLIP_S:
            if length >= MIN_CLIP_S:
                clips.append((cur, pauses))
                target = float(rng.uniform(*CLIP_S))
            cur, pauses, length, pause = [], [], 0.0, 0.0
            if f["speech_s"] > MAX_CLIP_S:
                continue
        cur.append(f)
        if pause:
            pauses.append(round(pause, 3))
        length += pause + f["speech_s"]
        if length >= target:
            clips.append((cur, pauses))
            cur, pauses, length = [], [], 0.0
            target = float(rng.uniform(*CLIP_S))
    if cur and length >= MIN_CLIP_S:
        clips.append((cur, pauses))
    return [{"base_id": f"{spk.voice}-{k:03d}", "voice": spk.voice,
             "segments": [{"path": s["path"], "start": s["start"], "end": s["end"], "noise_rms": s["noise_rms"]}
                          for s in segs], "pauses": ps} for k, (segs, ps) in enumerate(clips[:max_clips])]


def plan_renders(base: dict[str, Any], seed: int, profiles: dict[str, dict[str, Any]],
                 channel_share: float = CHANNEL_SHARE, labels: tuple[str, ...] = EMOTIONS) -> list[dict[str, Any]]:
    """The emotion settings and channel chain of each of the base clip's renders, drawn from (seed, clip id)."""
    out = []
    for label in labels:
        cid = f"{base['base_id']}-{label}"
        out.append({"id": cid, "label": label,
                    "settings": emofilt.draw_settings(label, seeded_rng(seed, cid), profiles),
                    "channel": emofilt.draw_channel(seeded_rng(seed, f"channel:{cid}"), channel_share)})
    return out


# ---- rendering ----------------------------------------------------------------------------------------
def assemble(base: dict[str, Any], seed: int = 0) -> np.ndarray:
    """The base clip's waveform: its trimmed prompts at -26 dBFS RMS each, joined by pauses filled with noise at
    the prompts' own noise floor (never digital silence), 10 ms fades at each joint. (T,) float64 at 16 kHz."""
    rng = seeded_rng(seed, f"pauses:{base['base_id']}")
    parts: list[np.ndarray] = []
    fade = int(0.01 * SR)
    for k, seg in enumerate(base["segments"]):
        y = decode_file(seg["path"])[seg["start"]: seg["end"]].astype(np.float64)
        rms = max(float(np.sqrt(np.mean(y ** 2))), 1e-6)
        scale = 10 ** (emofilt.REFERENCE_DBFS / 20) / rms
        y = y * scale
        ramp = np.linspace(0.0, 1.0, min(fade, len(y) // 2))
        y[: len(ramp)] *= ramp
        y[len(y) - len(ramp):] *= ramp[::-1]
        if k:
            n = int(base["pauses"][k - 1] * SR)
            floor = max(seg["noise_rms"] * scale, 10 ** (-72 / 20))
            parts.append(emofilt.coloured_noise(n, 1.0, rng) * floor)
        parts.append(y)
    return np.concatenate(parts)


def render_base(task: tuple[dict[str, Any], list[dict[str, Any]], str, int]) -> list[dict[str, Any]]:
    """Render every emotion of one base clip (one WORLD analysis, one resynthesis per emotion) into
    out/real/<id>.flac and return the rows' audio facts {id, path, duration_s, gain_db_applied, channel}."""
    base, renders, out_dir, seed = task
    try:
        y = assemble(base, seed)
        params = emofilt.analyze(y)
    except EsmrError:  # an unusable source clip: its renders are left out (the build reports how many)
        return []
    rows = []
    for r in renders:
        z, applied = emofilt.finish(emofilt.transform(params, r["settings"]), r["settings"]["gain_db"])
        z, channel = emofilt.augment(z, r["channel"])
        rel = Path(REAL_DIR) / f"{r['id']}.flac"
        path = Path(out_dir) / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, z, SR, format="FLAC", subtype="PCM_16")
        rows.append({"id": r["id"], "path": rel.as_posix(), "duration_s": round(len(z) / SR, 3),
                     "source_duration_s": round(len(y) / SR, 3), "gain_db_applied": applied, "channel": channel})
    return rows


def _worker_init() -> None:
    os.environ["OMP_NUM_THREADS"] = "1"


def _pool_map(fn: Callable, items: list, workers: int, chunksize: int, progress: Callable | None = None) -> list:
    out = []
    if workers <= 1:
        for i, item in enumerate(items, 1):
            out.append(fn(item))
            if progress:
                progress(i, len(items))
        return out
    import multiprocessing as mp

    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                             initializer=_worker_init) as pool:
        for i, res in enumerate(pool.map(fn, items, chunksize=chunksize), 1):
            out.append(res)
            if progress:
                progress(i, len(items))
    return out


# ---- the build ----------------------------------------------------------------------------------------
def _scan_all(files: list[Path], cache_path: Path, workers: int, say: Callable[[str], None]) -> dict[str, dict]:
    """scan_file of every file, through a cache keyed by path, size and mtime (a rebuild skips the decoding)."""

    cache: dict[str, Any] = {}
    if cache_path.is_file():
        try:
            cache = json.loads(cache_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            cache = {}
    keys = {str(f): f"{f.stat().st_size}:{f.stat().st_mtime_ns}:{SCAN_VERSION}" for f in files}
    todo = [f for f in files if cache.get(str(f), {}).get("key") != keys[str(f)]]
    say(f"scanning {len(todo)} of {len(files)} recordings (the rest from {cache_path.name})")
    for f, scan in zip(todo, _pool_map(scan_file, todo, workers, 16)):
        cache[str(f)] = {"key": keys[str(f)], "scan": scan}
    if todo:
        atomic_write_text(cache_path, json.dumps(cache))
    return {str(f): cache[str(f)]["scan"] for f in files}


def is_real(row: dict[str, Any]) -> bool:
    """True for a row of the real-voice part."""
    return row.get("tts") == "real" or bool(row.get("real_voice"))


def _spread(bases: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """n base clips taken round-robin over the speakers (for small builds)."""
    queues: dict[str, list] = {}
    for b in bases:
        queues.setdefault(b["voice"], []).append(b)
    out: list[dict[str, Any]] = []
    while len(out) < n and any(queues.values()):
        for q in queues.values():
            if q and len(out) < n:
                out.append(q.pop(0))
    return out


def build(out: str | Path, *, raw_dir: str | Path = "data/raw", debs_dir: str | Path = "data/debs", seed: int = 0,
          workers: int = 2, limit: int | None = None, channel_share: float = CHANNEL_SHARE, fetch: bool = True,
          sources: tuple[Source, ...] = SOURCES, command: str | None = None,
          progress: Callable[[int, int], None] | None = None) -> Collection:
    """Build the real-voice part into collection folder `out` (created when missing; rows of other parts kept).

    raw_dir/debs_dir: where packages are unpacked / downloaded (fetched when missing unless fetch=False).
    limit: render only that many clips (base clips spread over speakers). progress(clips done, total).
    """
    t0 = time.time()
    say = logger.info
    out = Path(out)
    if (out / "collection.json").exists() and load_collection(out).meta.get("builder") != "esmr corpus bootstrap":
        raise EsmrError(f"{out} holds another collection; choose an empty folder or the bootstrap corpus")
    if not 0.0 <= channel_share <= 1.0:
        raise EsmrError("the channel share must be between 0 and 1")
    for src in sources:
        check_allowed(src.package)
        check_allowed(src.pattern)
    packages = [ensure_package(p, raw_dir, debs_dir, fetch) for p in sorted({s.package for s in sources})]
    files = {src.name: list_files(src, raw_dir) for src in sources}
    todo = [f for src in sources for f in files[src.name]]
    scans = _scan_all(todo, out / REAL_DIR / "scan-cache.json", workers, say)
    speakers = [spk for src in sources for spk in assign_speakers(src, [scans[str(f)] for f in files[src.name]])]
    if not speakers:
        raise EsmrError(f"no usable speaker found under {raw_dir}; check the unpacked packages")
    by_src = {s.name: s for s in sources}
    bases = [b for spk in speakers for b in plan_base_clips(spk, by_src[spk.source].max_clips, seed)]
    if limit is not None:
        bases = _spread(bases, math.ceil(limit / len(EMOTIONS)))
    profiles = load_prosody_profiles()
    plans = {b["base_id"]: plan_renders(b, seed, profiles, channel_share) for b in bases}
    if limit is not None:  # keep exactly `limit` renders
        left = limit
        for b in bases:
            plans[b["base_id"]] = plans[b["base_id"]][:max(left, 0)]
            left -= len(plans[b["base_id"]])
        bases = [b for b in bases if plans[b["base_id"]]]
    say(f"{len(speakers)} speakers, {len(bases)} base clips, {sum(map(len, plans.values()))} clips to render")
    cum = np.cumsum([len(plans[b["base_id"]]) for b in bases])
    facts = _pool_map(render_base, [(b, plans[b["base_id"]], str(out), seed) for b in bases], workers, 1,
                      (lambda i, n: progress(int(cum[i - 1]), int(cum[-1]))) if progress else None)
    failed = sum(not got for got in facts)
    if failed:
        say(f"left out {failed} base clips whose audio could not be analysed")
    spk_of = {s.voice: s for s in speakers}
    names = {src.name: sound_names(src, raw_dir) for src in sources}
    lic = {p: PACKAGES[p].licence for p in PACKAGES}
    rows = []
    for b, got in zip(bases, facts):
        spk = spk_of[b["voice"]]
        words = [names[spk.source].get(Path(s["path"]).name) for s in b["segments"]]
        for r, f in zip(plans[b["base_id"]], got):
            v, a, d = (float(x) for x in vad(r["label"]))
            rows.append({**f, "label": r["label"], "valence": v, "arousal": a, "dominance": d, "text": "",
                         "voice": spk.voice, "split": spk.split, "tts": "real", "real_voice": True,
                         "base_id": b["base_id"], "sentence_id": b["base_id"], "lexically_neutral": True,
                         "sex": spk.sex, "sex_from": spk.sex_from, "lang": spk.lang, "accent": spk.lang,
                         "package": spk.package,
                         "licence": lic[spk.package], "speaker_group": spk.group,
                         "source_files": [Path(s["path"]).relative_to(Path(raw_dir) / spk.package).as_posix()
                                          for s in b["segments"]],
                         "transcript_original": " ".join(words) if all(words) else None,
                         "settings": r["settings"]})
    meta = {"seed": seed, "channel_share": channel_share, "limit": limit,
            "command": command or f"esmr corpus bootstrap --only real --out {out} --seed {seed}",
            "engine": "WORLD (pyworld: DIO + StoneMask, CheapTrick, D4C), rules per esmr_core.data.emofilt",
            "profiles_sha256": hashlib.sha256((RESOURCES_DIR / "prosody_profiles.json").read_bytes()).hexdigest()[:16],
            "packages": packages, "group_splits": GROUP_SPLITS, "clips": len(rows), "failed_base_clips": failed,
            "speakers": [{k: v for k, v in asdict(s).items() if k != "files"} | {
                "files": len(s.files), "speech_s": round(s.speech_s, 1),
                "base_clips": sum(b["voice"] == s.voice for b in bases)} for s in speakers],
            "build_seconds": round(time.time() - t0, 1)}
    return merge_into(out, rows, meta)


def merge_into(out: str | Path, rows: list[dict[str, Any]], meta: dict[str, Any]) -> Collection:
    """Replace the real-voice rows of collection `out` by `rows` (other rows and metadata kept; read just before
    writing, so a synthetic build that finished meanwhile is not lost), drop stale real clips, save."""
    out = Path(out)
    if (out / "collection.json").exists():
        coll = load_collection(out, kind="speech")
    else:
        coll = new_collection(out, "speech", name="bootstrap-emotional-speech", builder="esmr corpus bootstrap",
                              labels=list(EMOTIONS), sample_rate=SR)
    coll.rows = sorted([r for r in coll.rows if not is_real(r)] + rows, key=lambda r: r["id"])
    coll.meta["real_voices"] = meta
    keep = {Path(r["path"]).name for r in rows}
    for stale in (out / REAL_DIR).glob("*.flac"):
        if stale.name not in keep:
            stale.unlink()
    coll.save()
    return coll


def real_info(coll: Collection) -> dict[str, Any]:
    """Counts of the real-voice part: clips per split, speakers per split and sex, channel share, hours."""
    rows = [r for r in coll.rows if is_real(r)]
    per_split_voice: dict[str, set] = {}
    for r in rows:
        per_split_voice.setdefault(r["split"], set()).add((r["voice"], r.get("sex", "?")))
    return {"clips": len(rows), "hours": round(sum(r.get("duration_s", 0.0) for r in rows) / 3600, 3),
            "per_split": dict(Counter(r["split"] for r in rows)),
            "speakers_per_split": {k: dict(Counter(s for _, s in v)) for k, v in per_split_voice.items()},
            "with_channel": sum(bool(r.get("channel")) for r in rows)}
