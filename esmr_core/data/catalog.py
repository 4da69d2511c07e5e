"""The music catalogue: turn folders of audio files into a `music` collection (see data/manifest.py).

Each source track becomes one row: a compressed excerpt (Ogg/Opus, mono, 48 kHz, ~48 kbit/s) of its most
representative part, metadata, vibenet valence/energy and a mood tag; a music-feature vector per track goes to
`features.npz` (ids + matrix + encoder name/version) beside the manifest.

Building is incremental and atomic:
- every track is keyed by the SHA-256 of its bytes plus the build settings; a row of the previous manifest with
  the same key (and its excerpt on disk) is reused without decoding anything;
- excerpt file names carry that key, so a rebuild never overwrites a file the old manifest references; the
  manifest is written last (Collection.save, atomic) and only then are unreferenced excerpts deleted. An
  interrupted build therefore leaves the previous catalogue intact.
- the per-track step (`analyse_job`) is shared by the local engine (this process) and the Ray engine
  (data/catalog_ray.py); hashing, reuse, ids and the files written are decided here for both.
- large catalogues are stored as Parquet instead of manifest.jsonl + features.npz (data/store.py).

Mood calibration: vibenet's valence leans dark on game/orchestral music, so raw values put almost every track
into 2-3 moods. Rows store the raw scores (`valence_raw`, `energy_raw`) and within-catalogue percentiles
(`valence`, `energy`, in (0, 1)); the `mood` is the nearest NRC-VAD mood of the calibrated pair, with a floor per
mood (data/moods.py, `calibrate`). Percentiles are recomputed over the whole catalogue at every build, so adding
tracks can move other tracks' moods.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from ..emotion import MUSIC_MOODS
from ..errors import AudioError, EsmrError
from .manifest import load_collection, new_collection

AUDIO_EXTS = frozenset({".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".aac", ".aif", ".aiff",
                        ".webm", ".wma", ".mka"})
ANALYSIS_SR = 16000          # Hz: excerpt choice, features, vibenet
EXCERPT_SR = 48000           # Hz: Opus only takes 8/12/16/24/48 kHz
ANALYSIS_VERSION = "2"       # bump when excerpt choice or scoring changes: invalidates incremental reuse
FEATURES_FILE = "features.npz"


@dataclass
class SourceTrack:
    """One audio file to catalogue. `source` names its package or folder; metadata may be None (guessed)."""

    path: Path
    source: str
    title: str | None = None
    artist: str | None = None
    licence: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)   # copied into the row (e.g. copyright text)


@dataclass
class BuildReport:
    processed: int = 0           # tracks decoded and analysed in this run
    reused: int = 0              # tracks taken unchanged from the previous manifest
    duplicates: int = 0          # files skipped because their bytes equal an earlier file's
    failed: list[str] = field(default_factory=list)   # "path: reason" for unreadable files
    tracks: int = 0


# ---------------------------------------------------------------------------------------------- scanning
def scan_folders(folders: Sequence[str | Path], *, licence: str | None = None,
                 artist: str | None = None) -> list[SourceTrack]:
    """Every audio file under the folders (recursive, sorted; other files skipped). source = folder name."""
    tracks = []
    for folder in folders:
        folder = Path(folder)
        if not folder.exists():
            raise EsmrError(f"{folder} does not exist; pass folders that hold audio files")
        files = [folder] if folder.is_file() else sorted(p for p in folder.rglob("*") if p.is_file())
        for p in files:
            if p.suffix.lower() in AUDIO_EXTS and not p.name.startswith("."):
                tracks.append(SourceTrack(p, folder.resolve().name if folder.is_dir() else p.parent.name,
                                          artist=artist, licence=licence))
    return tracks


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "track"


def _title_from_path(path: Path) -> str:
    return re.sub(r"[_\-]+", " ", path.stem).strip().title() or path.stem


# ---------------------------------------------------------------------------------------------- audio I/O
def _load(path: Path, sr: int, offset_s: float = 0.0, duration_s: float | None = None) -> np.ndarray:
    """Mono float32 at `sr` Hz. Uses esmr_core.audio.load_music when present, else soundfile + soxr."""
    try:
        from ..audio import load_music  # written by another module owner; same contract
    except ImportError:
        load_music = None
    if load_music is not None:
        return np.asarray(load_music(path, sr=sr, offset_s=offset_s, duration_s=duration_s), dtype=np.float32)
    import soundfile as sf
    import soxr
    try:
        with sf.SoundFile(str(path)) as fh:
            native = fh.samplerate
            fh.seek(min(int(offset_s * native), max(fh.frames - 1, 0)))
            frames = -1 if duration_s is None else int(duration_s * native)
            y = fh.read(frames, dtype="float32", always_2d=True).mean(axis=1)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioError(f"cannot read {path}: {exc}; convert it to WAV/FLAC/OGG") from None
    return y if native == sr else soxr.resample(y, native, sr).astype(np.float32)


def _duration(path: Path) -> float:
    try:
        from ..audio import audio_info
        return float(audio_info(path)[0])
    except ImportError:
        import soundfile as sf
        return float(sf.info(str(path)).duration)


def encode_opus(y: np.ndarray, out_path: Path, bitrate_kbps: float = 48.0, sr: int = EXCERPT_SR) -> None:
    """Write mono float32 `y` (at `sr` Hz) as Ogg/Opus, atomically. libsndfile exposes the Opus bitrate only as
    compression_level in [0, 1]; measured here it maps linearly to ~57 kbit/s at 0.8 and ~32 at 0.9."""
    import soundfile as sf
    level = float(np.clip(0.9 - (bitrate_kbps - 32.0) / 250.0, 0.0, 1.0))
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out_path.parent, prefix=f".{out_path.stem}.", suffix=".opus.tmp")
    os.close(fd)
    try:
        sf.write(tmp, np.clip(y, -1.0, 1.0), sr, format="OGG", subtype="OPUS", compression_level=level)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------------------------------------- excerpt choice
def frame_features(y: np.ndarray, sr: int = ANALYSIS_SR, hop: int = 512) -> np.ndarray:
    """Per-frame MFCC (13) + chroma (12) + log-RMS (1), shape (T, 26), at hop/sr seconds per frame."""
    import librosa
    mfcc = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=13, hop_length=hop, n_fft=2048)
    chroma = librosa.feature.chroma_stft(y=y, sr=sr, hop_length=hop, n_fft=2048)
    rms = np.log(librosa.feature.rms(y=y, hop_length=hop, frame_length=2048) + 1e-5)
    t = min(mfcc.shape[1], chroma.shape[1], rms.shape[1])
    return np.concatenate([mfcc[:, :t], chroma[:, :t], rms[:, :t]]).T


def choose_excerpt(y: np.ndarray, sr: int = ANALYSIS_SR, excerpt_s: float = 30.0, skip_intro: float = 0.12,
                   skip_outro: float = 0.05, step_s: float = 1.0) -> float:
    """Start (s) of the most representative `excerpt_s` window of mono `y`.

    Frames (MFCC/chroma/log-RMS, standardised per track) are scored by their distance to the track's median
    frame; the chosen window has the smallest mean frame distance, i.e. its frames are the most typical of the
    track. (Scoring the distance of the window's *mean* to the track mean instead favours windows that mix a
    contrasting intro with the body, whose average lands near the global mean.) Windows starting in the first
    `skip_intro` fraction or reaching into the last `skip_outro` fraction are excluded when the track is long
    enough. Tracks no longer than the excerpt start at 0.
    """
    dur = len(y) / sr
    if dur <= excerpt_s + step_s:
        return 0.0
    hop = 2048                                                          # 128 ms frames at 16 kHz: cheap on long tracks
    feats = frame_features(y, sr, hop)                                  # (T, 26)
    feats = (feats - feats.mean(0)) / (feats.std(0) + 1e-6)
    frame_dist = np.linalg.norm(feats - np.median(feats, axis=0), axis=1)   # (T,)
    fps = sr / hop
    win = max(1, min(int(round(excerpt_s * fps)), len(frame_dist)))
    csum = np.concatenate([[0.0], np.cumsum(frame_dist)])
    starts_s = np.arange(0.0, dur - excerpt_s + 1e-9, step_s)
    first = np.clip((starts_s * fps).astype(int), 0, len(frame_dist) - win)
    score = (csum[first + win] - csum[first]) / win
    allowed = (starts_s >= skip_intro * dur) & (starts_s + excerpt_s <= (1 - skip_outro) * dur)
    if not allowed.any():
        allowed = starts_s >= min(skip_intro * dur, dur - excerpt_s)
    score = np.where(allowed, score, np.inf)
    return float(starts_s[int(np.argmin(score))])


def _fade(y: np.ndarray, sr: int, fade_s: float = 0.5) -> np.ndarray:
    n = min(int(fade_s * sr), len(y) // 4)
    if n > 0:
        ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
        y = y.copy()
        y[:n] *= ramp
        y[-n:] *= ramp[::-1]
    return y


# ---------------------------------------------------------------------------------------------- scoring
def _music_encoder():
    """The project's music encoder (esmr_core.encoders), else a private librosa statistics vector."""
    try:
        from ..encoders import get_encoder
        return get_encoder("music")
    except (ImportError, KeyError, AttributeError, EsmrError):
        return _LibrosaStats()


