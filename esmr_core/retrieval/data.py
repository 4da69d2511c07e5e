"""Training and evaluation data of the joint model: the frozen-encoder features of speech collections and a
music catalogue, with labels, VAD targets, splits and speakers (one loader for training and evaluation)."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..cache import FeatureCache
from ..data.manifest import load_collection
from ..emotion import EMOTIONS
from ..errors import EsmrError
from ..paths import REPO_ROOT, cache_dir
from .features import collection_matrix, make_spec

log = logging.getLogger(__name__)


@dataclass
class TrainData:
    """Feature arrays of a speech collection and a music catalogue."""

    speech_x: np.ndarray  # (N, Ds) float32
    speech_labels: np.ndarray  # (N,) str, in EMOTIONS
    speech_vad: np.ndarray  # (N, 3) valence/arousal/dominance in [0, 1]
    split: np.ndarray  # (N,) str: train / val / test
    music_x: np.ndarray  # (M, Dm) float32
    music_moods: np.ndarray  # (M,) str, in MUSIC_MOODS
    spec: dict[str, Any] = field(default_factory=dict)  # feature spec (features.make_spec)
    lexically_neutral: np.ndarray | None = None  # (N,) bool
    music_ids: list[str] = field(default_factory=list)
    speech_voice: np.ndarray | None = None  # (N,) str: the speaker (voice) of each clip
    speech_real: np.ndarray | None = None  # (N,) bool: a real human voice (made emotional by rule), not TTS
    n_skipped: int = 0  # speech clips left out because their audio could not be used

    def subset(self, split: str, only_lexically_neutral: bool = False) -> np.ndarray:
        mask = self.split == split
        if only_lexically_neutral:
            if self.lexically_neutral is None:
                raise EsmrError("this speech collection marks no lexically neutral rows")
            mask &= self.lexically_neutral
        return np.flatnonzero(mask)


def resolve_dir(value: str, default: Path | None = None) -> Path:
    """A folder named in a config: absolute, relative to the working directory, or to the repository."""
    if not value:
        if default is None:
            raise EsmrError("no folder given")
        return default
    p = Path(value)
    if p.is_absolute() or p.exists():
        return p
    return REPO_ROOT / p


def load_data(speech_dir: str | Path | list, catalog_dir: str | Path, spec: str | dict[str, Any],
              cache: FeatureCache | None = None, progress: bool = True,
              drop_speech_features: list[str] | tuple[str, ...] = (),
              select: Callable[[dict[str, Any]], bool] | None = None,
              text_of: Callable[[Any, dict[str, Any]], str] | None = None) -> TrainData:
    """Featurise one or several speech collections (rows pooled) and a music catalogue (through the cache).

    spec: a modality name (features.MODALITIES; drop_speech_features then leaves single features out) or the
    feature spec of a checkpoint. select(row) keeps a speech row (default all); text_of(collection, row)
    replaces a row's transcript (e.g. with what the recogniser hears). Clips whose audio cannot be used are
    left out and counted in TrainData.n_skipped."""
    dirs = list(speech_dir) if isinstance(speech_dir, (list, tuple)) else [speech_dir]
    if not dirs:
        raise EsmrError("no speech collection given")
    speeches = [load_collection(d, "speech") for d in dirs]
    music = load_collection(catalog_dir, "music")
    for sp in speeches:
        if select is not None:
            sp.rows = [r for r in sp.rows if select(r)]
        if text_of is not None:
            sp.rows = [{**r, "text": text_of(sp, r)} for r in sp.rows]
    if not any(sp.rows for sp in speeches):
        raise EsmrError("no speech rows to use (empty collection, split or subset)")
    cache = cache if cache is not None else FeatureCache(cache_dir() / "features")
    if isinstance(spec, str):
        spec = make_spec(spec, drop_speech_features=drop_speech_features)
    bad = sorted({r["label"] for sp in speeches for r in sp.rows} - set(EMOTIONS))
    if bad:
        raise EsmrError(f"speech labels {bad} are not in {EMOTIONS}; map them with esmr_core.emotion.map_label")
    speech_x = np.concatenate([collection_matrix(sp, spec, cache, progress, skip_bad=True) for sp in speeches])
    ok = np.isfinite(speech_x).all(axis=1)
    if not ok.all():
        log.warning("left out %d speech clips whose audio could not be used (e.g. no voice found)", (~ok).sum())
    rows = [r for r, keep in zip((r for sp in speeches for r in sp.rows), ok) if keep]
    if not rows:
        raise EsmrError("no usable speech clips (every clip's audio was refused)")
    return TrainData(
        speech_x=speech_x[ok],
        speech_labels=np.array([r["label"] for r in rows]),
        speech_vad=np.array([[r["valence"], r["arousal"], r["dominance"]] for r in rows], dtype=np.float32),
        split=np.array([r["split"] for r in rows]),
        music_x=collection_matrix(music, spec, cache, progress),
        music_moods=np.array([r["mood"] for r in music.rows]),
        spec=spec,
        lexically_neutral=np.array([bool(r.get("lexically_neutral", False)) for r in rows]),
        music_ids=[r["id"] for r in music.rows],
        speech_voice=np.array([str(r.get("voice", r.get("speaker", ""))) for r in rows]),
        speech_real=np.array([r.get("tts") == "real" or bool(r.get("real_voice", False)) for r in rows]),
        n_skipped=int((~ok).sum()),
    )
