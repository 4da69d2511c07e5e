"""How a music catalogue is stored on disk, and one way to open either kind.

Two formats (collection.json's "format"):
- "jsonl" (the default below PARQUET_MIN_TRACKS, and the bundled catalogue): manifest.jsonl (one JSON object a
  row, see data/manifest.py) + features.npz. Diffable and readable; every row becomes a Python dict on load.
- "parquet": one Apache Parquet file, tracks.parquet, with the manifest's columns plus `features`
  (fixed-size list of float32, the music-encoder vector). Read with pyarrow, columns stay Arrow buffers (C++
  memory, tens of bytes a row, no Python object per row); a row becomes a dict only when it is shown
  (`TrackTable.row(i)`), and start-up reads only the columns it shows, never the features. Ray Data reads and
  writes the same files (ray.data.read_parquet), so a cluster job can consume a catalogue as it is.
  Scalar columns keep their type; nested values (the vibenet scores, extra fields of mixed type) are stored as
  JSON text columns named in the schema metadata and decoded per row.

`open_catalog(root)` returns a data.manifest.Collection (jsonl) or a TrackTable (parquet); both have
`len()`, `rows[i]`, `path(row)`, `root`, `meta` and `kind`; helpers here (`value_counts`, `catalog_features`,
`fingerprint`) work on either.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from ..errors import CollectionError, EsmrError
from ..files import atomic_write
from ..files import atomic_write_text
from .manifest import Collection, load_collection, validate_rows
from ..emotion import MUSIC_MOODS
from ..paths import default_catalog_dir

FORMATS = ("auto", "jsonl", "parquet")
PARQUET_MIN_TRACKS = 20_000       # "auto" writes Parquet from this many tracks on
TRACKS_FILE = "tracks.parquet"
ROW_GROUP = 65_536                # rows per Parquet row group (the unit of streaming reads)
# the columns a served catalogue shows: what Service reads at start-up
DISPLAY_COLUMNS = ("id", "title", "artist", "licence", "mood", "path", "source", "valence", "energy", "duration_s")


def choose_format(fmt: str, n_tracks: int) -> str:
    if fmt not in FORMATS:
        raise EsmrError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if fmt == "auto":
        return "parquet" if n_tracks >= PARQUET_MIN_TRACKS else "jsonl"
    return fmt


def _pyarrow():
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - depends on the environment
        raise EsmrError("Parquet catalogues need pyarrow: pip install pyarrow (or the project's [scale] extra)") \
            from None
    return pa, pq


def catalog_format(root: str | Path) -> str:
    """"parquet" or "jsonl" from a catalogue folder's collection.json (jsonl when it does not say)."""
    path = Path(root) / "collection.json"
    if not path.is_file():
        raise CollectionError(f"{root} is not a collection (no collection.json); build one first")
    return str(json.loads(path.read_text(encoding="utf-8")).get("format", "jsonl"))


# ---------------------------------------------------------------------------------------------- writing
def _column(pa, values: list[Any]):
    """(Arrow array, is_json): scalars of one type natively, anything else as JSON text."""
    present = [v for v in values if v is not None]
    kinds = {type(v) for v in present}
    if kinds <= {str}:
        return pa.array(values, type=pa.string()), False
    if kinds <= {bool}:
        return pa.array(values, type=pa.bool_()), False
    if kinds <= {int}:
        return pa.array(values, type=pa.int64()), False
    if kinds <= {int, float}:
        return pa.array([None if v is None else float(v) for v in values], type=pa.float64()), False
    return pa.array([None if v is None else json.dumps(v, ensure_ascii=False, sort_keys=True) for v in values],
                    type=pa.string()), True


def rows_to_table(rows: list[dict[str, Any]], features: np.ndarray | None):
    """Arrow table of manifest rows (+ a `features` fixed-size-list column, (N, D) float32)."""
    pa, _ = _pyarrow()
    keys = sorted({k for r in rows for k in r})
    cols, names, json_cols = [], [], []
    for key in keys:
        arr, is_json = _column(pa, [r.get(key) for r in rows])
        cols.append(arr)
        names.append(key)
        if is_json:
            json_cols.append(key)
    if features is not None:
        feats = np.ascontiguousarray(features, dtype=np.float32)
        cols.append(pa.FixedSizeListArray.from_arrays(pa.array(feats.reshape(-1)), feats.shape[1]))
        names.append("features")
    table = pa.table(cols, names=names)
    return table.replace_schema_metadata({"esmr.json_columns": json.dumps(json_cols)})


