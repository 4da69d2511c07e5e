"""MusicIndex: cosine top-k search over catalogue embeddings.

Backends (one API: `fit(emb (N, D), ids)`, `search(q, k) -> (scores, indices)`, `save`, `load`):
- "exact": a matrix product over the L2-normalised matrix. The reference every other backend is measured
  against, and the fastest below ~5e4 items (a 5e4 x 128 product is about a millisecond).
- "faiss": the same exact search through FAISS IndexFlatIP.
- "ivf": approximate search, an inverted file with 8-bit scalar-quantised codes and exact re-ranking (FAISS
  "IVF{nlist},SQ8,RFlat": IndexIVFScalarQuantizer inside IndexRefineFlat; Jegou, Douze & Schmid, "Product
  quantization for nearest neighbor search", TPAMI 2011, for the inverted file; Jegou, Tavenard, Douze &
  Amsaleg, "Searching in one billion vectors: re-rank with source coding", ICASSP 2011, for re-ranking;
  Johnson, Douze & Jegou, "Billion-scale similarity search with GPUs", 2017, for the FAISS library).
  Spherical k-means splits the space into `nlist` cells; a query scans the 1-byte-per-dimension codes of the
  `nprobe` cells nearest to it (a quarter of the memory traffic of float32), keeps `refine_factor` x k
  candidates and re-scores them with the stored float32 vectors, so a hit's score is its exact cosine.
  nlist ~ 2 sqrt(N) (a power of two); nprobe is tuned at fit time: the smallest value whose recall@10 against
  exact search, on a sample of the catalogue's own vectors used as queries (each query's own entry left out),
  reaches `target_recall`. (Product quantisation proper, IVF-PQ, was tried too, in a one-off run at 1e6: its
  coarser codes lost ~5 % recall@5 on speech queries at any nprobe, re-ranking included.)
  Queries from another distribution need more cells: speech embeddings sit far from every track in the joint
  space (the "modality gap": best cosine ~0.3 against ~0.95 between tracks), their similarity profile over
  the catalogue is flat, and they need 4-24x the cells that track-like queries need for the same recall
  (cf. Jaiswal et al., "OOD-DiskANN", 2022, on out-of-distribution queries for ANN indexes).
  `fit(..., queries=Q)` therefore tunes a second value, `query_nprobe_` (recall@5 >= query_target_recall), on a
  sample of the queries the index will serve (the service passes speech-tower embeddings);
  `search(..., nprobe="queries")` uses it.
- "auto": "exact" below ANN_MIN_SIZE items, "ivf" from there on.
HNSW (FAISS IndexHNSWFlat, M 32) was measured too (bench/scale.py): as fast to query at the same recall, but
slower to build (1.5-4x at 1e5 x 128 on 2 cores, in our runs) and 256 bytes of links more per vector; see README
"Scale".

Saved without pickle: exact / faiss as `index.npz` (ids + float32 embeddings) + `index.json`; ivf as
`index.faiss` (FAISS's own binary format, faiss.write_index) + `ids.npy` (a plain unicode array, memory-mapped
on load) + `index.json` (backend, dim, size, nlist, nprobe, and `info`: what the index was built from).

scikit-learn conventions: `__init__` stores parameters, `fit` returns self, fitted attributes end in `_`.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import EsmrError
from ..files import atomic_write

BACKENDS = ("auto", "exact", "faiss", "ivf")
ANN_MIN_SIZE = 50_000        # "auto" switches from exact to ivf at this many items
INDEX_JSON = "index.json"


def l2_normalize(x: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), eps)


def resolve_backend(backend: str, n: int) -> str:
    """The concrete backend for `n` items ("auto" -> "exact" below ANN_MIN_SIZE, else "ivf")."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "auto":
        return "exact" if n < ANN_MIN_SIZE else "ivf"
    return backend


def default_nlist(n: int) -> int:
    """IVF cells for n vectors: the power of two nearest 2 sqrt(n), with at least 39 training points per cell
    (FAISS's k-means warns below that), in [1, 65536]."""
    target = 2.0 * np.sqrt(max(n, 1))
    nlist = 2 ** int(round(np.log2(max(target, 1.0))))
    while nlist > 1 and nlist * 39 > n:
        nlist //= 2
    return int(min(max(nlist, 1), 65536))


def _faiss():
    try:
        import faiss
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise EsmrError("this index backend needs faiss-cpu: pip install faiss-cpu (or the project's [scale] "
                        "extra)") from exc
    return faiss


