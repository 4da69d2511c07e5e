"""HTML of the page's own players: a list of items, each row with its own Play button and <audio> (one plays at
a time, demo/page.py PLAYERS_JS), and the figure helpers shared by the maps. Pure functions of plain dicts."""
from __future__ import annotations

import functools
import hashlib
import html
import json
from typing import Any, Sequence

from esmr_core.data.manifest import load_collection
from esmr_core.errors import EsmrError
from esmr_core.files import to_json
from esmr_core.retrieval.map2d import LABEL_COLORS

esc = html.escape


def plain_json(obj: Any) -> Any:
    """Numpy scalars/arrays -> plain JSON types (what the API returns), through the package's one serialiser."""
    return json.loads(to_json(obj))


def dom_id(*parts: Any) -> str:
    """A short id for an <audio> element, unique per item and list."""
    return "a" + hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()[:10]


def mood_chip(mood: str) -> str:
    col = LABEL_COLORS.get(mood, "#888888")
    return f'<span class="esmr-mood"><span aria-hidden="true" style="color:{col}">●</span> {esc(mood)}</span>'


def player_row(key: str, url: str | None, title: str, sub: str = "", right: str = "", rank: str = "",
               autoplay: bool = False, label: str | None = None, extra: str = "") -> str:
    """One row: Play button, title / subtitle, right-hand text, hidden <audio> (preload none: nothing is fetched
    before Play). `label` is the button's accessible name."""
    aid = dom_id(key, url)
    name = esc(label or f"Play {title}")
    rank_html = f'<span class="esmr-rank" aria-hidden="true">{esc(rank)}</span> ' if rank else ""
    audio = (f'<audio data-for="{aid}" preload="{"auto" if autoplay else "none"}" src="{esc(url)}"'
             f'{" autoplay" if autoplay else ""}></audio>') if url else ""
    button = (f'<button type="button" class="esmr-play" data-audio="{aid}" aria-pressed="false" '
              f'aria-label="{name}">▶</button>') if url else '<span aria-hidden="true">–</span>'
    return (f'<div class="esmr-row" data-id="{esc(key)}">{button}'
            f'<div><div class="esmr-title">{rank_html}{esc(title)}</div>'
            f'<div class="esmr-sub">{sub} <span class="esmr-time" data-time="{aid}"></span></div>{extra}</div>'
            f'<div class="esmr-score">{right}</div>{audio}</div>')


def single_player(item: dict[str, Any] | None, url: str | None, autoplay: bool = True, note: str = "") -> str:
    """A player for one map point (Explore, the Voice tab's map): plays at once after a click."""
    if not item:
        return f'<div class="esmr-note">{esc(note)}</div>' if note else ""
    kind = item.get("kind", "")
    sub = f'{esc(kind)} · {mood_chip(item.get("label", ""))}'
    if not url:
        return (f'<div class="esmr-note"><b>{esc(item.get("name", ""))}</b> ({esc(kind)}, {esc(item.get("label", ""))}) '
                "has no audio on this server.</div>")
    return ('<div class="esmr-list" data-testid="map-player">'
            + player_row(item["id"], url, item.get("name", ""), sub, autoplay=autoplay,
                         label=f"Play {item.get('name', '')}") + "</div>")


def fixed_axes(fig, coords, pad: float = 0.06):
    """Fix a map figure's axes to the whole map's extent, so filtering or highlighting never rescales them."""
    import numpy as np

    c = np.asarray(coords, dtype=float)
    lo, hi = c.min(axis=0), c.max(axis=0)
    span = np.maximum(hi - lo, 1e-6)
    fig.update_layout(xaxis=dict(range=[float(lo[0] - pad * span[0]), float(hi[0] + pad * span[0])], autorange=False),
                      yaxis=dict(range=[float(lo[1] - pad * span[1]), float(hi[1] + pad * span[1])], autorange=False,
                                 scaleanchor=False))   # an aspect lock would widen x when the legend shrinks
    return fig


def ring_trace(points: Sequence[dict[str, Any]], name: str, color: str = "#111827", size: int = 18, width: int = 3):
    """Open rings around points ({"x", "y", "id", "name"}): a legend entry of their own (e.g. the query's top 5,
    the chosen point). Their customdata is the id, so a click on a ring plays that item too."""
    import plotly.graph_objects as go

    return go.Scatter(x=[p["x"] for p in points], y=[p["y"] for p in points], mode="markers", name=name,
                      marker=dict(symbol="circle-open", size=size, color=color, line=dict(width=width, color=color)),
                      text=[p.get("name", "") for p in points], customdata=[p["id"] for p in points],
                      hovertemplate="%{text}<br>" + esc(name) + "<extra></extra>")


@functools.lru_cache(maxsize=4)
def _positions(the_map) -> dict[str, int]:
    return {i: n for n, i in enumerate(the_map.ids_)}


def map_coords(the_map, item_id: str) -> tuple[float, float] | None:
    """Where an item lies on a Map2D (None when it is not on it)."""
    n = _positions(the_map).get(item_id)
    if n is None:
        return None
    return float(the_map.coords_[n, 0]), float(the_map.coords_[n, 1])


def example_clips(folder) -> list[tuple[dict[str, Any], str]]:
    """(row, absolute path) of the bundled example clips of a collection folder that exist on disk, in
    manifest order; [] when the folder holds no collection (the tab then offers no examples)."""
    try:
        col = load_collection(folder)
    except EsmrError:
        return []
    return [(row, str(col.path(row))) for row in col.rows if row.get("path") and col.path(row).is_file()]
