"""The Timeline view: the emotion arc of a long recording (up to 10 minutes) and a soundtrack that follows it.

One service call per click (svc.analyze_timeline); the plot, the clickable utterance strip, the sections table,
the players and the cue sheet files are all drawn from that one result. The page keeps a compact view of it
(times, labels, tracks: a few KB per minute) that the players read, so they work even after the server has
forgotten the session; the full result (~20 KB per minute of speech) goes to the page once, not back. Named API
endpoint for gradio_client: /timeline (audio file, script, use speech recognition, shortest section in s -> JSON).
"""
from __future__ import annotations

import hashlib
import html
import json
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import gradio as gr
import plotly.graph_objects as go

from demo.guard import Media, RejectedInput, audio_payload, checked, expect_count, user_errors
from esmr_core import inputs
from esmr_core import timeline as T
from esmr_core.retrieval.map2d import LABEL_COLORS
from esmr_core.files import to_json

SECTION_HEADERS = ["#", "start", "end", "emotion", "arousal", "valence", "track", "artist"]
MIN_SECTION_RANGE = (2.0, 60.0)   # s, the slider (the API takes 0..600)
CUE_DIR = Path(tempfile.gettempdir()) / "esmr-cue-sheets"   # gradio copies the files it offers into its cache
CUE_MAX_AGE_S = 3600              # older cue-sheet files there are deleted when new ones are written
# A click on an utterance of the strip: trigger a "click" event with its index (gradio's custom-HTML events).
STRIP_JS = """element.addEventListener('click', (e) => {
  const seg = e.target.closest('[data-seg]');
  if (seg) { trigger('click', {segment: Number(seg.dataset.seg)}); }
});"""
STRIP_CSS = """
.tl-strip { position: relative; height: 64px; margin: 2px 10px 10px 46px; font-size: 11px; }  /* the plot's margins */
.tl-row { position: absolute; left: 0; right: 0; }
.tl-sec { position: absolute; top: 0; height: 22px; border-radius: 3px; color: #fff; overflow: hidden;
          white-space: nowrap; padding: 3px 4px; box-sizing: border-box; }
.tl-seg { position: absolute; top: 28px; height: 30px; border-radius: 3px; cursor: pointer; opacity: 0.85;
          border: 1px solid rgba(0,0,0,0.25); box-sizing: border-box; }
.tl-seg:hover { opacity: 1; outline: 2px solid #111; }
"""


def color(label: str) -> str:
    return LABEL_COLORS.get(label, "#888888")


def _mmss(seconds: float) -> str:
    m, s = divmod(float(seconds), 60.0)
    return f"{int(m)}:{s:04.1f}"


