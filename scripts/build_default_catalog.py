"""Rebuild the bundled music catalogue (assets/music) from Debian's music packages (`make catalog`).

For each package: `apt-get download` into a temporary folder (no root needed), `dpkg -x`, find the music files,
read /usr/share/doc/PKG/copyright (DEP-5 `Files`/`Copyright`/`License` stanzas; the last matching stanza wins, as
the format specifies; for the few packages whose copyright file predates DEP-5, the authors and licence are
transcribed in NON_DEP5 below and the script checks that those words really appear in the file), then call
esmr_core.data.catalog.build_catalog with per-file artist/licence and write assets/music/CREDITS.md.

Run: .venv/bin/python scripts/build_default_catalog.py [--out assets/music] [--debs DIR] [--max-tracks N]
"""
from __future__ import annotations

import argparse
import configparser
import fnmatch
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from esmr_core.data.catalog import SourceTrack, build_catalog, catalog_info
from esmr_core.data.manifest import load_collection
from esmr_core.errors import EsmrError

PACKAGES = ("wesnoth-1.16-music", "warzone2100-music", "planetblupi-music-ogg", "singularity-music",
            "hyperrogue-music", "drascula-music", "fretsonfire-songs-sectoid", "fretsonfire-songs-muldjord")
BRIGHT = ("planetblupi-music-ogg",)        # always kept when --max-tracks trims the catalogue
MIN_SECONDS = 20.0                          # shorter files are stingers (victory/defeat jingles), not music
MAX_MB = 40.0
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
    "GPL-2+": "https://www.gnu.org/licenses/old-licenses/gpl-2.0.html",
    "GPL-3+": "https://www.gnu.org/licenses/gpl-3.0.html",
    "CC-BY-SA-3.0": "https://creativecommons.org/licenses/by-sa/3.0/",
    "Expat": "https://opensource.org/licenses/MIT",
}


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


def dep5_lookup(stanzas: list[dict[str, str]], installed: str) -> tuple[str, str] | None:
    """(copyright, licence short name) of the last Files stanza matching the installed path or any suffix of
    it (copyright files name paths of the source tree, e.g. music/x.ogg for usr/share/game/music/x.ogg)."""
    parts = installed.strip("/").split("/")
    suffixes = ["/".join(parts[i:]) for i in range(len(parts))]
    found = None
    for st in stanzas:
        if "Files" not in st:
            continue
        patterns = st["Files"].split()
        if any(fnmatch.fnmatchcase(s, p) for p in patterns for s in suffixes):
            found = (st.get("Copyright", "").replace("\n", "; "), st.get("License", "").split("\n")[0])
    return found


def licence_text(stanzas: list[dict[str, str]], name: str) -> str | None:
    for st in stanzas:
        if set(st) == {"License"} and st["License"].split("\n")[0] == name:
            return "\n".join(line if line != "." else "" for line in st["License"].split("\n")[1:])
    return None


def authors(copyright_field: str) -> str:
    """Holders without years: '1996-2008, Alcachofa Soft S.L.' -> 'Alcachofa Soft S.L.'."""
    names = [re.sub(r"^[\d\s,\-–]+(?=\D)", "", part).strip(" ,") for part in copyright_field.split(";")]
    return "; ".join(n for n in names if n)


