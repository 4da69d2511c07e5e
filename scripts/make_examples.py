"""Bundle the example clips the app offers (gr.Examples) and draws on the map (reference speech).

    python scripts/make_examples.py speech --corpus data/bootstrap     # -> assets/examples/speech
    python scripts/make_examples.py singing                              # -> assets/examples/singing

Speech: 4 held-out test-split clips per emotion of the bootstrap corpus (unseen sentences and voices):
per emotion one lexically neutral and one emotional sentence from each engine, as small Ogg/Opus files.
Singing: melodies of the bundled song catalogue rendered by synthetic singers (FluidSynth voice patches)
at a low and a high register. Everything here is synthesised by this project (GPL-3.0-or-later).
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
import soundfile as sf

from esmr_core.audio import AudioError, load_audio
from esmr_core.data.manifest import load_collection, new_collection
from esmr_core.emotion import EMOTIONS
from esmr_core.paths import assets_dir, default_songs_dir

LICENCE = "GPL-3.0-or-later (synthesised by this project)"


def _write_opus(path: Path, samples: np.ndarray, sr: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, samples.astype(np.float32), sr, format="OGG", subtype="OPUS")


def _usable(path: Path) -> bool:
    """The app must accept every example (a few espeak clips hold under 0.5 s of voice)."""
    try:
        load_audio(path)
        return True
    except AudioError:
        return False


def make_speech(corpus: Path, out: Path, per_emotion: int = 4) -> None:
    coll = load_collection(corpus, kind="speech")
    test = coll.split("test")
    if out.exists():
        shutil.rmtree(out)
    ex = new_collection(out, "speech", name="example-speech", source=str(corpus.name),
                        description="held-out test clips of the bootstrap corpus (unseen sentences and voices)",
                        licence=LICENCE)
    for label in EMOTIONS:
        chosen = []
        for lex in (True, False):
            for tts in ("piper", "espeak"):
                rows = sorted((r for r in test if r["label"] == label and bool(r.get("lexically_neutral")) == lex
                               and r["tts"] == tts and _usable(coll.path(r))), key=lambda r: r["id"])
                if rows:
                    chosen.append(rows[len(rows) // 2])
        for row in chosen[:per_emotion]:
            samples, sr = sf.read(coll.path(row), dtype="float32")
            rel = Path("clips") / f"{row['id']}.ogg"
            _write_opus(out / rel, samples, sr)
            keep = {k: row[k] for k in ("id", "label", "valence", "arousal", "dominance", "text", "voice", "tts",
                                        "lexically_neutral", "sentence_id", "duration_s")}
            ex.rows.append({**keep, "path": str(rel), "split": "example", "licence": LICENCE})
    ex.save()
    print(f"{len(ex.rows)} speech examples in {out}")


def make_singing(songs: Path, out: Path) -> None:
    from esmr_core.data.songs import render_song_voice

    coll = load_collection(songs, kind="songs")
    rows = sorted(coll.rows, key=lambda r: r["id"])
    if out.exists():
        shutil.rmtree(out)
    ex = new_collection(out, "speech", name="example-singing", licence=LICENCE,
                        description="song melodies sung by synthetic singers (FluidSynth voice patches)")
    # (singer, GM program, semitones): a bass (~G2-D4) and a soprano (the chorale melodies, ~C4-G5) register
    singers = [("bass-voice-oohs", 54, -17), ("soprano-choir-aahs", 53, 0)]
    for row in rows[:2]:
        for name, program, shift in singers:
            sr = 24000
            y = render_song_voice(row, program=program, transpose=shift, sr=sr)
            y = y[: sr * 15]
            rel = Path("clips") / f"{row['id']}-{name}.ogg"
            _write_opus(out / rel, y / max(1e-6, float(np.abs(y).max())) * 0.8, sr)
            ex.rows.append({"id": f"{row['id']}-{name}", "path": str(rel), "label": "neutral", "valence": 0.5,
                            "arousal": 0.5, "dominance": 0.5, "text": row["title"], "voice": name, "split": "example",
                            "song_id": row["id"], "transpose_semitones": shift, "licence": LICENCE})
    ex.save()
    print(f"{len(ex.rows)} singing examples in {out}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["speech", "singing"])
    ap.add_argument("--corpus", type=Path, default=Path("data/bootstrap"))
    ap.add_argument("--songs", type=Path, default=default_songs_dir())
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    if args.what == "speech":
        make_speech(args.corpus, args.out or assets_dir() / "examples" / "speech")
    else:
        make_singing(args.songs, args.out or assets_dir() / "examples" / "singing")


if __name__ == "__main__":
    main()
