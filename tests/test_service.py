"""The service facade and the `esmr` CLI end to end, on the bundled checkpoints and catalogue."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from esmr_core.data.manifest import load_collection
from esmr_core.emotion import EMOTIONS
from esmr_core.errors import ModelUnavailableError
from esmr_core.paths import assets_dir

ESMR = [sys.executable, "-m", "esmr_core.cli"]
EXAMPLES = assets_dir() / "examples" / "speech"


@pytest.fixture(scope="module")
def svc():
    from esmr_core.service import get_service

    return get_service()


def _example(label: str) -> Path:
    coll = load_collection(EXAMPLES, kind="speech")
    row = next(r for r in coll.rows if r["label"] == label)
    return coll.path(row)


def test_analyze_result_schema(svc):
    r = svc.analyze_speech(_example("happy"), asr=False, top_k=4)
    assert set(r["emotion"]["probabilities"]) == set(EMOTIONS)
    assert abs(sum(r["emotion"]["probabilities"].values()) - 1) < 1e-3
    assert r["emotion"]["label"] == max(r["emotion"]["probabilities"], key=r["emotion"]["probabilities"].get)
    assert all(0 <= r["vad"][k] <= 1 for k in ("valence", "arousal", "dominance"))
    mate = r["mate"]
    assert set(mate["probabilities"]) == set(EMOTIONS) and 1 <= mate["arousal"] <= 5 and 1 <= mate["valence"] <= 5
    assert mate["modalities"] == ["audio"]  # no transcript: MATE says it used the audio alone
    assert r["transcript_source"] == "none" and r["transcript"] == ""
    catalog = {row["id"] for row in svc.catalog.rows}
    assert len(r["tracks"]) == 4 and all(t["id"] in catalog and Path(t["path"]).is_file() for t in r["tracks"])
    scores = [t["score"] for t in r["tracks"]]
    assert scores == sorted(scores, reverse=True)
    assert np.isfinite([r["map"]["x"], r["map"]["y"]]).all()
    # the same clip twice gives the same answer (deterministic, nothing shared leaks between calls)
    again = svc.analyze_speech(_example("happy"), asr=False, top_k=4)
    assert [t["id"] for t in again["tracks"]] == [t["id"] for t in r["tracks"]]


def test_typed_transcript_overrides_asr(svc):
    r = svc.analyze_speech(_example("sad"), text="I am so happy today, this is wonderful!")
    assert r["transcript_source"] == "typed" and r["mate"]["modalities"] == ["audio", "text"]


def _synthesise(labels=("angry", "happy", "sad"), per_label=3):
    """Lexically neutral test-split sentences rendered with each emotion's prosody profile (held-out voices)."""
    from esmr_core.data.corpus import VOICES, plan_clips, render_audio

    voices = {v.name: v for v in VOICES}
    plan = [c for c in plan_clips(seed=0) if c.lexically_neutral and c.split == "test" and c.label in labels
            and voices[c.voice].tts == "espeak"]
    from esmr_core.audio import AudioError, from_array

    out = []
    for label in labels:
        kept = 0
        for spec in [c for c in plan if c.label == label]:
            y = render_audio(spec, voices[spec.voice])
            try:  # a few espeak renders hold under 0.5 s of voice: the service would refuse them
                from_array(y, 16000)
            except AudioError:
                continue
            out.append((label, spec.text, y))
            kept += 1
            if kept == per_label:
                break
    return out


@pytest.mark.slow
def test_angry_and_happy_voices_retrieve_more_energetic_music_than_sad(svc):
    energy = {row["id"]: row["energy_raw"] for row in svc.catalog.rows}
    means: dict[str, list[float]] = {}
    for label, text, y in _synthesise():
        r = svc.analyze_speech((16000, y), text=text, top_k=5)  # the words are neutral: only the voice tells
        means.setdefault(label, []).append(np.mean([energy[t["id"]] for t in r["tracks"]]))
    aroused = np.mean(means["angry"] + means["happy"])
    assert aroused > np.mean(means["sad"]), means


def test_map_figure_marks_the_query(svc):
    r = svc.analyze_speech(_example("angry"), asr=False)
    fig = svc.map_figure(r, kinds=["music"])
    assert any(t.name == "your voice" for t in fig.data)
    assert all(not t.name.startswith("speech") for t in fig.data if t.name != "your voice")
    point = svc.map_point(r["tracks"][0]["id"])
    assert point["kind"] == "music" and Path(point["path"]).is_file()


def _cli(*args, timeout=300):
    return subprocess.run([*ESMR, *args], capture_output=True, text=True, timeout=timeout)


def test_cli_help_lists_subcommands():
    out = _cli("--help").stdout
    for cmd in ("analyze", "sing", "catalog", "songs", "corpus", "dataset", "train", "evaluate", "index", "mate"):
        assert cmd in out


@pytest.mark.parametrize("cmd,flags", [("analyze", []), ("analyze", ["--json"]), ("sing recommend", []),
                                       ("sing recommend", ["--json"])])
def test_unreadable_file_exits_2_with_one_error_line(tmp_path, cmd, flags):
    bad = tmp_path / "notes.wav"
    bad.write_text("this is not audio\n")
    p = _cli(*cmd.split(), str(bad), *flags)
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), p.stderr


