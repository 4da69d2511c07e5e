"""The app's named API endpoints (/analyze, /sing) called over HTTP with gradio_client, as a user's script would.

The app runs in-process on a free loopback port with the real service (checkpoints and catalogues of the repo).
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from esmr_core.errors import AudioError

from conftest import example_clip

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False)


@pytest.fixture(scope="module")
def voice() -> Path:
    return example_clip("speech")


def test_named_endpoints_are_listed(client):
    api = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert {"/analyze", "/sing"} <= set(api)
    # the transcript is optional: a script may send only the audio file
    params = {p["parameter_name"]: p for p in api["/analyze"]["parameters"]}
    assert params["typed_text"]["parameter_has_default"]


def fetched(app_url: str, url: str) -> bytes:
    """The bytes a client gets for a file URL that a result names (relative to the app's address)."""
    import httpx

    assert not url.startswith("/") and "://" not in url, f"not a relative URL: {url}"
    r = httpx.get(f"{app_url}/{url}", timeout=30)
    assert r.status_code == 200, (url, r.status_code)
    return r.content


def test_analyze_returns_the_service_result(client, app_url, svc, voice):
    from gradio_client import handle_file

    r = client.predict(handle_file(str(voice)), api_name="/analyze")
    assert isinstance(r, dict)
    assert {"emotion", "vad", "mate", "transcript", "transcript_source", "tracks", "map", "timing_ms",
            "warnings", "duration_s"} <= set(r)
    probs = r["emotion"]["probabilities"]
    assert math.isclose(sum(probs.values()), 1.0, abs_tol=2e-3)
    assert r["emotion"]["label"] == max(probs, key=probs.get)
    assert math.isclose(sum(r["mate"]["probabilities"].values()), 1.0, abs_tol=2e-3)
    assert 1.0 <= r["mate"]["arousal"] <= 5.0 and 1.0 <= r["mate"]["valence"] <= 5.0
    assert all(0.0 <= r["vad"][k] <= 1.0 for k in ("valence", "arousal", "dominance"))
    catalogue = svc.catalog.by_id()
    assert len(r["tracks"]) == 5
    for t in r["tracks"]:
        assert t["id"] in catalogue and t["title"] == catalogue[t["id"]]["title"]
        # "path" becomes "file" in the API: a relative URL served by the app, never a server path
        assert t["file"].startswith("media/music/") and t["licence"]
        assert fetched(app_url, t["file"]) == svc.catalog.path(catalogue[t["id"]]).read_bytes()
    scores = [t["score"] for t in r["tracks"]]
    assert scores == sorted(scores, reverse=True)
    assert r["transcript_source"] in ("asr", "none")
    # same file through the service directly: same emotion, same tracks in the same order. Without ASR:
    # pocketsphinx's transcript depends on the previous utterance (live CMN state), see the report.
    api = client.predict(handle_file(str(voice)), "", False, api_name="/analyze")
    direct = svc.analyze_speech(str(voice), top_k=5, asr=False)
    assert api["transcript_source"] == "none"
    assert api["emotion"]["label"] == direct["emotion"]["label"]
    assert [t["id"] for t in api["tracks"]] == [t["id"] for t in direct["tracks"]]


def test_analyze_uses_a_typed_transcript(client, voice):
    from gradio_client import handle_file

    text = "I cannot believe how wonderful this day has been"
    r = client.predict(handle_file(str(voice)), text, api_name="/analyze")
    assert r["transcript"] == text and r["transcript_source"] == "typed"
    assert "audio" in r["mate"]["modalities"]


def test_sing_returns_songs_with_playable_tracks(client, app_url, svc, singing_clip):
    from gradio_client import handle_file

    r = client.predict(handle_file(str(singing_clip)), api_name="/sing")
    assert {"range", "songs"} <= set(r)
    assert r["range"]["low"][0] in "ABCDEFG" and r["range"]["low_midi"] <= r["range"]["high_midi"]
    assert 1 <= len(r["songs"]) <= 5
    for s in r["songs"]:
        assert {"id", "title", "key", "transpose_semitones", "range_fit", "score", "reasons"} <= set(s)
        assert 0.0 <= s["range_fit"] <= 1.0 and s["reasons"]
        assert s["backing"].startswith("media/songs/") and s["guide"].startswith("media/songs/")
        assert fetched(app_url, s["backing"])[:4] == fetched(app_url, s["guide"])[:4] == b"OggS"
    scores = [s["score"] for s in r["songs"]]
    assert scores == sorted(scores, reverse=True)
    ranked = svc.rank_songs(svc.analyze_singing(str(singing_clip)), svc.singing_default_weights(), top_k=5)
    ranked = ranked["songs"] if isinstance(ranked, dict) else ranked
    assert [s["id"] for s in r["songs"]] == [s["id"] for s in ranked]


def test_bad_file_gives_a_readable_error(client, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    bad = tmp_path / "notes.wav"
    bad.write_text("these are my meeting notes, not a recording\n" * 20)
    with pytest.raises(AudioError) as expected:
        from esmr_core.audio import load_audio

        load_audio(bad)
    with pytest.raises(AppError) as got:
        client.predict(handle_file(str(bad)), api_name="/analyze")
    assert str(expected.value) in str(got.value)
    assert "Traceback" not in str(got.value)
    with pytest.raises(AppError) as got_sing:
        client.predict(handle_file(str(bad)), api_name="/sing")
    assert str(expected.value) in str(got_sing.value)


def test_silence_is_refused_with_a_message(client, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    quiet = tmp_path / "silence.wav"
    sf.write(quiet, np.zeros(16000 * 3, np.float32), 16000, subtype="PCM_16")
    with pytest.raises(AppError) as got:
        client.predict(handle_file(str(quiet)), api_name="/analyze")
    message = str(got.value)
    assert len(message) > 20 and "Traceback" not in message and "went wrong on our side" not in message
