"""Catalogues beyond one machine: the ANN index (IVF vs exact), the Parquet store, the Ray build engine (same
catalogue as the local engine, incremental, atomic) and the service on a Parquet catalogue with a saved index.
Everything is small: the 1e6-track figures come from `make bench-scale`, never from a test."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from esmr_core.retrieval import catalog_index
from esmr_core.cli import main as cli_main
from esmr_core.data import catalog, store
from esmr_core.data.manifest import load_collection
from esmr_core.errors import EsmrError, ModelUnavailableError
from esmr_core.retrieval.index import ANN_MIN_SIZE, MusicIndex, l2_normalize, recall_at_k, resolve_backend

SR = 22050


def _clustered(n: int, d: int = 32, clusters: int = 40, seed: int = 0) -> np.ndarray:
    """Unit vectors around `clusters` centres: the shape real embeddings have (moods, styles)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, d))
    x = centres[rng.integers(0, clusters, n)] + 0.6 * rng.normal(size=(n, d))
    return l2_normalize(x)


# ---------------------------------------------------------------------------------------------- index
def test_auto_backend_follows_catalogue_size():
    assert resolve_backend("auto", 146) == "exact"
    assert resolve_backend("auto", ANN_MIN_SIZE - 1) == "exact"
    assert resolve_backend("auto", ANN_MIN_SIZE) == "ivf"
    with pytest.raises(ValueError, match="backend"):
        resolve_backend("hnsw-magic", 10)


def test_ivf_matches_exact_search_and_round_trips_without_pickle(tmp_path: Path):
    pytest.importorskip("faiss")
    both = _clustered(20_300, seed=0)
    data, queries = both[:20_000], both[20_000:]       # queries held out: same distribution, not in the index
    ids = [f"t{i}" for i in range(len(data))]
    exact = MusicIndex("exact").fit(data, ids)
    ivf = MusicIndex("ivf").fit(data, ids)
    assert ivf.backend_ == "ivf" and 1 <= ivf.nprobe_ < ivf.nlist_        # tuned: scans a fraction of the cells
    assert ivf.tuning_["catalogue"]["trace"][-1][1] >= 0.995 and ivf.query_nprobe_ is None
    s_e, i_e = exact.search(queries, k=5)
    s_a, i_a = ivf.search(queries, k=5)
    assert recall_at_k(i_a, i_e) >= 0.98
    # candidates are re-scored with the stored float32 vectors: a hit's score is its exact cosine, best first
    assert np.allclose(s_a, np.einsum("bd,bkd->bk", queries, data[i_a]), atol=1e-5)
    assert np.all(np.diff(s_a, axis=1) <= 1e-6)
    assert np.allclose(ivf.vectors(i_a[0]), data[i_a[0]], atol=1e-6)

    ivf.save(tmp_path / "ivf")
    files = sorted(p.name for p in (tmp_path / "ivf").iterdir())
    assert files == ["ids.npy", "index.faiss", "index.json"]
    np.load(tmp_path / "ivf" / "ids.npy", allow_pickle=False)               # a plain array, no pickle
    loaded = MusicIndex.load(tmp_path / "ivf")
    assert loaded.backend_ == "ivf" and loaded.nprobe_ == ivf.nprobe_ and len(loaded) == len(data)
    assert np.array_equal(loaded.search(queries, k=5)[1], i_a)
    assert str(loaded.ids_[int(i_a[0, 0])]) == ids[int(i_a[0, 0])]
    meta = json.loads((tmp_path / "ivf" / "index.json").read_text())
    assert meta["size"] == len(data) and meta["build_seconds"] > 0


def test_ivf_tunes_a_second_nprobe_for_queries_from_another_distribution():
    pytest.importorskip("faiss")
    data = _clustered(20_000, seed=0)
    other = _clustered(600, seed=5)           # other centres: far from every indexed vector, like speech queries
    sample, held_out = other[:300], other[300:]
    ids = [str(i) for i in range(len(data))]
    ivf = MusicIndex("ivf").fit(data, ids, queries=sample)
    assert ivf.query_nprobe_ > ivf.nprobe_
    truth = MusicIndex("exact").fit(data, ids).search(held_out, k=5)[1]
    plain = recall_at_k(ivf.search(held_out, k=5)[1], truth)
    tuned = recall_at_k(ivf.search(held_out, k=5, nprobe="queries")[1], truth)
    assert tuned >= 0.98 and tuned > plain
    served = MusicIndex("ivf", search_nprobe="queries").fit(data, ids, queries=sample)
    assert np.array_equal(served.search(held_out, k=5)[1], ivf.search(held_out, k=5, nprobe="queries")[1])