def write_table(root: str | Path, table) -> None:
    """Write tracks.parquet atomically (a temporary file beside it, then a rename)."""
    _, pq = _pyarrow()
    atomic_write(Path(root) / TRACKS_FILE,
                 lambda tmp: pq.write_table(table, tmp, row_group_size=ROW_GROUP, compression="zstd"))


def save_parquet_catalog(root: str | Path, kind: str, meta: dict[str, Any], rows: list[dict[str, Any]],
                         features: np.ndarray) -> None:
    """tracks.parquet, then collection.json (format "parquet"), each atomically: until collection.json is
    replaced, readers keep the previous catalogue."""
    validate_rows(kind, rows)
    write_table(root, rows_to_table(rows, features))
    write_meta(root, {**meta, "kind": kind, "format": "parquet", "tracks_file": TRACKS_FILE})


def write_meta(root: str | Path, meta: dict[str, Any]) -> None:
    atomic_write_text(Path(root) / "collection.json", json.dumps(meta, indent=2, ensure_ascii=False) + "\n")


def remove_other_format(root: str | Path, fmt: str) -> None:
    """After a successful build, the files of the format the catalogue no longer uses."""
    root = Path(root)
    stale = ("manifest.jsonl", "features.npz") if fmt == "parquet" else (TRACKS_FILE,)
    for name in stale:
        (root / name).unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------- reading
class _Rows(Sequence):
    """Lazy row sequence of a TrackTable: rows[i] builds one dict; iterating builds them one at a time."""

    def __init__(self, table: "TrackTable"):
        self._t = table

    def __len__(self) -> int:
        return len(self._t)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self._t.row(j) for j in range(*i.indices(len(self)))]
        return self._t.row(int(i))

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for batch in self._t.table.to_batches(max_chunksize=4096):
            for row in batch.to_pylist():
                yield self._t._decode(row)


class TrackTable:
    """A Parquet catalogue opened with pyarrow. Columns: `column(name)`; one row as a dict: `row(i)` or
    `rows[i]`; the feature matrix: `features()` (read from the file on demand, not kept)."""

    def __init__(self, root: str | Path, meta: dict[str, Any], columns: Sequence[str] | None = None):
        pa, pq = _pyarrow()
        self.root = Path(root)
        self.meta = meta
        self.kind = meta.get("kind", "music")
        self.file = self.root / meta.get("tracks_file", TRACKS_FILE)
        if not self.file.is_file():
            raise CollectionError(f"{self.file} is missing; rebuild the catalogue with `esmr catalog build`")
        self.schema = pq.read_schema(self.file)
        have = [n for n in self.schema.names if n != "features"]
        want = have if columns is None else [c for c in columns if c in have]
        self.table = pq.read_table(self.file, columns=want, memory_map=True)
        raw = (self.schema.metadata or {}).get(b"esmr.json_columns", b"[]")
        self.json_columns = set(json.loads(raw.decode()))
        self._ids = None

    def __len__(self) -> int:
        return self.table.num_rows

    @property
    def rows(self) -> _Rows:
        return _Rows(self)

    def _decode(self, row: dict[str, Any]) -> dict[str, Any]:
        return {k: (json.loads(v) if k in self.json_columns else v) for k, v in row.items() if v is not None}

    def row(self, i: int) -> dict[str, Any]:
        if not 0 <= i < len(self):
            raise IndexError(f"row {i} of a {len(self)}-track catalogue")
        return self._decode(self.table.slice(i, 1).to_pylist()[0])

    def column(self, name: str):
        return self.table.column(name)

    def ids(self) -> np.ndarray:
        """All ids as a numpy unicode array (built once, ~4 bytes a character)."""
        if self._ids is None:
            self._ids = np.asarray(self.table.column("id").to_numpy(zero_copy_only=False), dtype=str)
        return self._ids

    def position(self, item_id: str) -> int | None:
        """Row number of an id (a scan in Arrow, a few ms per million rows), or None."""
        import pyarrow.compute as pc

        i = pc.index(self.table.column("id"), item_id).as_py()
        return None if i < 0 else int(i)

    def path(self, row: dict[str, Any], key: str = "path") -> Path:
        p = Path(row[key])
        return p if p.is_absolute() else self.root / p

    def by_id(self) -> dict[str, dict[str, Any]]:
        """Every row by id: builds N dicts, only for small tables."""
        return {r["id"]: r for r in self.rows}

    def iter_features(self, batch_rows: int = ROW_GROUP) -> Iterator[np.ndarray]:
        """The feature matrix in row order, (<= batch_rows, D) float32 blocks streamed from the file."""
        _, pq = _pyarrow()
        pf = pq.ParquetFile(self.file, memory_map=True)
        for batch in pf.iter_batches(batch_size=batch_rows, columns=["features"]):
            col = batch.column(0)
            width = col.type.list_size
            yield np.array(col.flatten().to_numpy().reshape(-1, width), dtype=np.float32)   # a writable copy

    def features(self) -> np.ndarray:
        if "features" not in self.schema.names:
            raise EsmrError(f"{self.file} has no features column; rebuild the catalogue")
        return np.concatenate(list(self.iter_features()), axis=0)


