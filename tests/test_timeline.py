"""Long recordings: utterances, readings in context, smoothed sections, soundtrack and cue sheet (issue #15).

The end-to-end tests synthesise a recording that joins a calm, an angry and a happy passage (4 held-out sentences
each, several voices: piper and espeak-ng as the bootstrap corpus renders them; esmr_core.data.passages) and
check properties, not exact numbers: section boundaries at the joins, the arousal order, a soundtrack that
changes there and nowhere else.
"""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from esmr_core import timeline as T
from esmr_core.errors import AudioError, EsmrError

SR = 16000


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    from esmr_core.data.passages import synth_passages

    rec = synth_passages(seed=0, exact=True)   # calm, angry, happy: 4 held-out sentences each, 4 voices taking turns
    path = tmp_path_factory.mktemp("timeline") / "three-passages.wav"
    sf.write(path, rec.samples, SR, subtype="PCM_16")
    return {"path": path, "samples": rec.samples, "joins": rec.joins, "script": rec.script, "labels": rec.labels,
            "duration": rec.duration_s}


@pytest.fixture(scope="module")
def with_script(svc, recording):
    return svc.analyze_timeline(str(recording["path"]), script=recording["script"])


@pytest.fixture(scope="module")
def audio_only(svc, recording):
    return svc.analyze_timeline(str(recording["path"]))


def track_changes(cues, duration: float, step: float = 0.1) -> list[float]:
    """Times at which the soundtrack's track changes, sampling the cue sheet every `step` seconds."""
    def playing(t):
        return next((c["track_id"] for c in cues if c["start_s"] <= t < c["end_s"]), None)

    times = np.arange(0.0, duration, step)
    tracks = [playing(t) for t in times]
    return [float(t) for t, a, b in zip(times[1:], tracks[:-1], tracks[1:]) if a != b]


# ---- end to end -------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_sections_follow_the_passages(with_script, recording):
    r = with_script
    secs = r["sections"]
    assert len(secs) == 3, [(s["start_s"], s["emotion"]) for s in secs]
    for s, join in zip(secs[1:], recording["joins"]):
        assert abs(s["start_s"] - join) <= 1.5, (s["start_s"], join)
    calm, angry, happy = secs
    assert calm["arousal"] < angry["arousal"] and calm["arousal"] < happy["arousal"], \
        [(s["emotion"], s["arousal"]) for s in secs]
    assert angry["emotion"] != happy["emotion"]
    # every utterance belongs to the section that spans it; sections tile the recording
    assert secs[0]["start_s"] == 0.0 and abs(secs[-1]["end_s"] - recording["duration"]) < 0.01
    for a, b in zip(secs, secs[1:]):
        assert a["end_s"] == b["start_s"]
    for seg in r["segments"]:
        s = secs[seg["section"]]
        assert s["start_s"] <= seg["start_s"] < seg["end_s"] <= s["end_s"]
        assert seg["transcript_source"] == "script" and seg["transcript"]
    assert " ".join(seg["transcript"] for seg in r["segments"]).split() == recording["script"].split()


@pytest.mark.slow
def test_soundtrack_changes_at_the_joins_and_nowhere_else(with_script, recording):
    cues = with_script["cues"]
    changes = track_changes(cues, recording["duration"])
    assert len(changes) == len(recording["joins"]), changes
    for t, join in zip(changes, recording["joins"]):
        assert abs(t - join) <= 1.5
    for a, b in zip(with_script["sections"], with_script["sections"][1:]):   # no track in two adjacent sections
        assert not {t["id"] for t in a["tracks"]} & {t["id"] for t in b["tracks"]}
        assert len(a["tracks"]) == 3


@pytest.mark.slow
def test_cue_sheet_round_trips(with_script, tmp_path):
    cues = with_script["cues"]
    assert [c["section"] for c in cues] == [1, 2, 3]
    assert set(T.CUE_FIELDS) == set(cues[0])
    assert T.read_cue_csv(T.cue_csv(cues)) == cues
    assert T.read_cue_json(T.cue_json(cues)) == cues
    path = tmp_path / "cues.csv"
    path.write_text(T.cue_csv(cues), encoding="utf-8")
    assert T.read_cue_csv(path.read_text(encoding="utf-8")) == cues


