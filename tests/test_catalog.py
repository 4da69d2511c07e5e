"""The music catalogue: building from synthetic clips (incremental, atomic, excerpt choice), `esmr catalog info`,
and the bundled catalogue in assets/music."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from esmr_core.cli import main as cli_main
from esmr_core.data import catalog, track_analysis
from esmr_core.data.manifest import load_collection
from esmr_core.emotion import MUSIC_MOODS
from esmr_core.paths import default_catalog_dir

SR = 22050
EXCERPT = 6.0


def _tone(seconds: float, f0: float, sr: int = SR, seed: int = 0) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    rng = np.random.default_rng(seed)
    y = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in (1, 2, 3))
    y = y * (0.6 + 0.4 * np.sin(2 * np.pi * 2.0 * t))          # tremolo: some movement
    return (0.2 * y + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


def _noise(seconds: float, sr: int = SR, seed: int = 1) -> np.ndarray:
    return (0.3 * np.random.default_rng(seed).standard_normal(int(seconds * sr))).astype(np.float32)


def _intro_clip(intro_s: float = 12.0, body_s: float = 28.0, sr: int = SR) -> np.ndarray:
    """Loud noise intro, then a harmonic tone: the intro differs from the body."""
    return np.concatenate([_noise(intro_s, sr), _tone(body_s, 220.0, sr)])


@pytest.fixture()
def library(tmp_path: Path) -> Path:
    src = tmp_path / "library"
    (src / "album").mkdir(parents=True)
    sf.write(src / "low.wav", _tone(14, 110.0), SR)
    sf.write(src / "album" / "high.flac", _tone(12, 660.0, seed=3), SR)
    sf.write(src / "album" / "intro.ogg", _intro_clip(), SR, format="OGG", subtype="VORBIS")
    sf.write(src / "short.wav", _tone(4, 330.0), SR)                       # shorter than the excerpt
    shutil.copy(src / "low.wav", src / "zz_copy.wav")                    # same bytes: skipped
    (src / "notes.txt").write_text("not audio")
    (src / "cover.png").write_bytes(b"\x89PNG not audio")
    return src


def _build(src: Path, out: Path, **kw) -> catalog.BuildReport:
    tracks = catalog.scan_folders([src], licence="CC0-1.0", artist="Test Artist")
    return catalog.build_catalog(tracks, out, excerpt_seconds=EXCERPT, progress=False, **kw)


def test_choose_excerpt_skips_a_contrasting_intro():
    sr = catalog.ANALYSIS_SR
    y = np.concatenate([_noise(24, sr), _tone(56, 220.0, sr)])             # intro is 30% of the track
    start = catalog.choose_excerpt(y, sr, excerpt_s=15.0)
    assert start >= 24.0 - 0.5, start
    assert start + 15.0 <= 80.0 * 0.95 + 1e-6
    assert catalog.choose_excerpt(_tone(10, 220.0, sr), sr, excerpt_s=15.0) == 0.0   # short: whole track


def test_build_incremental_and_info(library: Path, tmp_path: Path, capsys):
    out = tmp_path / "cat"
    rep = _build(library, out)
    assert (rep.processed, rep.reused, rep.duplicates, rep.tracks) == (4, 0, 1, 4)
    col = load_collection(out, kind="music")
    assert len(col) == 4
    for row in col:
        assert row["licence"] == "CC0-1.0" and row["artist"] == "Test Artist"
        assert row["source"] == "library" and Path(row["original_path"]).is_file()
        assert col.path(row).is_file() and col.path(row).suffix == ".opus"
        assert 0 <= row["valence_raw"] <= 1 and 0 <= row["energy_raw"] <= 1
        assert 0 < row["valence"] < 1 and 0 < row["energy"] < 1 and row["mood"] in MUSIC_MOODS
        info = sf.info(str(col.path(row)))
        assert info.samplerate == 48000 and info.channels == 1
        assert abs(info.duration - row["excerpt_s"]) < 0.1
    rows = {Path(r["original_path"]).name: r for r in col}
    assert rows["short.wav"]["excerpt_start_s"] == 0.0 and rows["short.wav"]["excerpt_s"] == pytest.approx(4.0, abs=.05)
    assert rows["low.wav"]["duration_s"] == pytest.approx(14.0, abs=0.05)
    assert rows["intro.ogg"]["excerpt_start_s"] >= 12.0 - 0.5             # the excerpt avoids the noise intro
    ids, mat, meta = catalog.load_features(out)
    assert ids == [r["id"] for r in col.rows] and mat.shape[0] == 4 and np.isfinite(mat).all()
    assert meta["encoder"] == col.meta["encoder"]

    # unchanged sources are not decoded again; a new file is
    rep2 = _build(library, out)
    assert (rep2.processed, rep2.reused, rep2.tracks) == (0, 4, 4)
    sf.write(library / "new.wav", _tone(9, 440.0, seed=7), SR)
    rep3 = _build(library, out)
    assert (rep3.processed, rep3.reused, rep3.tracks) == (1, 4, 5)
    # a removed source disappears with its excerpt
    gone = rows["low.wav"]
    (library / "low.wav").unlink()
    (library / "zz_copy.wav").unlink()
    assert _build(library, out).tracks == 4
    assert not (out / gone["path"]).exists()

    assert cli_main(["catalog", "info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    for key in ("tracks", "sources", "hours", "size_mb", "licences", "valence", "energy", "moods"):
        assert key in info
    assert info["tracks"] == 4 and info["sources"] == 1 and info["licences"] == {"CC0-1.0": 4}
    assert info["valence"][0] <= info["valence"][1] and sum(info["moods"].values()) == 4


def test_interrupted_build_keeps_previous_catalogue(library: Path, tmp_path: Path, monkeypatch):
    out = tmp_path / "cat"
    _build(library, out)
    manifest_before = (out / "manifest.jsonl").read_bytes()
    features_before = (out / "features.npz").read_bytes()
    for i in range(3):
        sf.write(library / f"extra{i}.wav", _tone(8, 300.0 + 50 * i, seed=10 + i), SR)
    calls = {"n": 0}
    real = track_analysis.vibenet_scores

    def fail_on_second(y):      # the build dies mid-way (a crash, Ctrl-C, a full disk)
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("simulated crash")
        return real(y)

    monkeypatch.setattr(track_analysis, "vibenet_scores", fail_on_second)
    with pytest.raises(RuntimeError, match="simulated"):
        _build(library, out)
    assert (out / "manifest.jsonl").read_bytes() == manifest_before
    assert (out / "features.npz").read_bytes() == features_before
    col = load_collection(out, kind="music")
    assert len(col) == 4 and all(col.path(r).is_file() for r in col)
    monkeypatch.setattr(track_analysis, "vibenet_scores", real)
    rep = _build(library, out)
    assert (rep.processed, rep.reused, rep.tracks) == (3, 4, 7)


def test_cli_build_and_errors(library: Path, tmp_path: Path, capsys):
    out = tmp_path / "cli"
    assert cli_main(["catalog", "build", str(library / "album"), "--out", str(out), "--excerpt-seconds", "6",
                     "--licence", "CC-BY-4.0", "--quiet"]) == 0
    assert "2 tracks" in capsys.readouterr().out                           # high.flac, intro.ogg
    assert cli_main(["catalog", "build", str(tmp_path / "nowhere"), "--out", str(out)]) == 2
    assert "does not exist" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "a.txt").write_text("x")
    assert cli_main(["catalog", "build", str(empty), "--out", str(tmp_path / "e")]) == 2
    assert "no audio files" in capsys.readouterr().err
    assert cli_main(["catalog", "info", str(empty)]) == 2


def test_percentile_calibration_spreads_moods():
    rows = [{"valence_raw": v, "energy_raw": e} for v, e in
            np.random.default_rng(0).uniform([0.0, 0.3], [0.4, 0.7], size=(400, 2))]  # dark, mid-energy
    catalog.calibrate(rows)
    assert {r["mood"] for r in rows} == set(MUSIC_MOODS)
    assert min(r["valence"] for r in rows) < 0.01 and max(r["valence"] for r in rows) > 0.99


# ------------------------------------------------------------------------------ the bundled catalogue
BUNDLE = default_catalog_dir()


def _build_script():
    """scripts/build_default_catalog.py as a module."""
    import importlib.util
    import sys

    path = Path(__file__).resolve().parents[1] / "scripts" / "build_default_catalog.py"
    spec = importlib.util.spec_from_file_location("build_default_catalog", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, mod)
    spec.loader.exec_module(mod)
    return sys.modules[spec.name]


@pytest.fixture(scope="module")
def bundle():
    return load_collection(BUNDLE, kind="music")


def test_bundled_catalogue_size_sources_and_moods(bundle, capsys):
    assert len(bundle) >= 300
    assert len({r["source"] for r in bundle}) >= 15
    files = [p for p in BUNDLE.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) <= 60 * 2**20
    assert max(p.stat().st_size for p in files) <= 10 * 2**20
    ids, mat, _ = catalog.load_features(BUNDLE)
    assert sorted(ids) == sorted(r["id"] for r in bundle) and mat.shape[0] == len(bundle)
    counts = {m: sum(r["mood"] == m for r in bundle) for m in MUSIC_MOODS}
    assert min(counts.values()) >= 20, counts
    # what `esmr catalog info --json` reports, as the acceptance reads it
    assert cli_main(["catalog", "info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["tracks"] == len(bundle) >= 300 and info["size_mb"] <= 60
    assert min(info["moods"].values()) >= 20 and sum(info["licences"].values()) == len(bundle)
    assert "unknown" not in info["licences"]


def test_bundled_moods_are_what_the_calibration_gives(bundle):
    """The manifest's moods follow from its own rows (vibenet scores + descriptors) under the shipped rule."""
    from esmr_core.data import moods as mood_evidence

    rows = [dict(r) for r in bundle.rows]
    assert all(r["descriptors"]["version"] == mood_evidence.DESCRIPTOR_VERSION for r in rows)
    rep = catalog.calibrate(rows)
    assert rep["descriptors"] and rep["short"] == {}
    assert [r["mood"] for r in rows] == [r["mood"] for r in bundle.rows]
    assert [r["valence"] for r in rows] == [r["valence"] for r in bundle.rows]
    assert bundle.meta["calibration"] == catalog.CALIBRATION


def test_bundled_sources_are_free_and_never_the_reserved_voices(bundle):
    build = _build_script()
    for r in bundle:
        assert build.licence_is_free(r["licence"]), (r["id"], r["licence"])
        assert "/Sounds/" not in r["package_path"] and "voices" not in r["package_path"].lower(), r["id"]
        assert r["source"] in {p.name for p in build.PACKAGES}


def test_bundled_rows_have_licence_excerpt_and_credits(bundle):
    credits = (BUNDLE / "CREDITS.md").read_text(encoding="utf-8")
    table = {}
    for line in credits.splitlines():
        m = re.match(r"^\| (\S+) \| (.*) \| (.*) \| (.*) \| (.*) \|$", line)
        if m and m.group(1) not in ("id", "---"):
            table[m.group(1)] = (m.group(3), m.group(4))
    for r in bundle:
        assert r["licence"] and r["licence"] != "unknown", r["id"]
        assert bundle.path(r).is_file(), r["path"]
        assert r["id"] in table, f"{r['id']} missing from CREDITS.md"
        assert table[r["id"]] == (r["artist"], r["licence"]), r["id"]
        assert f"## {r['source']} " in credits
