"""Rebuild the bundled music catalogue (assets/music) from Debian's music packages (`make catalog`).

For each package in PACKAGES: `apt-get download` into the --debs folder (kept, so a second run downloads
nothing; no root needed), extract only its music folders and its copyright file (`dpkg-deb --fsys-tarfile | tar
-x`, the same unpacking `dpkg -x` does, restricted to the paths we read: some data packages are 0.6-0.9 GB),
find the music files, read /usr/share/doc/PKG/copyright (DEP-5 `Files`/`Copyright`/`License` stanzas; the last
matching stanza wins, as the format specifies; for the few packages whose copyright file predates DEP-5, the
authors and licence are transcribed in NON_DEP5 below and the script checks that those words really appear in
the file), then call esmr_core.data.catalog.build_catalog with per-file artist/licence (incremental: tracks
already in the catalogue are not decoded again), assign moods (esmr_core.data.moods, from vibenet valence/
energy and the tracks' own descriptors), and write assets/music/CREDITS.md.

Every licence must allow redistribution of modified copies (GPL, CC-BY, CC-BY-SA, CC0, Expat, BSD-like);
a non-commercial or no-derivatives licence stops the build.

Run: .venv/bin/python scripts/build_default_catalog.py [--out assets/music] [--debs data/catalog/debs]
     [--packages PKG ...] (default: all of PACKAGES; a few make a scratch catalogue, e.g. to survey a package)
"""
from __future__ import annotations

import argparse
import configparser
import fnmatch
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from esmr_core.data.catalog import CALIBRATION, SourceTrack, build_catalog, calibrate, catalog_info
from esmr_core.data.moods import DESCRIPTOR_VERSION, describe_file
from esmr_core.data.manifest import load_collection
from esmr_core.errors import EsmrError

MIN_SECONDS = 20.0                          # shorter files are stingers (victory/defeat jingles), not music
MAX_MB = 60.0                               # the whole assets/music folder
MAX_FILE_MB = 10.0
# Never taken into the catalogue, whatever a package's layout: the Hedgewars voice packs (and its other sounds)
# are reserved for evaluating the speech models (bench/realvoice.py); only its Data/Music is catalogue material.
FORBIDDEN = ("*/hedgewars/Data/Sounds/*", "*/[Vv]oices/*")


@dataclass(frozen=True)
class Package:
    """Where a package keeps its music and how to read it.

    music: globs (relative to the extraction root, e.g. usr/share/games/x/music/*.ogg) of the music files.
    extract: tar wildcards of what to unpack besides the copyright file; () = the whole package.
    source_map: (installed prefix, source-tree prefix): copyright files name source paths (data/music/x.ogg)
        that the package installs elsewhere (usr/share/games/x/music/x.ogg).
    exclude: fnmatch patterns on the file name: tempo-doubled copies of another track, stingers, duplicates.
    team: the artist to show for files that only the catch-all `Files: *` stanza covers, whose Copyright field
        lists every code author of the project (the full list goes into CREDITS.md).
    why: what the package brings (shown in CREDITS.md).
    """

    name: str
    music: tuple[str, ...]
    extract: tuple[str, ...] = ()
    source_map: tuple[str, str] | None = None
    exclude: tuple[str, ...] = ()
    team: str | None = None
    why: str = ""


def _games(*parts: str) -> tuple[str, ...]:
    return tuple(f"./usr/share/games/{p}" for p in parts)


