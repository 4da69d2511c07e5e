"""MusicIndex: cosine top-k search over catalogue embeddings.

Exact search (a matrix product) is the default and is fastest for catalogues up to ~1e5 items; FAISS
(`faiss-cpu`, IndexFlatIP on L2-normalised vectors) serves larger ones behind the same API. Saved as
`index.npz` (ids + float32 embeddings) + `index.json` (backend, dim), no pickle.

scikit-learn conventions: `__init__` stores parameters, `fit` returns self, fitted attributes end in `_`.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np

from .errors import EsmrError

BACKENDS = ("exact", "faiss")


def l2_normalize(x: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), eps)


class MusicIndex:
    """Cosine-similarity index. `fit(emb (N, D), ids)`, `search(q (D,) or (B, D), k) -> (scores, indices)`."""

    def __init__(self, backend: str = "exact"):
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        self.backend = backend

    def fit(self, embeddings: np.ndarray, ids: Sequence[str]) -> "MusicIndex":
        emb = l2_normalize(embeddings)
        if emb.ndim != 2 or len(ids) != emb.shape[0]:
            raise ValueError(f"need (N, D) embeddings and N ids, got {emb.shape} and {len(ids)}")
        self.embeddings_ = np.ascontiguousarray(emb)
        self.ids_ = list(ids)
        self.faiss_ = None
        if self.backend == "faiss":
            try:
                import faiss
            except ImportError as exc:  # pragma: no cover - depends on the environment
                raise EsmrError("the faiss backend needs faiss-cpu: pip install faiss-cpu") from exc
            index = faiss.IndexFlatIP(emb.shape[1])
            index.add(self.embeddings_)
            self.faiss_ = index
        return self

    def __len__(self) -> int:
        return len(self.ids_)

    def search(self, queries: np.ndarray, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
        """Top-k by cosine. queries (D,) or (B, D) -> scores (B, k) float32, indices (B, k) int64, best first."""
        q = l2_normalize(np.atleast_2d(queries))
        if q.shape[1] != self.embeddings_.shape[1]:
            raise ValueError(f"query dim {q.shape[1]} != index dim {self.embeddings_.shape[1]}")
        k = max(1, min(int(k), len(self.ids_)))
        if self.faiss_ is not None:
            scores, idx = self.faiss_.search(np.ascontiguousarray(q), k)
            return scores.astype(np.float32), idx.astype(np.int64)
        sims = q @ self.embeddings_.T  # (B, N)
        part = np.argpartition(-sims, kth=k - 1, axis=1)[:, :k]
        order = np.take_along_axis(sims, part, axis=1).argsort(axis=1)[:, ::-1]
        idx = np.take_along_axis(part, order, axis=1)
        return np.take_along_axis(sims, idx, axis=1).astype(np.float32), idx.astype(np.int64)

    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(folder / "index.npz", embeddings=self.embeddings_, ids=np.array(self.ids_))
        meta = {"backend": self.backend, "dim": int(self.embeddings_.shape[1]), "size": len(self.ids_)}
        (folder / "index.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, folder: str | Path, backend: str | None = None) -> "MusicIndex":
        folder = Path(folder)
        meta = json.loads((folder / "index.json").read_text(encoding="utf-8"))
        with np.load(folder / "index.npz", allow_pickle=False) as data:
            emb, ids = data["embeddings"], [str(i) for i in data["ids"]]
        return cls(backend or meta["backend"]).fit(emb, ids)