# ---- views of one result (no model runs here) -------------------------------------------------------------
def timeline_figure(r: dict[str, Any]) -> go.Figure:
    """Time on x; the speech tower's arousal and valence (0..1) per utterance, MATE's (1..5 drawn on 0..1)
    dashed; each section a band in its emotion's colour; long silences grey."""
    segs = r["segments"]
    mid = [(s["start_s"] + s["end_s"]) / 2 for s in segs]
    hover = [f"{_mmss(s['start_s'])}–{_mmss(s['end_s'])} · {s['emotion']['label']} / MATE {s['mate']['label']}"
             + (f"<br>“{html.escape(s['transcript'][:80])}”" if s["transcript"] else "") for s in segs]
    fig = go.Figure()
    for key, name, dash, col in (("arousal", "arousal", "solid", "#dc2626"), ("valence", "valence", "solid", "#2563eb")):
        fig.add_trace(go.Scatter(x=mid, y=[s["vad"][key] for s in segs], name=name, mode="lines+markers",
                                 line=dict(color=col, dash=dash, width=2), text=hover,
                                 hovertemplate="%{text}<br>" + name + " %{y:.2f}<extra></extra>"))
        fig.add_trace(go.Scatter(x=mid, y=[(s["mate"][key] - 1) / 4 for s in segs], name=f"MATE {name}",
                                 mode="lines", line=dict(color=col, dash="dot", width=1.5),
                                 customdata=[s["mate"][key] for s in segs],
                                 hovertemplate=f"MATE {name} " + "%{customdata:.2f}/5<extra></extra>"))
    for sec in r["sections"]:
        fig.add_vrect(x0=sec["start_s"], x1=sec["end_s"], fillcolor=color(sec["emotion"]), opacity=0.18,
                      line_width=0, layer="below", annotation_text=f"{sec['index'] + 1}. {sec['emotion']}",
                      annotation_position="top left", annotation_font_size=11)
    for gap in r["gaps"]:
        fig.add_vrect(x0=gap["start_s"], x1=gap["end_s"], fillcolor="#9ca3af", opacity=0.25, line_width=0,
                      layer="below", annotation_text="silence", annotation_position="top left")
    fig.update_layout(template="plotly_white", height=320, margin=dict(l=40, r=10, t=30, b=36),
                      xaxis=dict(title="time (s)", range=[0, r["duration_s"]]),
                      yaxis=dict(title="0 … 1", range=[-0.02, 1.08]),
                      legend=dict(orientation="h", y=-0.25, x=0), hovermode="closest")
    return fig


def strip_html(r: dict[str, Any]) -> str:
    """The sections (top row) and the utterances (bottom row, clickable) on the same time axis as the plot."""
    dur = max(float(r["duration_s"]), 1e-6)

    def box(cls: str, a: float, b: float, col: str, inner: str = "", extra: str = "") -> str:
        return (f'<div class="{cls}" {extra} style="left:{100 * a / dur:.3f}%;width:{max(0.2, 100 * (b - a) / dur):.3f}%;'
                f'background:{col}">{inner}</div>')

    secs = "".join(box("tl-sec", s["start_s"], s["end_s"], color(s["emotion"]),
                       html.escape(f"{s['index'] + 1}. {s['emotion']}"),
                       f'title="{html.escape(s["track"]["title"] if s.get("track") else "")}"') for s in r["sections"])
    segs = "".join(box("tl-seg", s["start_s"], s["end_s"], color(s["emotion"]["label"]), "",
                       f'data-seg="{s["index"]}" title="{html.escape(_mmss(s["start_s"]) + " " + s["emotion"]["label"] + (": " + s["transcript"] if s["transcript"] else ""))}"')
                   for s in r["segments"])
    return f'<div class="tl-strip"><div class="tl-row">{secs}</div><div class="tl-row">{segs}</div></div>'


def sections_table(r: dict[str, Any]) -> list[list[Any]]:
    return [[s["index"] + 1, _mmss(s["start_s"]), _mmss(s["end_s"]), s["emotion"], round(s["arousal"], 2),
             round(s["valence"], 2), (s.get("track") or {}).get("title", ""), (s.get("track") or {}).get("artist", "")]
            for s in r["sections"]]


def section_choices(r: dict[str, Any]) -> list[tuple[str, int]]:
    return [(f"{s['index'] + 1}. {_mmss(s['start_s'])}–{_mmss(s['end_s'])} {s['emotion']}", s["index"])
            for s in r["sections"]]


def summary_markdown(r: dict[str, Any]) -> str:
    words = ("your script" if r["settings"].get("script") else "speech recognition" if r["settings"]["asr"]
             else "none (the voice alone)")
    lines = [f"**{len(r['sections'])} sections** from {len(r['segments'])} utterances "
             f"({r['speech_s']:.0f} s of speech in {r['duration_s']:.0f} s); words: {words}; "
             f"analysed in {r['timing_ms']['total_ms'] / 1000:.1f} s. Click an utterance in the strip to hear it; "
             "pick a section to hear it with its music."]
    lines += [f"> note: {w}" for w in r.get("warnings", [])]
    return "\n\n".join(lines)