PACKAGES: tuple[Package, ...] = (
    # --- the first catalogue (issue #4): orchestral, film-like, mostly dark ---
    Package("wesnoth-1.16-music", ("usr/share/games/wesnoth/1.16/data/core/music/*.ogg",)),
    Package("warzone2100-music", ("usr/share/games/warzone2100/music/**/*.opus",)),
    Package("planetblupi-music-ogg", ("usr/share/planetblupi/music/*.ogg",)),
    Package("singularity-music", ("usr/share/games/singularity/music/**/*.ogg",)),
    Package("hyperrogue-music", ("usr/share/hyperrogue/music/*.ogg",)),
    Package("drascula-music", ("usr/share/scummvm/drascula/audio/*.ogg",)),    # de/en/es/... hold copies
    Package("fretsonfire-songs-sectoid", ("usr/share/games/fretsonfire/data/songs/**/song.ogg",)),
    Package("fretsonfire-songs-muldjord", ("usr/share/games/fretsonfire/data/songs/**/song.ogg",)),
    # --- issue #12: brighter and more varied sources, chosen for what the first catalogue lacked ---
    Package("supertux-data", ("usr/share/games/supertux2/music/*/*.ogg",), _games("supertux2/music/*"),
            ("usr/share/games/supertux2/", "data/"), why="platformer: playful, bright; ghost/castle levels eerie"),
    Package("supertuxkart-data", ("usr/share/games/supertuxkart/data/music/*.ogg",),
            _games("supertuxkart/data/music/*"), ("usr/share/games/supertuxkart/", ""),
            exclude=("*_fast.ogg", "farm_f.ogg"), team="the SuperTuxKart team",
            why="kart racing: upbeat, funny, festive (the *_fast files, the same tunes sped up, are left out)"),
    Package("hedgewars-data", ("usr/share/games/hedgewars/Data/Music/*.ogg",), _games("hedgewars/Data/Music/*"),
            ("usr/share/games/hedgewars/", "share/hedgewars/"), team="the Hedgewars Project",
            why="cartoon artillery game: comic, themed (halloween, hell, oriental, pirate); music only, never "
                "its voice packs"),
    Package("extremetuxracer-data", ("usr/share/games/etr/music/*.ogg",), _games("etr/music/*"),
            ("usr/share/games/etr/", "data/"), team="the Extreme Tux Racer team",
            why="downhill racing: calm and spunky"),
    Package("frozen-bubble-data", ("usr/share/games/frozen-bubble/snd/*zik*.ogg",),
            _games("frozen-bubble/snd/*zik*"), ("usr/share/games/frozen-bubble/", "share/"),
            team="the Frozen-Bubble team", why="puzzle game: playful"),
    Package("neverball-common", ("usr/share/games/neverball/bgm/*.ogg",), _games("neverball/bgm/*"),
            ("usr/share/games/neverball/", "data/"), team="the Neverball team", why="ball-rolling game: light"),
    Package("freedroidrpg-data", ("usr/share/freedroidrpg/data/sound/music/*.ogg",),
            ("./usr/share/freedroidrpg/data/sound/music/*",), ("usr/share/freedroidrpg/", ""),
            team="the FreedroidRPG team", why="RPG: ambient, battle, hell fortress"),
    Package("lincity-ng-data", ("usr/share/games/lincity-ng/music/default/*.ogg",),
            _games("lincity-ng/music/*"), ("usr/share/games/lincity-ng/", "data/"), why="city builder: calm, blues"),
    Package("naev-data", ("usr/share/naev/dat/snd/music/*.ogg",), ("./usr/share/naev/dat/snd/music/*",),
            ("usr/share/naev/", ""), team="Edgar Simo-Serra and the Naev contributors",
            why="space trading: ambient, peaceful, tense, combat"),
)
# Looked at for issue #12 and left out (a survey build of every usable one: scripts/mood_evidence.py on it).
LEFT_OUT = {
    "widelands-data": "30 usable tracks (GPL-2+ / CC-BY-SA-3.0), pastoral; the survey put 13 in sad and 9 in tender, "
                      "the moods the catalogue already has most of",
    "colobot-common-sounds": "21 tracks (GPL-3+), ambient electronic; 13 of them sad in the survey",
    "redeclipse-data": "12 tracks (CC-BY-SA-3.0) of electronic rock, 11 exciting in the survey; an 862 MB package, "
                       "and the catalogue fits 60 MB without them",
    "chromium-bsu-data": "its two music files are loops of 4 and 7 s",
    "pingus-data": "music as tracker modules (.it, .s3m), which nothing in the stack renders",
    "fb-music-high": "a tracker module (.xm)",
    "openarena-data": "no music in its data archives (pak0.pk3); openarena-081-misc has none either",
    "neverball-data": "holds the levels; the music is in neverball-common (taken)",
    "0ad-data": "the music sits inside a 3.2 GB zip in a 1.4 GB package",
    "gcompris-qt-data": "no plain audio files (all packed in Qt resource files), and its recorded voices are "
                        "reserved for evaluating the speech models",
}
# Copyright files that are not DEP-5: (authors, licence, phrases that must occur in the file).
NON_DEP5 = {
    "wesnoth-1.16-music": ("David White and the Battle for Wesnoth contributors", "GPL-2+",
                           ("David White", "GNU General Public License version 2", "any later version")),
    "singularity-music": ("Max McCracken", "CC-BY-SA-3.0",
                          ("Max McCracken", "CREATIVE COMMONS", "Attribution-ShareAlike 3.0")),
    "fretsonfire-songs-sectoid": ("Carlos Viola Iborra", "Expat",
                                  ("Carlos", "Viola Iborra", "Permission is hereby granted, free of charge")),
    "fretsonfire-songs-muldjord": ("El Senator (Muldjord)", "CC-BY-SA-3.0",
                                   ("El Senator", "Attribution ShareAlike licence 3.0")),
}
LICENCE_URLS = {
    "GPL": "https://www.gnu.org/licenses/gpl-3.0.html (no version stated: any version)",
    "GPL-2": "https://www.gnu.org/licenses/old-licenses/gpl-2.0.html",
    "GPL-2+": "https://www.gnu.org/licenses/old-licenses/gpl-2.0.html",
    "GPL-3": "https://www.gnu.org/licenses/gpl-3.0.html",
    "GPL-3+": "https://www.gnu.org/licenses/gpl-3.0.html",
    "CC-BY-3.0": "https://creativecommons.org/licenses/by/3.0/",
    "CC-BY-SA": "https://creativecommons.org/licenses/by-sa/4.0/ (no version stated)",
    "CC-BY-SA-3.0": "https://creativecommons.org/licenses/by-sa/3.0/",
    "CC-BY-SA-3.0+": "https://creativecommons.org/licenses/by-sa/3.0/",
    "CC-BY-SA-4.0": "https://creativecommons.org/licenses/by-sa/4.0/",
    "CC0": "https://creativecommons.org/publicdomain/zero/1.0/",
    "CC0-1.0": "https://creativecommons.org/publicdomain/zero/1.0/",
    "Expat": "https://opensource.org/licenses/MIT",
}
# Licences that allow redistributing modified copies (with attribution / share-alike as they require).
FREE = re.compile(r"^(GPL(-[23](\.0)?\+?)?|CC-BY(-SA)?(-[34]\.0\+?)?|CC0(-1\.0)?|Expat|MIT|BSD-[23]-clause|PD|"
                  r"Drascula-License)$", re.IGNORECASE)


