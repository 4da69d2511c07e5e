"""Evaluation of a joint checkpoint: retrieval over the whole catalogue + the emotion head (docs/methods.md sections 1 and 6).

`esmr evaluate --checkpoint DIR [--speech DIR] [--catalog DIR] [--split test] [--subset lexically_neutral] --json`

Every speech clip of the split ranks ALL catalogue music by cosine; MRR / P@5 / NDCG@5 as in esmr_core.metrics
(relevance in the VAD space by default: VA cannot tell angry from fear). The emotion head gives accuracy and
macro-F1 over the 7 emotions and CCC for valence, arousal, dominance.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..audio import load_audio
from ..emotion import EMOTIONS
from ..encoders import get_encoder
from ..errors import AudioError, EsmrError
from ..metrics import ccc, classification_metrics, retrieval_metrics
from ..data.manifest import load_collection
from .data import load_data
from .model import JointModel
from .moodmatch import MoodMatch, retrieval_metrics_with_rule

# Subsets of a split: the lexically neutral sentences; the TTS voices alone ("synthetic", the earlier test
# split's rows) or the real human voices alone ("real", made emotional by rule) of a corpus that holds both
SUBSETS = {
    None: lambda r: True,
    "lexically_neutral": lambda r: bool(r.get("lexically_neutral", False)) and r.get("tts") != "real",
    "synthetic": lambda r: r.get("tts") != "real",
    "real": lambda r: r.get("tts") == "real",
}
EVAL_SPACE = "VAD"  # relevance space of reported numbers (the same for every model, so rows compare)


@torch.no_grad()
def embed(model, speech_x: np.ndarray, music_x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Joint embeddings of speech (N, Ds) and music (M, Dm) features -> (N, D), (M, D), unit length."""
    model.eval()
    zs = model.encode_speech(torch.from_numpy(np.asarray(speech_x, dtype=np.float32)))
    zm = model.encode_music(torch.from_numpy(np.asarray(music_x, dtype=np.float32)))
    return zs.numpy(), zm.numpy()


@torch.no_grad()
def evaluate_arrays(model, data, idx: np.ndarray, space: str = EVAL_SPACE) -> dict[str, float]:
    """Retrieval + emotion-head metrics of `model` on speech rows `idx` of a TrainData against all its music."""
    if len(idx) == 0:
        raise EsmrError("no speech rows to evaluate (empty split or subset)")
    zs, zm = embed(model, data.speech_x[idx], data.music_x)
    labels = list(data.speech_labels[idx])
    out = retrieval_metrics(zs @ zm.T, labels, list(data.music_moods), space)
    probs, vad = model.predict_emotion(torch.from_numpy(data.speech_x[idx]))
    y_true = [EMOTIONS.index(x) for x in labels]
    cls = classification_metrics(y_true, probs.argmax(1).numpy())
    out |= {"emotion_accuracy": cls["accuracy"], "emotion_macro_f1": cls["macro_f1"]}
    target = data.speech_vad[idx]
    for j, k in enumerate("vad"):
        out[f"ccc_{k}"] = ccc(vad[:, j].numpy(), target[:, j])
    out["n_speech"], out["n_music"] = float(len(idx)), float(len(data.music_moods))
    return out


def evaluate_checkpoint(checkpoint: str | Path, speech_dir: str | Path, catalog_dir: str | Path,
                        split: str = "test", subset: str | None = None, space: str = EVAL_SPACE,
                        cache: Any = None, progress: bool = True, transcripts: str = "given") -> dict[str, Any]:
    """Load a checkpoint, featurise the collections with its feature spec and evaluate one split.

    transcripts: "given" (the rows' text), "asr" (what the speech recogniser hears, as the app does when no
    transcript is typed) or "none" (no words: the text block zeroed)."""
    if subset not in SUBSETS:
        raise EsmrError(f"unknown subset {subset!r}; choose one of {[k for k in SUBSETS if k]}")
    if transcripts not in ("given", "asr", "none"):
        raise EsmrError(f"transcripts must be given, asr or none, not {transcripts!r}")
    model = JointModel.from_pretrained(checkpoint)
    keep = SUBSETS[subset]
    text_of = None if transcripts == "given" else (
        (lambda sp, r: _heard(sp.path(r))) if transcripts == "asr" else (lambda sp, r: ""))
    try:
        data = load_data(speech_dir, catalog_dir, model.feature_spec, cache, progress,
                         select=lambda r: r.get("split") == split and keep(r), text_of=text_of)
    except EsmrError as exc:
        raise EsmrError(f"split {split!r}" + (f" ({subset})" if subset else "") + f": {exc}") from None
    result = evaluate_arrays(model, data, np.arange(len(data.split)), space)
    rule = MoodMatch.load(checkpoint)   # the ranking the service uses, when the checkpoint has one
    if rule is not None:
        music_rows = load_collection(catalog_dir, "music").rows   # in the order of data.music_x
        result |= retrieval_metrics_with_rule(model, rule, data.speech_x, data.speech_labels, data.music_x,
                                              music_rows, space)
    return {"checkpoint": str(checkpoint), "split": split, "subset": subset, "space": space,
            "transcripts": transcripts, "n_skipped": data.n_skipped, **result}


def _heard(path: Path) -> str:
    """The ASR transcript of a clip ("" when its audio cannot be used; such clips are left out later)."""
    try:
        return get_encoder("asr").transcribe(load_audio(path).samples)
    except AudioError:
        return ""
