"""The Ray engine of `esmr catalog build --engine ray [--address ADDR] [--workers N]`.

The same build as the local engine (data/catalog.py decides reuse, ids, file names and writes the catalogue),
with its two expensive passes run as Ray Data pipelines (Ray: Moritz et al., "Ray: A Distributed Framework for
Emerging AI Applications", OSDI 2018; Ray Data's streaming executor):
  1. content hashes: `map_batches` tasks over the file list (SHA-256 of each file's bytes);
  2. analysis of the new tracks: `map_batches` over an actor pool (`ActorPoolStrategy`), each actor building the
     music encoder once (librosa descriptors + vibenet's ONNX model) and running `track_analysis.analyse_job` per track:
     decode, choose the excerpt, write it as Opus under the catalogue's excerpts/ folder, score it.
Results come back to the driver as rows of plain columns (key, row fields as JSON, the feature vector as float32
bytes). The manifest and the feature vectors are identical to the local engine's (the per-track step runs with
one BLAS thread in every process: Ray gives its workers other thread settings, and a different thread count
changes the order of float sums, enough to flip a rounded digit) and the excerpts decode to the same samples
(the Ogg container's stream serial number is random, so the files' bytes differ even between two local runs).

Without `address` a local Ray is started for the build on the loopback interface (no dashboard) with `workers`
CPUs (default: all) and stopped afterwards; a Ray already initialised in this process is used as it is. On a
cluster (`address="ray://head:10001"` or "auto"), every node needs this package installed and must see the
source files and the catalogue folder at the same paths (a shared file system), since actors read the sources
and write the excerpts themselves.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EsmrError
from ..files import file_sha256
from .track_analysis import analyse_job, music_encoder

HASH_BATCH = 32          # files per hashing task


def _ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:  # pragma: no cover - depends on the environment
        raise EsmrError("--engine ray needs Ray Data: pip install 'ray[data]' (or the project's [scale] extra)") \
            from None
    return ray


def _enter(cwd: str) -> None:
    """Work from the driver's folder, so relative paths (and the messages naming them) read the same."""
    if os.path.isdir(cwd) and os.getcwd() != cwd:
        os.chdir(cwd)


def _hash_batch(batch: dict[str, np.ndarray], cwd: str) -> dict[str, np.ndarray]:
    _enter(cwd)
    return {"i": batch["i"], "sha": np.array([file_sha256(Path(str(p))) for p in batch["path"]], dtype=object)}


class _Analyser:
    """One actor of the analysis pool: builds the encoder once, then analyses one track per call."""

    def __init__(self, root: str, excerpt_s: float, bitrate_kbps: float, cwd: str):
        _enter(cwd)
        self.root, self.excerpt_s, self.bitrate_kbps = Path(root), excerpt_s, bitrate_kbps
        self.encoder = music_encoder()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        keys, fields_json, vecs, errors = [], [], [], []
        for path, key in zip(batch["path"], batch["key"]):
            fields, vec, error = analyse_job(Path(str(path)), str(key), self.root, self.excerpt_s,
                                             self.bitrate_kbps, self.encoder)
            keys.append(str(key))
            fields_json.append(json.dumps(fields) if fields is not None else "")
            vecs.append(np.asarray(vec, dtype=np.float32).tobytes() if vec is not None else b"")
            errors.append(error or "")
        return {"key": np.array(keys, dtype=object), "fields": np.array(fields_json, dtype=object),
                "vec": np.array(vecs, dtype=object), "error": np.array(errors, dtype=object)}


class RayEngine:
    """Context manager: starts (or joins) Ray on enter, stops what it started on exit."""

    def __init__(self, address: str | None = None, workers: int | None = None, progress: bool = True):
        if workers is not None and workers < 1:
            raise EsmrError(f"--workers must be at least 1, got {workers}")
        self.address, self.workers, self.progress = address, workers, progress
        self._started = False

    def __enter__(self) -> "RayEngine":
        ray = _ray()
        if not ray.is_initialized():
            kw: dict[str, Any] = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING,
                                      configure_logging=True)
            if self.address:
                ray.init(address=self.address, **kw)
            else:   # a private local Ray on the loopback interface, sized for this build
                ray.init(num_cpus=self.workers or os.cpu_count() or 1, object_store_memory=512 * 2**20,
                         _node_ip_address="127.0.0.1", **kw)
            self._started = True
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = self.progress
        ctx.print_on_execution_start = False
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        return self

    def __exit__(self, *exc) -> bool:
        if self._started:
            _ray().shutdown()
            self._started = False
        return False

    def _pool_size(self) -> int:
        if self.workers:
            return self.workers
        return max(1, int(_ray().cluster_resources().get("CPU", 1)))

    def hash_files(self, paths: list[Path]) -> list[str]:
        ray = _ray()
        items = [{"i": i, "path": str(p)} for i, p in enumerate(paths)]
        ds = ray.data.from_items(items).map_batches(_hash_batch, batch_size=HASH_BATCH, batch_format="numpy",
                                                    fn_kwargs={"cwd": os.getcwd()})
        shas: list[str | None] = [None] * len(paths)
        for row in ds.iter_rows():
            shas[int(row["i"])] = str(row["sha"])
        if any(s is None for s in shas):   # pragma: no cover - Ray lost rows
            raise EsmrError("the Ray hashing pass returned fewer files than it was given; run the build again")
        return shas  # type: ignore[return-value]

    def analyse(self, jobs: list[tuple[Path, str]], root: Path, excerpt_s: float,
                bitrate_kbps: float) -> dict[str, tuple[dict[str, Any] | None, np.ndarray | None, str | None]]:
        ray = _ray()
        items = [{"path": str(p), "key": key} for p, key in jobs]
        size = min(self._pool_size(), len(items))
        blocks = min(len(items), max(4 * size, len(items) // 256 + 1))   # >= 4 per actor, <= ~256 tracks each
        ds = ray.data.from_items(items, override_num_blocks=blocks).map_batches(
            _Analyser, fn_constructor_kwargs=dict(root=str(root), excerpt_s=excerpt_s, bitrate_kbps=bitrate_kbps,
                                                  cwd=os.getcwd()),
            batch_size=1, batch_format="numpy", num_cpus=1, compute=ray.data.ActorPoolStrategy(size=size))
        out: dict[str, tuple[dict[str, Any] | None, np.ndarray | None, str | None]] = {}
        for row in ds.iter_rows():
            if row["error"]:
                out[row["key"]] = (None, None, str(row["error"]))
            else:
                out[row["key"]] = (json.loads(row["fields"]), np.frombuffer(row["vec"], dtype=np.float32).copy(),
                                   None)
        missing = [key for _, key in jobs if key not in out]
        if missing:   # pragma: no cover - Ray lost rows
            raise EsmrError(f"the Ray analysis pass lost {len(missing)} tracks; run the build again")
        return out
