"""Map2D: a 2-D map of the joint embedding space (UMAP), fitted once, with cheap placement of new queries.

UMAP (McInnes et al. 2018) is fitted once over the catalogue's music embeddings and reference speech
embeddings, with Doh et al.'s demo settings (n_neighbors=100, min_dist=0.5, cosine). A new query is placed
by interpolating the 2-D coordinates of its nearest reference points in the embedding space (a softmax
over cosine similarities of the k nearest), which is what UMAP's own `transform` initialises with before
its optimisation epochs; it costs well under a millisecond and needs no numba compilation per request.
Saved as `map.npz` (coordinates, reference embeddings) + `map.json` (labels, kinds, names, ids, settings).

Large catalogues: the map is fitted over a sample of the catalogue (`esmr index build --map-sample`, 2000
tracks by default) and the reference voices; `info` records what it was built from (catalogue fingerprint,
sampled row positions). A query's retrieved tracks that are not in the sample are placed the same way as the
query and drawn on top (`figure(extra_points=...)`), so the map always shows the query's neighbours.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np

from .index import l2_normalize

# One colour per emotion / mood name (speech emotions and music moods share names where they overlap).
LABEL_COLORS: dict[str, str] = {
    "happy": "#f2b701", "funny": "#e68310", "exciting": "#e73f74", "surprise": "#cf1c90",
    "angry": "#d62728", "disgust": "#7f3c8d", "fear": "#4b4b8f", "scary": "#3969ac",
    "sad": "#11a579", "neutral": "#a5aa99", "calm": "#80ba5a", "tender": "#f97b72",
}
KIND_SYMBOLS = {"music": "circle", "speech": "star"}


class Map2D:
    """UMAP map of reference embeddings; `transform` places new embeddings (B, D) -> (B, 2)."""

    def __init__(self, n_neighbors: int = 100, min_dist: float = 0.5, metric: str = "cosine",
                 random_state: int = 0, place_k: int = 8, place_temperature: float = 0.05,
                 info: dict | None = None):
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.metric = metric
        self.random_state = random_state
        self.place_k = place_k                    # neighbours used to place a query
        self.place_temperature = place_temperature  # softmax temperature over their cosine similarities
        self.info = dict(info or {})              # provenance saved with the map (catalogue fingerprint, sample)

    def fit(self, embeddings: np.ndarray, labels: Sequence[str], kinds: Sequence[str],
            names: Sequence[str] | None = None, ids: Sequence[str] | None = None) -> "Map2D":
        """embeddings (N, D); labels: emotion/mood per row; kinds: "music" | "speech" per row."""
        import umap  # heavy import (numba): only when fitting

        emb = l2_normalize(embeddings)
        n = emb.shape[0]
        if not (len(labels) == len(kinds) == n):
            raise ValueError("labels and kinds need one entry per embedding row")
        reducer = umap.UMAP(n_neighbors=max(2, min(self.n_neighbors, n - 1)), min_dist=self.min_dist,
                            metric=self.metric, random_state=self.random_state, n_components=2)
        self.coords_ = reducer.fit_transform(emb).astype(np.float32)  # (N, 2)
        self.embeddings_ = emb
        self.labels_ = list(labels)
        self.kinds_ = list(kinds)
        self.names_ = list(names) if names is not None else [""] * n
        self.ids_ = list(ids) if ids is not None else [str(i) for i in range(n)]
        return self

    def transform(self, embeddings: np.ndarray) -> np.ndarray:
        """Place new embeddings (D,) or (B, D) on the fitted map -> (B, 2)."""
        q = l2_normalize(np.atleast_2d(embeddings))
        sims = q @ self.embeddings_.T  # (B, N)
        k = min(self.place_k, sims.shape[1])
        nn = np.argpartition(-sims, kth=k - 1, axis=1)[:, :k]  # (B, k)
        s = np.take_along_axis(sims, nn, axis=1)
        w = np.exp((s - s.max(axis=1, keepdims=True)) / self.place_temperature)
        w /= w.sum(axis=1, keepdims=True)
        return np.einsum("bk,bkc->bc", w, self.coords_[nn]).astype(np.float32)

    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(folder / "map.npz", coords=self.coords_, embeddings=self.embeddings_.astype(np.float16))
        meta = {
            "params": {k: getattr(self, k) for k in ("n_neighbors", "min_dist", "metric", "random_state",
                                                     "place_k", "place_temperature")},
            "labels": self.labels_, "kinds": self.kinds_, "names": self.names_, "ids": self.ids_,
            "info": self.info,
        }
        (folder / "map.json").write_text(json.dumps(meta, ensure_ascii=False) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, folder: str | Path) -> "Map2D":
        folder = Path(folder)
        meta = json.loads((folder / "map.json").read_text(encoding="utf-8"))
        self = cls(**meta["params"], info=meta.get("info"))
        with np.load(folder / "map.npz", allow_pickle=False) as data:
            self.coords_ = data["coords"].astype(np.float32)
            self.embeddings_ = l2_normalize(data["embeddings"].astype(np.float32))
        self.labels_, self.kinds_ = meta["labels"], meta["kinds"]
        self.names_, self.ids_ = meta["names"], meta["ids"]
        return self

    def figure(self, query_xy: Sequence[float] | None = None, query_label: str | None = None,
               labels: Sequence[str] | None = None, kinds: Sequence[str] | None = None,
               highlight_ids: Sequence[str] = (), title: str | None = None,
               extra_points: Sequence[dict] = ()):
        """Plotly figure: music = circles, speech = stars, coloured by emotion; the query as a large marker.

        labels / kinds filter which reference points are drawn; highlight_ids get a black outline
        (e.g. the retrieved tracks). extra_points: items not on the map ({"x", "y", "label", "name", "id"},
        e.g. retrieved tracks outside the map's sample), drawn outlined as one "retrieved" trace.
        Each point's `customdata` is its id (for click-to-play).
        """
        import plotly.graph_objects as go

        fig = go.Figure()
        keep_labels = set(labels) if labels else None
        keep_kinds = set(kinds) if kinds else None
        highlight = set(highlight_ids)
        groups: dict[tuple[str, str], list[int]] = {}
        for i, (lab, kind) in enumerate(zip(self.labels_, self.kinds_)):
            if (keep_labels is None or lab in keep_labels) and (keep_kinds is None or kind in keep_kinds):
                groups.setdefault((kind, lab), []).append(i)
        for (kind, lab), rows in sorted(groups.items()):
            idx = np.array(rows)
            fig.add_trace(go.Scatter(
                x=self.coords_[idx, 0], y=self.coords_[idx, 1], mode="markers",
                name=f"{kind}: {lab}", legendgroup=kind,
                marker=dict(symbol=KIND_SYMBOLS.get(kind, "circle"), size=11 if kind == "speech" else 9,
                            color=LABEL_COLORS.get(lab, "#888888"), opacity=0.85,
                            line=dict(width=[2.5 if self.ids_[i] in highlight else 0.5 for i in rows],
                                      color=["#000000" if self.ids_[i] in highlight else "#ffffff" for i in rows])),
                text=[self.names_[i] for i in rows], customdata=[self.ids_[i] for i in rows],
                hovertemplate="%{text}<br>" + f"{kind} · {lab}<extra></extra>",
            ))
        if extra_points:
            fig.add_trace(go.Scatter(
                x=[p["x"] for p in extra_points], y=[p["y"] for p in extra_points], mode="markers",
                name="retrieved (outside the sample)", legendgroup="music",
                marker=dict(symbol="circle", size=11, opacity=0.95,
                            color=[LABEL_COLORS.get(p.get("label", ""), "#888888") for p in extra_points],
                            line=dict(width=2.5, color="#000000")),
                text=[p.get("name", "") for p in extra_points], customdata=[p["id"] for p in extra_points],
                hovertemplate="%{text}<br>retrieved<extra></extra>",
            ))
        if query_xy is not None:
            fig.add_trace(go.Scatter(
                x=[query_xy[0]], y=[query_xy[1]], mode="markers+text", name="your voice",
                text=["your voice"], textposition="top center",
                marker=dict(symbol="x", size=20, color=LABEL_COLORS.get(query_label or "", "#000000"),
                            line=dict(width=2, color="#000000")),
                hovertemplate=f"your voice · {query_label or ''}<extra></extra>",
            ))
        fig.update_layout(title=title, template="plotly_white", height=520, margin=dict(l=10, r=10, t=40, b=10),
                          xaxis=dict(visible=False), yaxis=dict(visible=False, scaleanchor="x"),
                          legend=dict(itemsizing="constant", font=dict(size=11)))
        return fig