def test_ivf_widens_the_search_when_the_scanned_cells_hold_fewer_than_k():
    pytest.importorskip("faiss")
    data = _clustered(600, d=16, seed=3)
    index = MusicIndex("ivf", nlist=8, nprobe=1).fit(data, [str(i) for i in range(600)])
    scores, idx = index.search(data[:3], k=400)                    # more than one cell holds
    assert (idx >= 0).all() and len({*idx[0].tolist()}) == 400
    exact = MusicIndex("exact").fit(data, [str(i) for i in range(600)]).search(data[:3], k=400)[1]
    assert recall_at_k(idx, exact) > 0.9


# ---------------------------------------------------------------------------------------------- store
def test_parquet_rows_round_trip_and_guard_the_jsonl_reader(tmp_path: Path):
    rows = [{"id": f"t{i}", "title": f"T {i}", "artist": "A", "licence": "CC0-1.0", "duration_s": 30.0 + i,
             "path": f"excerpts/t{i}.opus", "mood": "calm", "valence": 0.5, "energy": 0.25 * i,
             "vibenet": {"valence": 0.1 * i, "energy": 0.2}, "year": i if i else None,
             "tags": ["a", "b"] if i == 1 else None, "mixed": "x" if i == 0 else 3}
            for i in range(3)]
    feats = np.arange(3 * 5, dtype=np.float32).reshape(3, 5) / 7
    store.save_parquet_catalog(tmp_path, "music", {"version": 1, "name": "t", "encoder": "music",
                                                   "encoder_version": "1", "fingerprint": "abc"}, rows, feats)
    cat = store.open_catalog(tmp_path)
    assert isinstance(cat, store.TrackTable) and len(cat) == 3
    want = [{k: v for k, v in r.items() if v is not None} for r in rows]
    assert [cat.rows[i] for i in range(3)] == want and list(cat.rows) == want
    assert np.array_equal(cat.features(), feats)
    assert cat.position("t2") == 2 and cat.position("nope") is None
    assert store.value_counts(cat, "mood") == {"calm": 3}
    assert store.catalog_fingerprint(cat) == "abc"
    small = store.open_catalog(tmp_path, columns=("id", "title"))
    assert small.row(1) == {"id": "t1", "title": "T 1"}
    with pytest.raises(ValueError, match="Parquet catalogue"):
        load_collection(tmp_path, kind="music")


# ---------------------------------------------------------------------------------------------- ray engine
def _tone(seconds: float, f0: float, seed: int) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    y = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in (1, 2, 3)) * (0.6 + 0.4 * np.sin(2 * np.pi * 2.0 * t))
    return (0.2 * y + 0.01 * np.random.default_rng(seed).standard_normal(t.size)).astype(np.float32)


@pytest.fixture(scope="module")
def local_ray():
    """One private local Ray for the module (loopback, no dashboard, 2 CPUs); the builds join it."""
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data")
    import logging

    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", object_store_memory=256 * 2**20,
             log_to_driver=False, logging_level=logging.WARNING)
    yield ray
    ray.shutdown()


def _excerpt_audio(root: Path, rows: list[dict]) -> list[np.ndarray]:
    return [sf.read(root / r["path"], dtype="float32")[0] for r in rows]


