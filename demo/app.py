"""The Gradio app: Voice -> Music, Sing -> Songs, Explore, About.

    python demo/app.py [--host 127.0.0.1] [--port 7860]      # what `make demo` and Hugging Face Spaces run

Every tab turns UI events into esmr_core.service calls and nothing more: one service call per click, its result
kept in per-user gr.State / output components and fanned out to the displays (demo/voice_tab.py,
sing_tab.py, explore_tab.py, about_tab.py, timeline_tab.py; the page's players, CSS and scripts: players.py, page.py). Named API
endpoints for gradio_client: /analyze (audio file + optional transcript -> JSON) and /sing (audio file -> JSON).
Results name audio by relative URLs served by the app (`media/...`), never by server paths. What a client may send,
fetch and leave behind is checked in demo/guard.py (limits in the README, "Limits").
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import tempfile
from pathlib import Path

try:
    import esmr_core  # noqa: F401
except ImportError:  # Spaces runs this file as a script from the checkout without installing the package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# Must be set before gradio is imported: otherwise gradio contacts its analytics servers at import and launch.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from demo import page  # noqa: E402
from demo.about_tab import about_tab  # noqa: E402
from demo.explore_tab import explore_tab  # noqa: E402
from demo.guard import (GENERIC_ERROR, GuardedBlocks, Limits, Media,  # noqa: E402,F401
                        ServerGuard, lifespan_for, media_of)
from demo.players import plain_json  # noqa: E402,F401
from demo.sing_tab import sing_tab  # noqa: E402
from demo.timeline_tab import timeline_tab  # noqa: E402
from demo.voice_tab import speech_example_rows, voice_tab  # noqa: E402
from esmr_core import logs
from esmr_core.errors import EsmrError  # noqa: E402
from esmr_core.singing.transpose import KeyedAudio  # noqa: E402

log = logging.getLogger("esmr.demo")
TOP_K = 5
KEYED_DIR = Path(tempfile.gettempdir()) / "esmr-keyed"   # transposed backing tracks and guides (a cache)
QUEUE_MAX = Limits().queue_size   # requests waiting beyond this are refused with "queue full"


def speech_examples(folder: Path, group: str) -> list[tuple[str, str, str]]:
    """(path, caption, known words) of the example voices of one group ("words": TTS with their words;
    "voice-only": real voices without words), one per emotion, as the page offers them."""
    return [(path, cap, words) for path, cap, words, _ in speech_example_rows(folder, group)]


def build_app(service=None, limits: Limits | None = None) -> GuardedBlocks:
    """The whole app around one shared, read-only service (loaded here when not given); limits: what the server
    accepts (default: Limits.from_env())."""
    if service is None:
        from esmr_core.service import get_service

        service = get_service()
    limits = limits or Limits.from_env()
    media = media_of(service)
    keyed = KeyedAudio(KEYED_DIR)   # songs transposed into the advised key, served as media/keyed/...
    media.add("keyed", keyed.folder)
    with GuardedBlocks(title="Emotion: voice to music", limits=limits, media=media) as demo:
        gr.Markdown("# Voice → Music\nSpeak, and hear music that matches the emotion in your voice. "
                    "Or sing, and get songs that suit your range. Everything runs on this machine.")
        with gr.Tabs(elem_id="tabs"):
            with gr.Tab("Voice → Music", id="voice"):
                voice_tab(service, media, demo)
            if service.singer is not None:
                with gr.Tab("Sing → Songs", id="sing"):
                    sing_tab(service, media, demo, keyed)
            with gr.Tab("Timeline", id="timeline"):
                timeline_tab(service, media, demo)
            with gr.Tab("Explore", id="explore") as explore:
                explore_tab(service, media, explore)
            with gr.Tab("About", id="about"):
                about_tab(service)
    demo.queue(default_concurrency_limit=limits.concurrency, max_size=limits.queue_size)
    return demo


def launch(demo: GuardedBlocks, host: str = "127.0.0.1", port: int = 7860, **kwargs):
    """demo.launch with the app's settings: local theme fonts, the upload cap, only the page's audio servable,
    the server guard in front of gradio's routes. Returns launch()'s (app, local_url, share_url)."""
    from starlette.middleware import Middleware

    app_kwargs = {**kwargs.pop("app_kwargs", {}), "middleware": [Middleware(ServerGuard, blocks=demo)],
                  "lifespan": lifespan_for(demo)}
    # gradio keeps every session's copy of the page's config (~170 KB here) until 10,000 sessions; each raw API
    # call is a session of its own, so the cap is what keeps the memory flat under API traffic
    return demo.launch(server_name=host, server_port=port, share=False, max_file_size=demo.limits.upload_file_bytes,
                       allowed_paths=demo.media.allowed_paths(), theme=page.theme(), css=page.CSS, footer_links=["api"],
                       state_session_capacity=demo.limits.sessions, app_kwargs=app_kwargs, **kwargs)


def main(argv: list[str] | None = None) -> int:
    on_spaces = os.environ.get("SYSTEM") == "spaces"
    p = argparse.ArgumentParser(description="Serve the esmr Gradio app.")
    p.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "0.0.0.0" if on_spaces else "127.0.0.1"),
                   help="address to bind (default 127.0.0.1; 0.0.0.0 on Spaces or from GRADIO_SERVER_NAME)")
    p.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)))
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logs.configure()   # the library's own log lines (esmr_core.*) on stderr, as the CLI prints them
    try:
        demo = build_app()
    except EsmrError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # SIGTERM (a service manager, `kill`) closes the server like Ctrl-C does, so the uploads are deleted on the way
    signal.signal(signal.SIGTERM, _interrupt)
    launch(demo, args.host, args.port)
    return 0


def _interrupt(signum, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
