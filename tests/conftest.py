"""Shared fixtures: test clips synthesised on the spot (espeak-ng speech, numpy tones), the bundled example
clips, and the app served once per session on a loopback port (for the gradio_client and browser tests)."""
from __future__ import annotations

import json
import os
import socket
import subprocess
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
import soundfile as sf

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before gradio is imported anywhere: no outside connections

SPEECH_TEXT = "Hello there. I am feeling rather happy today, because the sun is shining again."


def espeak_wav(path: Path, text: str, *args: str) -> Path:
    """Speak `text` with Debian espeak-ng into a mono 16-bit wav at 22.05 kHz; extra args e.g. "-s", "140"."""
    subprocess.run(["espeak-ng", "-w", str(path), *args, text], check=True, capture_output=True, timeout=60)
    return path


@pytest.fixture(scope="session")
def speech_wav(tmp_path_factory) -> Path:
    """About 4.5 s of English speech (espeak-ng), mono wav at 22.05 kHz."""
    return espeak_wav(tmp_path_factory.mktemp("speech") / "speech.wav", SPEECH_TEXT)


@pytest.fixture(scope="session")
def speech_clip(speech_wav) -> tuple[np.ndarray, int]:
    """The speech_wav clip as ((N,) float32 in [-1, 1], sample rate in Hz)."""
    samples, sr = sf.read(speech_wav, dtype="float32")
    return samples, sr


@pytest.fixture(scope="session")
def make_tone():
    """make_tone(freq_hz=220, seconds=1.0, sr=16000, amp=0.3, vibrato_hz=0.0) -> (N,) float32 harmonic tone
    (fundamental + 2 overtones), optionally with a +-3 % vibrato: a stand-in for a sung note or a melody line."""

    def tone(freq_hz: float = 220.0, seconds: float = 1.0, sr: int = 16000, amp: float = 0.3,
             vibrato_hz: float = 0.0) -> np.ndarray:
        t = np.arange(int(seconds * sr)) / sr
        inst = freq_hz * (1 + 0.03 * np.sin(2 * np.pi * vibrato_hz * t))
        phase = 2 * np.pi * np.cumsum(inst) / sr
        wave = np.sin(phase) + 0.5 * np.sin(2 * phase) + 0.25 * np.sin(3 * phase)
        return (amp * wave / 1.75).astype(np.float32)

    return tone


CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"   # the browser tests' screenshots
CHROMIUM_ARGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync")


@contextmanager
def chromium(*extra_args: str):
    """Debian's chromium, headless, driven by Playwright (E2E.md), with CHROMIUM_ARGS plus extra_args: yields the
    browser, closed afterwards. Skips without Playwright; fails without chromium (`make test` installs it)."""
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} missing: `make test` installs Debian's chromium (apt-get install chromium)")
    ARTIFACTS.mkdir(exist_ok=True)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *extra_args])
        try:
            yield browser
        finally:
            browser.close()


def upload(page, root_id: str, path, attached: bool = True) -> None:
    """Put a file into the page's audio component #root_id as a visitor does (Clear first when it holds one, then
    Upload file); with attached, wait until the component shows it (its download link), else give it 1.5 s."""
    root = page.locator(f"#{root_id}")
    clear = root.get_by_role("button", name="Clear")
    if clear.count():
        clear.first.click()
    root.get_by_role("button", name="Upload file").click()
    root.locator("input[type=file]").set_input_files(str(path))
    if attached:
        root.locator('[data-testid="download-link"]').wait_for(state="attached", timeout=30_000)
    else:
        page.wait_for_timeout(1500)


def request_host(url: str) -> str:
    """Host a request goes to; blob: URLs belong to the page's own origin, data: URLs go nowhere."""
    if url.startswith("data:"):
        return "127.0.0.1"
    if url.startswith("blob:"):
        url = url[5:]
    return urlparse(url).hostname or url


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def example_clip(kind: str) -> Path:
    """The first bundled example clip of assets/examples/<kind> ("speech" | "singing"), clearest voice (piper) first."""
    from esmr_core.paths import assets_dir

    folder = assets_dir() / "examples" / kind
    rows = [json.loads(x) for x in (folder / "manifest.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
    rows.sort(key=lambda r: r.get("tts") != "piper")
    path = folder / rows[0]["path"]
    assert path.is_file(), f"bundled example {path} is missing"
    return path


@pytest.fixture(scope="session")
def svc():
    """The process-wide service on the bundled checkpoints and catalogues."""
    from esmr_core.service import get_service

    return get_service()


@pytest.fixture(scope="session")
def app_url(svc):
    """The Gradio app, launched once in this process on a free loopback port: its base URL."""
    from demo.app import build_app, launch

    demo = build_app(svc)
    _, url, _ = launch(demo, "127.0.0.1", free_port(), prevent_thread_lock=True, quiet=True)
    try:
        yield url.rstrip("/")
    finally:
        demo.close()


@pytest.fixture(scope="session")
def singing_clip() -> Path:
    return example_clip("singing")
