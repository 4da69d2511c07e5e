"""A feature cache on disk: one .npy per (input content, encoder name + version, extra key).

    cache = FeatureCache()                                   # paths.cache_dir() / "features"; ESMR_CACHE moves it
    feats = cache.get_or_compute("clip.wav", enc, lambda: enc.encode(load_audio("clip.wav").samples))
    feats = cache.get_or_compute(path, enc, fn, extra_key="offset=30.0;dur=30.0")   # e.g. a music excerpt

The input is identified by the sha256 of its bytes (streamed, so big files are fine), not by its name:
renaming or copying a file keeps its features, editing it invalidates them. `source` may be a path,
bytes, or a numpy array (hashed with its dtype and shape).
Layout: <root>/<encoder name>@<version>/<2 hex>/<sha256>[-<sha256(extra_key)[:16]>].npy
Writes go to a temporary file in the same folder and are renamed into place (os.replace is atomic), so
concurrent processes never read a half-written file; two processes computing the same entry both write
the same result and the last rename wins. An unreadable entry is recomputed and overwritten.
"""
from __future__ import annotations

import hashlib
import os
import re
import threading
import warnings
from pathlib import Path
from typing import Callable, Union

import numpy as np

from . import paths
from .errors import EsmrError
from .files import atomic_write

Source = Union[str, os.PathLike, bytes, bytearray, memoryview, np.ndarray]
_CHUNK = 1 << 20


def content_hash(source: Source) -> str:
    """sha256 hex digest of a file's bytes (streamed), of bytes, or of an array (dtype, shape and data)."""
    h = hashlib.sha256()
    if isinstance(source, (bytes, bytearray, memoryview)):
        h.update(source)
    elif isinstance(source, np.ndarray):
        arr = np.ascontiguousarray(source)
        h.update(f"ndarray:{arr.dtype.str}:{arr.shape}:".encode())
        h.update(arr.tobytes())
    elif isinstance(source, (str, os.PathLike)):
        try:
            with open(source, "rb") as f:
                for chunk in iter(lambda: f.read(_CHUNK), b""):
                    h.update(chunk)
        except OSError as exc:
            raise EsmrError(f"cannot read '{source}' to hash it for the feature cache: {exc.strerror or exc}; "
                            "check that the file exists and is readable") from None
    else:
        raise EsmrError(f"the feature cache keys on a file path, bytes or an array, not {type(source).__name__}")
    return h.hexdigest()


def _safe(text: str) -> str:
    """A file-name-safe version of an encoder name ("hub:org/model" -> "hub_org_model")."""
    return re.sub(r"[^A-Za-z0-9._@+-]+", "_", text).strip("._") or "encoder"


class FeatureCache:
    """Features on disk keyed by content hash + encoder name/version + extra key. Thread- and process-safe."""

    def __init__(self, root: Union[str, os.PathLike, None] = None) -> None:
        self.root = Path(root) if root is not None else paths.cache_dir() / "features"
        self.hits = 0
        self.misses = 0
        self._hashes: dict[tuple, str] = {}      # (path, size, mtime_ns) -> sha256, to avoid re-reading files
        self._lock = threading.Lock()

    def _hash(self, source: Source) -> str:
        if isinstance(source, (str, os.PathLike)):
            try:
                st = os.stat(source)
            except OSError as exc:
                raise EsmrError(f"cannot read '{source}' for the feature cache: {exc.strerror or exc}; "
                                "check that the file exists") from None
            key = (os.path.abspath(source), st.st_size, st.st_mtime_ns)
            with self._lock:
                digest = self._hashes.get(key)
            if digest is None:
                digest = content_hash(source)
                with self._lock:
                    self._hashes[key] = digest
            return digest
        return content_hash(source)

    def path_for(self, source: Source, encoder, extra_key: str = "") -> Path:
        """Where the entry for (source, encoder, extra_key) lives. `encoder` needs .name and .version."""
        name, version = getattr(encoder, "name", None), getattr(encoder, "version", None)
        if not name or version is None:
            raise EsmrError("the feature cache needs an encoder with a name and a version")
        digest = self._hash(source)
        stem = digest
        if extra_key:
            stem += "-" + hashlib.sha256(str(extra_key).encode()).hexdigest()[:16]
        return self.root / _safe(f"{name}@{version}") / digest[:2] / f"{stem}.npy"

    def get(self, source: Source, encoder, extra_key: str = "") -> np.ndarray | None:
        """The cached array, or None when absent (or unreadable)."""
        path = self.path_for(source, encoder, extra_key)
        return _read(path)

    def get_or_compute(self, source: Source, encoder, compute_fn: Callable[[], np.ndarray],
                       extra_key: str = "") -> np.ndarray:
        """The cached array for (source, encoder, extra_key); on a miss call `compute_fn()`, store, return it."""
        path = self.path_for(source, encoder, extra_key)
        cached = _read(path)
        if cached is not None:
            with self._lock:
                self.hits += 1
            return cached
        with self._lock:
            self.misses += 1
        value = compute_fn()
        if not isinstance(value, np.ndarray) or value.dtype == object:
            raise EsmrError(f"feature cache: compute_fn for {getattr(encoder, 'name', '?')} must return a "
                            f"numeric numpy array, got {type(value).__name__}")
        try:
            _write_atomic(path, value)
        except OSError as exc:   # a full or read-only disk must not break the computation itself
            warnings.warn(f"feature cache: could not write {path}: {exc}; set ESMR_CACHE to a writable folder")
        return value


def _read(path: Path) -> np.ndarray | None:
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, EOFError):   # truncated or foreign file: treat as a miss and overwrite
        return None


def _write_atomic(path: Path, value: np.ndarray) -> None:
    atomic_write(path, lambda tmp: np.save(tmp, value, allow_pickle=False), durable=True)