def music_files(pkg: str, root: Path) -> list[tuple[Path, str]]:
    """(file, title) of the music in an extracted package."""
    out = []
    if pkg.startswith("fretsonfire"):
        for song in sorted(root.rglob("song.ogg")):
            ini = configparser.ConfigParser(interpolation=None)
            ini.read(song.parent / "song.ini", encoding="utf-8")
            out.append((song, ini.get("song", "name", fallback=song.parent.name)))
        return out
    if pkg == "warzone2100-music":
        titles = {}
        for album in root.rglob("album.json"):
            for t in json.loads(album.read_text(encoding="utf-8"))["tracks"]:
                titles[(album.parent / t["filename"]).resolve()] = (t["title"], t["author"])
        for f in sorted(root.rglob("*.opus")):
            out.append((f, titles.get(f.resolve(), (f.stem.replace("_", " ").title(), None))[0]))
        return out
    for f in sorted(root.rglob("*.ogg")):
        rel = str(f.relative_to(root))
        if pkg == "hyperrogue-music" and "/music/" not in rel:
            continue                                    # sounds/ are effects, not music
        if pkg == "drascula-music" and "/audio/" not in rel:
            continue                                    # de/en/es/fr/it hold byte-identical copies
        stem = f.stem
        if pkg == "hyperrogue-music":
            title = stem.split("-")[-1].title()
        elif pkg == "drascula-music":
            title = f"Drascula {stem.replace('track', 'Track ')}"
        elif pkg == "planetblupi-music-ogg":
            title = f"Planet Blupi {stem.replace('music', 'Music ')}"
        else:
            title = stem.replace("_", " ").replace("-", " ").title()
        out.append((f, title))
    return out


def collect(pkg: str, debs: Path, work: Path) -> tuple[list[SourceTrack], dict]:
    """Download (unless present), extract, and describe one package's music."""
    deb = next(iter(sorted(debs.glob(f"{pkg}_*.deb"))), None)
    if deb is None:
        subprocess.run(["apt-get", "download", pkg], cwd=debs, check=True, capture_output=True)
        deb = next(iter(sorted(debs.glob(f"{pkg}_*.deb"))))
    root = work / pkg
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True)
    version = deb.stem.split("_")[1].replace("%3a", ":")
    copyright_text = (root / "usr/share/doc" / pkg / "copyright").read_text(encoding="utf-8", errors="replace")
    stanzas = parse_dep5(copyright_text)
    info = {"package": pkg, "version": version, "dep5": stanzas is not None, "licence_texts": {}}
    wz_authors = {}
    if pkg == "warzone2100-music":
        for album in root.rglob("album.json"):
            for t in json.loads(album.read_text(encoding="utf-8"))["tracks"]:
                wz_authors[(album.parent / t["filename"]).resolve()] = t["author"]
    tracks = []
    for f, title in music_files(pkg, root):
        try:
            import soundfile as sf
            if sf.info(str(f)).duration < MIN_SECONDS:
                continue
        except RuntimeError:
            continue
        installed = "/" + str(f.relative_to(root))
        if stanzas is not None:
            holder, lic = dep5_lookup(stanzas, installed) or ("", "")
            artist = wz_authors.get(f.resolve()) or authors(holder)
            text = licence_text(stanzas, lic)
            if text and lic not in LICENCE_URLS and not lic.startswith(("GPL", "CC")):
                info["licence_texts"][lic] = text
        else:
            artist, lic, phrases = NON_DEP5[pkg]
            flat = " ".join(copyright_text.split())
            missing = [p for p in phrases if p not in flat]
            if missing:
                raise SystemExit(f"{pkg}: copyright file no longer says {missing}; update NON_DEP5")
            holder = artist
        if not lic:
            raise SystemExit(f"{pkg}: no licence for {installed} in its copyright file")
        tracks.append(SourceTrack(f, pkg, title=title, artist=artist, licence=lic,
                                  extra={"copyright": holder, "package_version": version,
                                         "package_path": installed}))
    return tracks, info


def span_select(rows: list[dict], k: int) -> set[str]:
    """Greedy farthest-point choice of k rows in the raw (valence, energy) plane; BRIGHT packages first."""
    pts = np.array([[r["valence_raw"], r["energy_raw"]] for r in rows])
    chosen = [i for i, r in enumerate(rows) if r["source"] in BRIGHT][:k]
    if not chosen:
        chosen = [int(np.argmax(pts[:, 0]))]
    dist = np.min(np.linalg.norm(pts[:, None] - pts[chosen][None], axis=2), axis=1)
    while len(chosen) < min(k, len(rows)):
        i = int(np.argmax(dist))
        chosen.append(i)
        dist = np.minimum(dist, np.linalg.norm(pts - pts[i], axis=1))
    return {rows[i]["id"] for i in chosen}