def licence_is_free(name: str) -> bool:
    """True when every alternative of a licence expression (`A or B`) is an accepted free licence and none is
    non-commercial or no-derivatives."""
    if re.search(r"\b(NC|ND)\b|noncommercial|no-?deriv", name, re.IGNORECASE):
        return False
    return all(FREE.match(part.strip()) for part in re.split(r"\s+(?:or|OR|and|AND)\s+", name.strip()))


def parse_dep5(text: str) -> list[dict[str, str]] | None:
    """Stanzas of a DEP-5 copyright file as dicts (continuation lines joined with newlines); None if the
    file is not DEP-5 (no `Format:` header)."""
    if not re.match(r"^Format:\s*\S*copyright-format", text):
        return None
    stanzas = []
    for block in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        key = None
        for line in block.splitlines():
            if line[:1] in (" ", "\t") and key:
                fields[key] += "\n" + line.strip()
            elif ":" in line:
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
        if fields:
            stanzas.append(fields)
    return stanzas


def dep5_lookup(stanzas: list[dict[str, str]], installed: str,
                source_map: tuple[str, str] | None = None) -> tuple[str, str, str] | None:
    """(copyright, licence short name, Files field) of the last Files stanza matching the installed path or
    its source-tree path under `source_map` (copyright files name paths of the source tree, e.g. data/music/x.ogg
    for usr/share/games/x/music/x.ogg); without a source_map, any suffix of the installed path."""
    path = installed.strip("/")
    if source_map and path.startswith(source_map[0]):
        candidates = [path, source_map[1] + path[len(source_map[0]):]]
    else:       # suffixes can match a stanza of an unrelated source folder: give new packages a source_map
        parts = path.split("/")
        candidates = ["/".join(parts[i:]) for i in range(len(parts))]
    found = None
    for st in stanzas:
        if "Files" not in st:
            continue
        patterns = [p[2:] if p.startswith("./") else p for p in st["Files"].split()]
        if any(fnmatch.fnmatchcase(s, p) for p in patterns for s in candidates):
            found = (st.get("Copyright", "").replace("\n", "; "), st.get("License", "").split("\n")[0].strip(),
                     st["Files"])
    return found


def licence_text(stanzas: list[dict[str, str]], name: str) -> str | None:
    for st in stanzas:
        if set(st) == {"License"} and st["License"].split("\n")[0] == name:
            return "\n".join(line if line != "." else "" for line in st["License"].split("\n")[1:])
    return None


