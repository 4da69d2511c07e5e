"""Voice -> Music: the music first. Beside the input: one line in words and the top 5 tracks, each with its own
player; below, folded: how the voice was read (both readings on one 0..1 scale, in words), the words and how
much they counted, the map, licences, the JSON.

One service call per click. The page's event returns the result or, on a refusal, the message in place of the
results (it stays until the next run; the previous results are cleared). The named API endpoint /analyze is
the same function raising the message (gradio_client: AppError), on a trigger of its own.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr
import plotly.graph_objects as go

from demo import page
from demo.guard import Media, RejectedInput, audio_payload, checked, expect_count, user_errors
from demo.players import plain_json, esc, example_clips, fixed_axes, map_coords, mood_chip, player_row, ring_trace, single_player
from esmr_core import inputs
from esmr_core.emotion import best_mood
from esmr_core.paths import assets_dir

TOP_K = 5
SCARCE_SHARE = 1 / 12     # a mood with fewer tracks than this share of the catalogue is "little of it"
CAVEAT = ("The models learned from synthetic speech and from real voices made emotional by rule, not from "
          "recordings of real emotion: treat the reading as a guess (README, “Real voices”).")
MATCH_HELP = ("<b>match</b>: how close the track lies to your voice in the shared emotion space the model "
              "learned (cosine similarity, 1 = same direction), plus a bonus when the track's energy fits how "
              "calm or excited you sound (as large as the closeness itself: a calm voice gets calm music). Voices "
              "and music sit apart in that space, so the scores stay well below 1: the order is what counts.")


# ---- words for numbers ----------------------------------------------------------------------------------------
def degree(value: float, low: str, high: str) -> str:
    """A reading on 0..1 in words: 0.52 -> "neither calm nor excited", 0.6 -> "a little excited",
    0.7 -> "excited", 0.85 -> "very excited" (and the same towards `low`)."""
    d = float(value) - 0.5
    word = high if d > 0 else low
    if abs(d) < 0.05:
        return f"neither {low} nor {high}"
    if abs(d) < 0.15:
        return f"a little {word}"
    if abs(d) < 0.3:
        return word
    return f"very {word}"


def arousal_words(a: float) -> str:
    return degree(a, "calm", "excited")


def valence_words(v: float) -> str:
    return degree(v, "unpleasant", "pleasant")


def mate_01(x: float) -> float:
    """MATE's 1..5 scale on 0..1 (the speech tower's scale)."""
    return (float(x) - 1.0) / 4.0


def summary_line(r: dict[str, Any]) -> str:
    """"You sound sad: calm and a little unpleasant." (the reading that picks the music)."""
    v = r["vad"]
    return (f"You sound {r['emotion']['label']}: {arousal_words(v['arousal'])} and "
            f"{valence_words(v['valence'])}.")


def wanted_mood(r: dict[str, Any]) -> str | None:
    """The music mood of the emotion read (esmr_core.emotion.best_mood: nearest in the emotion space); None for
    "neutral", which sits at the centre, as near every mood as any other."""
    label = r["emotion"]["label"]
    return None if label == "neutral" else best_mood(label)


def mood_notes(r: dict[str, Any], mood_counts: dict[str, int]) -> list[str]:
    """Notes when the catalogue has little of the mood the reading asks for, or when none of the 5 has it."""
    total = max(1, sum(mood_counts.values()))
    want = wanted_mood(r)
    if want is None:
        return []
    n = int(mood_counts.get(want, 0))
    moods = [t["mood"] for t in r["tracks"]]
    notes = []
    if n < SCARCE_SHARE * total:
        notes.append(f"Your reading asks for <b>{esc(want)}</b> music, and the catalogue has little of it: "
                     f"{n} of its {total} tracks.")
    if moods and want not in moods:
        common = max(set(moods), key=moods.count)
        notes.append(f"You sound {esc(r['emotion']['label'])}, yet none of these five is tagged {esc(want)}: they "
                     f"are the tracks nearest your voice in the shared space, mostly tagged {esc(common)}. The "
                     "emotion is the model's best single word for where your voice lies; the music is what lies "
                     "nearest, and a track's tag is one word for its valence and energy.")
    return notes


# ---- the results beside the input --------------------------------------------------------------------------
def tracks_html(r: dict[str, Any], mood_counts: dict[str, int]) -> str:
    """The one-line summary, the top tracks with a player each, the match explained, notes, the caveat."""
    rows = []
    for i, t in enumerate(r["tracks"]):
        sub = f'{esc(t["artist"])} · {mood_chip(t["mood"])}'
        right = (f'match {float(t["score"]):.2f}<span class="esmr-wide"><br>'
                 f'<span class="esmr-sub">{esc(t["licence"])}</span></span>')
        rows.append(player_row(t["id"], t.get("file"), t["title"], sub, right, rank=f"{i + 1}.",
                               label=f"Play track {i + 1}: {t['title']} by {t['artist']}"))
    notes = "".join(f'<p class="esmr-note">{n}</p>' for n in mood_notes(r, mood_counts))
    warn = "".join(f'<p class="esmr-note">Note: {esc(w)}</p>' for w in r.get("warnings", []))
    return (f'<div class="esmr-summary" data-testid="speech-summary-line">{esc(summary_line(r))}</div>'
            f'<div class="esmr-note">The music is picked by the voice reading (the speech tower): the {len(rows)} '
            f'tracks that lie nearest your voice. Press ▶ to listen.</div>'
            f'<div class="esmr-list" role="list" aria-label="Matching music">{"".join(rows)}</div>'
            f'<p class="esmr-note">{MATCH_HELP}</p>{notes}{warn}<p class="esmr-note"><i>{esc(CAVEAT)}</i></p>')


PLACEHOLDER = ('<div class="esmr-placeholder">Record or upload 3-30 s of speech (or pick an example below), then '
               '<b>Analyse my voice</b>: the matching music appears here, each track with its own player.'
               f'<p class="esmr-note"><i>{esc(CAVEAT)}</i></p></div>')


def error_html(message: str) -> str:
    return (f'<div class="esmr-error" role="alert" data-testid="speech-error"><b>Could not analyse this clip.</b> '
            f'{esc(message)}</div>')


# ---- the folded details --------------------------------------------------------------------------------------
def readings_markdown(r: dict[str, Any]) -> str:
    v, m = r["vad"], r["mate"]
    ma, mv = mate_01(m["arousal"]), mate_01(m["valence"])
    agree = "agrees" if m["label"] == r["emotion"]["label"] else "disagrees"
    return "\n".join([
        "**Which reading picks the music:** the voice reading (the speech tower). It places your voice in the "
        "space it shares with the music; the emotion and the two scales below are read from that same place, and "
        "the music is what lies nearest. **MATE** is a second, separate model (audio + words); it is shown for "
        f"comparison and does not pick the music. Here it {agree}.",
        "",
        "| | emotion | calm ↔ excited | unpleasant ↔ pleasant |",
        "|---|---|---|---|",
        f"| voice reading (picks the music) | {r['emotion']['label']} | {arousal_words(v['arousal'])} "
        f"({v['arousal']:.2f}) | {valence_words(v['valence'])} ({v['valence']:.2f}) |",
        f"| MATE (second opinion) | {m['label']} | {arousal_words(ma)} ({ma:.2f}) | {valence_words(mv)} ({mv:.2f}) |",
        "",
        "Both scales run from 0 to 1 (0.5 = in between); MATE's own 1-5 scale is converted to it.",
    ])


def readings_figure(r: dict[str, Any]) -> go.Figure:
    """Both models' arousal and valence on one 0..1 scale, the ends named in words."""
    v, m = r["vad"], r["mate"]
    dims = ["calm ↔ excited", "unpleasant ↔ pleasant"]
    fig = go.Figure()
    for name, vals, col in (("voice reading (picks the music)", [v["arousal"], v["valence"]], "#4338ca"),
                            ("MATE (second opinion)", [mate_01(m["arousal"]), mate_01(m["valence"])], "#0e7490")):
        fig.add_trace(go.Bar(x=vals, y=dims, orientation="h", name=name, marker_color=col,
                             text=[f"{x:.2f}" for x in vals], textposition="auto",
                             hovertemplate="%{y}: %{x:.2f}<extra>" + name + "</extra>"))
    fig.add_vline(x=0.5, line_dash="dot", line_color="#6b7280")
    fig.update_layout(template="plotly_white", height=230, barmode="group", margin=dict(l=10, r=10, t=10, b=30),
                      xaxis=dict(range=[0, 1], tickvals=[0, 0.5, 1], ticktext=["0 (calm / unpleasant)", "0.5",
                                                                                 "1 (excited / pleasant)"]),
                      yaxis=dict(autorange="reversed"), legend=dict(orientation="h", y=-0.25, x=0))
    return fig


