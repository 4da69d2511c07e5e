"""Sing -> Songs: songs you could sing well, and each one playable in the key the app advises.

One analysis per click (svc.analyze_singing), kept per user; every weight change re-ranks it (slider drag, arrow
keys, the number box). The chosen song's backing track is played in the advised key and its guide melody where
you are asked to sing (esmr_core.singing.transpose, at request time, cached), alone or together. A refusal shows
its message in place of the songs until the next run and clears the previous ones. The named API endpoint /sing
raises it instead (gradio_client: AppError).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from demo import page
from demo.guard import Media, RejectedInput, audio_payload, checked, expect_count, user_errors
from demo.players import esc, example_clips, plain_json, player_row
from esmr_core import inputs
from esmr_core.paths import assets_dir
from esmr_core.singing.synth import VOICE_TYPES
from esmr_core.singing.transpose import KeyedAudio, shift_words, total_shift, voice_type

TOP_K = 5
FACTOR_LABEL = {"range": "Fits your range", "timbre": "Voice colour", "expression": "Way of singing",
                "voice": "Voice likeness", "mood": "Overall sound"}
FACTOR_HELP = {
    "range": "how much of the melody lies inside your comfortable range, in the advised key",
    "timbre": "how much the colour of your voice resembles the song's guide singer",
    "expression": "how much your way of singing (vibrato, glides, attack) resembles the guide's",
    "voice": "how much your voice resembles the guide's, as a speaker-recognition model hears it",
    "mood": "how close the overall sound of your singing is to the guide's",
}
VOICE_GROUP = {"bass": "a low male voice", "baritone": "a low-to-middle male voice", "tenor": "a high male voice",
               "alto": "a low female voice", "mezzo": "a middle female voice", "soprano": "a high female voice"}
WEIGHTS_HELP = ("How much each thing counts when the songs are ranked. Any change re-ranks the songs at once, "
                "without analysing your singing again; 0 leaves a factor out.")


def weights_check(names: list[str], leading: list[str], endpoint: str):
    """Raw-payload check of an event whose inputs are `leading` then one slider per singing factor."""
    def check(data: list[Any]) -> None:
        expect_count(data, [*leading, *names], endpoint)
        audio_payload(data[leading.index("audio_path")], "audio_path")
        inputs.weights(dict(zip(names, data[len(leading):])), names)
    return check


def songs_result(svc, media: Media, analysis, weights: dict[str, float] | None) -> dict[str, Any]:
    """svc.rank_songs as plain JSON: {"range", "duration_s", "songs": [... with "backing" and "guide" as media
    URLs, "shift_words": where to sing it in words]}."""
    r = plain_json(svc.rank_songs(analysis, weights, top_k=TOP_K))
    for s in r["songs"]:
        s["backing"], s["guide"] = media.url(s["backing"]), media.url(s["guide"])
        s["shift_words"] = shift_words(total_shift(s))
    r["weights"] = dict(weights or svc.singing_default_weights())
    return r


# ---- views ------------------------------------------------------------------------------------------------------
def range_markdown(result: dict[str, Any]) -> str:
    """"Your comfortable range: **E3 – B3** (165–247 Hz), like a tenor's (a high male voice) · 15.0 s of ..."."""
    r = result["range"]
    text = f"Your comfortable range: **{r['low']} – {r['high']}**"
    if "low_hz" in r and "high_hz" in r:
        text += f" ({float(r['low_hz']):.0f}–{float(r['high_hz']):.0f} Hz)"
    if "low_midi" in r and "high_midi" in r:
        vt = voice_type(r["low_midi"], r["high_midi"])
        inside = [t for t, (lo, hi) in VOICE_TYPES.items() if lo <= r["low_midi"] and r["high_midi"] <= hi]
        others = [t for t in inside if t != vt]
        text += f", most like a **{vt}** ({VOICE_GROUP.get(vt, vt)})"
        if others:
            text += f"; a {' or '.join(others)} sings it comfortably too"
    if "voiced_s" in r:
        text += f" · {float(r['voiced_s']):.1f} s of pitched voice"
    if result.get("duration_s"):
        text += f" in a {float(result['duration_s']):.1f} s clip"
    return text + "."


def where_to_sing(song: dict[str, Any]) -> str:
    """"sing in A major, 2 semitones higher than written" / "sing in F# minor, 1 octave and 1 semitone lower"."""
    total = total_shift(song)
    how = "as written" if total == 0 else f"{shift_words(total)} than written"
    return f"sing in {song['key']}, {how}"


def song_reasons(song: dict[str, Any]) -> list[str]:
    """Whole sentences: the range fit where it is to be sung, then the service's similarity reason (reworded)."""
    total = total_shift(song)
    where = "as written" if total == 0 else shift_words(total)
    out = [f"{100 * float(song['range_fit']):.0f}% of the melody lies in your range when sung {where}"
           + (f" (in {song['key']}; written in {song.get('original_key', song['key'])})" if total else "") + "."]
    for reason in song.get("reasons", []):
        if reason.startswith(("strongest factor", "sing in", "fits your range")):
            continue
        reason = reason.replace("catalogue mean", "the catalogue's average").replace("voice (speaker embedding)",
                                                                                      "voice likeness")
        out.append(reason[0].upper() + reason[1:] + ".")
    return out