def player_view(r: dict[str, Any]) -> dict[str, Any]:
    """What the players need, kept by the page: per utterance its times, labels, arousal/valence and words; per
    section its times, readings and tracks (media URLs)."""
    return {"segments": [{"index": s["index"], "start_s": s["start_s"], "end_s": s["end_s"],
                          "label": s["emotion"]["label"], "arousal": s["vad"]["arousal"],
                          "valence": s["vad"]["valence"], "mate": s["mate"]["label"], "transcript": s["transcript"]}
                         for s in r["segments"]],
            "sections": [{**{k: s[k] for k in ("index", "start_s", "end_s", "emotion", "arousal", "valence",
                                                "mate_arousal", "mate_valence")},
                          "utterances": len(s["segments"]),
                          "tracks": [{k: t.get(k) for k in ("title", "artist", "licence", "file")} for t in s["tracks"]]}
                         for s in r["sections"]]}


def _item(view: Any, key: str, index: Any) -> dict[str, Any] | None:
    """view[key][index] when the page sent a well-formed view and a valid index, else None."""
    try:
        items = view[key]
        i = int(index)
    except (TypeError, KeyError, ValueError):
        return None
    if not isinstance(items, list) or not 0 <= i < len(items) or not isinstance(items[i], dict):
        return None
    return items[i]


def section_markdown(sec: dict[str, Any]) -> str:
    tracks = sec.get("tracks") or [{}]
    t, others = tracks[0], ", ".join(str(x.get("title", "")) for x in tracks[1:])
    return (f"**Section {sec['index'] + 1}** · {_mmss(sec['start_s'])}–{_mmss(sec['end_s'])} · **{sec['emotion']}** "
            f"(arousal {sec['arousal']:.2f}, valence {sec['valence']:.2f}; MATE {sec['mate_arousal']:.2f}/5, "
            f"{sec['mate_valence']:.2f}/5) · {sec['utterances']} utterances\n\n"
            f"Music: **{t.get('title', '—')}** — {t.get('artist', '')} [{t.get('licence', '')}]"
            + (f"; also: {others}" if others else ""))


def segment_markdown(seg: dict[str, Any]) -> str:
    words = f" “{seg['transcript']}”" if seg["transcript"] else ""
    return (f"Utterance {seg['index'] + 1} · {_mmss(seg['start_s'])}–{_mmss(seg['end_s'])} · speech tower "
            f"**{seg['label']}** (arousal {seg['arousal']:.2f}, valence {seg['valence']:.2f})"
            f" · MATE **{seg['mate']}** (in context){words}")


def cue_files(r: dict[str, Any]) -> list[str]:
    """The cue sheet as cue-sheet.csv and cue-sheet.json (gradio copies and serves them for download), in a folder
    named by their content under CUE_DIR; folders there older than CUE_MAX_AGE_S are deleted first."""
    import shutil

    CUE_DIR.mkdir(exist_ok=True)
    now = time.time()
    for old in CUE_DIR.iterdir():
        try:
            if now - old.stat().st_mtime > CUE_MAX_AGE_S:
                shutil.rmtree(old) if old.is_dir() else old.unlink()
        except OSError:
            pass
    texts = {"csv": T.cue_csv(r["cues"]), "json": T.cue_json(r["cues"])}
    folder = CUE_DIR / hashlib.sha1(texts["json"].encode("utf-8")).hexdigest()[:16]
    folder.mkdir(exist_ok=True)
    paths = []
    for ext, text in texts.items():
        path = folder / f"cue-sheet.{ext}"
        tmp = folder / f".cue-sheet.{ext}.{os.getpid()}.{threading.get_ident()}"
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
        paths.append(str(path))
    os.utime(folder)
    return paths