def words_markdown(r: dict[str, Any]) -> str:
    src = r["transcript_source"]
    w = float(r.get("words_weight", 0.0))
    cut = " (the rest was cut off)" if r.get("truncated") else ""
    head = f"Analysed {float(r['duration_s']):.1f} s of audio{cut} in {float(r['timing_ms'].get('total_ms', 0)):.0f} ms."
    if src == "typed":
        return f"{head} Words: typed by you; they counted fully in both readings, with the voice."
    if src == "none":
        return f"{head} Words: none; both readings come from the voice alone."
    heard = f"“{r['transcript']}”" if r.get("transcript") else "no words"
    return (f"{head} Speech recognition heard {heard}; the words counted {100 * w:.0f}% (the recogniser's "
            "confidence), the voice the rest. Type what you said for a better reading.")


def licences_markdown(r: dict[str, Any]) -> str:
    return "\n".join(f"{i + 1}. **{t['title']}** — {t['artist']}: {t['licence']}" for i, t in enumerate(r["tracks"]))


def voice_map_figure(svc, r: dict[str, Any] | None):
    """The service's map of the result, with the query's own top 5 ringed under a legend entry of their own."""
    fig = svc.map_figure(r)
    if r:
        pts = []
        for t in r["tracks"]:
            xy = map_coords(svc.map, t["id"]) or (t["map"]["x"], t["map"]["y"])
            pts.append({"x": xy[0], "y": xy[1], "id": t["id"], "name": f"{t['title']} ({t['artist']})"})
        fig.add_trace(ring_trace(pts, f"your top {len(pts)} matches"))
    fig.update_layout(height=460)
    return fixed_axes(fig, svc.map.coords_)