def songs_html(r: dict[str, Any], chosen: str | None) -> str:
    rows = []
    for i, s in enumerate(r["songs"]):
        reasons = "".join(f"<li>{esc(x)}</li>" for x in song_reasons(s))
        pressed = "true" if s["id"] == chosen else "false"
        rows.append(
            f'<div class="esmr-row" data-id="{esc(s["id"])}"><span class="esmr-rank">{i + 1}.</span>'
            f'<div><div class="esmr-title">{esc(s["title"])}</div>'
            f'<div class="esmr-sub"><b>{esc(where_to_sing(s))}</b> · fits your range '
            f'{100 * float(s["range_fit"]):.0f}% · score {float(s["score"]):.2f}</div>'
            f'<ul class="esmr-reasons">{reasons}</ul></div>'
            f'<button type="button" class="esmr-pick" data-item="{esc(s["id"])}" aria-pressed="{pressed}" '
            f'aria-label="Listen to {esc(s["title"])} in {esc(s["key"])}">Listen</button></div>')
    w = ", ".join(f"{FACTOR_LABEL.get(k, k).lower()} {float(v):g}" for k, v in r.get("weights", {}).items())
    return (f'<div class="esmr-songs"><div class="esmr-summary">Songs for your voice</div>'
            f'<div class="esmr-list" role="list" aria-label="Songs for your voice">{"".join(rows)}</div>'
            f'<p class="esmr-note" data-testid="ranked-with">Ranked with: {esc(w)}. The score is the weighted '
            "average of the factors (each 0 to 1).</p></div>")


def players_html(song: dict[str, Any], files: dict[str, str | None]) -> str:
    """The chosen song's three players, all in the advised key."""
    total = total_shift(song)
    key = song["key"]
    guide_where = "as written" if total == 0 else shift_words(total)
    rows = [("backing", f"Backing track in {key}", "the accompaniment, in the key to sing in"),
            ("guide", f"Guide melody, {guide_where}", "the tune where your range puts it (a synth voice)"),
            ("together", "Play together", "backing and guide at once: sing along")]
    body = "".join(player_row(f"{song['id']}-{kind}", files.get(kind), title, esc(sub),
                              label=f"Play {title.lower()}: {song['title']}",
                              extra=f'<span hidden data-role="{kind}"></span>')
                   for kind, title, sub in rows)
    return (f'<div class="esmr-note" data-testid="song-advice"><b>{esc(song["title"])}</b>: '
            f'{esc(where_to_sing(song))}. Everything below plays in {esc(key)}.</div>'
            f'<div class="esmr-players" data-song="{esc(song["id"])}" data-key-shift="{int(song["transpose_semitones"])}" '
            f'data-sing-shift="{total}">{body}</div>')


def error_html(message: str) -> str:
    return (f'<div class="esmr-error" role="alert" data-testid="sing-error"><b>Could not use this clip.</b> '
            f'{esc(message)}</div>')


PLACEHOLDER = ('<div class="esmr-placeholder">Sing 10-30 s (any melody, held notes help) or pick an example, then '
               '<b>Find songs to sing</b>: the songs appear here, each playable in the key that suits you.</div>')


def singing_examples(folder: Path) -> list[tuple[str, str]]:
    """(path, caption) of every bundled example singer: voice, song, length."""
    out = []
    for row, path in example_clips(folder):
        voice = str(row.get("voice", "")).split("-")[0]
        song = str(row.get("text") or row.get("song_id", ""))
        song = song.split(" (")[0]
        secs = row.get("duration_s")
        if not secs:
            import soundfile as sf

            try:
                secs = sf.info(str(path)).duration
            except RuntimeError:
                secs = None
        out.append((str(path), f"{voice} · {song}" + (f" · {float(secs):.0f} s" if secs else "")))
    return out