@pytest.mark.slow
def test_ray_engine_builds_the_local_catalogue_incrementally_and_atomically(tmp_path: Path, local_ray, monkeypatch):
    src = tmp_path / "library"
    (src / "album").mkdir(parents=True)
    for i, (sec, f0) in enumerate([(7, 110.0), (6, 220.0), (8, 330.0), (6, 495.0)]):
        sf.write(src / ("album" if i % 2 else ".") / f"track{i}.wav", _tone(sec, f0, i), SR)
    sf.write(src / "copy.wav", sf.read(src / "track0.wav")[0], SR)        # same samples, same bytes: a duplicate
    sf.write(src / "silent.wav", np.zeros(SR, np.float32), SR)            # unusable: reported, skipped
    build = dict(excerpt_seconds=5.0, progress=False)

    rep_local = catalog.build_catalog(catalog.scan_folders([src]), tmp_path / "local", **build)
    rep_ray = catalog.build_catalog(catalog.scan_folders([src]), tmp_path / "ray", engine="ray", workers=2, **build)
    assert (rep_ray.processed, rep_ray.duplicates, rep_ray.tracks) == (4, 1, 4)
    assert rep_ray.failed == rep_local.failed and len(rep_ray.failed) == 1 and "silent.wav" in rep_ray.failed[0]
    # the same manifest, line for line, and the same excerpts and features
    assert (tmp_path / "ray" / "manifest.jsonl").read_text() == (tmp_path / "local" / "manifest.jsonl").read_text()
    local, ray_cat = load_collection(tmp_path / "local"), load_collection(tmp_path / "ray")
    for a, b in zip(_excerpt_audio(local.root, local.rows), _excerpt_audio(ray_cat.root, ray_cat.rows)):
        assert a.shape == b.shape and np.allclose(a, b, atol=1e-4)
    ids_l, f_l, _ = catalog.load_features(local.root)
    ids_r, f_r, _ = catalog.load_features(ray_cat.root)
    assert ids_l == ids_r and np.array_equal(f_l, f_r)                      # bit for bit

    # atomic: a build that dies after the analysis (here: while writing the table) leaves the old catalogue
    sf.write(src / "new.wav", _tone(6, 660.0, 9), SR)
    before = (tmp_path / "ray" / "manifest.jsonl").read_bytes()

    def disk_full(*args, **kw):
        raise OSError("simulated full disk")

    real_write = store.write_table
    monkeypatch.setattr(store, "write_table", disk_full)
    with pytest.raises(OSError, match="simulated"):
        catalog.build_catalog(catalog.scan_folders([src]), tmp_path / "ray", engine="ray", storage="parquet",
                              **build)
    assert (tmp_path / "ray" / "manifest.jsonl").read_bytes() == before
    old = load_collection(tmp_path / "ray", kind="music")
    assert len(old) == 4 and all(old.path(r).is_file() for r in old)
    monkeypatch.setattr(store, "write_table", real_write)

    # the next build finishes the job, here into the Parquet format: incremental by content hash (the four
    # tracks are reused, not analysed again), one new track, no leftover files
    rep = catalog.build_catalog(catalog.scan_folders([src]), tmp_path / "ray", engine="ray", storage="parquet",
                                **build)
    assert (rep.processed, rep.reused, rep.tracks) == (1, 4, 5)
    table = store.open_catalog(tmp_path / "ray")
    assert isinstance(table, store.TrackTable) and not (tmp_path / "ray" / "manifest.jsonl").exists()
    by_id = {r["id"]: r for r in table.rows}
    for r in old.rows:
        assert {k: v for k, v in by_id[r["id"]].items() if k not in ("valence", "energy", "mood")} == \
            {k: v for k, v in r.items() if k not in ("valence", "energy", "mood")}   # recalibrated over 5 tracks
    assert not [p for p in (tmp_path / "ray" / "excerpts").iterdir() if p.name.startswith(".")]
    on_disk = {f"excerpts/{p.name}" for p in (tmp_path / "ray" / "excerpts").iterdir()}
    assert on_disk == {r["path"] for r in by_id.values()}
    pos = {i: n for n, i in enumerate(table.ids())}
    assert np.allclose(table.features()[[pos[i] for i in ids_r]], f_r)


def test_cli_engine_and_format_errors(tmp_path: Path, capsys):
    (tmp_path / "a").mkdir()
    sf.write(tmp_path / "a" / "x.wav", _tone(6, 220.0, 0), SR)
    assert cli_main(["catalog", "build", str(tmp_path / "a"), "--out", str(tmp_path / "o"), "--workers", "2"]) == 2
    assert "--engine ray" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli_main(["catalog", "build", str(tmp_path / "a"), "--out", str(tmp_path / "o"), "--format", "csv"])
    with pytest.raises(EsmrError, match="--workers must be at least 1"):
        catalog.build_catalog(catalog.scan_folders([tmp_path / "a"]), tmp_path / "o", engine="ray", workers=0,
                              excerpt_seconds=5.0, progress=False)


