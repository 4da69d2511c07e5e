"""The singable-song catalogue: note names, FluidSynth rendering (checked by pitch tracking), the bundled
catalogue in assets/songs, a tiny real build, and `esmr songs info`."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from esmr_core.cli import main
from esmr_core.data.manifest import REQUIRED, load_collection, validate_rows
from esmr_core.data.harmony import harmonise
from esmr_core.data.notes import midi_to_name, name_to_midi
from esmr_core.data.render import render_melody, render_song_voice
from esmr_core.data.songs import (
    LICENCES, build_catalogue, catalogue_info, essen_songs, render_song, select_songs, write_credits,
)
from esmr_core.errors import EsmrError
from esmr_core.paths import REPO_ROOT

SONGS = REPO_ROOT / "assets" / "songs"
SR = 16000


def _pitch_track(y: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """(times s, MIDI pitch or nan) by swift-f0 at 16 kHz."""
    import librosa
    from swift_f0 import SwiftF0

    if sr != SR:
        y = librosa.resample(y, orig_sr=sr, target_sr=SR)
    res = SwiftF0().detect(y.astype(np.float32), SR, 46.875, 2000.0)
    midi = np.where(res.confidence > 0.5, 69 + 12 * np.log2(np.maximum(res.pitch_hz, 1e-3) / 440.0), np.nan)
    return np.asarray(res.timestamps), midi


def _note_errors(y, sr, notes, bpm, transpose=0, min_dur_s=0.3):
    """Per note lasting >= min_dur_s: |median detected pitch - expected| in semitones (inf: nothing voiced)."""
    times, midi = _pitch_track(y, sr)
    errors = []
    for m, start, dur in notes:
        a, b = start * 60 / bpm, (start + dur) * 60 / bpm
        if b - a < min_dur_s or b > times[-1]:
            continue
        sel = midi[(times > a + 0.25 * (b - a)) & (times < b - 0.15 * (b - a))]
        sel = sel[~np.isnan(sel)]
        errors.append(abs(float(np.median(sel)) - (m + transpose)) if sel.size else np.inf)
    return np.array(errors)


def test_note_names_round_trip():
    for m in range(128):
        assert name_to_midi(midi_to_name(m)) == m
    assert name_to_midi("A4") == 69 and name_to_midi("C4") == 60 and name_to_midi("c#4") == 61
    assert name_to_midi("Bb3") == name_to_midi("A#3") == name_to_midi("B-3") == name_to_midi("B♭3") == 58
    assert midi_to_name(21) == "A0" and midi_to_name(0) == "C-1"
    for bad in ("H4", "C", "", "C#x", "G10"):
        with pytest.raises(EsmrError):
            name_to_midi(bad)
    with pytest.raises(EsmrError):
        midi_to_name(128)


@pytest.mark.parametrize("program,transpose", [(53, 0), (52, 12), (54, -12)])
def test_render_melody_has_the_melody_pitch(program, transpose):
    notes = [(60, 0.0, 1.0), (62, 1.0, 1.0), (64, 2.0, 1.0), (67, 3.0, 1.0), (65, 4.0, 2.0)]
    y = render_melody(notes, program, transpose, SR, tempo_bpm=90.0)
    assert y.dtype == np.float32 and y.ndim == 1
    assert abs(len(y) / SR - (6 * 60 / 90 + 0.8)) < 0.05
    assert 0.01 < np.abs(y).max() <= 0.95
    errors = _note_errors(y, SR, notes, 90.0, transpose)
    assert len(errors) == len(notes) and np.all(errors <= 1.0), errors


def test_render_melody_rejects_bad_input():
    with pytest.raises(EsmrError):
        render_melody([], 53, 0, SR)
    with pytest.raises(EsmrError):
        render_melody([(60, 0.0, 1.0)], 200, 0, SR)
    with pytest.raises(EsmrError):
        render_melody([(120, 0.0, 1.0)], 53, 12, SR)


def test_harmonise_picks_the_chords_of_an_arpeggiated_cadence():
    # C major: bars of C-E-G, F-A-C, G-B-D, C -> I IV V I
    melody = [(60, 0, 1), (64, 1, 1), (67, 2, 1), (65, 3, 1), (69, 4, 1), (72, 5, 1),
              (67, 6, 1), (71, 7, 1), (74, 8, 1), (72, 9, 3)]
    bass, upper = harmonise(melody, 0, "major", [0, 3, 6, 9], 12.0, 48)
    assert [m % 12 for m, _, _ in bass[1]] == [0, 5, 7, 0]
    assert bass[0] == 32 and upper[0] == 48
    assert all(m < 65 for m, _, _ in upper[1]) and all(36 <= m < 48 for m, _, _ in bass[1])


# ---- the bundled catalogue ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def catalogue():
    if not (SONGS / "collection.json").is_file():
        pytest.fail("assets/songs is missing; build it with `make songs`")
    return load_collection(SONGS, "songs")


def test_bundled_catalogue_is_complete(catalogue):
    rows = catalogue.rows
    assert len(rows) >= 60
    validate_rows("songs", rows)
    credits = (SONGS / "CREDITS.md").read_text(encoding="utf-8")
    for r in rows:
        assert set(REQUIRED["songs"]) <= set(r)
        assert r["licence"].strip() and "public domain" in r["licence"]
        assert f"| {r['id']} | {r['title']} |" in credits
        assert name_to_midi(r["low_note"]) == r["low_midi"] and name_to_midi(r["high_note"]) == r["high_midi"]
        pitches = [n[0] for n in r["melody"]]
        assert (min(pitches), max(pitches)) == (r["low_midi"], r["high_midi"])
        assert r["high_midi"] - r["low_midi"] <= 19
        assert catalogue.path(r, "backing").is_file()
        regs = {g["register"]: g for g in r["guides"]}
        assert set(regs) == {"high", "low"}
        assert regs["high"]["transpose_semitones"] - regs["low"]["transpose_semitones"] == 12
        for g in r["guides"]:
            assert catalogue.path(g).is_file()
            assert name_to_midi(g["low_note"]) == r["low_midi"] + g["transpose_semitones"]
        assert 5 < r["duration_s"] <= 32
    # variety: keys, modes, tempi, sources, lyrics
    assert len({r["key"] for r in rows}) >= 8
    assert sum(r["mode"] == "minor" for r in rows) >= 10
    assert max(r["tempo_bpm"] for r in rows) - min(r["tempo_bpm"] for r in rows) >= 40
    assert len({r["collection"] for r in rows}) >= 2 and sum(bool(r["lyrics"]) for r in rows) >= 20
    # the four guide voices the singing recommender expects
    assert {g["voice"] for r in rows for g in r["guides"]} == {
        "high-choir-aahs", "low-synth-voice", "high-voice-oohs", "low-choir-aahs"}


def test_bundled_catalogue_has_no_noncommercial_material(catalogue):
    """The default (bundled) selection holds only encodings free of non-commercial terms."""
    allowed = {LICENCES["bach"][0], LICENCES["cc0"][0]}
    credits = (SONGS / "CREDITS.md").read_text(encoding="utf-8")
    assert catalogue.meta.get("noncommercial_songs") == 0
    for r in catalogue.rows:
        text = f"{r['licence']} {r['licence_detail']}".lower()
        assert r["noncommercial"] is False and r["licence"] in allowed, r["id"]
        assert "non-commercial" not in r["licence"].lower() and "noncommercial" not in text, r["id"]
        assert not r["corpus_path"].startswith("essenFolksong") and not r["id"].startswith("essen-")
        if r["licence"] == LICENCES["cc0"][0]:  # CC0 claim backed by the file's own rights field
            assert "rights field" in text and "cc0" in text.split("rights field")[1]
    assert "NON-COMMERCIAL" not in credits and "essenFolksong" not in credits
    assert catalogue_info(SONGS)["noncommercial"] == 0


def test_noncommercial_songs_are_opt_in_and_marked(tmp_path):
    assert all(not s["corpus_path"].startswith("essen") for s in select_songs(limit=3))
    song = essen_songs(limit=1)[0]
    row = render_song(song, 0, tmp_path, max_seconds=6.0)
    assert row["noncommercial"] is True and "NON-COMMERCIAL" in row["licence"]
    write_credits(tmp_path, [row])
    credits = (tmp_path / "CREDITS.md").read_text(encoding="utf-8")
    assert "WARNING" in credits and f"| {row['id']} | {row['title']} | {row['corpus_path']} | NON-COMMERCIAL" in credits
    with pytest.raises(EsmrError, match="bundled"):  # never into the bundled folder
        build_catalogue(SONGS, limit=1, include_noncommercial=True)


def test_bundled_catalogue_size():
    files = [f for f in SONGS.rglob("*") if f.is_file()]
    assert sum(f.stat().st_size for f in files) <= 20e6
    assert max(f.stat().st_size for f in files) <= 10e6


def test_bundled_guide_sings_its_melody(catalogue):
    row = catalogue.rows[0]
    notes = [n for n in row["melody"] if n[1] < min(row["excerpt_beats"], 12.0)]
    for guide in row["guides"]:
        y, sr = sf.read(catalogue.path(guide), dtype="float32")
        assert abs(len(y) / sr - row["duration_s"]) < 0.1
        errors = _note_errors(y[: 10 * sr], sr, notes, row["tempo_bpm"], guide["transpose_semitones"])
        assert len(errors) >= 4 and np.mean(errors <= 1.0) >= 0.8, (guide["voice"], errors)
    backing, sr = sf.read(catalogue.path(row, "backing"), dtype="float32")
    assert abs(len(backing) / sr - row["duration_s"]) < 0.1 and np.sqrt(np.mean(backing**2)) > 0.005


def test_song_voice_render_is_aligned_with_the_backing(catalogue):
    row = catalogue.rows[1]
    y = render_song_voice(row, 53, -12, SR)
    assert abs(len(y) / SR - (row["excerpt_beats"] * 60 / row["tempo_bpm"] + 0.8)) < 0.05


def test_selection_is_deterministic_and_matches_the_bundle(catalogue):
    assert [s["id"] for s in select_songs(limit=3)] == [r["id"] for r in catalogue.rows[:3]]


def test_build_one_song(tmp_path):
    coll = build_catalogue(tmp_path / "songs", limit=1, max_seconds=8.0)
    assert len(coll) == 1
    row = load_collection(tmp_path / "songs", "songs").rows[0]
    files = [row["backing"]] + [g["path"] for g in row["guides"]]
    assert sorted(p.name for p in (tmp_path / "songs" / "audio").iterdir()) == sorted(Path(f).name for f in files)
    for f in files:
        info = sf.info(str(tmp_path / "songs" / f))
        assert info.channels == 1 and abs(info.duration - row["duration_s"]) < 0.1 and info.duration <= 9.0
    assert row["id"] in (tmp_path / "songs" / "CREDITS.md").read_text(encoding="utf-8")


# ---- CLI ------------------------------------------------------------------------------------------------------
def test_cli_info_json(capsys, catalogue):
    assert main(["songs", "info", str(SONGS), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert {"songs", "voices", "size_mb", "lowest_note", "highest_note"} <= set(info)
    assert info["songs"] == len(catalogue) and info["voices"] >= 2 and 0 < info["size_mb"] <= 20
    assert name_to_midi(info["lowest_note"]) == min(r["low_midi"] for r in catalogue.rows)
    assert info == catalogue_info(SONGS)


def test_cli_info_on_a_folder_without_catalogue(capsys, tmp_path):
    assert main(["songs", "info", str(tmp_path)]) == 2
    assert "esmr songs build" in capsys.readouterr().err
