"""The Gradio app: Voice -> Music, Sing -> Songs, Explore, About.

    python demo/app.py [--host 127.0.0.1] [--port 7860]      # what `make demo` and Hugging Face Spaces run

Every tab turns UI events into esmr_core.service calls and nothing more: one service call per click, its result
kept in per-user gr.State / output components and fanned out to the displays (demo/views.py). Named API
endpoints for gradio_client: /analyze (audio file + optional transcript -> JSON) and /sing (audio file -> JSON).
Results name audio by relative URLs served by the app (`media/...`), never by server paths. What a client may send,
fetch and leave behind is checked in demo/guard.py (limits in the README, "Limits").
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

try:
    import esmr_core  # noqa: F401
except ImportError:  # Spaces runs this file as a script from the checkout without installing the package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# Must be set before gradio is imported: otherwise gradio contacts its analytics servers at import and launch.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from demo import views  # noqa: E402
from demo.guard import (AUDIO_SUFFIXES, GENERIC_ERROR, GuardedBlocks, Limits, Media,  # noqa: E402,F401
                        ServerGuard, audio_payload, checked, expect_count, lifespan_for, media_of, user_errors)
from demo.timeline_tab import timeline_tab  # noqa: E402
from esmr_core import inputs  # noqa: E402
from esmr_core.errors import EsmrError  # noqa: E402
from esmr_core.paths import assets_dir  # noqa: E402

log = logging.getLogger("esmr.demo")
TOP_K = 5
QUEUE_MAX = Limits().queue_size   # requests waiting beyond this are refused with "queue full"
AUDIO_EXTS = AUDIO_SUFFIXES


def plain_json(obj: Any) -> Any:
    """Numpy scalars/arrays -> plain JSON types (what the API returns)."""
    return json.loads(json.dumps(obj, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))


def example_clips(folder: Path, limit: int, by: str = "label") -> list[tuple[str, str]]:
    """Up to `limit` (path, caption) audio examples of a folder: one per value of the manifest field `by`
    (e.g. one per emotion label, one per voice)."""
    if not folder.is_dir():
        return []
    manifest = folder / "manifest.jsonl"
    if manifest.is_file():
        picked: dict[str, tuple[str, str]] = {}
        rows = [json.loads(line) for line in manifest.read_text(encoding="utf-8").splitlines() if line.strip()]
        for row in sorted(rows, key=lambda r: r.get("tts") != "piper"):   # the clearest voice first
            path = folder / str(row.get("path", ""))
            if row.get("path") and path.is_file():
                label = str(row.get(by, row.get("id", path.stem)))
                caption = f"{label}: “{row['text']}”" if row.get("text") else label
                picked.setdefault(label, (str(path), caption))
        if picked:
            return list(picked.values())[:limit]
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_EXTS)[:limit]
    return [(str(p), p.stem.replace("-", " ").replace("_", " ")) for p in files]


def speech_examples(folder: Path, group: str) -> list[tuple[str, str, str]]:
    """(path, caption, known words) of the example voices of one group ("words": TTS with their words;
    "voice-only": real voices without words), one per emotion, captioned with the emotion and the length."""
    manifest = folder / "manifest.jsonl"
    if not manifest.is_file():
        return []
    out = []
    for line in manifest.read_text(encoding="utf-8").splitlines():
        row = json.loads(line) if line.strip() else {}
        path = folder / str(row.get("path", ""))
        if row.get("group", "words") == group and row.get("path") and path.is_file():
            secs = f"{float(row['duration_s']):.0f} s" if row.get("duration_s") else ""
            out.append((str(path), f"{row['label']} · {secs}".strip(" ·"), str(row.get("text") or "")))
    return out


def songs_result(svc, media: Media, analysis, weights: dict[str, float] | None) -> dict[str, Any]:
    """svc.rank_songs as plain JSON: {"range", "duration_s", "songs": [... with "backing" and "guide" as media
    URLs]}."""
    r = plain_json(svc.rank_songs(analysis, weights, top_k=TOP_K))
    for s in r["songs"]:
        s["backing"], s["guide"] = media.url(s["backing"]), media.url(s["guide"])
    return r


def weights_check(names: list[str], leading: list[str], endpoint: str):
    """Raw-payload check of an event whose inputs are `leading` then one slider per singing factor."""
    def check(data: list[Any]) -> None:
        expect_count(data, [*leading, *names], endpoint)
        audio_payload(data[leading.index("audio_path")], "audio_path")
        inputs.weights(dict(zip(names, data[len(leading):])), names)
    return check


# ---- the tabs ---------------------------------------------------------------------------------------------
def voice_tab(svc, media: Media) -> None:
    max_chars = svc.config.max_transcript_chars

    def analyze_check(data: list[Any]) -> None:
        expect_count(data, ["audio_path", "typed_text", "use_asr"], "/analyze")
        audio_payload(data[0], "audio_path")
        inputs.transcript(data[1], max_chars, name="typed_text (the transcript)")
        inputs.flag(data[2], "use_asr")

    @checked(analyze_check)
    @user_errors
    def analyze(audio_path, typed_text, use_asr=True, progress=gr.Progress()):
        """Audio file (+ optional transcript; use_asr=False: no speech recognition) -> the analysis as JSON."""
        progress(0.1, desc="Analysing your voice…")
        r = plain_json(svc.analyze_speech(audio_path, text=typed_text, top_k=TOP_K, asr=use_asr))
        for t in r["tracks"]:   # a relative URL served by the app (and not "path": gradio_client would fetch it)
            t["file"] = media.url(t.pop("path"))
        return r

    @user_errors
    def show(r):
        """Fan one result out to every display (no model runs here)."""
        if not r:
            return (None,) * 10
        first = r["tracks"][0] if r["tracks"] else None
        return (r["emotion"]["probabilities"], views.vad_figure(r["vad"]), r["mate"]["probabilities"],
                views.mate_figure(r["mate"]), r["transcript"], views.tracks_table(r["tracks"]),
                gr.update(choices=views.track_choices(r["tracks"]), value=first["id"] if first else None),
                media.path(first["file"]) if first else None, svc.map_figure(r), views.speech_summary(r))

    @user_errors
    def play(r, track_id):
        """The track picked, from the result the page holds (so it works even when the server has forgotten the
        session: it keeps Limits.sessions of them); media.path names only catalogue audio."""
        t = views.find(r["tracks"], track_id) if r else None
        return media.path(t["file"]) if t else None

    result = gr.JSON(render=False, elem_id="speech-json")
    with gr.Row():
        with gr.Column(scale=1):
            audio = gr.Audio(sources=["microphone", "upload"], type="filepath", label="Your voice (3-30 s)",
                             waveform_options=gr.WaveformOptions(sample_rate=16000), elem_id="speech-audio")
            text = gr.Textbox("", label="Transcript (optional)", elem_id="speech-text", lines=2, max_length=max_chars,
                              placeholder=f"Leave empty to transcribe automatically (English); at most "
                                          f"{max_chars:,} characters")
            use_asr = gr.Checkbox(True, label="Transcribe my speech when no transcript is typed (English ASR)",
                                  elem_id="speech-asr")
            run_btn = gr.Button("Analyse my voice", variant="primary", elem_id="analyze-btn")
            folder = assets_dir() / "examples" / "speech"
            for group, title in (("words", "Example voices, with their words (voice and words carry the emotion)"),
                                 ("voice-only", "Voice only (harder): real voices made emotional by rule, no words")):
                clips = speech_examples(folder, group)
                if clips:
                    gr.Examples([[c, words, False] for c, _, words in clips], inputs=[audio, text, use_asr],
                                outputs=[result], fn=analyze, cache_examples=True, cache_mode="lazy", label=title,
                                example_labels=[cap for _, cap, _ in clips])
        with gr.Column(scale=1):
            summary = gr.Markdown(elem_id="speech-summary")
            emotion = gr.Label(num_top_classes=7, label="Emotion (speech tower)", elem_id="emotion-label")
            vad = gr.Plot(label="Valence, arousal, dominance", elem_id="vad-plot")
    with gr.Row():
        mate_label = gr.Label(num_top_classes=7, label="MATE: emotion from audio + text", elem_id="mate-label")
        mate_av = gr.Plot(label="MATE arousal / valence", elem_id="mate-plot")
    transcript = gr.Textbox(label="Transcript used", interactive=False, elem_id="transcript-used")
    tracks = gr.Dataframe(headers=views.TRACK_HEADERS, label="Matching music", interactive=False,
                          elem_id="tracks-table", wrap=True)
    with gr.Row():
        pick = gr.Dropdown(label="Play a track", choices=[], elem_id="track-pick", scale=1,
                           allow_custom_value=True)   # its choices live in the session, which may be forgotten
        player = gr.Audio(label="Track", interactive=False, elem_id="track-player", scale=2)
    qmap = gr.Plot(label="Your voice among the music (UMAP of the joint space)", elem_id="speech-map")
    with gr.Accordion("Full result (JSON, as returned by the /analyze API)", open=False):
        result.render()

    displays = [emotion, vad, mate_label, mate_av, transcript, tracks, pick, player, qmap, summary]
    run_btn.click(analyze, [audio, text, use_asr], [result], api_name="analyze", concurrency_id="analysis",
                  show_progress_on=[emotion, tracks, summary])
    result.change(show, [result], displays, api_visibility="private", show_progress="hidden")
    pick.input(play, [result, pick], [player], api_visibility="private", show_progress="hidden")


def sing_tab(svc, media: Media) -> None:
    defaults = svc.singing_default_weights()
    names = list(defaults)

    @checked(weights_check(names, ["audio_path"], "/sing"))
    @user_errors
    def sing(audio_path, *weights):
        """Audio file of singing -> {"range", "songs": [...]} (ranked with the given weights)."""
        a = svc.analyze_singing(audio_path)
        return songs_result(svc, media, a, dict(zip(names, weights))), a

    @checked(weights_check(names, ["analysis", "audio_path"], "re-ranking"))
    @user_errors
    def rerank(a, audio_path, *weights):
        """Re-rank the kept analysis under new weights: no audio is analysed again."""
        if a is None:   # nothing analysed yet in this session (e.g. an example was loaded from the cache)
            if not audio_path:
                raise gr.Error("Record or upload some singing first, then adjust the weights.")
            a = svc.analyze_singing(audio_path)
        return songs_result(svc, media, a, dict(zip(names, weights))), a

    @user_errors
    def song_outputs(r, song_id):
        s = views.find(r["songs"], song_id) if r else None
        return (views.song_detail(s), media.path(s.get("backing")) if s else None,
                media.path(s.get("guide")) if s else None)

    @user_errors
    def show(r):
        if not r:
            return "", None, gr.update(choices=[], value=None), "", None, None
        first = r["songs"][0]["id"] if r["songs"] else None
        return (views.range_markdown(r), views.songs_table(r["songs"]),
                gr.update(choices=views.song_choices(r["songs"]), value=first), *song_outputs(r, first))

    analysis = gr.State(None)   # this user's SingingAnalysis: sliders re-rank it without touching the audio
    result = gr.JSON(render=False, elem_id="sing-json")
    with gr.Row():
        with gr.Column(scale=1):
            audio = gr.Audio(sources=["microphone", "upload"], type="filepath", elem_id="sing-audio",
                             label="Your singing (10-30 s, any melody, held notes)",
                             waveform_options=gr.WaveformOptions(sample_rate=16000))
            run_btn = gr.Button("Find songs to sing", variant="primary", elem_id="sing-btn")
            clips = example_clips(assets_dir() / "examples" / "singing", 4, by="voice")
            if clips:
                gr.Examples([[c] for c, _ in clips], inputs=[audio], outputs=[result],
                            fn=lambda path: sing(path, *defaults.values())[0], cache_examples=True,
                            cache_mode="lazy", label="Example singers", example_labels=[cap for _, cap in clips])
            vrange = gr.Markdown(elem_id="sing-range")
        with gr.Column(scale=1):
            gr.Markdown(views.weights_help(defaults))
            sliders = [gr.Slider(*inputs.WEIGHT_RANGE, value=float(w), step=0.05, label=name, info=views.FACTOR_HELP.get(name),
                                 elem_id=f"w-{name}") for name, w in defaults.items()]
    songs = gr.Dataframe(headers=views.SONG_HEADERS, label="Songs for your voice", interactive=False,
                         elem_id="songs-table", wrap=True)
    with gr.Row():
        pick = gr.Dropdown(label="Listen to a song", choices=[], elem_id="song-pick", allow_custom_value=True)
        detail = gr.Markdown(elem_id="song-detail")
    with gr.Row():
        backing = gr.Audio(label="Backing track", interactive=False, elem_id="song-backing")
        guide = gr.Audio(label="Guide melody (sung by a synth voice)", interactive=False, elem_id="song-guide")
    with gr.Accordion("Full result (JSON, as returned by the /sing API)", open=False):
        result.render()

    run_btn.click(sing, [audio, *sliders], [result, analysis], api_name="sing", concurrency_id="analysis",
                  show_progress_on=[vrange, songs])
    for s in sliders:
        s.release(rerank, [analysis, audio, *sliders], [result, analysis], api_visibility="private",
                  concurrency_id="analysis", show_progress_on=[songs])
    audio.change(lambda: None, None, [analysis], api_visibility="private", show_progress="hidden", queue=False)
    result.change(show, [result], [vrange, songs, pick, detail, backing, guide], api_visibility="private",
                  show_progress="hidden")
    pick.input(song_outputs, [result, pick], [detail, backing, guide], api_visibility="private",
               show_progress="hidden")


def explore_tab(svc, tab: gr.Tab) -> None:
    """The map, drawn once here but sent when the tab is opened: in the page's config gradio would copy it (and
    the 170 choices) into every session's state (Limits.sessions)."""
    items = list(svc.map_items.values())
    labels = sorted({it["label"] for it in items})
    kinds = sorted({it["kind"] for it in items})

    def choices(sel_labels, sel_kinds):
        keep = [it for it in items if (not sel_labels or it["label"] in sel_labels)
                and (not sel_kinds or it["kind"] in sel_kinds) and it.get("path")]
        return [(f"{it['name']} [{it['kind']}: {it['label']}]", it["id"]) for it in keep]

    gr.Markdown("The joint embedding space, flattened with UMAP: music (circles) and reference speech (stars), "
                "coloured by emotion. Hover a point to see it; pick one below to hear it. "
                "An empty filter shows everything.")
    with gr.Row():
        f_labels = gr.CheckboxGroup(labels, label="Emotion / mood", elem_id="explore-labels")
        f_kinds = gr.CheckboxGroup(kinds, label="Modality", elem_id="explore-kinds")
    everything = svc.map_figure(), choices(None, None)
    plot = gr.Plot(label="Embedding map", elem_id="explore-plot")
    with gr.Row():
        pick = gr.Dropdown(choices=[], label="Choose a point to hear", elem_id="explore-pick",
                           allow_custom_value=True)   # hear() checks the id
        info = gr.Markdown(elem_id="explore-info")
    player = gr.Audio(label="Selected item", interactive=False, elem_id="explore-player")

    @user_errors
    def refilter(sel_labels, sel_kinds):
        if not sel_labels and not sel_kinds:
            figure, listed = everything
        else:
            figure = svc.map_figure(labels=sel_labels or None, kinds=sel_kinds or None)
            listed = choices(sel_labels, sel_kinds)
        return figure, gr.update(choices=listed, value=None)

    @user_errors
    def hear(item_id):
        if not item_id:
            return "", None
        it = svc.map_point(item_id)
        return f"**{it['name']}** · {it['kind']} · {it['label']}", it["path"]

    for f in (f_labels, f_kinds):
        f.change(refilter, [f_labels, f_kinds], [plot, pick], api_visibility="private", show_progress="minimal")
    tab.select(refilter, [f_labels, f_kinds], [plot, pick], api_visibility="private", show_progress="minimal")
    pick.change(hear, [pick], [info, player], api_visibility="private", show_progress="hidden")
    presets = [[["happy", "exciting", "funny"], []], [["sad", "calm", "tender"], []], [[], ["speech"]]]
    presets = [[[lab for lab in ls if lab in labels], ks] for ls, ks in presets]
    gr.Examples(presets, inputs=[f_labels, f_kinds], outputs=[plot],
                fn=lambda ls, ks: svc.map_figure(labels=ls or None, kinds=ks or None),
                cache_examples=True, cache_mode="lazy", label="Views")


