"""What the service searches: a catalogue's joint-space embeddings, its saved search index and its map.

`esmr index build --catalog DIR` (build_index_and_map) embeds every track with the checkpoint's music tower,
saves DIR/index (MusicIndex, backend chosen by size: exact below 5e4 tracks, IVF above) and fits the UMAP map
over at most `map_sample` tracks plus the reference voices (DIR/map). Both record what they were built from
(`info`: checkpoint and catalogue fingerprints), so the service can tell a stale index from a current one.

At start-up (load_or_fit_index) the service loads DIR/index when it matches; otherwise a catalogue of up to
FIT_AT_START_MAX tracks is embedded and indexed in-process (the bundled catalogue: 146 tracks, a few ms), and a
larger one asks for `esmr index build`. Loading a 1e6-track index reads one FAISS file (~0.5 GB) and no row.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..data import store
from ..errors import EsmrError, ModelUnavailableError
from ..files import file_sha256
from .index import ANN_MIN_SIZE, MusicIndex
from .map2d import Map2D
from .features import blank_text
from ..data.manifest import load_collection
from .features import collection_matrix

FIT_AT_START_MAX = 200_000      # tracks the service embeds and indexes itself when no saved index matches
MAP_SAMPLE = 2000               # catalogue tracks on the map of a larger catalogue
ENCODE_BATCH = 65_536           # feature rows per music-tower forward pass
QUERY_SAMPLE = 256              # speech-tower embeddings the IVF index tunes its query nprobe on


def speech_query_sample(model: Any, n: int = QUERY_SAMPLE, seed: int = 0) -> np.ndarray:
    """(n, D) speech-like query embeddings for tuning an index to the queries it serves: the speech tower
    applied to features drawn per dimension from the tower's training statistics (its standardisation mean and
    std), half of them with the transcript block blanked (queries without words). Uses no recording, so the
    bundled example voices stay an independent test of the tuned index (bench/scale.py)."""
    import torch

    mean, std = model.speech.mean.numpy(), model.speech.std.numpy()
    x = (mean + std * np.random.default_rng(seed).standard_normal((n, len(mean)))).astype(np.float32)
    x[: n // 2] = blank_text(x[: n // 2], model.feature_spec)
    with torch.inference_mode():
        return model.encode_speech(torch.from_numpy(x)).numpy()


def checkpoint_fingerprint(checkpoint: str | Path) -> str:
    """Short SHA-256 of a checkpoint's weights file (model.safetensors)."""
    return file_sha256(Path(checkpoint) / "model.safetensors")[:20]


def index_info(checkpoint: str | Path, cat: Any) -> dict[str, Any]:
    """What an index of this checkpoint over this catalogue must have been built from."""
    return {"checkpoint": checkpoint_fingerprint(checkpoint), "catalog": store.catalog_fingerprint(cat),
            "size": len(cat)}


def _check_encoder(model: Any, cat: Any) -> None:
    want = model.feature_spec["music"]
    if len(want) != 1 or (cat.meta.get("encoder"), str(cat.meta.get("encoder_version"))) != \
            (want[0]["name"], str(want[0]["version"])):
        raise EsmrError(f"the catalogue {cat.root} holds {cat.meta.get('encoder')} v{cat.meta.get('encoder_version')} "
                        f"features but the checkpoint reads {[(e['name'], e['version']) for e in want]}; rebuild "
                        "the catalogue with `esmr catalog build`")


def catalog_embeddings(model: Any, cat: Any, progress: bool = False) -> np.ndarray:
    """Joint-space embeddings of every track, (N, D) float32, in row order (features read in blocks)."""
    import torch

    if isinstance(cat, store.TrackTable):
        _check_encoder(model, cat)
        blocks = cat.iter_features(ENCODE_BATCH)
    else:
        feats = collection_matrix(cat, model.feature_spec, progress=progress).astype(np.float32)
        blocks = (feats[i:i + ENCODE_BATCH] for i in range(0, len(feats), ENCODE_BATCH))
    out = []
    with torch.inference_mode():
        for block in blocks:
            out.append(model.encode_music(torch.from_numpy(np.ascontiguousarray(block))).numpy())
    return np.concatenate(out, axis=0).astype(np.float32)


def _ids(cat: Any) -> list[str] | np.ndarray:
    return cat.ids() if isinstance(cat, store.TrackTable) else [r["id"] for r in cat.rows]


def load_or_fit_index(model: Any, checkpoint: Path, cat: Any) -> MusicIndex:
    """The catalogue's index: CATALOG/index when it was built from this checkpoint and catalogue, else (up to
    FIT_AT_START_MAX tracks) fitted here; larger catalogues without a current index raise a clear error."""
    folder = Path(cat.root) / "index"
    meta = MusicIndex.read_meta(folder)
    if meta is not None:
        want = index_info(checkpoint, cat)
        if all(meta.get("info", {}).get(k) == v for k, v in want.items()):
            return _serving(MusicIndex.load(folder, search_nprobe="queries"))
    if len(cat) > FIT_AT_START_MAX:
        raise ModelUnavailableError(
            f"the catalogue {cat.root} has {len(cat)} tracks and no search index for this checkpoint: run "
            f"`esmr index build --catalog {cat.root}` (it writes {folder} and {Path(cat.root) / 'map'})")
    emb = catalog_embeddings(model, cat)
    queries = speech_query_sample(model) if len(cat) >= ANN_MIN_SIZE else None
    return _serving(MusicIndex("auto", search_nprobe="queries").fit(emb, _ids(cat), queries=queries))