def authors(copyright_field: str) -> str:
    """Holders without years: '1996-2008, Alcachofa Soft S.L.' -> 'Alcachofa Soft S.L.'."""
    names = [re.sub(r"^[©\d\s,\-–]+(?=\D)", "", part).strip(" ,") for part in copyright_field.split(";")]
    return "; ".join(n for n in names if n)


# ---------------------------------------------------------------------------------------------- titles
def _plain_title(stem: str) -> str:
    return re.sub(r"\s+", " ", stem.replace("_", " ").replace("-", " ")).strip().title()


def _xml_attr(text: str, attr: str) -> str | None:
    m = re.search(rf'\b{attr}\s*=\s*"([^"]*)"', text)
    return m.group(1).replace("&amp;", "&").strip() if m else None


def music_files(pkg: Package, root: Path) -> list[tuple[Path, str, str | None]]:
    """(file, title, artist or None) of the music in an extracted package, sorted by path."""
    files = sorted({f for g in pkg.music for f in root.glob(g) if f.is_file()})
    files = [f for f in files if not any(fnmatch.fnmatchcase(f.name, x) for x in pkg.exclude)]
    for f in files:
        if any(fnmatch.fnmatchcase("/" + str(f.relative_to(root)), x) for x in FORBIDDEN):
            raise SystemExit(f"{pkg.name}: {f} is in a folder the catalogue must never take")
    name = pkg.name
    out = []
    if name.startswith("fretsonfire"):
        for song in files:
            ini = configparser.ConfigParser(interpolation=None)
            ini.read(song.parent / "song.ini", encoding="utf-8")
            out.append((song, ini.get("song", "name", fallback=song.parent.name), None))
        return out
    meta: dict[Path, tuple[str, str | None]] = {}
    if name == "warzone2100-music":
        for album in root.rglob("album.json"):
            for t in json.loads(album.read_text(encoding="utf-8"))["tracks"]:
                meta[(album.parent / t["filename"]).resolve()] = (t["title"], t["author"])
    elif name == "supertuxkart-data":                  # <music title="..." composer="..." file="x.ogg"/>
        for desc in root.rglob("*.music"):
            text = desc.read_text(encoding="utf-8", errors="replace")
            if (fname := _xml_attr(text, "file")) and (title := _xml_attr(text, "title")):
                meta[(desc.parent / fname).resolve()] = (title, _xml_attr(text, "composer"))
    elif name == "hedgewars-data":                     # Data/Music/credits.txt: File.ogg=Composer
        credits = next(iter(root.rglob("Music/credits.txt")), None)
        by_name = {}
        if credits:
            for line in credits.read_text(encoding="utf-8", errors="replace").splitlines():
                if "=" in line:
                    k, _, v = line.partition("=")
                    by_name[k.strip().lower()] = re.sub(r"\s*<[^>]*>", "", v).strip()
        for f in files:
            meta[f.resolve()] = (_plain_title(f.stem), by_name.get(f.name.lower()))
    for f in files:
        stem = f.stem
        if f.resolve() in meta:
            title, artist = meta[f.resolve()]
        elif name == "hyperrogue-music":
            title, artist = stem.split("-")[-1].title(), None
        elif name == "drascula-music":
            title, artist = f"Drascula {stem.replace('track', 'Track ')}", None
        elif name == "planetblupi-music-ogg":
            title, artist = f"Planet Blupi {stem.replace('music', 'Music ')}", None
        elif name == "lincity-ng-data" and stem.count(" - ") == 2:    # "01 - pronobozo - lincity"
            _, artist, title = (s.strip() for s in stem.split(" - "))
            title = title.title()
        else:
            title, artist = _plain_title(stem), None
        out.append((f, title, artist))
    return out


# ---------------------------------------------------------------------------------------------- packages
def fetch(pkg: str, debs: Path) -> Path:
    """The package's .deb in `debs`, downloaded with apt-get (no root needed) unless already there."""
    deb = next(iter(sorted(debs.glob(f"{pkg}_*.deb"))), None)
    if deb is None:
        try:
            subprocess.run(["apt-get", "download", pkg], cwd=debs, check=True, capture_output=True, text=True)
        except FileNotFoundError:
            raise SystemExit("apt-get is missing: `make catalog` needs a Debian/Ubuntu machine") from None
        except subprocess.CalledProcessError as exc:
            raise SystemExit(f"apt-get download {pkg} failed: {exc.stderr.strip()[-300:]}") from None
        deb = next(iter(sorted(debs.glob(f"{pkg}_*.deb"))))
    return deb