class _LibrosaStats:
    """Fallback music features when esmr_core.encoders is unavailable: mean and std of MFCC/chroma/log-RMS
    frames plus spectral contrast and tempo-free onset strength statistics, shape (58,)."""

    name = "librosa-stats"
    version = "1"

    def encode(self, y: np.ndarray) -> np.ndarray:
        import librosa
        f = frame_features(y, ANALYSIS_SR)
        con = librosa.feature.spectral_contrast(y=y, sr=ANALYSIS_SR, hop_length=512).T
        onset = librosa.onset.onset_strength(y=y, sr=ANALYSIS_SR)
        return np.concatenate([f.mean(0), f.std(0), con.mean(0), [onset.mean(), onset.std()]]).astype(np.float32)


def _vibenet_scores(y: np.ndarray) -> dict[str, float]:
    """vibenet's 7 scores in [0, 1] for mono 16 kHz audio (valence, energy, danceability, ...)."""
    try:
        from ..encoders.music import vibenet_scores
        return {k: float(v) for k, v in vibenet_scores(y).items()}
    except ImportError:
        pass
    import warnings
    with warnings.catch_warnings():   # vibenet imports pydub, which warns about a missing ffmpeg it never uses
        warnings.simplefilter("ignore", RuntimeWarning)
        import vibenet  # GPL-3.0+ music emotion model, ONNX inside the package
    model = _vibenet_model(vibenet)
    res = model.predict([y], sr=ANALYSIS_SR)[0]
    return {k: float(getattr(res, k)) for k in ("valence", "energy", "danceability", "acousticness",
                                                  "instrumentalness", "liveness", "speechiness")}