@pytest.mark.slow
def test_cli_analyze_several_paths_keeps_going_after_a_bad_one(tmp_path):
    bad = tmp_path / "empty.wav"
    bad.write_bytes(b"")
    good = _example("sad")
    p = _cli("analyze", str(good), str(bad), str(good), "--no-asr", "--json")
    assert p.returncode == 2
    rows = [json.loads(line) for line in p.stdout.splitlines()]
    assert [r["path"] for r in rows] == [str(good), str(bad), str(good)]
    assert "error" in rows[1] and "tracks" in rows[0] and rows[0]["tracks"] == rows[2]["tracks"]


@pytest.mark.slow
def test_own_music_catalogue_end_to_end(tmp_path):
    """esmr catalog build on a folder of clips, esmr index build for it, then the service answers from it."""
    import soundfile as sf

    from esmr_core.service import Service, ServiceConfig

    src = tmp_path / "my music"
    src.mkdir()
    sr = 22050
    t = np.arange(int(sr * 12)) / sr
    rng = np.random.default_rng(0)
    for i, (f0, bpm) in enumerate([(220, 60), (330, 90), (440, 140), (262, 120)]):
        beat = (np.sin(2 * np.pi * bpm / 60 * t) > 0.95).astype(float)
        y = 0.3 * np.sin(2 * np.pi * f0 * t) + 0.2 * beat * rng.normal(size=t.size)
        sf.write(src / f"track{i}.wav", y.astype(np.float32), sr)
    out = tmp_path / "catalogue"
    assert _cli("catalog", "build", str(src), "--out", str(out), "--quiet").returncode == 0
    p = _cli("index", "build", "--catalog", str(out))
    assert p.returncode == 0 and (out / "map" / "map.json").is_file(), p.stderr
    svc = Service(ServiceConfig(catalog=out, singing=False))
    r = svc.analyze_speech(_example("happy"), asr=False, top_k=3)
    assert {t["id"] for t in r["tracks"]} <= {row["id"] for row in load_collection(out).rows}
    # a catalogue without its map is refused with the command that makes one
    import shutil

    shutil.rmtree(out / "map")
    with pytest.raises(ModelUnavailableError, match="esmr index build"):
        Service(ServiceConfig(catalog=out, singing=False))


@pytest.mark.slow
def test_concurrent_requests_match_sequential_ones(svc):
    """The app serves several users at once from one service: 4 threads mixing /analyze and /sing work must
    give exactly what one-at-a-time calls give (no state shared between requests)."""
    import json as _json
    from concurrent.futures import ThreadPoolExecutor

    speech = sorted((EXAMPLES / "clips").glob("*.ogg"))[::5]
    singing = sorted((assets_dir() / "examples" / "singing" / "clips").glob("*.ogg"))[:2]

    def analyze(p):
        r = svc.analyze_speech(p, asr=False)
        return r["emotion"], r["vad"], [t["id"] for t in r["tracks"]], r["mate"]["probabilities"]

    def sing(p):
        r = svc.rank_songs(svc.analyze_singing(p))
        return r["range"], [s["id"] for s in r["songs"]]

    jobs = [(analyze, p) for p in speech] + [(sing, p) for p in singing]
    expected = [_json.dumps(f(p), sort_keys=True) for f, p in jobs]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda j: _json.dumps(j[0](j[1]), sort_keys=True), jobs * 2))
    assert got == expected * 2


def test_cli_stops_quietly_when_its_reader_goes_away():
    """`esmr ... | head`: the pipe closes early; the command ends with status 0 and no traceback."""
    import subprocess
    import sys

    code = ("import sys; from esmr_core.cli import main; sys.exit(main(['analyze', '--no-asr', "
            "'assets/examples/speech/clips/sad-words-piper-joe-deep.ogg', "
            "'assets/examples/speech/clips/happy-words-piper-joe-deep.ogg']))")
    p = subprocess.Popen([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.read(10)          # read the start of the first answer, then hang up
    p.stdout.close()
    err = p.stderr.read().decode()
    assert p.wait(timeout=300) == 0 and "Traceback" not in err, err[-2000:]


@pytest.mark.slow
def test_the_map_folder_can_be_chosen_and_a_missing_map_says_how_to_build_it(tmp_path):
    """ServiceConfig.map_dir: another checkpoint's map can live outside the catalogue (the benchmark builds one
    there, so the catalogue's own map stays the shipped checkpoint's); a folder without a map of this checkpoint
    is refused with the command that builds it there."""
    import shutil

    from esmr_core.service import Service, ServiceConfig

    with pytest.raises(ModelUnavailableError, match=r"esmr index build --checkpoint .* --out .*elsewhere"):
        Service(ServiceConfig(singing=False, map_dir=tmp_path / "elsewhere"))
    shutil.copytree(assets_dir() / "music" / "map", tmp_path / "copy")
    svc = Service(ServiceConfig(singing=False, map_dir=tmp_path / "copy"))
    clip = assets_dir() / "examples" / "speech" / "clips" / "angry-words-piper-joe-deep.ogg"
    assert set(svc.analyze_speech(str(clip), asr=False)["map"]) == {"x", "y"}