# ---------------------------------------------------------------------------------------------- service
@pytest.fixture(scope="module")
def big(tmp_path_factory) -> Path:
    """A 3000-track Parquet catalogue (synthetic features around the bundled tracks) with a saved IVF index
    and a map over 300 of its tracks, built through `esmr index build`."""
    pytest.importorskip("faiss")
    root = store.synthetic_catalog(tmp_path_factory.mktemp("big") / "catalog", 3000, seed=0)
    assert cli_main(["index", "build", "--catalog", str(root), "--backend", "ivf", "--map-sample", "300",
                     "--quiet"]) == 0
    return root


@pytest.mark.slow
def test_service_serves_a_parquet_catalogue_from_its_saved_index(big: Path, tmp_path: Path, capsys):
    from conftest import example_clip

    from esmr_core.service import Service, ServiceConfig

    assert cli_main(["catalog", "info", str(big), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["tracks"] == 3000 and info["format"] == "parquet" and sum(info["moods"].values()) == 3000

    svc = Service(ServiceConfig(catalog=big, singing=False))
    assert svc.index.backend_ == "ivf" and len(svc.tracks) == 3000
    music_on_map = [it for it in svc.map_items.values() if it["kind"] == "music"]
    assert len(music_on_map) == 300 and all(Path(it["path"]).is_file() for it in music_on_map)
    r = svc.analyze_speech(example_clip("speech"), asr=False)
    # the same tracks as exact search: the catalogue without its saved index is indexed exactly at start-up
    exact_dir = tmp_path / "exact"
    shutil.copytree(big, exact_dir, ignore=shutil.ignore_patterns("index"))
    exact = Service(ServiceConfig(catalog=exact_dir, singing=False))
    assert exact.index.backend_ == "exact"
    r_exact = exact.analyze_speech(example_clip("speech"), asr=False)
    got, want = [[t["id"] for t in r["tracks"]]], [[t["id"] for t in r_exact["tracks"]]]
    assert recall_at_k(np.array(got), np.array(want)) >= 0.8
    assert r["tracks"][0]["score"] == pytest.approx(r_exact["tracks"][0]["score"], abs=1e-4)
    # the map: retrieved tracks outside the sample are drawn where they belong; every one can be played
    fig = svc.map_figure(r)
    outside = [t for t in r["tracks"] if t["id"] not in svc.map_items]
    extra = [tr for tr in fig.data if tr.name == "retrieved (outside the sample)"]
    assert (len(extra[0].x) if extra else 0) == len(outside)
    for t in r["tracks"]:
        assert Path(svc.map_point(t["id"])["path"]).is_file() and {"x", "y"} <= set(t["map"])
    assert "3000 excerpts" in svc.about_markdown()


@pytest.mark.slow
def test_stale_index_is_refitted_or_refused(big: Path, tmp_path: Path, monkeypatch):
    from esmr_core.retrieval.model import JointModel
    from esmr_core.paths import checkpoints_dir

    ckpt = checkpoints_dir() / "esmr-default"
    model = JointModel.from_pretrained(ckpt)
    cat = store.open_catalog(big)
    meta = json.loads((big / "index" / "index.json").read_text())
    assert meta["info"] == catalog_index.index_info(ckpt, cat)
    stale = tmp_path / "stale"
    stale.mkdir()
    for name in ("collection.json", "tracks.parquet"):
        (stale / name).write_bytes((big / name).read_bytes())
    (stale / "index").mkdir()
    for name in ("index.faiss", "ids.npy"):
        (stale / "index" / name).write_bytes((big / "index" / name).read_bytes())
    meta["info"]["checkpoint"] = "another-model"
    (stale / "index" / "index.json").write_text(json.dumps(meta))
    stale_cat = store.open_catalog(stale)
    assert catalog_index.load_or_fit_index(model, ckpt, stale_cat).backend_ == "exact"   # small: refitted here
    monkeypatch.setattr(catalog_index, "FIT_AT_START_MAX", 1000)
    with pytest.raises(ModelUnavailableError, match="esmr index build --catalog"):
        catalog_index.load_or_fit_index(model, ckpt, stale_cat)
