"""Issue #14, "Hardening the server", probed from outside over HTTP on 127.0.0.1 as an unfriendly client would:
every input the API takes is checked with a readable message (through gradio_client and raw HTTP), uploads are
bounded and cleaned up, cut-short and too-short audio get their own messages, and results name files by URLs the
app serves (only the page's audio; no manifests, no feature files, no server paths).

The app runs in-process on free loopback ports with the real service (the session server of conftest, plus one
with tiny upload limits for the upload tests). Test data (tones, cut files, text files) is made in each test.
"""
from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile as sf

from conftest import example_clip, free_port

pytestmark = pytest.mark.slow
FILE = {"_type": "gradio.FileData"}


# ---- helpers ------------------------------------------------------------------------------------------------
def upload(url: str, name: str, data: bytes) -> httpx.Response:
    return httpx.post(f"{url}/gradio_api/upload", files=[("files", (name, data))], timeout=30)


def uploaded(url: str, path: Path, name: str | None = None) -> dict:
    """Upload a file over raw HTTP -> the file object an API call sends for it."""
    r = upload(url, name or path.name, path.read_bytes())
    assert r.status_code == 200, r.text
    return {"path": r.json()[0], "meta": FILE}


def call(url: str, api: str, data: list | None = None, body: bytes | None = None) -> tuple[str, object]:
    """POST /gradio_api/call/<api> then read its event stream -> ("complete", outputs) or ("error", message)."""
    if body is None:
        body = json.dumps({"data": data}).encode()
    r = httpx.post(f"{url}/gradio_api/call/{api}", content=body, headers={"content-type": "application/json"},
                   timeout=30)
    assert r.status_code == 200, (r.status_code, r.text)
    stream = httpx.get(f"{url}/gradio_api/call/{api}/{r.json()['event_id']}", timeout=120).text
    event = [line[7:] for line in stream.splitlines() if line.startswith("event: ")][-1]
    payload = json.loads([line[6:] for line in stream.splitlines() if line.startswith("data: ")][-1])
    if event == "error":
        assert payload is not None and payload.get("error"), f"opaque error: {stream!r}"
        return "error", payload["error"]
    return event, payload


def app_error(client, *args, api_name: str) -> str:
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError) as got:
        client.predict(*args, api_name=api_name)
    return str(got.value)


def readable(message: str) -> None:
    assert message and "Traceback" not in message and "went wrong on our side" not in message
    assert "upstream Gradio app" not in message and message != "None"


@pytest.fixture(scope="module")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False)


@pytest.fixture(scope="module")
def voice() -> Path:
    return example_clip("speech")


@pytest.fixture(scope="module")
def singing() -> Path:
    return example_clip("singing")


@pytest.fixture(scope="module")
def voice_file(app_url, voice) -> dict:
    return uploaded(app_url, voice)


# ---- 1. every input checked, with a readable message ----------------------------------------------------------
ANALYZE_CASES = {  # name: (typed_text, use_asr, extra inputs, expected words)
    "transcript over the limit": ("a" * 2001, False, [], "2,001 characters long, over the 2,000-character limit"),
    "transcript a number": (5, False, [], "typed_text (the transcript) must be text, got the number 5"),
    "transcript with a control character": ("hi\x07there", False, [], "control character U+0007 at character 3"),
    "use_asr as text": ("", "no", [], "use_asr must be true or false, got 'no'"),
    "use_asr null": ("", None, [], "use_asr must be true or false, got null"),
    "use_asr a number": ("", 1, [], "use_asr must be true or false, got the number 1"),
    "too many inputs": ("", False, [7], "/analyze takes 3 inputs (audio_path, typed_text, use_asr), got 4"),
}


@pytest.mark.parametrize("case", list(ANALYZE_CASES))
def test_analyze_inputs_through_gradio_client(client, voice, case):
    from gradio_client import handle_file

    text, asr, extra, expected = ANALYZE_CASES[case]
    message = app_error(client, handle_file(str(voice)), text, asr, *extra, api_name="/analyze")
    readable(message)
    assert expected in message