def extract(pkg: Package, deb: Path, root: Path) -> None:
    """Unpack the package's music folders and its copyright file into `root` (all of it when pkg.extract
    is empty), as dpkg -x would."""
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    if not pkg.extract:
        subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True)
        return
    wanted = [*pkg.extract, f"./usr/share/doc/{pkg.name}/*"]
    tar = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", str(root), "--wildcards", *wanted], stdin=tar.stdout, check=True)
    tar.stdout.close()
    if tar.wait() != 0:
        raise SystemExit(f"dpkg-deb could not read {deb}")


def collect(pkg: Package, debs: Path, work: Path) -> tuple[list[SourceTrack], dict]:
    """Download (unless present), extract, and describe one package's music."""
    import soundfile as sf

    deb = fetch(pkg.name, debs)
    root = work / pkg.name
    extract(pkg, deb, root)
    version = deb.stem.split("_")[1].replace("%3a", ":")
    copyright_text = (root / "usr/share/doc" / pkg.name / "copyright").read_text(encoding="utf-8",
                                                                                 errors="replace")
    stanzas = parse_dep5(copyright_text)
    info = {"package": pkg.name, "version": version, "dep5": stanzas is not None, "licence_texts": {},
            "why": pkg.why, "catch_all": None}
    tracks = []
    for f, title, own_artist in music_files(pkg, root):
        try:
            if sf.info(str(f)).duration < MIN_SECONDS:
                continue
        except (RuntimeError, sf.LibsndfileError):
            continue
        installed = "/" + str(f.relative_to(root))
        if stanzas is not None:
            holder, lic, files_field = dep5_lookup(stanzas, installed, pkg.source_map) or ("", "", "")
            if files_field.strip() == "*" and pkg.team:
                artist = own_artist or pkg.team
                info["catch_all"] = authors(holder)
            else:
                artist = own_artist or authors(holder)
            text = licence_text(stanzas, lic)
            if text and lic not in LICENCE_URLS:
                info["licence_texts"][lic] = text
        else:
            artist, lic, phrases = NON_DEP5[pkg.name]
            flat = " ".join(copyright_text.split())
            missing = [p for p in phrases if p not in flat]
            if missing:
                raise SystemExit(f"{pkg.name}: copyright file no longer says {missing}; update NON_DEP5")
            holder = artist
        if not lic:
            raise SystemExit(f"{pkg.name}: no licence for {installed} in its copyright file")
        if not licence_is_free(lic):
            raise SystemExit(f"{pkg.name}: {installed} is under {lic!r}, which does not allow redistributing "
                             f"modified copies; exclude it (Package.exclude) or drop the package")
        tracks.append(SourceTrack(f, pkg.name, title=title, artist=artist, licence=lic,
                                  extra={"copyright": holder, "package_version": version,
                                         "package_path": installed}))
    return tracks, info


def previous_descriptors(out: Path) -> dict[str, dict]:
    """content_key -> descriptors of the catalogue already in `out` (empty when there is none)."""
    try:
        rows = load_collection(out, kind="music").rows
    except (FileNotFoundError, ValueError):
        return {}
    return {r["content_key"]: r["descriptors"] for r in rows
            if "descriptors" in r and r["descriptors"].get("version") == DESCRIPTOR_VERSION}


def add_descriptors(col, previous: dict[str, dict]) -> int:
    """Give every row its mood-evidence descriptors (esmr_core.data.moods.describe of its excerpt), reusing
    those of an unchanged excerpt; returns how many excerpts were analysed."""
    n = 0
    for r in col.rows:
        if r["content_key"] in previous:
            r["descriptors"] = previous[r["content_key"]]
        else:
            r["descriptors"] = describe_file(col.path(r))
            n += 1
    return n


