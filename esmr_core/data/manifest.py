"""One manifest/collection API for every data set the project reads.

A *collection* is a folder with
  collection.json   {"kind": "music" | "speech" | "songs", "name": ..., "version": 1, ...free metadata}
  manifest.jsonl    one JSON object per item; file paths inside rows are relative to the folder.

Rows are plain dicts. Required keys by kind (more are allowed):
  music:  id, title, artist, licence, duration_s, path, mood, valence, energy
  speech: id, path, label, valence, arousal, dominance, text, voice, split
  songs:  id, title, source, licence, key, tempo_bpm, low_note, high_note, backing, guides
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from ..errors import CollectionError
from ..files import atomic_write_text

KINDS = ("music", "speech", "songs")
REQUIRED: dict[str, tuple[str, ...]] = {
    "music": ("id", "title", "artist", "licence", "duration_s", "path", "mood", "valence", "energy"),
    "speech": ("id", "path", "label", "valence", "arousal", "dominance", "text", "voice", "split"),
    "songs": ("id", "title", "source", "licence", "key", "tempo_bpm", "low_note", "high_note", "backing", "guides"),
}


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    rows = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise CollectionError(f"{path}:{n}: not valid JSON ({exc.msg})") from None
    return rows


def write_jsonl(rows: Iterable[dict[str, Any]], path: str | Path) -> None:
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows))


@dataclass
class Collection:
    """A loaded collection. `rows` are dicts; `path(row)` resolves a row's file path."""

    root: Path
    kind: str
    meta: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.rows)

    def path(self, row: dict[str, Any], key: str = "path") -> Path:
        p = Path(row[key])
        return p if p.is_absolute() else self.root / p

    def by_id(self) -> dict[str, dict[str, Any]]:
        return {r["id"]: r for r in self.rows}

    def split(self, name: str) -> list[dict[str, Any]]:
        return [r for r in self.rows if r.get("split") == name]

    def save(self) -> None:
        """Write manifest then collection.json, each atomically."""
        validate_rows(self.kind, self.rows)
        write_jsonl(self.rows, self.root / "manifest.jsonl")
        meta = {**self.meta, "kind": self.kind}
        atomic_write_text(self.root / "collection.json", json.dumps(meta, indent=2, ensure_ascii=False) + "\n")


def validate_rows(kind: str, rows: list[dict[str, Any]]) -> None:
    if kind not in KINDS:
        raise CollectionError(f"unknown collection kind {kind!r}; expected one of {KINDS}")
    need = REQUIRED[kind]
    seen: set[str] = set()
    for i, row in enumerate(rows):
        missing = [k for k in need if k not in row]
        if missing:
            raise CollectionError(f"{kind} row {i} ({row.get('id', '?')}) lacks {missing}")
        if row["id"] in seen:
            raise CollectionError(f"{kind} collection has the id {row['id']!r} twice")
        seen.add(row["id"])


def load_collection(root: str | Path, kind: str | None = None) -> Collection:
    """Load a collection folder; `kind`, when given, must match the folder's collection.json."""
    root = Path(root)
    meta_path = root / "collection.json"
    if not meta_path.is_file():
        raise CollectionError(f"{root} is not a collection (no collection.json); build one first")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CollectionError(f"{meta_path} cannot be read ({exc}); rebuild the collection") from None
    found = meta.get("kind")
    if kind is not None and found != kind:
        raise CollectionError(f"{root} holds a {found!r} collection, expected {kind!r}")
    if meta.get("format") == "parquet":   # large catalogues: data/store.py opens them without a dict per row
        raise CollectionError(f"{root} is a Parquet catalogue: open it with esmr_core.data.store.open_catalog (or "
                         "rebuild it with `esmr catalog build --format jsonl`)")
    rows = read_jsonl(root / "manifest.jsonl") if (root / "manifest.jsonl").is_file() else []
    return Collection(root=root, kind=found, meta=meta, rows=rows)


def new_collection(root: str | Path, kind: str, **meta: Any) -> Collection:
    if kind not in KINDS:
        raise CollectionError(f"unknown collection kind {kind!r}; expected one of {KINDS}")
    return Collection(root=Path(root), kind=kind, meta={"version": 1, **meta}, rows=[])