# ---- examples ---------------------------------------------------------------------------------------------------
def speech_example_rows(folder: Path, group: str) -> list[tuple[str, str, str, float]]:
    """(path, caption, known words, seconds) of the example voices of one group ("words": TTS with their words;
    "voice-only": real voices without words), one per emotion, captioned with the emotion and the length."""
    out = []
    for row, path in example_clips(folder):
        if row.get("group", "words") == group:
            secs = float(row.get("duration_s") or 0.0)
            cap = f"{row['label']} · {secs:.0f} s" if secs else str(row["label"])
            out.append((str(path), cap, str(row.get("text") or ""), secs))
    return out


def span_s(clips: list[tuple[str, str, str, float]]) -> str:
    secs = [c[3] for c in clips if c[3]]
    return f"{min(secs):.0f}-{max(secs):.0f} s" if secs else ""


# ---- the tab ------------------------------------------------------------------------------------------------------
def voice_tab(svc, media: Media, blocks) -> None:
    max_chars = svc.config.max_transcript_chars
    from esmr_core.data import store

    mood_counts = store.value_counts(svc.catalog, "mood")

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

    @checked(analyze_check)
    @user_errors
    def analyze_page(audio_path, typed_text, use_asr=True, progress=gr.Progress()):
        """The page's run: (result, what shows beside the input). A refusal clears the result and shows its
        message in place of the music, where it stays until the next run."""
        try:
            r = analyze(audio_path, typed_text, use_asr, progress=progress)
        except gr.Error as exc:
            if isinstance(exc, RejectedInput):   # not audio: its upload is deleted now, as for the API
                blocks.uploads.discard(audio_path)
            # a result of its own (gradio fires no change for a value set to None): the details are cleared
            return {"error": str(exc.message)}, error_html(str(exc.message))
        return r, tracks_html(r, mood_counts)

    @user_errors
    def show(r):
        """Fan one result out to the folded displays (no model runs here)."""
        if not r or "error" in r:
            return (None, None, None, "", "", "", "", None, "")
        return (r["emotion"]["probabilities"], r["mate"]["probabilities"], readings_figure(r), readings_markdown(r),
                r["transcript"], words_markdown(r), licences_markdown(r), voice_map_figure(svc, r), "")

    @user_errors
    def hear(evt: gr.EventData):
        """A point of the map was clicked: play it (catalogue music or a reference voice; only their audio)."""
        item_id = getattr(evt, "item", None)
        if not isinstance(item_id, str) or not item_id:
            return ""
        it = svc.map_point(item_id)
        return single_player(it, media.url(it.get("path")))

    result = gr.JSON(render=False, elem_id="speech-json")
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=300):
            audio = gr.Audio(sources=["microphone", "upload"], type="filepath", label="Your voice (3-30 s)",
                             waveform_options=gr.WaveformOptions(sample_rate=16000), elem_id="speech-audio")
            text = gr.Textbox("", label="What you said (optional)", elem_id="speech-text", lines=2,
                              max_length=max_chars,
                              placeholder=f"Type it for a better reading; left empty, English speech recognition "
                                          f"tries (at most {max_chars:,} characters)")
            use_asr = gr.Checkbox(True, label="Transcribe my speech when nothing is typed (English)",
                                  elem_id="speech-asr")
            run_btn = gr.Button("Analyse my voice", variant="primary", elem_id="analyze-btn")
        with gr.Column(scale=1, min_width=300, elem_id="speech-results-col"):
            results = gr.HTML(PLACEHOLDER, js_on_load=page.PLAYERS_JS, elem_id="speech-results", min_height=120)
    folder = assets_dir() / "examples" / "speech"
    groups = (("words", "Examples: one voice per emotion, with its words (voice and words carry it; {span})"),
              ("voice-only", "Voice only (harder): real voices made emotional by rule, no words ({span})"))
    for group, title in groups:
        clips = speech_example_rows(folder, group)
        if clips:
            gr.Examples([[c, words, False] for c, _, words, _ in clips], inputs=[audio, text, use_asr],
                        outputs=[result, results], fn=analyze_page, cache_examples=True, cache_mode="lazy",
                        label=title.format(span=span_s(clips)), example_labels=[cap for _, cap, _, _ in clips])
    with gr.Accordion("How your voice was read: both readings, in words and on one scale", open=False,
                      elem_id="speech-readings"):
        readings_md = gr.Markdown(elem_id="readings-md")
        vad = gr.Plot(label="Calm ↔ excited, unpleasant ↔ pleasant (0..1): both models", elem_id="vad-plot")
        with gr.Row():
            emotion = gr.Label(num_top_classes=7, label="Emotion: voice reading (picks the music)",
                               elem_id="emotion-label")
            mate_label = gr.Label(num_top_classes=7, label="Emotion: MATE, audio + words (second opinion)",
                                  elem_id="mate-label")
    with gr.Accordion("The words, and how much they counted", open=False, elem_id="speech-words"):
        words_md = gr.Markdown(elem_id="words-md")
        transcript = gr.Textbox(label="Words used", interactive=False, elem_id="transcript-used")
    with gr.Accordion("Your voice among the music (map of the shared space)", open=False, elem_id="speech-map-acc"):
        gr.Markdown("Music (circles) and reference voices (stars), coloured by mood; the ✕ is your voice and the "
                    "rings are your five matches. Click a point to hear it.")
        qmap = gr.Plot(label="Map of the shared space (UMAP)", elem_id="speech-map")
        map_player = gr.HTML("", js_on_load=page.map_click_js("speech-map"), elem_id="speech-map-player")
    with gr.Accordion("Licences of these tracks", open=False):
        licences = gr.Markdown(elem_id="speech-licences")
    with gr.Accordion("Full result (JSON, as returned by the /analyze API)", open=False):
        result.render()

    api_trigger = gr.Button("analyze (API)", visible=False)   # the named endpoint: raises its message
    api_trigger.click(analyze, [audio, text, use_asr], [result], api_name="analyze", concurrency_id="analysis")
    run = run_btn.click(analyze_page, [audio, text, use_asr], [result, results], api_visibility="private",
                        concurrency_id="analysis", show_progress_on=[results])
    run.then(None, js=page.scroll_into_view_js("speech-results"))
    results.change(None, js=page.scroll_into_view_js("speech-results"))
    result.change(show, [result], [emotion, mate_label, vad, readings_md, transcript, words_md, licences, qmap,
                                   map_player], api_visibility="private", show_progress="hidden")
    map_player.click(hear, None, [map_player], api_visibility="private", show_progress="hidden")