def open_catalog(root: str | Path, columns: Sequence[str] | None = None) -> Collection | TrackTable:
    """The catalogue in `root`: a Collection (jsonl) or a TrackTable (parquet; `columns`: which to load)."""
    root = Path(root)
    if catalog_format(root) == "parquet":
        meta = json.loads((root / "collection.json").read_text(encoding="utf-8"))
        return TrackTable(root, meta, columns)
    return load_collection(root, kind="music")


def catalog_features(cat: Collection | TrackTable) -> tuple[list[str] | np.ndarray, np.ndarray]:
    """(ids, feature matrix (N, D) float32) in row order, from features.npz or the features column."""
    if isinstance(cat, TrackTable):
        return cat.ids(), cat.features()
    ids, mat, _ = load_features(cat.root)
    pos = {i: n for n, i in enumerate(ids)}
    order = [pos[r["id"]] for r in cat.rows]
    return [r["id"] for r in cat.rows], mat[order]


def value_counts(cat: Collection | TrackTable, column: str) -> dict[str, int]:
    """{value: count} of one column, most frequent first (missing values count as "unknown")."""
    if isinstance(cat, TrackTable):
        if column not in cat.table.column_names:
            return {"unknown": len(cat)}
        vc = cat.table.column(column).fill_null("unknown").value_counts()
        pairs = [(str(v["values"]), int(v["counts"])) for v in vc.to_pylist()]
    else:
        counts: dict[str, int] = {}
        for r in cat.rows:
            counts[str(r.get(column, "unknown"))] = counts.get(str(r.get(column, "unknown")), 0) + 1
        pairs = list(counts.items())
    return dict(sorted(pairs, key=lambda kv: (-kv[1], kv[0])))


def fingerprint(ids: Sequence[str], keys: Sequence[str], features: np.ndarray) -> str:
    """Short hash of what a catalogue serves: ids and content keys in order, and the feature matrix."""
    h = hashlib.sha256()
    h.update("\n".join(f"{i}\t{k}" for i, k in zip(ids, keys)).encode("utf-8"))
    h.update(np.ascontiguousarray(features, dtype=np.float32).tobytes())
    return h.hexdigest()[:20]


def catalog_fingerprint(cat: Collection | TrackTable) -> str:
    """The fingerprint stored at build time, else computed (small catalogues built before it was stored)."""
    if cat.meta.get("fingerprint"):
        return str(cat.meta["fingerprint"])
    ids, mat = catalog_features(cat)
    keys = [str(r.get("content_key", "")) for r in cat.rows]
    return fingerprint(list(ids), keys, mat)


