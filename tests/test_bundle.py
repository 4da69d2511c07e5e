"""What the repository ships: every bundled item has its licence, files exist, sizes stay within budget."""
import json
import subprocess


import pytest

from esmr_core.data.manifest import load_collection
from esmr_core.paths import REPO_ROOT, assets_dir, checkpoints_dir

MB = 1024 * 1024


@pytest.mark.parametrize("folder,kind", [("music", "music"), ("songs", "songs"),
                                         ("examples/speech", "speech"), ("examples/singing", "speech")])
def test_every_bundled_item_has_a_licence_and_its_files(folder, kind):
    coll = load_collection(assets_dir() / folder, kind=kind)
    assert len(coll) > 0
    for row in coll.rows:
        assert str(row.get("licence", "")).strip(), row["id"]
        paths = [coll.path(row, "backing")] + [coll.path(g) for g in row["guides"]] if kind == "songs" \
            else [coll.path(row)]
        assert all(p.is_file() for p in paths), row["id"]


def test_checkpoints_carry_config_weights_and_a_model_card():
    folders = [p for p in checkpoints_dir().iterdir() if p.is_dir()]
    assert {"esmr-default", "mate-default", "sscl-timbre", "sscl-expression", "tjae"} <= {p.name for p in folders}
    for p in folders:
        assert (p / "model.safetensors").is_file() and (p / "README.md").is_file()
        json.loads((p / "config.json").read_text())
        assert "licence" in (p / "README.md").read_text().lower() or "license" in (p / "README.md").read_text().lower()


def test_no_tracked_file_over_10_mb_and_no_caches():
    files = subprocess.run(["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True).stdout.split()
    if not files:
        pytest.skip("not a git checkout")
    big = [f for f in files if (REPO_ROOT / f).is_file() and (REPO_ROOT / f).stat().st_size > 10 * MB]
    assert not big
    assert not [f for f in files if "__pycache__" in f or f.startswith((".venv/", "data/", ".gradio/"))]
    music = sum((REPO_ROOT / f).stat().st_size for f in files if f.startswith("assets/music/"))
    songs = sum((REPO_ROOT / f).stat().st_size for f in files if f.startswith("assets/songs/"))
    assert music <= 60 * MB and songs <= 20 * MB
