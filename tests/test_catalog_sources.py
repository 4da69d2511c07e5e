"""The bundled catalogue's builder (scripts/build_default_catalog.py): DEP-5 copyright lookup, the licence check,
what it takes from a package (and what it must never take), and a whole build from a small .deb made here."""
from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from esmr_core.data.manifest import load_collection

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def build():
    path = ROOT / "scripts" / "build_default_catalog.py"
    spec = importlib.util.spec_from_file_location("build_default_catalog", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, mod)
    spec.loader.exec_module(mod)
    return sys.modules[spec.name]


COPYRIGHT = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: toygame

Files: *
Copyright: 2001-2020 Alice Coder
           2010 Bob Coder
License: GPL-2+

Files: data/music/*
Copyright: 2015, Carol Composer
License: CC-BY-SA-3.0

Files:
 data/music/special.ogg
 data/music/other.ogg
Copyright: Dan Drummer
License: CC0-1.0

Files: ./data/music/nc_*.ogg
Copyright: Eve
License: CC-BY-NC-SA-3.0

Files: engine/*
Copyright: Frank
License: Expat

License: GPL-2+
 This program is free software.
"""


def test_dep5_lookup_with_source_map(build):
    st = build.parse_dep5(COPYRIGHT)
    smap = ("usr/share/games/toy/", "data/")
    look = lambda p: build.dep5_lookup(st, p, smap)[:2]                      # noqa: E731
    assert look("/usr/share/games/toy/music/a.ogg") == ("2015, Carol Composer", "CC-BY-SA-3.0")
    assert look("/usr/share/games/toy/music/special.ogg") == ("Dan Drummer", "CC0-1.0")     # last stanza wins
    assert look("/usr/share/games/toy/music/nc_1.ogg")[1] == "CC-BY-NC-SA-3.0"             # "./" patterns
    assert look("/usr/share/games/toy/sounds/x.ogg") == ("2001-2020 Alice Coder; 2010 Bob Coder", "GPL-2+")
    assert build.authors("2001-2020 Alice Coder; 2010 Bob Coder") == "Alice Coder; Bob Coder"
    # without a source map any suffix may match: "engine/*" catches a music file under .../engine/...
    assert build.dep5_lookup(st, "/usr/share/toy/engine/music/a.ogg")[1] == "Expat"
    assert build.dep5_lookup(st, "/usr/share/toy/engine/music/a.ogg", ("usr/share/toy/", "data/"))[1] == "GPL-2+"
    assert build.parse_dep5("This package was debianized by someone.") is None


def test_licence_check(build):
    for ok in ("GPL-2", "GPL-2+", "GPL-3+", "GPL", "CC-BY-SA-3.0", "CC-BY-SA-4.0", "CC-BY-3.0", "CC0-1.0", "Expat",
               "GPL-3 or CC-BY-3.0", "GPL-2+ OR CC-BY-SA", "Drascula-License"):
        assert build.licence_is_free(ok), ok
    for bad in ("CC-BY-NC-SA-3.0", "CC-BY-ND-4.0", "CC-BY-NC-3.0", "GPL-2 or CC-BY-NC-3.0", "proprietary",
                "non-commercial", ""):
        assert not build.licence_is_free(bad), bad


def _tone(path: Path, seconds: float, freq: float = 330.0, sr: int = 22050) -> None:
    t = np.arange(int(seconds * sr)) / sr
    y = 0.2 * np.sin(2 * np.pi * freq * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 1.5 * t))
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, y.astype(np.float32), sr, format="OGG", subtype="VORBIS")


def test_music_files_metadata_and_the_reserved_voices(build, tmp_path):
    pkg = next(p for p in build.PACKAGES if p.name == "hedgewars-data")
    music = tmp_path / "usr/share/games/hedgewars/Data/Music"
    _tone(music / "City.ogg", 1.0)
    _tone(music / "Sheep.ogg", 1.0)
    (music / "credits.txt").write_text("City.ogg=HSR <http://example.org>\n", encoding="utf-8")
    found = {f.name: (title, artist) for f, title, artist in build.music_files(pkg, tmp_path)}
    assert found == {"City.ogg": ("City", "HSR"), "Sheep.ogg": ("Sheep", None)}
    # a package recipe that reached into the voice packs stops the build
    voices = build.Package("hedgewars-data", ("usr/share/games/hedgewars/Data/**/*.ogg",))
    _tone(tmp_path / "usr/share/games/hedgewars/Data/Sounds/voices/Default/Hello.ogg", 1.0)
    with pytest.raises(SystemExit, match="never take"):
        build.music_files(voices, tmp_path)
    stk = next(p for p in build.PACKAGES if p.name == "supertuxkart-data")
    d = tmp_path / "usr/share/games/supertuxkart/data/music"
    _tone(d / "farm.ogg", 1.0)
    _tone(d / "farm_fast.ogg", 1.0)
    (d / "farm.music").write_text('<music title = "Golden Fields"\n composer = "Krobonil &amp; OzoneOne"\n'
                                  ' file = "farm.ogg"/>', encoding="utf-8")
    got = [(f.name, t, a) for f, t, a in build.music_files(stk, tmp_path)]
    assert got == [("farm.ogg", "Golden Fields", "Krobonil & OzoneOne")]      # the sped-up copy is left out