# ---- the tab ------------------------------------------------------------------------------------------------
def timeline_tab(svc, media: Media, blocks=None) -> None:
    def timeline_check(data: list[Any]) -> None:
        expect_count(data, ["audio_path", "script", "use_asr", "min_section_s"], "/timeline")
        audio_payload(data[0], "audio_path")
        inputs.transcript(data[1], T.MAX_SCRIPT_CHARS, name="script")
        inputs.flag(data[2], "use_asr")
        inputs.number(data[3], "min_section_s", 0.0, T.MAX_SECONDS)

    @checked(timeline_check)
    @user_errors
    def analyze(audio_path, script, use_asr=False, min_section_s=6.0, progress=gr.Progress()):
        """A recording of up to 10 minutes (+ optional script of what was said; use_asr: transcribe when there is
        no script; min_section_s: shortest section) -> utterances, sections, cue sheet as JSON."""
        progress(0.0, desc="Reading the recording…")
        r = json.loads(to_json(svc.analyze_timeline(audio_path, script=script, asr=use_asr,
                                                    min_section_s=min_section_s,
                                                    progress=lambda f, msg: progress(f, desc=msg))))
        for sec in r["sections"]:   # media URLs served by the app, never server paths
            for t in sec["tracks"]:
                t["file"] = media.url(t.pop("path"))
            sec["track"] = sec["tracks"][0] if sec["tracks"] else None
        for c in r["cues"]:
            c["file"] = media.url(c["file"]) or ""
        return r, r

    @checked(timeline_check)
    @user_errors
    def analyze_page(audio_path, script, use_asr=False, min_section_s=6.0, progress=gr.Progress()):
        """The page's run: a refusal clears the previous result and its message stays under the button until
        the next run (the API endpoint raises it instead)."""
        try:
            r, _ = analyze(audio_path, script, use_asr, min_section_s, progress=progress)
        except gr.Error as exc:
            if isinstance(exc, RejectedInput) and blocks is not None:
                blocks.uploads.discard(audio_path)
            failed = {"error": str(exc.message)}
            return failed, failed, None, (f'<div class="esmr-error" role="alert" data-testid="tl-error"><b>Could not read this '
                                f'recording.</b> {html.escape(str(exc.message))}</div>')
        return r, r, audio_path, ""

    def section_outputs(view, audio_path, index):
        sec = _item(view, "sections", index)
        if sec is None:
            return "", None, None
        track = media.path((sec.get("tracks") or [{}])[0].get("file"))   # only catalogue audio
        mix = None
        if audio_path and track:
            mix = (T.PREVIEW_SR, T.preview_mix(audio_path, float(sec["start_s"]), float(sec["end_s"]), track))
        return section_markdown(sec), mix, track

    @user_errors
    def show(r, audio_path):
        """Fan the result out (right after the analysis, from the server's copy: the page does not send it back)."""
        if not r or "error" in r:
            return (None, "", None, "", [], gr.update(choices=[], value=None), "", None, None, None)
        view = player_view(r)
        first = 0 if r["sections"] else None
        return (view, summary_markdown(r), timeline_figure(r), strip_html(r), sections_table(r),
                gr.update(choices=section_choices(r), value=first), *section_outputs(view, audio_path, first),
                cue_files(r))

    @user_errors
    def hear_section(view, audio_path, index):
        return section_outputs(view, audio_path, index)

    @user_errors
    def hear_segment(view, audio_path, evt: gr.EventData):
        seg = _item(view, "segments", getattr(evt, "segment", None))
        if seg is None or not audio_path:
            return "", None
        return segment_markdown(seg), (16000, T.excerpt(audio_path, float(seg["start_s"]), float(seg["end_s"])))

    last = gr.State(None)    # the full result, only for the fan-out right after the analysis
    # the recording it was made from (the fan-out's mix; None after a refusal, whose upload is deleted at once)
    analysed = gr.State(None)
    view = gr.JSON(visible=False, elem_id="tl-view")   # what the players read, kept by the page
    result = gr.JSON(render=False, elem_id="tl-json")
    gr.Markdown("A voice-over, a podcast, a conversation: up to 10 minutes (25 MB). The recording is cut into "
                "utterances; each is read by the speech tower and by MATE in the context of the utterances before "
                "it; the readings are smoothed into sections of one emotion, each with its own music.")
    with gr.Row():
        with gr.Column(scale=1):
            audio = gr.Audio(sources=["upload", "microphone"], type="filepath", elem_id="tl-audio",
                             label="Your recording (up to 10 minutes)",
                             waveform_options=gr.WaveformOptions(sample_rate=16000))
            script = gr.Textbox("", label="Script (optional): what was said", lines=4, elem_id="tl-script",
                                max_length=T.MAX_SCRIPT_CHARS,
                                placeholder="Paste the voice-over script or transcript: its sentences are matched to "
                                            "the utterances, and both models read the words with the voice")
        with gr.Column(scale=1):
            use_asr = gr.Checkbox(False, label="No script? Transcribe each utterance (English speech recognition; "
                                               "slower, and unreliable on emotional speech)", elem_id="tl-asr")
            min_section = gr.Slider(*MIN_SECTION_RANGE, value=T.TimelineConfig.min_section_s, step=1.0,
                                    label="Shortest section (s of speech): the music changes at most this often",
                                    elem_id="tl-min-section")
            run_btn = gr.Button("Analyse the recording", variant="primary", elem_id="tl-btn")
            summary = gr.Markdown(elem_id="tl-summary")
            error = gr.HTML("", elem_id="tl-error")   # a refusal's message, until the next run
    plot = gr.Plot(label="Emotion arc: arousal and valence per utterance (MATE dotted), sections as bands",
                   elem_id="tl-plot")
    strip = gr.HTML("", js_on_load=STRIP_JS, css_template=STRIP_CSS, elem_id="tl-strip")
    with gr.Row():
        seg_info = gr.Markdown(elem_id="tl-segment-info")
        seg_player = gr.Audio(label="Utterance", interactive=False, elem_id="tl-segment-player")
    sections = gr.Dataframe(headers=SECTION_HEADERS, label="Soundtrack: one section per emotion", interactive=False,
                            elem_id="tl-sections", wrap=True)
    with gr.Row():
        pick = gr.Dropdown(label="Hear a section", choices=[], elem_id="tl-section-pick", scale=1,
                           allow_custom_value=True)   # its choices live in the session; hear_section checks it
        sec_info = gr.Markdown(elem_id="tl-section-info")
    with gr.Row():
        mix_player = gr.Audio(label="The section with its music", interactive=False, elem_id="tl-mix-player")
        track_player = gr.Audio(label="Its track", interactive=False, elem_id="tl-track-player")
    cues = gr.File(label="Cue sheet (CSV, JSON)", file_count="multiple", interactive=False, elem_id="tl-cues")
    with gr.Accordion("Full result (JSON, as returned by the /timeline API)", open=False):
        result.render()

    api_trigger = gr.Button("timeline (API)", visible=False)   # the named endpoint: raises its message
    api_trigger.click(analyze, [audio, script, use_asr, min_section], [result, last], api_name="timeline",
                      concurrency_id="analysis")
    run_btn.click(analyze_page, [audio, script, use_asr, min_section], [result, last, analysed, error],
                  api_visibility="private", concurrency_id="analysis", show_progress_on=[summary, plot, sections])
    result.change(show, [last, analysed], [view, summary, plot, strip, sections, pick, sec_info, mix_player,
                                        track_player, cues], api_visibility="private", show_progress="hidden")
    pick.input(hear_section, [view, audio, pick], [sec_info, mix_player, track_player], api_visibility="private",
               show_progress="hidden")
    strip.click(hear_segment, [view, audio], [seg_info, seg_player], api_visibility="private",
                show_progress="hidden")