@pytest.mark.slow
def test_audio_only_reading_keeps_its_invariants(audio_only, recording):
    """Without words the readings are the voice's alone (weak on synthetic voices); the structure still holds."""
    r = audio_only
    assert r["settings"]["script"] is False and r["settings"]["asr"] is False
    assert all(seg["transcript"] == "" and seg["mate"]["modalities"] == ["audio"] for seg in r["segments"])
    secs = r["sections"]
    assert secs[0]["start_s"] == 0.0 and abs(secs[-1]["end_s"] - recording["duration"]) < 0.01
    for a, b in zip(secs, secs[1:]):
        assert a["end_s"] == b["start_s"] and a["emotion"] != b["emotion"]
        assert not {t["id"] for t in a["tracks"]} & {t["id"] for t in b["tracks"]}
    for s in secs:
        seg = [r["segments"][i] for i in s["segments"]]
        assert seg[-1]["end_s"] - seg[0]["start_s"] >= r["settings"]["min_section_s"] or len(secs) == 1
    assert sorted(i for s in secs for i in s["segments"]) == list(range(len(r["segments"])))
    # 12 sentences with 0.4 s pauses: silero-vad finds them one by one
    assert len(r["segments"]) == 12
    assert all(seg["end_s"] - seg["start_s"] <= T.MAX_SEGMENT_S for seg in r["segments"])
    assert r["timing_ms"]["total_ms"] > 0 and 0 < r["speech_s"] < r["duration_s"]


@pytest.mark.slow
def test_a_long_silence_stops_the_music_and_starts_a_new_dialogue(svc, recording):
    y = recording["samples"]
    cut = int(round(recording["joins"][0] * SR))
    gapped = np.concatenate([y[:cut], np.zeros(20 * SR, np.float32), y[cut:]])
    r = svc.analyze_timeline((SR, gapped), script=recording["script"])
    assert len(r["gaps"]) == 1
    gap = r["gaps"][0]
    assert gap["end_s"] - gap["start_s"] > 15
    assert recording["joins"][0] - 1 < gap["start_s"] < recording["joins"][0] + 2
    assert any("silence" in w for w in r["warnings"])
    for c in r["cues"]:   # no cue plays through the silence
        assert c["end_s"] <= gap["start_s"] + 1e-6 or c["start_s"] >= gap["end_s"] - 1e-6
    assert len(r["sections"]) == 3


@pytest.mark.slow
def test_max_seconds_cuts_a_long_recording_and_says_so(svc, recording):
    r = svc.analyze_timeline(str(recording["path"]), max_seconds=12.0)
    assert r["truncated"] and r["duration_s"] <= 12.0 + 1e-3
    assert any("analysed the first" in w for w in r["warnings"])


