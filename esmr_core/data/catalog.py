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
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from ..emotion import MUSIC_MOODS
from ..errors import AudioError, EsmrError
from ..files import file_sha256, is_audio_file
from ..logs import progress as progress_bar
from . import store
from .manifest import load_collection, new_collection
from .moods import assign_moods
from .store import FEATURES_FILE, load_features, save_features
from .track_analysis import ANALYSIS_SR, analyse_job, choose_excerpt, music_encoder  # noqa: F401 (API)

ANALYSIS_VERSION = "2"       # bump when excerpt choice or scoring changes: invalidates incremental reuse


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
            if is_audio_file(p):
                tracks.append(SourceTrack(p, folder.resolve().name if folder.is_dir() else p.parent.name,
                                          artist=artist, licence=licence))
    return tracks


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "track"


def _title_from_path(path: Path) -> str:
    return re.sub(r"[_\-]+", " ", path.stem).strip().title() or path.stem


# ---------------------------------------------------------------------------------------------- audio I/O
# ---------------------------------------------------------------------------------------------- excerpt choice
# ---------------------------------------------------------------------------------------------- scoring
CALIBRATION = ("energy = within-catalogue percentile of vibenet energy_raw, (rank+0.5)/n; valence = the same "
               "percentile of vibenet valence_raw, or, where rows carry descriptors, of the mean percentile of "
               "vibenet valence, mode and key clarity; mood = nearest NRC-VAD mood (emotion.coords, VA), every "
               "mood topped up to min(20, n/16) tracks with tracks at most 0.1 farther from it than from their "
               "nearest mood (data/moods.py assign_moods)")


def calibrate(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Set valence/energy (calibrated percentiles) and mood of every row from valence_raw/energy_raw (and the
    rows' mood-evidence descriptors when every row has them): see data/moods.py assign_moods."""
    return assign_moods(rows)


# ---------------------------------------------------------------------------------------------- building
def settings_key(excerpt_s: float, bitrate_kbps: float, encoder_name: str, encoder_version: str) -> str:
    """Short hash of everything besides the file's bytes that shapes a row; part of the reuse key."""
    blob = json.dumps([ANALYSIS_VERSION, round(excerpt_s, 3), round(bitrate_kbps, 1), encoder_name,
                       str(encoder_version)])
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def _previous(root: Path) -> tuple[dict[str, dict[str, Any]], dict[str, np.ndarray]]:
    """Previous rows by content_key (only those whose excerpt still exists) and their feature vectors."""
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


class _LocalEngine:
    """Hash and analyse in this process, one track after another."""

    def __init__(self, encoder, progress: bool):
        self.encoder, self.progress = encoder, progress

    def hash_files(self, paths: list[Path]) -> list[str]:
        return [file_sha256(p) for p in paths]

    def analyse(self, jobs: list[tuple[Path, str]], root: Path, excerpt_s: float, bitrate_kbps: float):
        return {key: analyse_job(path, key, root, excerpt_s, bitrate_kbps, self.encoder)
                for path, key in progress_bar(jobs, "catalogue", self.progress)}


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
    encoder = music_encoder()
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
        save_features(root, [r["id"] for r in rows], mat, encoder.name, str(encoder.version))
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