def _nprobe_ladder(nlist: int) -> list[int]:
    """1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, ... up to nlist: powers of two and 1.25, 1.5, 1.75 times them
    (steps of x1.14-1.25: at the top of the range one step is a lot of scanning)."""
    steps = {int(f * 2 ** i) for i in range(17) for f in (1, 1.25, 1.5, 1.75)}
    return sorted({p for p in steps if p < nlist} | {nlist})


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean share of each row of `truth` (B, k) found in the same row of `found` (B, >= k)."""
    k = truth.shape[1]
    return float(np.mean([len(set(f.tolist()) & set(t.tolist())) / k for f, t in zip(found, truth)]))


class MusicIndex:
    """Cosine-similarity index. `fit(emb (N, D), ids)`, `search(q (D,) or (B, D), k) -> (scores, indices)`."""

    def __init__(self, backend: str = "exact", *, nlist: int | None = None, nprobe: int | None = None,
                 target_recall: float = 0.995, tune_queries: int = 256, seed: int = 0,
                 info: dict[str, Any] | None = None, search_nprobe: int | str | None = None,
                 refine_factor: int = 16, query_target_recall: float = 0.99):
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        self.backend = backend                # as asked; the one in use is `backend_` after fit
        self.nlist = nlist                    # ivf: cells (None: default_nlist(N))
        self.nprobe = nprobe                  # ivf: cells scanned per query (None: tuned at fit)
        self.target_recall = target_recall    # ivf: recall@10 the tuned nprobe reaches on catalogue vectors
        self.query_target_recall = query_target_recall   # ivf: recall@5 query_nprobe_ reaches on the query sample
        self.tune_queries = tune_queries      # ivf: catalogue vectors used as queries to tune nprobe
        self.seed = seed                      # ivf: k-means and sampling seed
        self.info = dict(info or {})          # free metadata saved with the index (e.g. what it was built from)
        self.search_nprobe = search_nprobe    # ivf: what search() scans when not told (see search)
        self.refine_factor = refine_factor    # ivf: candidates re-scored exactly, per result asked for

    # ---- fitting -----------------------------------------------------------------------------------------
    def fit(self, embeddings: np.ndarray, ids: Sequence[str], queries: np.ndarray | None = None) -> "MusicIndex":
        """Index (N, D) embeddings under N ids. queries (M, D): a sample of the queries the index will serve,
        used only by ivf to tune `query_nprobe_` (they are not indexed)."""
        t0 = time.perf_counter()
        emb = l2_normalize(embeddings)
        if emb.ndim != 2 or len(ids) != emb.shape[0] or emb.shape[0] == 0:
            raise ValueError(f"need (N, D) embeddings with N >= 1 and N ids, got {emb.shape} and {len(ids)}")
        self.backend_ = resolve_backend(self.backend, emb.shape[0])
        self.dim_ = int(emb.shape[1])
        self.ids_ = ids if isinstance(ids, np.ndarray) else list(ids)
        self.faiss_ = None
        self.embeddings_ = None
        self.tuning_ = None
        self.query_nprobe_ = None
        emb = np.ascontiguousarray(emb)
        if self.backend_ == "exact":
            self.embeddings_ = emb
        elif self.backend_ == "faiss":
            faiss = _faiss()
            self.faiss_ = faiss.IndexFlatIP(self.dim_)
            self.faiss_.add(emb)
        else:
            self._fit_ivf(emb, None if queries is None else l2_normalize(np.atleast_2d(queries)))
        self.build_seconds_ = round(time.perf_counter() - t0, 3)
        return self

    def _fit_ivf(self, emb: np.ndarray, queries: np.ndarray | None) -> None:
        faiss = _faiss()
        n = emb.shape[0]
        self.nlist_ = int(self.nlist or default_nlist(n))
        index = faiss.index_factory(self.dim_, f"IVF{self.nlist_},SQ8,RFlat", faiss.METRIC_INNER_PRODUCT)
        faiss.extract_index_ivf(index).cp.seed = self.seed   # spherical k-means (set for inner product), 10 iters
        rng = np.random.default_rng(self.seed)
        n_train = min(n, 40 * self.nlist_)     # FAISS asks for >= 39 points per centroid
        train = emb if n_train == n else emb[np.sort(rng.choice(n, n_train, replace=False))]
        index.train(train)
        index.add(emb)
        self.faiss_ = index
        self.tuning_ = {}
        if self.nprobe:
            self.nprobe_ = int(self.nprobe)
        else:   # the catalogue's own vectors as queries, each one's own entry left out
            qi = np.sort(rng.choice(n, min(self.tune_queries, n), replace=False))
            self.nprobe_ = self._tune(emb, emb[qi], qi, "catalogue")
        if queries is not None and len(queries):
            # recall@5, what the service shows: far queries have flat similarity profiles, and ties around
            # rank 10 would otherwise cost many more cells without changing a top-5
            self.query_nprobe_ = self._tune(emb, np.ascontiguousarray(queries, dtype=np.float32), None, "queries",
                                            k=5, target=self.query_target_recall)

    def _tune(self, emb: np.ndarray, q: np.ndarray, self_ids: np.ndarray | None, name: str, k: int = 10,
              target: float | None = None) -> int:
        """Smallest nprobe whose recall@k against exact search on queries `q` reaches `target` (default
        target_recall; self_ids: each query's own row in emb, left out of both result lists)."""
        target = self.target_recall if target is None else target
        faiss = _faiss()
        extra = 0 if self_ids is None else 1
        k = min(k, emb.shape[0] - extra)
        if k < 1:
            return self.nlist_

        def drop(rows: np.ndarray) -> np.ndarray:
            if self_ids is None:
                return rows[:, :k]
            return np.stack([row[row != i][:k] for row, i in zip(rows, self_ids)])

        truth = drop(faiss.knn(q, emb, k + extra, faiss.METRIC_INNER_PRODUCT)[1])
        trace = []
        for p in _nprobe_ladder(self.nlist_):
            found = drop(self.faiss_.search(q, k + extra, params=self._params(p))[1])
            r = recall_at_k(found, truth)
            trace.append((p, round(r, 4)))
            if r >= target:
                break
        self.tuning_[name] = {"k": k, "target": target, "queries": int(len(q)), "trace": trace}
        return int(trace[-1][0])

    def __len__(self) -> int:
        return len(self.ids_)

    # ---- search ------------------------------------------------------------------------------------------
    def search(self, queries: np.ndarray, k: int = 5,
               nprobe: int | str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k by cosine. queries (D,) or (B, D) -> scores (B, k) float32, indices (B, k) int64, best first.
        nprobe (ivf only): cells to scan; "catalogue" or None = `nprobe_` (tuned on catalogue-like queries),
        "queries" = `query_nprobe_` (tuned on the query sample given to fit; `nprobe_` when there was none), or a
        number; None means the index's `search_nprobe`."""
        q = np.ascontiguousarray(l2_normalize(np.atleast_2d(queries)))
        if q.shape[1] != self.dim_:
            raise ValueError(f"query dim {q.shape[1]} != index dim {self.dim_}")
        k = max(1, min(int(k), len(self.ids_)))
        if self.backend_ == "ivf":
            return self._search_ivf(q, k, self._nprobe_for(nprobe))
        if self.faiss_ is not None:
            scores, idx = self.faiss_.search(q, k)
            return scores.astype(np.float32), idx.astype(np.int64)
        sims = q @ self.embeddings_.T  # (B, N)
        part = np.argpartition(-sims, kth=k - 1, axis=1)[:, :k]
        order = np.take_along_axis(sims, part, axis=1).argsort(axis=1)[:, ::-1]
        idx = np.take_along_axis(part, order, axis=1)
        return np.take_along_axis(sims, idx, axis=1).astype(np.float32), idx.astype(np.int64)

    def _nprobe_for(self, nprobe: int | str | None) -> int:
        nprobe = self.search_nprobe if nprobe is None else nprobe
        if nprobe is None or nprobe == "catalogue":
            return self.nprobe_
        if nprobe == "queries":
            return self.query_nprobe_ or self.nprobe_
        if isinstance(nprobe, str) or int(nprobe) < 1:
            raise ValueError(f"nprobe must be 'catalogue', 'queries' or a positive number, got {nprobe!r}")
        return min(int(nprobe), self.nlist_)

    def _search_ivf(self, q: np.ndarray, k: int, nprobe: int) -> tuple[np.ndarray, np.ndarray]:
        while True:   # the scanned cells can hold fewer than k vectors: widen until every row is full
            scores, idx = self.faiss_.search(q, k, params=self._params(nprobe))
            if (idx >= 0).all() or nprobe >= self.nlist_:
                return scores.astype(np.float32), idx.astype(np.int64)
            nprobe = min(self.nlist_, nprobe * 4)

    def _params(self, nprobe: int):
        """Per-call search parameters (thread-safe: the index itself is never modified after fit)."""
        faiss = _faiss()
        return faiss.IndexRefineSearchParameters(k_factor=float(self.refine_factor),
                                                 base_index_params=faiss.SearchParametersIVF(nprobe=int(nprobe)))

    def vectors(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """The stored (L2-normalised) vectors at these positions: (len(indices), D) float32."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if self.embeddings_ is not None:
            return self.embeddings_[idx]
        if self.backend_ == "ivf":     # the exact float32 copy the re-ranking reads
            return _faiss().downcast_index(self.faiss_.refine_index).reconstruct_batch(idx).astype(np.float32)
        return self.faiss_.reconstruct_batch(idx).astype(np.float32)

    # ---- persistence -------------------------------------------------------------------------------------
    def meta(self) -> dict[str, Any]:
        out = {"backend": self.backend_, "dim": self.dim_, "size": len(self.ids_), "info": self.info,
               "build_seconds": getattr(self, "build_seconds_", None)}
        if self.backend_ == "ivf":
            out.update(nlist=self.nlist_, nprobe=self.nprobe_, query_nprobe=self.query_nprobe_,
                       target_recall=self.target_recall, query_target_recall=self.query_target_recall,
                       refine_factor=self.refine_factor, tuning=self.tuning_,
                       format="faiss.write_index (IVF-SQ8 + IndexRefineFlat), ids.npy; no pickle")
        return out

    def save(self, folder: str | Path) -> None:
        """Write the index into `folder`; index.json goes last, so a reader sees a complete index or none."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / INDEX_JSON).unlink(missing_ok=True)
        if self.backend_ == "ivf":
            faiss = _faiss()
            atomic_write(folder / "index.faiss", lambda p: faiss.write_index(self.faiss_, str(p)))
            atomic_write(folder / "ids.npy", lambda p: np.save(p, np.asarray(self.ids_, dtype=str), allow_pickle=False))
            (folder / "index.npz").unlink(missing_ok=True)
        else:
            emb = self.embeddings_ if self.embeddings_ is not None else self.vectors(np.arange(len(self.ids_)))
            atomic_write(folder / "index.npz", lambda p: np.savez_compressed(p, embeddings=emb, ids=np.array(self.ids_)))
            for stale in ("index.faiss", "ids.npy"):
                (folder / stale).unlink(missing_ok=True)
        atomic_write(folder / INDEX_JSON,
                lambda p: Path(p).write_text(json.dumps(self.meta(), indent=2) + "\n", encoding="utf-8"))

    @staticmethod
    def read_meta(folder: str | Path) -> dict[str, Any] | None:
        """index.json of a saved index, or None when there is none."""
        path = Path(folder) / INDEX_JSON
        if not path.is_file():
            return None
        return json.loads(path.read_text(encoding="utf-8"))

    @classmethod
    def load(cls, folder: str | Path, backend: str | None = None,
             search_nprobe: int | str | None = None) -> "MusicIndex":
        """A saved index. `backend` may switch an npz index between "exact" and "faiss"; search_nprobe: what
        an ivf index scans by default (see search)."""
        folder = Path(folder)
        meta = cls.read_meta(folder)
        if meta is None:
            raise EsmrError(f"no index in {folder} (no {INDEX_JSON}); build one with `esmr index build`")
        if meta["backend"] != "ivf":
            with np.load(folder / "index.npz", allow_pickle=False) as data:
                emb, ids = data["embeddings"], [str(i) for i in data["ids"]]
            self = cls(backend or meta["backend"], info=meta.get("info")).fit(emb, ids)
            self.build_seconds_ = meta.get("build_seconds", self.build_seconds_)
            return self
        if backend not in (None, "ivf"):
            raise EsmrError(f"{folder} holds an ivf index; load it as it is")
        faiss = _faiss()
        self = cls("ivf", nlist=meta["nlist"], nprobe=meta["nprobe"], target_recall=meta.get("target_recall", 0.995),
                   info=meta.get("info"), search_nprobe=search_nprobe, refine_factor=meta.get("refine_factor", 16))
        self.backend_, self.dim_ = "ivf", int(meta["dim"])
        self.faiss_ = faiss.read_index(str(folder / "index.faiss"))
        self.nlist_, self.nprobe_ = int(meta["nlist"]), int(meta["nprobe"])
        self.ids_ = np.load(folder / "ids.npy", mmap_mode="r", allow_pickle=False)
        self.embeddings_, self.tuning_ = None, meta.get("tuning")
        self.query_nprobe_ = meta.get("query_nprobe")
        self.build_seconds_ = meta.get("build_seconds")
        if not (self.faiss_.ntotal == len(self.ids_) == int(meta["size"])) or self.faiss_.d != self.dim_:
            raise EsmrError(f"the index in {folder} is inconsistent (sizes {self.faiss_.ntotal}, {len(self.ids_)}, "
                            f"{meta['size']}); rebuild it with `esmr index build`")
        return self
