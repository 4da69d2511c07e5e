"""Scoring MATE (docs/methods.md section 4.4): predictions on prepared data, the slides' metrics (recall /
precision / F1, CCC of arousal and valence), folds by sentence group, and the held-out scores of a checkpoint.
Cross-validation trains models, so it lives with training (esmr_core.mate.train.cross_validate)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from ..errors import EsmrError
from ..metrics import ccc  # concordance correlation coefficient, population moments
from .data import MateData, collate, prepare_data
from .model import MateModel


@torch.no_grad()
def predict_data(model: MateModel, data: MateData, idx: Sequence[int], use_text: bool = True,
                 batch_size: int = 64) -> dict[str, np.ndarray]:
    """probs (n, C), arousal (n,), valence (n,) for utterances idx; use_text=False hides every transcript."""
    model.eval()
    outs = []
    idx = np.asarray(idx)
    for s in range(0, len(idx), batch_size):
        b = collate(data, idx[s:s + batch_size])
        has = b["has_text"] if use_text else torch.zeros_like(b["has_text"])
        outs.append(model(b["mels"], b["lengths"], b["text"], has))
    return {k: torch.cat([o[k].reshape(-1, *o[k].shape[2:]) for o in outs]).numpy()
            for k in ("probs", "arousal", "valence")}


def score(pred: dict[str, np.ndarray], data: MateData, idx: Sequence[int]) -> dict[str, float]:
    """Recall / precision / F1 (macro and weighted over the classes present), accuracy, CCC(A), CCC(V)."""
    from sklearn.metrics import precision_recall_fscore_support

    y, p = data.labels[idx], pred["probs"].argmax(1)
    res: dict[str, float] = {"n": float(len(idx)), "accuracy": float((y == p).mean())}
    for avg in ("macro", "weighted"):
        pr, rc, f1, _ = precision_recall_fscore_support(y, p, labels=np.unique(y), average=avg, zero_division=0)
        res.update({f"recall_{avg}": float(rc), f"precision_{avg}": float(pr), f"f1_{avg}": float(f1)})
    res["ccc_arousal"] = ccc(pred["arousal"], data.arousal[idx])
    res["ccc_valence"] = ccc(pred["valence"], data.valence[idx])
    return res


def held_out_scores(model: MateModel, data: MateData, idx: Sequence[int], name: str) -> dict[str, dict[str, float]]:
    """Scores of utterances idx as {name: all, name_lexically_neutral: the lexically neutral ones (when any),
    name_audio_only: every transcript hidden (a model with both branches)}."""
    idx = np.asarray(idx)
    res = {name: score(predict_data(model, data, idx), data, idx)}
    neutral = idx[data.lexically_neutral[idx]]
    if len(neutral):
        res[f"{name}_lexically_neutral"] = score(predict_data(model, data, neutral), data, neutral)
    if model.config.use_text and model.config.use_audio:
        res[f"{name}_audio_only"] = score(predict_data(model, data, idx, use_text=False), data, idx)
    return res


def group_folds(groups: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """(N,) fold id per utterance; all utterances of a group (sentence) share a fold."""
    uniq = np.unique(groups)
    if len(uniq) < k:
        raise EsmrError(f"{len(uniq)} sentence groups cannot make {k} folds; use --folds {max(2, len(uniq))} or less")
    order = np.random.default_rng(seed).permutation(len(uniq))
    fold_of = {uniq[j]: n % k for n, j in enumerate(order)}
    return np.array([fold_of[g] for g in groups])


def evaluate_checkpoint(checkpoint: str | Path, speech: str | Path, split: str = "test") -> dict[str, Any]:
    """Held-out scores (held_out_scores) of a trained checkpoint on one split of a speech collection."""
    model = MateModel.from_pretrained(checkpoint)
    data = prepare_data(speech, model.config)
    idx = np.flatnonzero(data.splits == split)
    if not len(idx):
        raise EsmrError(f"the speech collection {speech} has no {split!r} rows to evaluate on")
    return held_out_scores(model, data, idx, split)