def write_credits(out: Path, infos: list[dict]) -> None:
    col = load_collection(out, kind="music")
    lines = ["# Credits: the bundled music catalogue", "",
             "Every track below is a 30-second excerpt (re-encoded to Ogg/Opus, mono, downmixed, faded in/out) "
             "of music from a Debian package, extracted with `scripts/build_default_catalog.py`. Authors and "
             "licences are as the package's `/usr/share/doc/PACKAGE/copyright` file gives them. The excerpts "
             "are modified versions of the originals (cut and re-encoded).", ""]
    for info in infos:
        rows = [r for r in col.rows if r["source"] == info["package"]]
        if not rows:
            continue
        lines += [f"## {info['package']} {info['version']}", "",
                  f"Copyright file: /usr/share/doc/{info['package']}/copyright "
                  f"({'DEP-5' if info['dep5'] else 'free-form'}).", "",
                  "| id | title | authors | licence | file in package |", "|---|---|---|---|---|"]
        for r in sorted(rows, key=lambda r: r["id"]):
            lines.append(f"| {r['id']} | {r['title']} | {r['artist']} | {r['licence']} | {r['package_path']} |")
        lines.append("")
        for lic in sorted({r["licence"] for r in rows}):
            if lic in LICENCE_URLS:
                lines.append(f"- {lic}: {LICENCE_URLS[lic]}")
            elif lic in info["licence_texts"]:
                lines += [f"- {lic}, full text as in the copyright file:", "", "```",
                          info["licence_texts"][lic], "```"]
        lines.append("")
    (out / "CREDITS.md").write_text("\n".join(lines), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="assets/music")
    ap.add_argument("--debs", default=None, help="folder with already downloaded .deb files (else a temp dir)")
    ap.add_argument("--max-tracks", type=int, default=0, help="trim to N tracks spanning the plane (0 = all)")
    ap.add_argument("--excerpt-seconds", type=float, default=30.0)
    ap.add_argument("--bitrate-kbps", type=float, default=48.0)
    args = ap.parse_args(argv)
    t0 = time.time()
    out = Path(args.out)
    with tempfile.TemporaryDirectory(prefix="esmr-debs-") as tmp:
        debs = Path(args.debs) if args.debs else Path(tmp)
        tracks, infos = [], []
        for pkg in PACKAGES:
            t, info = collect(pkg, debs, Path(tmp) / "x")
            print(f"{pkg}: {len(t)} music files", file=sys.stderr)
            tracks += t
            infos.append(info)
        meta = {"built_by": "scripts/build_default_catalog.py", "packages": list(PACKAGES)}
        try:
            rep = build_catalog(tracks, out, excerpt_seconds=args.excerpt_seconds,
                                bitrate_kbps=args.bitrate_kbps, name="debian-game-music", meta=meta)
            if args.max_tracks and rep.tracks > args.max_tracks:
                keep = span_select(load_collection(out, kind="music").rows, args.max_tracks)
                by_path = {r["original_path"]: r["id"] for r in load_collection(out, kind="music").rows}
                tracks = [t for t in tracks if by_path.get(str(t.path)) in keep]
                rep = build_catalog(tracks, out, excerpt_seconds=args.excerpt_seconds,
                                    bitrate_kbps=args.bitrate_kbps, name="debian-game-music", meta=meta)
        except EsmrError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        # original paths point into the temporary extraction: store the package path instead
        col = load_collection(out, kind="music")
        for r in col.rows:
            r["original_path"] = f"{r['source']}:{r['package_path']}"
        col.save()
        write_credits(out, infos)
    info = catalog_info(out)
    print(json.dumps(info, indent=1))
    print(f"{rep.processed} analysed, {rep.reused} reused, {rep.duplicates} duplicates, failed {rep.failed}; "
          f"{time.time() - t0:.0f} s", file=sys.stderr)
    if info["size_mb"] > MAX_MB:
        print(f"error: {out} is {info['size_mb']} MB, over the {MAX_MB} MB budget: lower --bitrate-kbps",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