@pytest.mark.parametrize("case", list(ANALYZE_CASES))
def test_analyze_inputs_through_raw_http(app_url, voice_file, case):
    text, asr, extra, expected = ANALYZE_CASES[case]
    kind, message = call(app_url, "analyze", [voice_file, text, asr, *extra])
    assert kind == "error" and expected in message
    readable(message)


def test_raw_http_only_cases(app_url, voice_file):
    """What gradio_client cannot send: an unpaired surrogate (it cannot encode one), too few inputs."""
    body = b'{"data": [%s, "\\ud800 lone", false]}' % json.dumps(voice_file).encode()
    kind, message = call(app_url, "analyze", body=body)
    assert kind == "error" and "unpaired surrogate (U+D800) at character 1" in message
    kind, message = call(app_url, "analyze", [voice_file, ""])
    assert kind == "error" and "takes 3 inputs" in message and "got 2" in message
    kind, message = call(app_url, "sing", [voice_file])
    assert kind == "error" and "/sing takes 6 inputs (audio_path, range, timbre, expression, voice, mood), got 1" \
        in message
    kind, message = call(app_url, "analyze", [None, "", False])
    assert kind == "error" and "no audio given" in message


def test_a_transcript_at_the_limit_is_used_whole(client, voice):
    from gradio_client import handle_file

    text = ("I am so glad to see you again. " * 70)[:2000]
    r = client.predict(handle_file(str(voice)), text, False, api_name="/analyze")
    assert r["transcript_source"] == "typed" and r["transcript"] == text.strip()


SING_CASES = {  # name: (weights, extra inputs, expected words)
    "weight null": ([None, 0.5, 0.25, 0.0, 1.0], [], "the weight 'range' must be a number from 0 to 2, got null"),
    "weight text": ([1.0, "abc", 0.25, 0.0, 1.0], [], "the weight 'timbre' must be a number from 0 to 2, got 'abc'"),
    "weight out of range": ([1.0, 0.5, 5, 0.0, 1.0], [], "the weight 'expression' must be a number from 0 to 2, got 5"),
    "weight negative": ([1.0, 0.5, 0.25, -1, 1.0], [], "the weight 'voice' must be a number from 0 to 2, got -1"),
    "weights all zero": ([0, 0, 0, 0, 0], [], "all the weights are 0"),
    "too many inputs": ([1.0, 0.5, 0.25, 0.0, 1.0], [1.0], "/sing takes 6 inputs"),
}


@pytest.mark.parametrize("case", list(SING_CASES))
def test_sing_inputs_through_gradio_client(client, singing, case):
    from gradio_client import handle_file

    weights, extra, expected = SING_CASES[case]
    message = app_error(client, handle_file(str(singing)), *weights, *extra, api_name="/sing")
    readable(message)
    assert expected in message


@pytest.mark.parametrize("case", list(SING_CASES))
def test_sing_inputs_through_raw_http(app_url, singing, case):
    weights, extra, expected = SING_CASES[case]
    kind, message = call(app_url, "sing", [uploaded(app_url, singing), *weights, *extra])
    assert kind == "error" and expected in message


def test_files_that_were_not_uploaded_are_refused_readably(app_url, svc):
    repo_file = str(svc.config.checkpoint / "config.json")
    for path in ("/etc/passwd", repo_file, "../../etc/passwd"):
        kind, message = call(app_url, "analyze", [{"path": path, "meta": FILE}, "", False])
        assert kind == "error" and "was not uploaded to this server; upload it first" in message, (path, message)
        assert "root:" not in message
    kind, message = call(app_url, "analyze", ["/etc/passwd", "", False])
    assert kind == "error" and "must be an uploaded file object, got a plain string" in message
    kind, message = call(app_url, "analyze", [{"url": "x"}, "", False])
    assert kind == "error" and "must be an uploaded file object" in message
    # a file object gradio's own model refuses (its size is not a number): one readable line, no internals
    kind, message = call(app_url, "analyze", [{"path": "x.wav", "size": "big", "meta": FILE}, "", False])
    assert kind == "error" and "an input of /analyze could not be read" in message and "pydantic" not in message