_VIBENET: list[Any] = []


def _vibenet_model(vibenet):
    if not _VIBENET:
        _VIBENET.append(vibenet.load_model())
    return _VIBENET[0]


def percentile_ranks(values: Sequence[float]) -> np.ndarray:
    """Within-set percentile of each value, (rank + 0.5) / n in (0, 1); ties share their mean rank."""
    from scipy.stats import rankdata
    v = np.asarray(values, dtype=np.float64)
    return (rankdata(v) - 0.5) / max(len(v), 1)


CALIBRATION = ("energy = within-catalogue percentile of vibenet energy_raw, (rank+0.5)/n; valence = the same "
               "percentile of vibenet valence_raw, or, where rows carry descriptors, of the mean percentile of "
               "vibenet valence, mode and key clarity; mood = nearest NRC-VAD mood (emotion.coords, VA), every "
               "mood topped up to min(20, n/16) tracks with tracks at most 0.1 farther from it than from their "
               "nearest mood (data/moods.py assign_moods)")


def calibrate(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Set valence/energy (calibrated percentiles) and mood of every row from valence_raw/energy_raw (and the
    rows' mood-evidence descriptors when every row has them): see data/moods.py assign_moods."""
    from .moods import assign_moods

    return assign_moods(rows)


# ---------------------------------------------------------------------------------------------- building
def settings_key(excerpt_s: float, bitrate_kbps: float, encoder_name: str, encoder_version: str) -> str:
    """Short hash of everything besides the file's bytes that shapes a row; part of the reuse key."""
    blob = json.dumps([ANALYSIS_VERSION, round(excerpt_s, 3), round(bitrate_kbps, 1), encoder_name,
                       str(encoder_version)])
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def load_features(root: str | Path) -> tuple[list[str], np.ndarray, dict[str, str]]:
    """(ids, matrix (N, dim) float32, {"encoder", "encoder_version"}) from a catalogue's features.npz."""
    path = Path(root) / FEATURES_FILE
    if not path.is_file():
        raise EsmrError(f"{path} is missing; rebuild the catalogue with `esmr catalog build`")
    with np.load(path, allow_pickle=False) as z:
        return ([str(i) for i in z["ids"]], z["features"].astype(np.float32),
                {"encoder": str(z["encoder"]), "encoder_version": str(z["encoder_version"])})


def _save_features(root: Path, ids: list[str], mat: np.ndarray, enc_name: str, enc_version: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=root, prefix=".features.", suffix=".npz")
    os.close(fd)
    try:
        np.savez_compressed(tmp, ids=np.array(ids, dtype=str), features=mat.astype(np.float32),
                            encoder=np.array(enc_name), encoder_version=np.array(str(enc_version)))
        os.chmod(tmp, 0o644)
        os.replace(tmp, root / FEATURES_FILE)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _previous(root: Path) -> tuple[dict[str, dict[str, Any]], dict[str, np.ndarray]]:
    """Previous rows by content_key (only those whose excerpt still exists) and their feature vectors."""
    from . import store

    try:
        old = store.open_catalog(root)
    except (FileNotFoundError, ValueError):
        return {}, {}
    try:
        ids, mat = (old.ids(), old.features()) if isinstance(old, store.TrackTable) else load_features(root)[:2]
        vecs = dict(zip((str(i) for i in ids), mat))
    except (EsmrError, OSError, KeyError, ValueError):
        vecs = {}
    rows = {r["content_key"]: r for r in old.rows if "content_key" in r and old.path(r).is_file()}
    return {k: r for k, r in rows.items() if r["id"] in vecs}, vecs


def _analyse(track: SourceTrack, root: Path, rel_path: str, excerpt_s: float, bitrate_kbps: float,
             encoder) -> tuple[dict[str, Any], np.ndarray]:
    """Decode, choose and encode the excerpt, score it. Returns (row fields, feature vector)."""
    y = _load(track.path, ANALYSIS_SR)
    if y.size < ANALYSIS_SR // 2 or not np.isfinite(y).all() or np.abs(y).max() < 1e-4:
        raise AudioError(f"{track.path} is shorter than 0.5 s or silent")
    duration = len(y) / ANALYSIS_SR
    start = choose_excerpt(y, ANALYSIS_SR, excerpt_s)
    seg = y[int(start * ANALYSIS_SR): int((start + excerpt_s) * ANALYSIS_SR)]
    scores = _vibenet_scores(seg)
    vec = np.asarray(encoder.encode(seg), dtype=np.float32).reshape(-1)
    hi = _load(track.path, EXCERPT_SR, offset_s=start, duration_s=min(excerpt_s, duration - start))
    peak = float(np.abs(hi).max()) if hi.size else 0.0
    if peak > 0.99:   # the downmix of a loud stereo master can clip
        hi = hi * (0.99 / peak)
    encode_opus(_fade(hi, EXCERPT_SR), root / rel_path, bitrate_kbps)
    fields = {"duration_s": round(duration, 3), "excerpt_start_s": round(start, 3),
              "excerpt_s": round(min(excerpt_s, duration - start), 3), "valence_raw": round(scores["valence"], 4),
              "energy_raw": round(scores["energy"], 4), "vibenet": {k: round(v, 4) for k, v in scores.items()}}
    return fields, vec


def analyse_job(path: Path, key: str, root: Path, excerpt_s: float, bitrate_kbps: float,
                encoder) -> tuple[dict[str, Any] | None, np.ndarray | None, str | None]:
    """The per-track step both engines run: (row fields, feature vector, None), or (None, None, reason) for a
    file that cannot be used. The excerpt goes to a pending name (excerpts/.pending-KEY.opus) that the build
    renames once the track's id is known."""
    from threadpoolctl import threadpool_limits

    rel = f"excerpts/.pending-{key}.opus"
    try:
        # one BLAS/OpenMP thread: the sums then run in the same order in every process, so both engines
        # (a Ray worker gets other thread settings than this process) give bit-identical features
        with threadpool_limits(limits=1):
            fields, vec = _analyse(SourceTrack(Path(path), ""), Path(root), rel, excerpt_s, bitrate_kbps, encoder)
    except AudioError as exc:
        return None, None, f"{path}: {exc}"
    fields["path"] = rel
    return fields, vec, None


class _LocalEngine:
    """Hash and analyse in this process, one track after another."""

    def __init__(self, encoder, progress: bool):
        self.encoder, self.progress = encoder, progress

    def hash_files(self, paths: list[Path]) -> list[str]:
        return [file_sha256(p) for p in paths]

    def analyse(self, jobs: list[tuple[Path, str]], root: Path, excerpt_s: float, bitrate_kbps: float):
        from tqdm import tqdm

        return {key: analyse_job(path, key, root, excerpt_s, bitrate_kbps, self.encoder)
                for path, key in tqdm(jobs, desc="catalogue", unit="track", file=sys.stderr,
                                      disable=not self.progress)}


def build_catalog(tracks: Iterable[SourceTrack], out_dir: str | Path, *, excerpt_seconds: float = 30.0,
                  bitrate_kbps: float = 48.0, name: str = "music", progress: bool = True,
                  meta: dict[str, Any] | None = None, engine: str = "local", address: str | None = None,
                  workers: int | None = None, storage: str = "auto") -> BuildReport:
    """Build or update the catalogue in `out_dir` from `tracks`; returns counts of what was done.

    Files with the same bytes as an earlier one are skipped; unreadable files are reported in
    `report.failed` and skipped. Raises EsmrError when nothing usable remains.
    engine: "local" (this process) or "ray" (data/catalog_ray.py: hashing and analysis as a Ray Data pipeline,
    on the cluster at `address` or a local Ray started for the build with `workers` CPUs); both give the same
    catalogue. storage: "jsonl", "parquet" or "auto" (data/store.py).
    """
    from contextlib import nullcontext

    from . import store

    if excerpt_seconds < 5:
        raise EsmrError(f"--excerpt-seconds must be at least 5 (got {excerpt_seconds})")
    if engine not in ("local", "ray"):
        raise EsmrError(f"--engine must be local or ray, got {engine!r}")
    store.choose_format(storage, 0)                                  # a bad value fails before any work
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    tracks = list(tracks)
    if not tracks:
        raise EsmrError("no audio files found; pass folders holding .wav/.flac/.ogg/.opus/.mp3 files")
    encoder = _music_encoder()
    skey = settings_key(excerpt_seconds, bitrate_kbps, encoder.name, str(encoder.version))
    old_rows, old_vecs = _previous(root)
    if engine == "ray":
        from .catalog_ray import RayEngine

        runner = RayEngine(address=address, workers=workers, progress=progress)
    else:
        runner = _LocalEngine(encoder, progress)
    with runner if engine == "ray" else nullcontext():
        shas = runner.hash_files([t.path for t in tracks])
        report, plan, seen_sha = BuildReport(), [], set()
        for track, sha in zip(tracks, shas):
            if sha in seen_sha:
                report.duplicates += 1
                continue
            seen_sha.add(sha)
            key = f"{sha[:16]}-{skey}"
            plan.append((track, sha, key, old_rows.get(key)))
        jobs = [(track.path, key) for track, _, key, prev in plan if prev is None]
        results = runner.analyse(jobs, root, excerpt_seconds, bitrate_kbps) if jobs else {}
    rows, vecs, used_ids = [], [], set()
    for track, sha, key, prev in plan:           # ids in input order, exactly as a one-pass build gives them
        title = track.title or _title_from_path(track.path)
        base = prev["id"] if prev and prev["id"] not in used_ids else f"{_slug(track.source)}-{_slug(title)}"
        rid, n = base, 2
        while rid in used_ids:
            rid, n = f"{base}-{n}", n + 1
        if prev is not None:
            fields = {k: prev[k] for k in ("duration_s", "excerpt_start_s", "excerpt_s", "valence_raw",
                                           "energy_raw", "vibenet", "path")}
            vec = old_vecs[prev["id"]]
            report.reused += 1
        else:
            fields, vec, error = results[key]
            if error is not None:
                report.failed.append(error)
                continue
            rel = f"excerpts/{rid}-{key[:10]}.opus"
            os.replace(root / fields["path"], root / rel)
            fields["path"] = rel
            report.processed += 1
        used_ids.add(rid)
        rows.append({**track.extra, **fields, "id": rid, "title": title, "artist": track.artist or "unknown",
                     "licence": track.licence or "unknown", "source": track.source,
                     "original_path": str(track.path), "content_sha256": sha, "content_key": key})
        vecs.append(np.asarray(vec, dtype=np.float32))
    if not rows:
        raise EsmrError("none of the audio files could be read: " + "; ".join(report.failed[:3]))
    calibrate(rows)
    mat = np.stack(vecs)
    fmt = store.choose_format(storage, len(rows))
    col = new_collection(root, "music", name=name, excerpt_seconds=excerpt_seconds, bitrate_kbps=bitrate_kbps,
                         encoder=encoder.name, encoder_version=str(encoder.version),
                         features=FEATURES_FILE if fmt == "jsonl" else "tracks.parquet:features",
                         calibration=CALIBRATION,
                         format=fmt, **(meta or {}),
                         fingerprint=store.fingerprint([r["id"] for r in rows], [r["content_key"] for r in rows],
                                                       mat))
    if fmt == "parquet":                # table, then collection.json: until then the previous catalogue stays valid
        store.save_parquet_catalog(root, "music", col.meta, rows, mat)
    else:
        _save_features(root, [r["id"] for r in rows], mat, encoder.name, str(encoder.version))
        col.rows = rows
        col.save()                      # manifest last: until here the previous catalogue stays valid
    store.remove_other_format(root, fmt)
    _remove_unreferenced(root, {r["path"] for r in rows})
    report.tracks = len(rows)
    return report


def _remove_unreferenced(root: Path, keep: set[str]) -> None:
    folder = root / "excerpts"
    if folder.is_dir():
        for p in folder.iterdir():
            if p.is_file() and f"excerpts/{p.name}" not in keep:
                p.unlink()


# ---------------------------------------------------------------------------------------------- info
def catalog_info(root: str | Path) -> dict[str, Any]:
    """Summary of a catalogue folder: tracks, sources, hours (of the originals), size_mb (whole folder,
    MiB), licences {name: count}, valence/energy [min, max] (calibrated) and their raw ranges, moods."""
    col = load_collection(root, kind="music")
    rows = col.rows
    size = sum(p.stat().st_size for p in Path(root).rglob("*") if p.is_file())

    def rng(key: str) -> list[float] | None:
        vals = [float(r[key]) for r in rows if key in r]
        return [round(min(vals), 4), round(max(vals), 4)] if vals else None

    def counts(key: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in rows:
            out[str(r.get(key, "unknown"))] = out.get(str(r.get(key, "unknown")), 0) + 1
        return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))

    moods = counts("mood")
    return {"tracks": len(rows), "sources": len({r.get("source", "") for r in rows}),
            "hours": round(sum(float(r["duration_s"]) for r in rows) / 3600, 3),
            "excerpt_hours": round(sum(float(r.get("excerpt_s", 0)) for r in rows) / 3600, 3),
            "size_mb": round(size / 2**20, 2), "licences": counts("licence"),
            "valence": rng("valence"), "energy": rng("energy"),
            "valence_raw": rng("valence_raw"), "energy_raw": rng("energy_raw"),
            "moods": {m: moods.get(m, 0) for m in MUSIC_MOODS}, "per_source": counts("source")}