def table_info(root: str | Path) -> dict[str, Any]:
    """catalog.catalog_info for a Parquet catalogue, computed column-wise in Arrow (no row dicts)."""
    import pyarrow.compute as pc

    t = TrackTable(root, json.loads((Path(root) / "collection.json").read_text(encoding="utf-8")),
                   columns=("source", "licence", "mood", "duration_s", "excerpt_s", "valence", "energy",
                            "valence_raw", "energy_raw"))
    size = sum(p.stat().st_size for p in Path(root).rglob("*") if p.is_file())

    def rng(key: str) -> list[float] | None:
        if key not in t.table.column_names or t.table.column(key).null_count == len(t):
            return None
        mm = pc.min_max(t.table.column(key)).as_py()
        return [round(float(mm["min"]), 4), round(float(mm["max"]), 4)]

    def total(key: str) -> float:
        return float(pc.sum(t.table.column(key)).as_py() or 0.0) if key in t.table.column_names else 0.0

    moods = value_counts(t, "mood")
    return {"tracks": len(t), "sources": len(value_counts(t, "source")),
            "hours": round(total("duration_s") / 3600, 3), "excerpt_hours": round(total("excerpt_s") / 3600, 3),
            "size_mb": round(size / 2**20, 2), "licences": value_counts(t, "licence"),
            "valence": rng("valence"), "energy": rng("energy"),
            "valence_raw": rng("valence_raw"), "energy_raw": rng("energy_raw"),
            "moods": {m: moods.get(m, 0) for m in MUSIC_MOODS}, "per_source": value_counts(t, "source"),
            "format": "parquet"}


# ---------------------------------------------------------------------------------------------- synthetic
_WORDS_A = ("Silent", "Golden", "Broken", "Distant", "Crimson", "Hollow", "Bright", "Endless", "Frozen", "Gentle",
            "Last", "Lonely", "Midnight", "Northern", "Quiet", "Restless", "Secret", "Shining", "Stormy", "Wild")
_WORDS_B = ("Harbour", "Skies", "River", "Fields", "Machine", "Garden", "Kingdom", "Lights", "March", "Waltz",
            "Echoes", "Tides", "Road", "Dawn", "Embers", "Forest", "Voyage", "Hymn", "Rain", "Fortress")
_FIRST = ("Ada", "Ben", "Chloe", "Dario", "Elif", "Femi", "Greta", "Hiro", "Ines", "Jonas", "Kira", "Luca",
          "Mina", "Noor", "Oskar", "Priya", "Quinn", "Rosa", "Sven", "Tara")
_LAST = ("Alvarez", "Brooks", "Chen", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad", "Ivanova", "Jensen",
         "Kowalski", "Lindqvist", "Moreau", "Nakamura", "Okafor", "Petrov", "Rossi", "Silva", "Tanaka", "Weber")


