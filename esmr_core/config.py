"""One strict way to turn a dict (a config file, a checkpoint's config.json) into a config dataclass:
unknown keys are refused with the list of known ones, so a typo never silently falls back to a default."""
from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any, TypeVar

from .errors import EsmrError

T = TypeVar("T")


def from_dict(cls: type[T], d: dict[str, Any], what: str | None = None) -> T:
    """cls(**d) for a dataclass; EsmrError naming the unknown keys (and the known ones) when d has extra keys."""
    if not isinstance(d, dict):
        raise EsmrError(f"{what or cls.__name__} must be a JSON object, got {type(d).__name__}")
    names = [f.name for f in fields(cls) if f.init]
    unknown = sorted(set(d) - set(names))
    if unknown:
        raise EsmrError(f"unknown {what or cls.__name__} field(s) {unknown}; known fields: {', '.join(names)}")
    try:
        return cls(**d)
    except (TypeError, ValueError) as exc:
        raise EsmrError(f"bad {what or cls.__name__}: {exc}") from None


def read_json(path: str | Path, what: str = "config") -> dict[str, Any]:
    """A JSON object from a file; EsmrError (not a traceback) when it is missing or not valid JSON."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EsmrError(f"{what} file {path} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise EsmrError(f"cannot read {what} file {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise EsmrError(f"{what} file {path} is not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(data, dict):
        raise EsmrError(f"{what} file {path} must hold a JSON object")
    return data
