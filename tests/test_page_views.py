"""What the page says and plays, without a browser: the shift in words, voice types, readings in words, the model
cards without front matter, songs transposed into the advised key (measured), the Voice tab's map legend."""
from __future__ import annotations

import numpy as np
import pytest

from esmr_core.singing.transpose import KeyedAudio, playback_plan, shift_audio, shift_words, voice_type


def test_shift_in_words():
    assert shift_words(0) == "the original key"
    assert shift_words(2) == "2 semitones higher"
    assert shift_words(-1) == "1 semitone lower"
    assert shift_words(-12) == "1 octave lower"
    assert shift_words(-13) == "1 octave and 1 semitone lower"
    assert shift_words(26) == "2 octaves and 2 semitones higher"


def test_voice_type_of_a_range():
    assert voice_type(40, 58) == "bass"
    assert voice_type(62, 79) == "soprano"
    assert voice_type(50, 66) == "tenor"


def test_readings_in_words():
    from demo.voice_tab import arousal_words, mate_01, summary_line, valence_words

    assert arousal_words(0.5) == "neither calm nor excited"
    assert arousal_words(0.4) == "a little calm" and arousal_words(0.9) == "very excited"
    assert valence_words(0.25) == "unpleasant" and valence_words(0.7) == "pleasant"
    assert mate_01(1.0) == 0.0 and mate_01(5.0) == 1.0 and mate_01(3.0) == 0.5
    r = {"emotion": {"label": "sad"}, "vad": {"arousal": 0.36, "valence": 0.3}}
    assert summary_line(r) == "You sound sad: a little calm and unpleasant."


def test_scarce_mood_and_mismatch_notes():
    from demo.voice_tab import mood_notes

    r = {"emotion": {"label": "happy"}, "tracks": [{"mood": "sad"}] * 5}
    notes = mood_notes(r, {"happy": 20, "sad": 300})
    assert any("little of it: 20 of its 320 tracks" in n for n in notes)
    assert any("none of these five is tagged happy" in n for n in notes)
    assert mood_notes({"emotion": {"label": "happy"}, "tracks": [{"mood": "happy"}] * 5},
                      {"happy": 100, "sad": 100}) == []


def test_model_cards_lose_their_front_matter():
    from demo.about_tab import strip_front_matter

    card = "---\nlicense: gpl-3.0\ntags: [a]\n---\n# Title\n\nBody"
    assert strip_front_matter(card) == "# Title\n\nBody"
    assert strip_front_matter("# No front matter\n---\nx") == "# No front matter\n---\nx"


def _profile(y, sr, bpo=60):
    import librosa

    c = np.abs(librosa.cqt(y, sr=sr, fmin=librosa.note_to_hz("C2"), n_bins=6 * bpo, bins_per_octave=bpo,
                           hop_length=1024))
    p = np.log1p(100 * c / (c.max() + 1e-9)).mean(axis=1)
    return p - p.mean()


def _lag(a, b, bpo=60, max_st=8):
    span = max_st * bpo // 12

    def corr(lag):
        x, y = (a[: len(a) - lag], b[lag:]) if lag >= 0 else (a[-lag:], b[: len(b) + lag])
        return float(x @ y / (np.linalg.norm(x) * np.linalg.norm(y) + 1e-12))

    return max(range(-span, span + 1), key=corr) * 12 / bpo


def test_shift_audio_moves_a_tone_by_the_semitones_asked():
    sr = 16000
    t = np.arange(sr * 2) / sr
    y = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    z = shift_audio(y, sr, 3)
    assert len(z) == len(y)
    spec = np.abs(np.fft.rfft(z[sr // 2: sr + sr // 2]))
    peak = np.argmax(spec) * sr / sr   # 1 s window: 1 Hz bins
    assert abs(12 * np.log2(peak / 220) - 3) < 0.25


@pytest.mark.slow
def test_keyed_audio_plays_the_song_in_the_advised_key(svc, tmp_path):
    from esmr_core.audio import load_music

    rows = svc.singer.rows
    row = rows[0]
    song = {"id": row["id"], "transpose_semitones": -2, "octave": -1}
    plan = playback_plan(row, song)
    assert plan["key_shift"] == -2 and plan["sing_shift"] == -14
    guide = next(g for g in row["guides"] if g["path"] == plan["guide"][0])
    assert plan["guide"][1] == -14 - int(guide["transpose_semitones"])
    files = KeyedAudio(tmp_path).render(svc.singer.songs_dir, row, song)
    assert {p.suffix for p in tmp_path.iterdir()} == {".ogg"} and len(list(tmp_path.iterdir())) == 3
    sr = 24000
    shifted = load_music(files["backing"], sr=sr)
    original = load_music(svc.singer.songs_dir / row["backing"], sr=sr)
    assert abs(_lag(_profile(original, sr), _profile(shifted, sr)) - (-2)) <= 0.5
    again = KeyedAudio(tmp_path).render(svc.singer.songs_dir, row, song)   # cached: the same files
    assert again["backing"] == files["backing"] and len(list(tmp_path.iterdir())) == 3


@pytest.mark.slow
def test_the_voice_maps_top_five_have_a_legend_entry(svc):
    from demo.voice_tab import voice_map_figure

    clip = next((svc.config.reference / "clips").glob("*.ogg"))
    r = svc.analyze_speech(str(clip), asr=False)
    fig = voice_map_figure(svc, r)
    rings = [t for t in fig.data if t.name == "your top 5 matches"]
    assert len(rings) == 1 and list(rings[0].customdata) == [t["id"] for t in r["tracks"]]
    assert fig.layout.xaxis.range is not None and fig.layout.xaxis.autorange is False


def test_examples_are_offered_honestly():
    """Singing: at least 4 example singers over at least 2 songs; speech: two groups whose captions give the clip's
    length, within the length the input asks for (3-30 s)."""
    import json

    from demo.sing_tab import singing_examples
    from demo.voice_tab import speech_example_rows
    from esmr_core.paths import assets_dir

    sing = singing_examples(assets_dir() / "examples" / "singing")
    assert len(sing) >= 4 and len({cap.split(" · ")[1] for _, cap in sing}) >= 2, sing
    folder = assets_dir() / "examples" / "speech"
    rows = {str(folder / r["path"]): r for r in map(json.loads, (folder / "manifest.jsonl").read_text().splitlines())}
    for group in ("words", "voice-only"):
        clips = speech_example_rows(folder, group)
        assert len(clips) == 7
        for path, cap, words, secs in clips:
            assert 3 <= secs <= 30 and cap.endswith(f"{secs:.0f} s") and words == rows[path]["text"]
