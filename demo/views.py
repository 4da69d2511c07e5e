"""Turn the service's result dicts into what the page shows (tables, small charts, Markdown).

Pure functions of plain dicts: no model is run here. The app (demo/app.py) calls the service once per
click and fans its result out through these helpers.
"""
from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

TRACK_HEADERS = ["#", "title", "artist", "mood", "score", "licence"]
SONG_HEADERS = ["#", "title", "sing in key", "transpose", "melody range", "range fit", "score", "why"]
FACTOR_HELP = {
    "range": "how much of the melody fits your range",
    "timbre": "timbre similarity to the guide vocal",
    "expression": "singing-expression similarity",
    "voice": "voice (speaker embedding) similarity",
    "mood": "overall mood similarity",
}


def bar_figure(values: dict[str, float], lo: float, hi: float, title: str, color: str = "#6366f1") -> go.Figure:
    """A small horizontal bar chart of named values on the axis range [lo, hi]."""
    names = list(values)
    fig = go.Figure(go.Bar(x=[values[n] for n in names], y=names, orientation="h", marker_color=color,
                           text=[f"{values[n]:.2f}" for n in names], textposition="auto",
                           hovertemplate="%{y}: %{x:.3f}<extra></extra>"))
    fig.update_layout(title=dict(text=title, font=dict(size=13)), template="plotly_white", height=190,
                      margin=dict(l=10, r=10, t=36, b=24), xaxis=dict(range=[lo, hi]),
                      yaxis=dict(autorange="reversed"))
    return fig


def vad_figure(vad: dict[str, float]) -> go.Figure:
    """Valence / arousal / dominance, each in [0, 1] (NRC-VAD scale; 0.5 = neutral)."""
    return bar_figure({k: float(vad[k]) for k in ("valence", "arousal", "dominance")}, 0.0, 1.0,
                      "valence · arousal · dominance (0..1)")


def mate_figure(mate: dict[str, Any]) -> go.Figure:
    """MATE's arousal and valence on the 1..5 scale."""
    return bar_figure({"arousal": float(mate["arousal"]), "valence": float(mate["valence"])}, 1.0, 5.0,
                      "MATE arousal · valence (1..5)", color="#0ea5e9")


def tracks_table(tracks: list[dict[str, Any]]) -> list[list[Any]]:
    """Rows for the tracks Dataframe (TRACK_HEADERS)."""
    return [[i + 1, t["title"], t["artist"], t["mood"], round(float(t["score"]), 3), t["licence"]]
            for i, t in enumerate(tracks)]


def track_choices(tracks: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(label, id) pairs for the "play" selector, in rank order."""
    return [(f"{i + 1}. {t['title']} — {t['artist']}", t["id"]) for i, t in enumerate(tracks)]


def find(items: list[dict[str, Any]], item_id: str | None) -> dict[str, Any] | None:
    return next((it for it in items if it["id"] == item_id), None)


def speech_summary(r: dict[str, Any]) -> str:
    """Markdown: the emotion, the transcript used and where it came from, notes and timings."""
    src = {"asr": "speech recognition", "typed": "typed by you", "none": "no transcript (audio cues only)"}
    cut = " (the rest was cut off)" if r.get("truncated") else ""
    source = src.get(r["transcript_source"], r["transcript_source"])
    lines = [f"**Emotion: {r['emotion']['label']}** · MATE: {r['mate']['label']} "
             f"(arousal {float(r['mate']['arousal']):.2f}/5, valence {float(r['mate']['valence']):.2f}/5, "
             f"from {' + '.join(r['mate'].get('modalities', [])) or 'audio'})",
             f"Analysed {float(r['duration_s']):.1f} s of audio{cut}; transcript: {source}; "
             f"{float(r['timing_ms'].get('total_ms', 0.0)):.0f} ms."]
    if r["transcript_source"] == "asr":
        w = float(r.get("words_weight", 1.0))
        heard = f"“{r['transcript']}”" if r.get("transcript") else "no words"
        lines.append(f"Speech recognition heard {heard}; the words counted {100 * w:.0f}% (the recogniser's "
                     "confidence), the voice the rest. **Type what you said for a better reading.**")
    lines += [f"> note: {w}" for w in r.get("warnings", [])]
    lines.append("_The models learned from synthetic speech and from real voices made emotional by rule, not from "
                 "real emotional speech: treat the reading as a guess (figures: README, Real voices)._")
    return "\n\n".join(lines)


# ---- singing --------------------------------------------------------------------------------------------
def songs_table(songs: list[dict[str, Any]]) -> list[list[Any]]:
    """Rows for the songs Dataframe (SONG_HEADERS)."""
    rows = []
    for i, s in enumerate(songs):
        mr = s.get("melody_range")
        mr = f"{mr[0]}–{mr[1]}" if isinstance(mr, (list, tuple)) and len(mr) == 2 else str(mr or "")
        rows.append([i + 1, s["title"], s["key"], f"{int(s['transpose_semitones']):+d}", mr,
                     f"{100 * float(s['range_fit']):.0f}%", round(float(s["score"]), 3), "; ".join(s["reasons"])])
    return rows


def song_choices(songs: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(f"{i + 1}. {s['title']} ({s['key']})", s["id"]) for i, s in enumerate(songs)]


def range_markdown(result: dict[str, Any]) -> str:
    """Markdown of the detected range, e.g. "Your range: **A3 – E5** (220.0–659.3 Hz)"."""
    r = result["range"]
    text = f"Your comfortable range: **{r['low']} – {r['high']}**"
    if "low_hz" in r and "high_hz" in r:
        text += f" ({float(r['low_hz']):.0f}–{float(r['high_hz']):.0f} Hz)"
    if "voiced_s" in r:
        text += f" · {float(r['voiced_s']):.1f} s of pitched voice"
    if result.get("duration_s"):
        text += f" in a {float(result['duration_s']):.1f} s clip"
    return text + "."


def song_detail(song: dict[str, Any] | None) -> str:
    if not song:
        return ""
    shift = int(song["transpose_semitones"])
    how = "the original key" if shift == 0 else f"{shift:+d} semitones from the original"
    fit = 100 * float(song["range_fit"])
    lines = [f"**{song['title']}**: sing in **{song['key']}** ({how}); fits your range {fit:.0f}%."]
    lines += [f"- {reason}" for reason in song["reasons"]]
    return "\n".join(lines)


def weights_help(defaults: dict[str, float]) -> str:
    return ("Weights of each factor in the score (score = Σ wᵢ·factorᵢ / Σ wᵢ). Moving a slider re-ranks the "
            "songs without analysing the recording again. Defaults: "
            + ", ".join(f"{k} {v:g}" for k, v in defaults.items()) + ".")
