"""Evaluation of a joint checkpoint: retrieval over the whole catalogue + the emotion head (METHODS.md 1).

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

from .emotion import EMOTIONS
from .errors import EsmrError
from .metrics import ccc, classification_metrics, retrieval_metrics

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
    from .data.manifest import load_collection
    from .features import collection_matrix
    from .models.joint import JointModel
    from .train import TrainData

    model = JointModel.from_pretrained(checkpoint)
    spec = model.feature_spec
    try:
        speech = load_collection(speech_dir, "speech")
        music = load_collection(catalog_dir, "music")
    except (FileNotFoundError, ValueError) as exc:
        raise EsmrError(str(exc)) from None
    if subset not in SUBSETS:
        raise EsmrError(f"unknown subset {subset!r}; choose one of {[k for k in SUBSETS if k]}")
    rows = [r for r in speech.rows if r.get("split") == split and SUBSETS[subset](r)]
    if not rows:
        raise EsmrError(f"no speech rows in split {split!r}" + (f" with {subset}" if subset else ""))
    if transcripts not in ("given", "asr", "none"):
        raise EsmrError(f"transcripts must be given, asr or none, not {transcripts!r}")
    if transcripts != "given":
        rows = [{**r, "text": _heard(speech.path(r), progress) if transcripts == "asr" else ""} for r in rows]
    speech.rows = rows
    if cache is None:
        from .cache import FeatureCache
        from .paths import cache_dir

        cache = FeatureCache(cache_dir() / "features")
    speech_x = collection_matrix(speech, spec, cache, progress, skip_bad=True)
    ok = np.isfinite(speech_x).all(axis=1)  # clips whose audio cannot be used are left out (and counted)
    rows = [r for r, keep in zip(rows, ok) if keep]
    if not rows:
        raise EsmrError(f"no usable speech clips in split {split!r}")
    data = TrainData(
        speech_x=speech_x[ok],
        speech_labels=np.array([r["label"] for r in rows]),
        speech_vad=np.array([[r["valence"], r["arousal"], r["dominance"]] for r in rows], dtype=np.float32),
        split=np.array([split] * len(rows)),
        music_x=collection_matrix(music, spec, cache, progress),
        music_moods=np.array([r["mood"] for r in music.rows]),
        spec=spec,
    )
    result = evaluate_arrays(model, data, np.arange(len(rows)), space)
    from .moodmatch import MoodMatch, retrieval_metrics_with_rule

    rule = MoodMatch.load(checkpoint)   # the ranking the service uses, when the checkpoint has one
    if rule is not None:
        result |= retrieval_metrics_with_rule(model, rule, data.speech_x, data.speech_labels, data.music_x,
                                              music.rows, space)
    return {"checkpoint": str(checkpoint), "split": split, "subset": subset, "space": space,
            "transcripts": transcripts,
            "n_skipped": int((~ok).sum()), **result}


def _heard(path: Path, progress: bool) -> str:
    """The ASR transcript of a clip ("" when its audio cannot be used; such clips are left out later)."""
    from .audio import load_audio
    from .encoders import get_encoder
    from .errors import AudioError

    try:
        return get_encoder("asr").transcribe(load_audio(path).samples)
    except AudioError:
        return ""