def test_an_upload_that_is_gone_says_so(app_url, voice, tmp_path):
    copy = tmp_path / "gone.wav"
    copy.write_bytes(voice.read_bytes() + b"\0" * 7)   # distinct content: its own upload folder
    ref = uploaded(app_url, copy)
    os.remove(ref["path"])
    kind, message = call(app_url, "analyze", [ref, "", False])
    assert kind == "error" and "no longer on this server" in message and ref["path"] not in message


def test_a_dot_file_recording_works(client, app_url, voice, tmp_path, monkeypatch):
    """'.hidden take.wav': gradio refuses to read dot-files inside the working directory; the upload is renamed
    without the dot, so it works wherever the server runs (here: from the upload folder's parent)."""
    from gradio.utils import get_upload_folder
    from gradio_client import handle_file

    dot = tmp_path / ".hidden take.wav"
    dot.write_bytes(voice.read_bytes())
    r = upload(app_url, dot.name, dot.read_bytes())
    assert r.status_code == 200 and Path(r.json()[0]).name == "hidden take.wav"
    monkeypatch.setattr(os, "getcwd", lambda: str(Path(get_upload_folder()).parent))
    result = client.predict(handle_file(str(dot)), "", False, api_name="/analyze")
    assert len(result["tracks"]) == 5
    kind, out = call(app_url, "analyze", [{"path": r.json()[0], "meta": FILE}, "", False])
    assert kind == "complete" and out[0]["tracks"] == result["tracks"]


def test_huge_request_bodies_are_refused_at_once(app_url):
    r = httpx.post(f"{app_url}/gradio_api/call/analyze", json={"data": [None, "a" * 1_000_000, False]}, timeout=30)
    assert r.status_code == 413 and "256 KB limit of an API call" in r.json()["detail"]   # before any model runs


# ---- 2. uploads are bounded ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tight(svc):
    """A second app with tiny upload limits: 64 KB per file, 160 KB / 6 files held, 2 s lifetime."""
    from demo.app import Limits, build_app, launch

    limits = Limits(upload_file_bytes=64 * 1024, upload_store_bytes=160 * 1024, upload_store_files=6,
                    upload_max_age_s=2, sweep_every_s=1, sessions=3)
    demo = build_app(svc, limits)
    _, url, _ = launch(demo, "127.0.0.1", free_port(), prevent_thread_lock=True, quiet=True)
    try:
        yield demo, url.rstrip("/")
    finally:
        demo.close()


