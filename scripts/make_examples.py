"""Bundle the example clips the app offers (gr.Examples) and draws on the map (reference speech).

    python scripts/make_examples.py speech --corpus data/bootstrap     # -> assets/examples/speech
    python scripts/make_examples.py singing                              # -> assets/examples/singing

Speech: held-out test-split clips of the bootstrap corpus (unseen sentences and voices), as small Ogg/Opus
files: per emotion one 5-9 s clip whose voice and words carry it (words known), and real voices made
emotional by rule without words (see make_speech).
Singing: melodies of the bundled song catalogue rendered by synthetic singers (FluidSynth voice patches)
at a low and a high register. The TTS and singing clips are synthesised by this project (GPL-3.0-or-later); the real voices keep
their recordings' licence (per row).
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


def _join(clips: list[np.ndarray], sr: int, pause_s: float = 0.35) -> np.ndarray:
    gap = np.zeros(int(pause_s * sr), np.float32)
    out = []
    for i, y in enumerate(clips):
        out += ([gap] if i else []) + [np.asarray(y, np.float32)]
    return np.concatenate(out)


def make_speech(corpus: Path, out: Path, voice_only: int = 1) -> None:
    """Two groups, every clip held out from training (test split: unseen sentences and unseen voices):
    - "words": one per emotion, three of its test sentences spoken by the piper test voice and joined
      (5-9 s), offered with the words as the known transcript: voice and words both carry the emotion;
    - "voice-only": real human voices of the test split made emotional by rule (no English words), offered
      without a transcript: the harder case, where only the voice can tell."""
    coll = load_collection(corpus, kind="speech")
    test = coll.split("test")
    if out.exists():
        shutil.rmtree(out)
    ex = new_collection(out, "speech", name="example-speech", source=str(corpus.name),
                        description="held-out test clips of the bootstrap corpus (unseen sentences and voices): "
                                    "group 'words' (TTS, words known) and 'voice-only' (real voices, no words)",
                        licence=LICENCE)
    keys = ("label", "valence", "arousal", "dominance")
    for label in EMOTIONS:
        rows = sorted((r for r in test if r["label"] == label and r.get("tts") == "piper"
                       and not r.get("lexically_neutral") and _usable(coll.path(r))), key=lambda r: r["id"])[:3]
        if not rows:
            continue
        parts, sr = [], None
        for r in rows:
            y, sr = sf.read(coll.path(r), dtype="float32")
            parts.append(y)
        y = _join(parts, sr)
        rid = f"{label}-words-{rows[0]['voice']}"
        rel = Path("clips") / f"{rid}.ogg"
        _write_opus(out / rel, y, sr)
        ex.rows.append({"id": rid, **{k: rows[0][k] for k in keys}, "text": " ".join(r["text"] for r in rows),
                        "voice": rows[0]["voice"], "tts": "piper", "group": "words", "lexically_neutral": False,
                        "sentence_id": "+".join(r["sentence_id"] for r in rows),
                        "duration_s": round(len(y) / sr, 3), "path": str(rel), "split": "example", "licence": LICENCE})
    real = [r for r in test if r.get("tts") == "real"]
    for label in EMOTIONS:
        rows = sorted((r for r in real if r["label"] == label and 2.5 <= float(r.get("duration_s", 0)) <= 9
                       and not r.get("channel") and _usable(coll.path(r))), key=lambda r: r["id"])
        for row in rows[len(rows) // 2:][:voice_only]:
            y, sr = sf.read(coll.path(row), dtype="float32")
            rid = f"{label}-voice-{row['voice']}"
            rel = Path("clips") / f"{rid}.ogg"
            _write_opus(out / rel, y, sr)
            ex.rows.append({"id": rid, **{k: row[k] for k in keys}, "text": "", "voice": row["voice"],
                            "tts": "real", "group": "voice-only", "source_id": row["id"],
                            "duration_s": round(len(y) / sr, 3), "path": str(rel), "split": "example",
                            "licence": row.get("licence", LICENCE)})
    ex.save()
    print(f"{len(ex.rows)} speech examples in {out}")


def make_singing(songs: Path, out: Path) -> None:
    from esmr_core.data.render import render_song_voice

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