def test_makefile_lists_the_script_packages(build):
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    m = re.search(r"^CATALOG_DEBS\s*:=\s*((?:.*\\\n)*.*)$", text, re.MULTILINE)
    listed = m.group(1).replace("\\\n", " ").split()
    assert listed == [p.name for p in build.PACKAGES]
    assert not set(listed) & set(build.LEFT_OUT)


def _deb(tmp: Path, debs: Path) -> Path:
    """A small supertuxkart-data .deb: two 25 s tunes with .music titles, a 5 s stinger, its copyright file."""
    root = tmp / "pkgroot"
    music = root / "usr/share/games/supertuxkart/data/music"
    _tone(music / "bay.ogg", 25.0, 330.0)
    _tone(music / "snowy.ogg", 25.0, 440.0)
    _tone(music / "win_theme.ogg", 5.0, 550.0)                        # a stinger: under MIN_SECONDS
    (music / "bay.music").write_text('<music title="Bay" composer="0zone0ne" file="bay.ogg"/>', encoding="utf-8")
    doc = root / "usr/share/doc/supertuxkart-data"
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n"
        "Files: *\nCopyright: 2006-2022 SuperTuxKart-Team\n           2002 Someone Else\nLicense: GPL-3+\n\n"
        "Files: data/music/bay.ogg\nCopyright: 0zone0ne\nLicense: CC-BY-SA-3.0\n", encoding="utf-8")
    (root / "DEBIAN").mkdir()
    (root / "DEBIAN/control").write_text(
        "Package: supertuxkart-data\nVersion: 9.9-1\nArchitecture: all\nMaintainer: Test <t@example.org>\n"
        "Description: test package\n", encoding="utf-8")
    deb = debs / "supertuxkart-data_9.9-1_all.deb"
    subprocess.run(["dpkg-deb", "--build", "--root-owner-group", str(root), str(deb)], check=True,
                   capture_output=True)
    return deb


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb (Debian/Ubuntu)")
def test_build_from_a_deb_is_incremental(build, tmp_path, capsys):
    debs = tmp_path / "debs"
    debs.mkdir()
    _deb(tmp_path, debs)
    out = tmp_path / "cat"
    args = ["--out", str(out), "--debs", str(debs), "--packages", "supertuxkart-data", "--excerpt-seconds", "8"]
    assert build.main(args) == 0
    col = load_collection(out, kind="music")
    rows = {r["title"]: r for r in col.rows}
    assert set(rows) == {"Bay", "Snowy"}                                  # the 5 s stinger is left out
    assert (rows["Bay"]["artist"], rows["Bay"]["licence"]) == ("0zone0ne", "CC-BY-SA-3.0")
    assert (rows["Snowy"]["artist"], rows["Snowy"]["licence"]) == ("the SuperTuxKart team", "GPL-3+")
    assert rows["Bay"]["original_path"] == \
        "supertuxkart-data:/usr/share/games/supertuxkart/data/music/bay.ogg"
    assert all(r["descriptors"]["version"] == "1" and r["mood"] for r in col.rows)
    credits = (out / "CREDITS.md").read_text(encoding="utf-8")
    assert "## supertuxkart-data 9.9-1" in credits and "SuperTuxKart-Team; Someone Else" in credits
    assert "| CC-BY-SA-3.0 | /usr/share/games/supertuxkart/data/music/bay.ogg |" in credits
    info = json.loads(capsys.readouterr().out)
    assert info["tracks"] == 2 and info["licences"] == {"CC-BY-SA-3.0": 1, "GPL-3+": 1}
    # a second run decodes nothing and recomputes no descriptor
    assert build.main(args) == 0
    err = capsys.readouterr().err
    assert "0 analysed, 2 reused" in err and "descriptors: 0 excerpts analysed" in err
    with pytest.raises(SystemExit, match="no recipe"):
        build.main(["--out", str(out), "--debs", str(debs), "--packages", "not-a-package"])