def tone_wav(seconds: float, freq: float) -> bytes:
    buf = io.BytesIO()
    t = np.arange(int(seconds * 16000)) / 16000
    sf.write(buf, (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), 16000, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def on_disk(paths) -> list[str]:
    return [p for p in paths if os.path.exists(p)]


def test_uploads_are_capped_and_deleted_after_a_short_age(tight):
    demo, url = tight
    store = demo.uploads
    base_files, base_bytes = store.usage()
    assert base_files == 0
    paths = []
    for i in range(5):   # 5 distinct ~32 KB files: 160 KB allowed in all
        r = upload(url, f"take{i}.wav", tone_wav(1.0, 200 + 10 * i))
        assert r.status_code == 200, r.text
        paths += r.json()
    files, size = store.usage()
    assert files == 5 and size >= 5 * 32000 - 1000 and len(on_disk(paths)) == 5
    r = upload(url, "one-too-many.wav", tone_wav(1.0, 900))
    assert r.status_code == 507 and "upload space is full" in r.json()["detail"]
    assert store.usage()[0] == 5
    # one file over the per-file cap, or two files in one request: refused, nothing left behind
    r = upload(url, "big.wav", tone_wav(5.0, 300))   # 160 KB
    assert r.status_code == 413 and "one audio file of at most 0.0625 MB" in r.json()["detail"]
    # the directory shrinks back: every upload is gone within the age + one sweep, with its folder
    deadline = time.monotonic() + 30
    folders = {os.path.dirname(p) for p in paths}
    while (on_disk(paths) or on_disk(folders)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert on_disk(paths) == [] and on_disk(folders) == []
    assert store.usage() == (base_files, base_bytes)
    r = upload(url, "again.wav", tone_wav(1.0, 950))   # room again
    assert r.status_code == 200


def test_several_files_in_one_request_are_refused(tight):
    demo, url = tight
    files = [("files", (f"f{i}.wav", tone_wav(0.3, 400 + i))) for i in range(2)]
    before = demo.uploads.usage()[0]
    r = httpx.post(f"{url}/gradio_api/upload", files=files, timeout=30)
    assert r.status_code == 413 and "at most 1 file(s), got 2" in r.json()["detail"]
    assert demo.uploads.usage()[0] == before
    r = httpx.post(f"{url}/gradio_api/upload", content=iter([b"x" * 10]), timeout=30,   # chunked: no length
                   headers={"content-type": "multipart/form-data; boundary=x"})
    assert r.status_code == 411 and "Content-Length" in r.json()["detail"]


def test_a_rejected_non_audio_upload_is_deleted_at_once(app_url):
    url = app_url
    ref = {"path": upload(url, "notes.wav", b"my meeting notes, not a recording\n" * 30).json()[0], "meta": FILE}
    assert os.path.exists(ref["path"])
    kind, message = call(url, "analyze", [ref, "", False])
    assert kind == "error" and "is not an audio file: it contains text" in message
    assert not os.path.exists(ref["path"]) and not os.path.exists(os.path.dirname(ref["path"]))


def test_session_state_is_capped(tight):
    """Each raw API call is a gradio session of its own, holding a copy of the page's config: capped, the memory
    stays flat under API traffic (gradio's default keeps 10,000)."""
    demo, url = tight
    for _ in range(6):
        assert call(url, "analyze", [None, "", False])[0] == "error"
    assert 1 <= len(demo.state_holder.session_data) <= 3


def test_uploads_are_deleted_when_the_server_stops(svc):
    from demo.app import Limits, build_app, launch

    demo = build_app(svc, Limits(upload_max_age_s=3600))
    _, url, _ = launch(demo, "127.0.0.1", free_port(), prevent_thread_lock=True, quiet=True)
    path = upload(url.rstrip("/"), "kept.wav", tone_wav(0.7, 321)).json()[0]
    assert os.path.exists(path)
    demo.close()
    deadline = time.monotonic() + 10
    while os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not os.path.exists(path)


def test_a_terminated_server_leaves_no_uploads_behind(tmp_path):
    """`python demo/app.py` stopped with SIGTERM (as a service manager or `kill` does) deletes its uploads."""
    import signal
    import subprocess
    import sys

    from esmr_core.paths import REPO_ROOT

    port, folder = free_port(), tmp_path / "uploads"
    env = {**os.environ, "GRADIO_TEMP_DIR": str(folder), "GRADIO_ANALYTICS_ENABLED": "False"}
    proc = subprocess.Popen([sys.executable, str(REPO_ROOT / "demo" / "app.py"), "--port", str(port)], cwd=REPO_ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        url, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 240
        while time.monotonic() < deadline:
            assert proc.poll() is None, f"the app exited ({proc.returncode}): {proc.stderr.read()[-2000:]}"
            try:
                if httpx.get(url, timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(1)
        paths = [upload(url, f"t{i}.wav", tone_wav(0.6, 300 + i)).json()[0] for i in range(3)]
        assert len(on_disk(paths)) == 3
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) is not None
    finally:
        if proc.poll() is None:
            proc.kill()
    assert on_disk(paths) == [] and "Traceback" not in proc.stderr.read()


# ---- 3. cut-short and too-short audio -----------------------------------------------------------------------
def test_cut_short_and_too_short_recordings_through_the_api(client, tmp_path):
    from gradio_client import handle_file

    cut = tmp_path / "cut.wav"
    cut.write_bytes(tone_wav(5.5, 220)[:1044])
    message = app_error(client, handle_file(str(cut)), "", False, api_name="/analyze")
    assert "'cut.wav' is cut short: its header promises 5.5 s of audio but it holds only 0.03 s" in message
    short = tmp_path / "short.wav"
    short.write_bytes(tone_wav(0.1, 220))
    for api, args in (("/analyze", ("", False)), ("/sing", ())):
        message = app_error(client, handle_file(str(short)), *args, api_name=api)
        assert "'short.wav' is too short: 0.10 s long" in message, (api, message)


# ---- 4. results name what a client can fetch; only the page's audio is servable ----------------------------------
def strings(obj):
    if isinstance(obj, dict):
        for v in obj.values():
            yield from strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from strings(v)
    elif isinstance(obj, str):
        yield obj


def test_results_carry_no_server_paths(client, app_url, voice, singing):
    from gradio.utils import get_upload_folder
    from gradio_client import handle_file

    from esmr_core.paths import REPO_ROOT

    results = [client.predict(handle_file(str(voice)), "", False, api_name="/analyze"),
               client.predict(handle_file(str(singing)), api_name="/sing")]
    text = json.dumps(results)
    assert str(REPO_ROOT) not in text and get_upload_folder() not in text
    assert not [s for s in strings(results) if s.startswith("/") or os.path.isabs(s)]
    urls = [t["file"] for t in results[0]["tracks"]] + [s[k] for s in results[1]["songs"] for k in ("backing", "guide")]
    for u in urls:
        r = httpx.get(f"{app_url}/{u}", timeout=30)
        assert r.status_code == 200 and r.headers["content-type"].startswith("audio/") and r.content[:4] == b"OggS"


def test_only_the_pages_audio_is_servable(app_url, svc):
    music = svc.catalog.root
    for path in [music / "manifest.jsonl", music / "features.npz", music / "collection.json", music / "CREDITS.md",
                 svc.config.checkpoint / "model.safetensors", svc.config.reference / "manifest.jsonl",
                 Path("/etc/passwd")]:
        assert path.exists() or path == Path("/etc/passwd")
        r = httpx.get(f"{app_url}/gradio_api/file={path}", timeout=30)
        assert r.status_code in (403, 404), (path, r.status_code)
        rel = path.relative_to(music.parent) if music.parent in path.parents else path.name
        for url in (f"{app_url}/media/music/{path.name}", f"{app_url}/media/{rel}",
                    f"{app_url}/media/music/..%2F{path.name}", f"{app_url}/media/music/excerpts/../{path.name}"):
            assert httpx.get(url, timeout=30).status_code == 404, url
    # the catalogue audio itself is served, under its media URL
    row = svc.tracks[0]
    rel = svc.catalog.path(row).relative_to(music).as_posix()
    r = httpx.get(f"{app_url}/media/music/{rel}", timeout=30)
    assert r.status_code == 200 and r.content == svc.catalog.path(row).read_bytes()


def test_media_names_only_registered_files(svc):
    from demo.guard import media_of

    media = media_of(svc)
    path = svc.catalog.path(svc.tracks[0])
    url = media.url(path)
    assert url.startswith("media/music/") and media.path(url) == os.path.abspath(path)
    assert media.url(svc.catalog.root / "manifest.jsonl") is None and media.url("/etc/passwd") is None
    for crafted in ("/etc/passwd", str(path), "media/music/../../checkpoints/esmr-default/config.json",
                    "media/music/manifest.jsonl", "media/music/features.npz", "media/nope/x.opus",
                    "media/music/excerpts/missing.opus", None, 5):
        assert media.path(crafted) is None, crafted
    allowed = media.allowed_paths()   # what gradio may serve itself: audio folders, no manifest
    assert allowed and all(not p.endswith((".jsonl", ".json", ".npz", ".md")) for p in allowed)
    assert not any(os.path.abspath(svc.catalog.root) == p for p in allowed)