# ---- the tab -------------------------------------------------------------------------------------------------------
def sing_tab(svc, media: Media, blocks, keyed: KeyedAudio) -> None:
    defaults = svc.singing_default_weights()
    names = list(defaults)
    rows = {r["id"]: r for r in svc.singer.rows} if svc.singer is not None else {}

    @checked(weights_check(names, ["audio_path"], "/sing"))
    @user_errors
    def sing(audio_path, *weights):
        """Audio file of singing -> {"range", "songs": [...]} (ranked with the given weights)."""
        a = svc.analyze_singing(audio_path)
        return songs_result(svc, media, a, dict(zip(names, weights))), a

    @checked(weights_check(names, ["audio_path"], "/sing"))
    @user_errors
    def sing_page(audio_path, *weights):
        try:
            r, a = sing(audio_path, *weights)
        except gr.Error as exc:
            if isinstance(exc, RejectedInput):
                blocks.uploads.discard(audio_path)
            return {"error": str(exc.message)}, None, error_html(str(exc.message)), ""
        first = r["songs"][0]["id"] if r["songs"] else None
        return r, a, songs_html(r, first), range_markdown(r)

    @checked(weights_check(names, ["analysis", "audio_path"], "re-ranking"))
    @user_errors
    def rerank(a, audio_path, *weights):
        """Re-rank the kept analysis under new weights: no audio is analysed again."""
        if a is None:   # nothing analysed yet in this session (e.g. an example was loaded from the cache)
            if not audio_path:
                return gr.skip(), gr.skip(), gr.skip(), gr.skip()
            a = svc.analyze_singing(audio_path)
        r = songs_result(svc, media, a, dict(zip(names, weights)))
        first = r["songs"][0]["id"] if r["songs"] else None
        return r, a, songs_html(r, first), range_markdown(r)

    def players_for(r, song_id):
        song = next((s for s in (r or {}).get("songs", []) if s.get("id") == song_id), None)
        row = rows.get(song_id) if song else None
        if song is None or row is None:
            return ""
        files = keyed.render(svc.singer.songs_dir, row, song)
        return players_html(song, {k: media.url(files[k]) for k in ("backing", "guide", "together")})

    @user_errors
    def show(r):
        if not r or not r.get("songs"):
            return ""
        return players_for(r, r["songs"][0]["id"])

    @user_errors
    def choose(r, evt: gr.EventData):
        song_id = getattr(evt, "item", None)
        if not r or "songs" not in r or not isinstance(song_id, str):
            return gr.skip(), gr.skip()
        return songs_html(r, song_id), players_for(r, song_id)

    analysis = gr.State(None)   # this user's SingingAnalysis: the weights re-rank it without touching the audio
    result = gr.JSON(render=False, elem_id="sing-json")
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=300):
            audio = gr.Audio(sources=["microphone", "upload"], type="filepath", elem_id="sing-audio",
                             label="Your singing (10-30 s, any melody, held notes)",
                             waveform_options=gr.WaveformOptions(sample_rate=16000))
            run_btn = gr.Button("Find songs to sing", variant="primary", elem_id="sing-btn")
            vrange = gr.Markdown(elem_id="sing-range")
        with gr.Column(scale=1, min_width=300):
            players = gr.HTML("", js_on_load=page.PLAYERS_JS, elem_id="song-players")
            songs = gr.HTML(PLACEHOLDER, js_on_load=page.PLAYERS_JS, elem_id="songs-list")
    clips = singing_examples(assets_dir() / "examples" / "singing")
    if clips:
        gr.Examples([[c] for c, _ in clips], inputs=[audio], outputs=[result, analysis, songs, vrange],
                    fn=lambda path: sing_page(path, *defaults.values()), cache_examples=True, cache_mode="lazy",
                    label="Example singers (synthetic voices singing two chorales' melodies, made by this project)",
                    example_labels=[cap for _, cap in clips])
    with gr.Accordion("What counts in the ranking (weights)", open=True, elem_id="sing-weights"):
        gr.Markdown(WEIGHTS_HELP)
        with gr.Row():
            sliders = [gr.Slider(*inputs.WEIGHT_RANGE, value=float(w), step=0.05, label=FACTOR_LABEL.get(name, name),
                                 info=FACTOR_HELP.get(name), elem_id=f"w-{name}", min_width=200)
                       for name, w in defaults.items()]
    with gr.Accordion("Full result (JSON, as returned by the /sing API)", open=False):
        result.render()

    api_trigger = gr.Button("sing (API)", visible=False)
    api_trigger.click(sing, [audio, *sliders], [result, analysis], api_name="sing", concurrency_id="analysis")
    run_btn.click(sing_page, [audio, *sliders], [result, analysis, songs, vrange], api_visibility="private",
                  concurrency_id="analysis", show_progress_on=[songs])
    for s in sliders:   # .input: a drag, the arrow keys and the number box alike; only the last change counts
        s.input(rerank, [analysis, audio, *sliders], [result, analysis, songs, vrange], api_visibility="private",
                concurrency_id="analysis", show_progress="hidden", trigger_mode="always_last")
    audio.change(lambda: None, None, [analysis], api_visibility="private", show_progress="hidden", queue=False)
    result.change(show, [result], [players], api_visibility="private", show_progress="hidden")
    songs.click(choose, [result], [songs, players], api_visibility="private", show_progress="hidden")