def build_app(service=None, limits: Limits | None = None) -> GuardedBlocks:
    """The whole app around one shared, read-only service (loaded here when not given); limits: what the server
    accepts (default: Limits.from_env())."""
    if service is None:
        from esmr_core.service import get_service

        service = get_service()
    limits = limits or Limits.from_env()
    media = media_of(service)
    with GuardedBlocks(title="Emotion: voice to music", limits=limits, media=media) as demo:
        gr.Markdown("# Voice → Music\nSpeak, and hear music that matches the emotion in your voice. "
                    "Or sing, and get songs that suit your range. Everything runs on this machine.")
        with gr.Tabs():
            with gr.Tab("Voice → Music", id="voice"):
                voice_tab(service, media)
            with gr.Tab("Sing → Songs", id="sing"):
                sing_tab(service, media)
            with gr.Tab("Timeline", id="timeline"):
                timeline_tab(service, media)
            with gr.Tab("Explore", id="explore") as explore:
                explore_tab(service, explore)
            with gr.Tab("About", id="about"):
                gr.Markdown(service.about_markdown(), elem_id="about-md")
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
                       allowed_paths=demo.media.allowed_paths(), theme=gr.themes.Soft(), footer_links=["api"],
                       state_session_capacity=demo.limits.sessions, app_kwargs=app_kwargs, **kwargs)


def main(argv: list[str] | None = None) -> int:
    on_spaces = os.environ.get("SYSTEM") == "spaces"
    p = argparse.ArgumentParser(description="Serve the esmr Gradio app.")
    p.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "0.0.0.0" if on_spaces else "127.0.0.1"),
                   help="address to bind (default 127.0.0.1; 0.0.0.0 on Spaces or from GRADIO_SERVER_NAME)")
    p.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)))
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
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