def _serving(index: MusicIndex) -> MusicIndex:
    """Configure FAISS for the service's one-query-at-a-time searches: one OpenMP thread. FAISS parallelises a
    search over its queries, so a single query gains nothing from a team, and loses a scheduler time slice (~8 ms
    measured) at the team's barrier whenever another process holds the other core. Affects FAISS's own OpenMP
    runtime only (torch and numpy have their own)."""
    if index.backend_ == "ivf":
        import faiss

        faiss.omp_set_num_threads(1)
    return index


def map_matches(m: Map2D, cat: Any, checkpoint: str | Path | None = None) -> bool:
    """Was this map built over this catalogue (and, when given, with this checkpoint)? By fingerprint when
    the map records one, else (maps built before fingerprints, small catalogues) by the set of music ids."""
    if checkpoint is not None and m.info.get("checkpoint") not in (None, checkpoint_fingerprint(checkpoint)):
        return False
    fp = m.info.get("catalog_fingerprint")
    if fp:
        return fp == store.catalog_fingerprint(cat)
    if isinstance(cat, store.TrackTable):
        return False
    return {i for i, k in zip(m.ids_, m.kinds_) if k == "music"} == {r["id"] for r in cat.rows}


def track_item(cat: Any, row: dict[str, Any]) -> dict[str, Any]:
    """A catalogue row as a map item: id, kind, label (mood), name, path."""
    return {"id": row["id"], "kind": "music", "label": row.get("mood", ""),
            "name": f'{row.get("title", row["id"])} ({row.get("artist", "unknown")})', "path": str(cat.path(row))}


def map_items(m: Map2D, cat: Any, reference: Any | None) -> dict[str, dict[str, Any]]:
    """Every map point as {"id", "kind", "label", "name", "path"} by id (sampled tracks looked up by row)."""
    positions = m.info.get("positions")
    music_rows: dict[str, dict[str, Any]] = {}
    if positions is not None:
        for p in positions:
            row = cat.rows[int(p)]
            music_rows[row["id"]] = row
    else:
        music_rows = cat.by_id()
    ref_by_id = reference.by_id() if reference is not None else {}
    items: dict[str, dict[str, Any]] = {}
    for mid, kind, label, name in zip(m.ids_, m.kinds_, m.labels_, m.names_):
        row = music_rows.get(mid) if kind == "music" else ref_by_id.get(mid)
        path = None
        if row is not None:
            path = str((cat if kind == "music" else reference).path(row))
        items[mid] = {"id": mid, "kind": kind, "label": label, "name": name, "path": path}
    return items


def find_track(cat: Any, item_id: str) -> dict[str, Any] | None:
    """One catalogue row by id (a column scan for Parquet catalogues), or None."""
    if isinstance(cat, store.TrackTable):
        pos = cat.position(item_id)
        return None if pos is None else cat.rows[pos]
    return next((r for r in cat.rows if r["id"] == item_id), None)


def build_index_and_map(checkpoint: Path, catalog: Path, reference: Path | None, map_out: Path,
                        index_out: Path | None = None, *, backend: str = "auto", map_sample: int = MAP_SAMPLE,
                        progress: bool = True, seed: int = 0) -> tuple[Map2D, MusicIndex | None]:
    """Embed the catalogue, save its index (when index_out is given) and fit + save the map over at most
    `map_sample` tracks (a uniform sample, seed `seed`) and the reference speech collection."""
    import torch

    from .model import JointModel

    if map_sample < 2:
        raise EsmrError(f"--map-sample must be at least 2, got {map_sample}")
    model = JointModel.from_pretrained(checkpoint).eval()
    cat = store.open_catalog(catalog)
    music = catalog_embeddings(model, cat, progress=progress)
    n = len(cat)
    info = index_info(checkpoint, cat)
    index = None
    if index_out is not None:
        index = MusicIndex(backend, info=info).fit(music, _ids(cat), queries=speech_query_sample(model))
        index.save(index_out)
    sampled = n > map_sample
    pos = np.sort(np.random.default_rng(seed).choice(n, map_sample, replace=False)) if sampled else np.arange(n)
    embs, labels, kinds, names, ids = [music[pos]], [], [], [], []
    for p in pos:
        r = cat.rows[int(p)]
        labels.append(r["mood"])
        kinds.append("music")
        names.append(f'{r["title"]} ({r["artist"]})')
        ids.append(r["id"])
    if reference is not None and (Path(reference) / "collection.json").is_file():
        ref = load_collection(reference, kind="speech")
        x = torch.from_numpy(collection_matrix(ref, model.feature_spec, progress=progress).astype(np.float32))
        with torch.inference_mode():
            embs.append(model.encode_speech(x).numpy())
        for r in ref.rows:
            labels.append(r["label"])
            kinds.append("speech")
            names.append(f'"{r.get("text", "")}" ({r.get("voice", "")})')
            ids.append(r["id"])
    m = Map2D(info={"catalog_fingerprint": info["catalog"], "checkpoint": info["checkpoint"], "catalog_size": n,
                    "positions": pos.tolist() if sampled else None})
    m.fit(np.concatenate(embs), labels, kinds, names=names, ids=ids)
    m.save(map_out)
    return m, index