@pytest.mark.slow
def test_cli_prints_sections_and_cue_sheet(recording, tmp_path):
    script = tmp_path / "script.txt"
    script.write_text(recording["script"], encoding="utf-8")
    cues = tmp_path / "cues.json"
    p = subprocess.run([sys.executable, "-m", "esmr_core.cli", "timeline", str(recording["path"]),
                        "--script", str(script), "--cues", str(cues)], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    assert "sections" in p.stdout and "cue sheet" in p.stdout and "3 sections" in p.stdout
    written = T.read_cue_json(cues.read_text(encoding="utf-8"))
    assert len(written) == 3 and all(c["track"] in p.stdout for c in written)
    p = subprocess.run([sys.executable, "-m", "esmr_core.cli", "timeline", str(recording["path"]),
                        "--script", str(script), "--csv"], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0 and T.read_cue_csv(p.stdout) == written


@pytest.mark.slow
def test_speech_recognition_gives_the_utterances_their_words(svc, recording):
    r = svc.analyze_timeline(str(recording["path"]), asr=True)
    assert r["settings"]["asr"] and not r["settings"]["script"]
    assert all(s["transcript_source"] == "asr" for s in r["segments"])
    assert any(s["transcript"] for s in r["segments"]) and "asr_ms" in r["timing_ms"]
    assert len(r["sections"]) >= 1 and r["cues"]


@pytest.mark.slow
def test_timeline_api_over_http(app_url, speech_wav):
    """/timeline as a script calls it: the result names music by the app's media URLs, never server paths;
    bad values get a readable message."""
    from gradio_client import Client, handle_file

    from esmr_core.paths import REPO_ROOT

    client = Client(app_url, verbose=False)
    r = client.predict(handle_file(str(speech_wav)), "", False, 6.0, api_name="/timeline")
    assert len(r["sections"]) == 1 and r["sections"][0]["track"]["file"].startswith("media/music/")
    assert [c["file"] for c in r["cues"]] == [r["sections"][0]["track"]["file"]]
    assert str(REPO_ROOT) not in json.dumps(r)
    with pytest.raises(Exception, match="script must be text"):
        client.predict(handle_file(str(speech_wav)), 42, False, 6.0, api_name="/timeline")
    with pytest.raises(Exception, match="min_section_s"):
        client.predict(handle_file(str(speech_wav)), "", False, "long", api_name="/timeline")


@pytest.mark.parametrize("content", [b"", b"just some meeting notes, not audio\n" * 10])
def test_cli_bad_file_exits_2_with_one_error_line(tmp_path, content):
    bad = tmp_path / "talk.wav"
    bad.write_bytes(content)
    p = subprocess.run([sys.executable, "-m", "esmr_core.cli", "timeline", str(bad), "--json"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), p.stderr


# ---- bad input --------------------------------------------------------------------------------------------
def test_a_recording_without_speech_is_refused_with_a_message(make_tone):
    noise = (0.05 * np.random.default_rng(0).standard_normal(SR * 12)).astype(np.float32)
    for samples in (np.zeros(SR * 12, np.float32), noise, make_tone(220.0, 12.0)):
        with pytest.raises(AudioError) as err:
            T.load_recording((SR, samples))
        assert "silent" in str(err.value) or "no speech" in str(err.value)


def test_oversized_upload_names_the_limit(tmp_path):
    big = tmp_path / "long.wav"
    with open(big, "wb") as fh:
        fh.write(b"RIFF" + b"\0" * (26 * 2**20))
    with pytest.raises(AudioError, match=r"25 MB.*10 minutes"):
        T.load_recording(str(big))


def test_bad_options_get_clear_messages(svc, speech_wav):
    with pytest.raises(EsmrError, match="top_k"):
        svc.analyze_timeline(str(speech_wav), top_k=0)
    with pytest.raises(EsmrError, match="min_section_s"):
        svc.analyze_timeline(str(speech_wav), min_section_s=-1)
    with pytest.raises(EsmrError, match="mate_weight"):
        svc.analyze_timeline(str(speech_wav), mate_weight=2)
    with pytest.raises(EsmrError, match="script"):
        svc.analyze_timeline(str(speech_wav), script=42)
    with pytest.raises(EsmrError, match="no words"):
        svc.analyze_timeline(str(speech_wav), script="... !!! ?")
    with pytest.raises(TypeError):
        svc.analyze_timeline(str(speech_wav), no_such_option=1)


def test_not_a_cue_sheet_is_refused():
    with pytest.raises(EsmrError, match="columns"):
        T.read_cue_csv("a,b\n1,2\n")
    with pytest.raises(EsmrError, match="line 2"):
        T.read_cue_csv(T.cue_csv([{"section": "x", "start_s": 0, "end_s": 1, "emotion": "sad", "track": "t"}]))
    with pytest.raises(EsmrError):
        T.read_cue_json('{"start_s": 1}')


# ---- the pieces, on small hand-made inputs ----------------------------------------------------------------
def test_cue_csv_round_trips_awkward_text():
    cues = [{"section": 1, "start": T.timecode(0), "end": T.timecode(62.5), "start_s": 0.0, "end_s": 62.5,
             "emotion": "happy", "arousal": 0.7312, "valence": 0.9, "mate_arousal": 4.1, "mate_valence": 4.9,
             "track": 'Dance, "Sing" & Ünïcode\nsecond line', "artist": "A, B", "track_id": "x-1",
             "licence": "CC-BY-SA-3.0", "score": 0.8125, "file": "/music/x 1.opus"}]
    assert T.read_cue_csv(T.cue_csv(cues)) == cues
    assert T.timecode(3725.0456) == "01:02:05.046"


def test_viterbi_absorbs_a_blip_and_finds_the_change():
    k = 3
    labels = [0] * 6 + [2] + [0] * 3 + [1] * 8           # a one-utterance blip of state 2 inside state 0
    p = np.full((len(labels), k), 0.1)
    p[np.arange(len(labels)), labels] = 0.8
    starts = np.arange(len(labels)) * 2.0
    ends = starts + 1.5
    runs = T.viterbi_sections(-np.log(p) * 1.5, starts, ends, min_section_s=6.0, switch_cost=2.0)
    assert runs == [(0, 10, 0), (10, 18, 1)]
    # no smoothing: every utterance its own reading
    runs = T.viterbi_sections(-np.log(p) * 1.5, starts, ends, min_section_s=0.0, switch_cost=0.0)
    assert [s for _, _, s in runs] == [0, 2, 0, 1]
    # the minimum length wins over strong evidence: a 4 s run of state 1 cannot stand alone
    labels = [0] * 5 + [1] * 2 + [0] * 5
    p = np.full((len(labels), k), 0.01)
    p[np.arange(len(labels)), labels] = 0.98
    starts = np.arange(len(labels)) * 2.0
    runs = T.viterbi_sections(-np.log(p) * 1.5, starts, starts + 1.5, min_section_s=6.0, switch_cost=0.0)
    assert all(ends[j - 1] - starts[i] >= 6.0 for i, j, _ in runs)
    assert all(a[2] != b[2] for a, b in zip(runs, runs[1:]))
    # a run shorter than the minimum is one section of its best state
    assert T.viterbi_sections(-np.log(p[:2]), starts[:2], starts[:2] + 1.5, 6.0, 1.0) == [(0, 2, 0)]


def test_short_utterances_join_a_neighbour_and_clicks_are_dropped():
    spans = [(0.0, 2.0), (2.3, 2.6), (5.0, 7.0), (9.0, 9.1), (12.0, 14.0), (14.2, 14.5)]
    assert T.merge_short(spans) == [(0.0, 2.6), (5.0, 7.0), (12.0, 14.5)]
    # a short one too far from both neighbours stays when it is not a click
    assert T.merge_short([(0.0, 2.0), (4.0, 4.4), (7.0, 9.0)]) == [(0.0, 2.0), (4.0, 4.4), (7.0, 9.0)]
    # never beyond the maximum length
    assert T.merge_short([(0.0, 7.9), (8.0, 8.3)], max_segment_s=8.0) == [(0.0, 7.9), (8.0, 8.3)]


def test_dialogues_break_at_long_silences():
    spans = [(0, 2), (2.5, 4), (15, 17), (17.3, 19)]
    assert T.dialogues(spans, long_gap_s=8.0) == [[0, 1], [2, 3]]
    assert T.dialogues(spans, long_gap_s=20.0) == [[0, 1, 2, 3]]


def test_script_sentences_are_aligned_to_the_utterances():
    script = ("The box is on the table.  Get out of my office right now!\n"
              "How dare you? This is the best day of my life.")
    sentences = T.split_script(script)
    assert sentences == ["The box is on the table.", "Get out of my office right now!", "How dare you?",
                         "This is the best day of my life."]
    one_each = [(0.0, 1.8), (2.3, 4.3), (4.8, 5.6), (6.2, 8.3)]
    assert T.align_script(sentences, one_each) == sentences
    # the second sentence said with a pause in the middle: it is cut at a word boundary
    split = [(0.0, 1.8), (2.3, 3.2), (3.5, 4.5), (5.0, 5.8), (6.4, 8.5)]
    out = T.align_script(sentences, split)
    assert out[0] == sentences[0] and out[3:] == sentences[2:]
    assert " ".join(out[1:3]) == sentences[1] and out[1] and out[2]
    # two short sentences said in one breath
    merged = [(0.0, 1.8), (2.3, 4.3), (4.8, 8.5)]
    assert T.align_script(sentences, merged) == [sentences[0], sentences[1], " ".join(sentences[2:])]
    assert T.align_script([], one_each) == [""] * 4 and T.align_script(sentences, []) == []


def test_mate_reads_a_dialogue_with_context(svc, make_tone):
    """predict_dialogue: with no context it is predict; a window is the same dialogue cut short; and the
    LSTM carries what came before into the next reading."""
    rng = np.random.default_rng(0)
    utts = [(make_tone(f, 5.0, amp=a) + 0.01 * rng.standard_normal(5 * SR)).astype(np.float32)
            for f, a in ((140, 0.1), (300, 0.5), (180, 0.2), (220, 0.3))]
    mate = svc.mate
    single = [mate.predict(u) for u in utts]
    alone = mate.predict_dialogue(utts, context=0)
    for a, b in zip(single, alone):
        assert a["label"] == b["label"] and abs(a["arousal"] - b["arousal"]) < 1e-4
        assert max(abs(a["probabilities"][e] - b["probabilities"][e]) for e in a["probabilities"]) < 1e-4
    window = mate.predict_dialogue(utts, context=1)
    sub = mate.predict_dialogue(utts[1:3])
    assert abs(window[2]["arousal"] - sub[1]["arousal"]) < 1e-4
    full = mate.predict_dialogue(utts)
    assert abs(full[0]["arousal"] - single[0]["arousal"]) < 1e-4   # the first utterance has no context
    after_other = mate.predict_dialogue([utts[1], utts[2]])[1]
    assert abs(after_other["arousal"] - full[2]["arousal"]) > 1e-6
    with pytest.raises(EsmrError, match="transcripts"):
        mate.predict_dialogue(utts, texts=["a"])
    assert mate.predict_dialogue([]) == []


@pytest.mark.slow
def test_the_page_keeps_a_small_checked_view_for_the_players(with_script):
    """The Timeline tab's players read a compact view the page holds (so they work after the server forgets the
    session); it must stay far below the API body cap and refuse whatever a crafted page might send."""
    from demo.timeline_tab import _item, cue_files, player_view

    view = player_view(with_script)
    assert len(json.dumps(view)) < len(json.dumps(with_script)) / 3
    assert _item(view, "segments", 5)["start_s"] == with_script["segments"][5]["start_s"]
    assert _item(view, "sections", "2")["emotion"] == with_script["sections"][2]["emotion"]
    for bad in (None, "x", -1, 99, 1.5e9):
        assert _item(view, "sections", bad) is None
    assert _item({"sections": "not a list"}, "sections", 0) is None and _item(None, "segments", 0) is None
    paths = cue_files(with_script)
    assert [p.rsplit("/", 1)[1] for p in paths] == ["cue-sheet.csv", "cue-sheet.json"]
    assert T.read_cue_csv(open(paths[0], encoding="utf-8").read()) == with_script["cues"]
    assert cue_files(with_script) == paths   # the same result: the same files, not another copy


@pytest.mark.slow
def test_soundtrack_energy_follows_the_voice(svc, with_script):
    """Sections are ranked as /analyze ranks a clip (Service.rank_music: cosine + the arousal/energy agreement of
    the checkpoint's moodmatch.json), so the calm passage gets calmer music than the angry and the happy ones."""
    energy = {t["id"]: float(t["energy"]) for t in svc.tracks}
    calm, angry, happy = ([energy[t["id"]] for t in s["tracks"]] for s in with_script["sections"])
    assert np.mean(calm) < np.mean(angry) and np.mean(calm) < np.mean(happy), (calm, angry, happy)
