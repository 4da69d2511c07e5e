"""Small file helpers every part of the package shares: atomic writes, content hashes, JSON of numpy values,
the audio file extensions the project reads.

One of each, so that "how is a file written / hashed / serialised" has one answer."""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

# Audio files the project reads (soundfile + the ffmpeg fallback in audio.py); lower case, with the dot.
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".opus", ".mp3", ".m4a", ".aac", ".webm", ".mp4", ".mkv",
                    ".g722", ".gsm")

_CHUNK = 1 << 20


def is_audio_file(path: str | Path) -> bool:
    """A visible file whose extension is one of AUDIO_EXTENSIONS."""
    p = Path(path)
    return p.suffix.lower() in AUDIO_EXTENSIONS and not p.name.startswith(".")


def atomic_write(path: str | Path, write: Callable[[str], None], mode: int = 0o644, durable: bool = False) -> Path:
    """Call write(tmp_path) for a temporary file beside `path`, then move it into place (os.replace is atomic),
    so that readers see the old or the new content, never half of it. The temporary name ends with the
    target's suffix (np.save / np.savez append ".npy" / ".npz" to a name without it). The file gets `mode`
    (mkstemp makes 0600 files; a server running as another user must read them); durable: fsync before the
    rename (the content survives a power cut, not only a crash)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix or ".tmp")
    os.close(fd)
    try:
        write(tmp)
        if durable:
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    return atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def file_sha256(path: str | Path) -> str:
    """sha256 hex digest of a file's bytes, streamed."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def json_default(obj: Any) -> Any:
    """json.dumps(default=...) for the values results carry: numpy scalars and arrays as numbers and lists,
    anything else (paths, ...) as its text."""
    if hasattr(obj, "tolist"):
        return obj.tolist()
    return os.fspath(obj) if isinstance(obj, os.PathLike) else str(obj)


def to_json(obj: Any, **kwargs: Any) -> str:
    """JSON text of a result (numpy values become lists and numbers; non-ASCII text kept)."""
    return json.dumps(obj, ensure_ascii=False, default=json_default, **kwargs)


def write_json(path: str | Path, obj: Any, indent: int | None = 2) -> Path:
    """Write obj as JSON (atomically, newline-terminated)."""
    return atomic_write_text(path, to_json(obj, indent=indent) + "\n")