def write_credits(out: Path, infos: list[dict]) -> None:
    col = load_collection(out, kind="music")
    lines = ["# Credits: the bundled music catalogue", "",
             "Every track below is a 30-second excerpt (re-encoded to Ogg/Opus, mono, downmixed, faded in/out) "
             "of music from a Debian package, extracted with `scripts/build_default_catalog.py`. Authors and "
             "licences are as the package's `/usr/share/doc/PACKAGE/copyright` file gives them (where a "
             "package names the composer of a track in its own metadata, that name is the author shown). The "
             "excerpts are modified versions of the originals (cut and re-encoded).", ""]
    for info in infos:
        rows = [r for r in col.rows if r["source"] == info["package"]]
        if not rows:
            continue
        lines += [f"## {info['package']} {info['version']}", ""]
        if info.get("why"):
            lines += [f"{info['why'][0].upper()}{info['why'][1:]}.", ""]
        lines += [f"Copyright file: /usr/share/doc/{info['package']}/copyright "
                  f"({'DEP-5' if info['dep5'] else 'free-form'}).", ""]
        if info.get("catch_all"):
            lines += ["Tracks that the copyright file covers only by its `Files: *` stanza are credited to the "
                      f"project; that stanza's holders: {info['catch_all'].rstrip('.')}.", ""]
        lines += ["| id | title | authors | licence | file in package |", "|---|---|---|---|---|"]
        for r in sorted(rows, key=lambda r: r["id"]):
            lines.append(f"| {r['id']} | {r['title']} | {r['artist']} | {r['licence']} | {r['package_path']} |")
        lines.append("")
        for lic in sorted({r["licence"] for r in rows}):
            parts = [p.strip() for p in re.split(r"\s+(?:or|OR)\s+", lic)]
            if all(p in LICENCE_URLS for p in parts):
                lines.append(f"- {lic}: " + "; ".join(LICENCE_URLS[p] for p in parts))
            elif lic in info["licence_texts"]:
                lines += [f"- {lic}, full text as in the copyright file:", "", "```",
                          info["licence_texts"][lic], "```"]
            else:
                raise SystemExit(f"{info['package']}: no URL or text for licence {lic!r}; add it to LICENCE_URLS")
        lines.append("")
    (out / "CREDITS.md").write_text("\n".join(lines), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="assets/music")
    ap.add_argument("--debs", default=None, help="folder for the downloaded .deb files (kept; else a temp dir)")
    ap.add_argument("--packages", nargs="+", default=None, metavar="PKG",
                    help="these packages of PACKAGES (default all), e.g. a scratch catalogue of a few")
    ap.add_argument("--excerpt-seconds", type=float, default=30.0)
    ap.add_argument("--bitrate-kbps", type=float, default=48.0)
    args = ap.parse_args(argv)
    t0 = time.time()
    out = Path(args.out)
    packages = [p for p in PACKAGES if args.packages is None or p.name in args.packages]
    if args.packages and len(packages) != len(set(args.packages)):
        unknown = sorted(set(args.packages) - {p.name for p in PACKAGES})
        raise SystemExit(f"no recipe for package(s) {unknown} in PACKAGES; known: "
                         f"{', '.join(p.name for p in PACKAGES)}")
    with tempfile.TemporaryDirectory(prefix="esmr-debs-") as tmp:
        debs = Path(args.debs) if args.debs else Path(tmp)
        debs.mkdir(parents=True, exist_ok=True)
        tracks, infos = [], []
        for pkg in packages:
            t, info = collect(pkg, debs, Path(tmp) / "x")
            print(f"{pkg.name}: {len(t)} music files", file=sys.stderr)
            tracks += t
            infos.append(info)
        meta = {"built_by": "scripts/build_default_catalog.py", "packages": [p.name for p in packages]}
        previous = previous_descriptors(out)
        try:
            rep = build_catalog(tracks, out, excerpt_seconds=args.excerpt_seconds,
                                bitrate_kbps=args.bitrate_kbps, name="debian-game-music", meta=meta)
        except EsmrError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        # original paths point into the temporary extraction: store the package path instead; add the mood
        # evidence descriptors (kept from the previous manifest for unchanged excerpts) and assign moods
        col = load_collection(out, kind="music")
        for r in col.rows:
            r["original_path"] = f"{r['source']}:{r['package_path']}"
        described = add_descriptors(col, previous)
        calibrate(col.rows)
        col.meta["calibration"] = CALIBRATION
        col.save()
        print(f"descriptors: {described} excerpts analysed", file=sys.stderr)
        write_credits(out, infos)
    info = catalog_info(out)
    print(json.dumps(info, indent=1))
    print(f"{rep.processed} analysed, {rep.reused} reused, {rep.duplicates} duplicates, failed {rep.failed}; "
          f"{time.time() - t0:.0f} s", file=sys.stderr)
    biggest = max(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 2**20
    if info["size_mb"] > MAX_MB or biggest > MAX_FILE_MB:
        print(f"error: {out} is {info['size_mb']} MB (largest file {biggest:.1f} MB), over the {MAX_MB} MB / "
              f"{MAX_FILE_MB} MB budget: lower --bitrate-kbps or take fewer tracks", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