def synthetic_catalog(root: str | Path, n: int, like: str | Path | None = None, seed: int = 0,
                      chunk: int = 100_000) -> Path:
    """A Parquet catalogue of `n` synthetic tracks, for benchmarks and tests of large catalogues.

    Each row takes a real track of the catalogue `like` (default: the bundled one) as its model: its feature
    vector is drawn around that track's (f = mu + 0.5 (f_real - mu) + 0.7 z, z ~ N(0, shrunk covariance of the
    real features), clipped to 10 % beyond the real range), so the music tower maps it to a realistic
    embedding; mood, valence, energy and licence are the model track's, its `path` is the model track's
    excerpt (absolute, so the app plays real music); title, artist and duration are made up. Written in
    `chunk`-row pieces (streamed, no row dicts), then collection.json; returns `root`.
    """
    _, pq = _pyarrow()
    import pyarrow as pa

    if n < 1:
        raise EsmrError(f"a synthetic catalogue needs at least 1 track, got {n}")
    real = open_catalog(Path(like) if like is not None else default_catalog_dir())
    rows = list(real.rows)
    _, X = catalog_features(real)
    X = X.astype(np.float64)
    mu, cov = X.mean(0), np.cov(X.T)
    cov = 0.9 * cov + 0.1 * np.diag(np.diag(cov))
    chol = np.linalg.cholesky(cov + 1e-6 * np.eye(len(mu)))
    span = X.max(0) - X.min(0)
    lo, hi = X.min(0) - 0.1 * span, X.max(0) + 0.1 * span
    paths = np.array([str(real.path(r).resolve()) for r in rows])
    pick = {k: np.array([r.get(k) for r in rows]) for k in ("mood", "licence", "source")}
    num = {k: np.array([float(r.get(k, 0.5)) for r in rows]) for k in ("valence", "energy", "valence_raw",
                                                                        "energy_raw")}
    root = Path(root)
    rng = np.random.default_rng(seed)

    def write(tmp: str) -> None:
        writer = None
        for start in range(0, n, chunk):
            m = min(chunk, n - start)
            j = rng.integers(0, len(rows), m)
            z = rng.standard_normal((m, len(mu))) @ chol.T
            feats = np.clip(mu + 0.5 * (X[j] - mu) + 0.7 * z, lo, hi).astype(np.float32)
            i = np.arange(start, start + m)
            a, b, c = rng.integers(0, 20, m), rng.integers(0, 20, m), rng.integers(1, 100, m)
            title = [f"{_WORDS_A[x]} {_WORDS_B[y]} No. {k}" for x, y, k in zip(a, b, c)]
            f, la = rng.integers(0, 20, m), rng.integers(0, 20, m)
            artist = [f"{_FIRST[x]} {_LAST[y]}" for x, y in zip(f, la)]
            cols = {
                "id": pa.array([f"synthetic-{k:07d}" for k in i]),
                "title": pa.array(title), "artist": pa.array(artist),
                "licence": pa.array(pick["licence"][j].tolist()), "mood": pa.array(pick["mood"][j].tolist()),
                "source": pa.array([f"synthetic:{s}" for s in pick["source"][j]]),
                "path": pa.array(paths[j].tolist()),
                "duration_s": pa.array(np.round(rng.uniform(90, 420, m), 3)),
                "excerpt_s": pa.array(np.full(m, 30.0)),
                **{k: pa.array(v[j]) for k, v in num.items()},
                "content_key": pa.array([f"synthetic-{seed}-{k}" for k in i]),
                "features": pa.FixedSizeListArray.from_arrays(pa.array(feats.reshape(-1)), feats.shape[1]),
            }
            table = pa.table(cols).replace_schema_metadata({"esmr.json_columns": "[]"})
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema, compression="zstd")
            writer.write_table(table, row_group_size=ROW_GROUP)
        writer.close()

    atomic_write(root / TRACKS_FILE, write)
    fp = hashlib.sha256(json.dumps([n, seed, catalog_fingerprint(real)]).encode()).hexdigest()[:20]
    write_meta(root, {"version": 1, "kind": "music", "format": "parquet", "tracks_file": TRACKS_FILE,
                      "name": f"synthetic-{n}", "encoder": real.meta.get("encoder", "music"),
                      "encoder_version": real.meta.get("encoder_version", "1"), "fingerprint": fp,
                      "synthetic": {"tracks": n, "seed": seed, "like": str(Path(real.root).name)}})
    return root


FEATURES_FILE = "features.npz"


def load_features(root: str | Path) -> tuple[list[str], np.ndarray, dict[str, str]]:
    """(ids, matrix (N, dim) float32, {"encoder", "encoder_version"}) from a catalogue's features.npz."""
    path = Path(root) / FEATURES_FILE
    if not path.is_file():
        raise EsmrError(f"{path} is missing; rebuild the catalogue with `esmr catalog build`")
    with np.load(path, allow_pickle=False) as z:
        return ([str(i) for i in z["ids"]], z["features"].astype(np.float32),
                {"encoder": str(z["encoder"]), "encoder_version": str(z["encoder_version"])})


def save_features(root: Path, ids: list[str], mat: np.ndarray, enc_name: str, enc_version: str) -> None:
    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:   # a file object: np.savez would append ".npz" to a name
            np.savez_compressed(fh, ids=np.array(ids, dtype=str), features=mat.astype(np.float32),
                                encoder=np.array(enc_name), encoder_version=np.array(str(enc_version)))

    atomic_write(Path(root) / FEATURES_FILE, write)
