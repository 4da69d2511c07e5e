"""The emotion space: label sets, valence/arousal/dominance coordinates, label similarity, dataset label maps.

Coordinates come from the NRC Valence, Arousal, and Dominance Lexicon v1 (Saif M. Mohammad, "Obtaining
Reliable Human Ratings of Valence, Arousal, and Dominance for 20,000 English Words", ACL 2018), values in
[0, 1]. The lexicon is free for research and non-commercial use; cite it wherever these numbers are used.
Only the coordinates of the ~50 emotion words in `resources/nrc_vad_subset.tsv` are bundled.

Following Doh et al. (ICASSP 2023, seungheondoh/speech-to-music), "neutral" is moved to the centre of the
space (valence = arousal = 0.5; we also put dominance at 0.5), so that neutral speech is equally far
from every mood instead of sitting next to "calm"/"bored".
"""
from __future__ import annotations

from functools import lru_cache
from typing import Iterable, Sequence

import numpy as np

from .paths import RESOURCES_DIR

# The 7 emotions of MATE (and of KEMDy), also the speech-side label set of the retrieval model.
EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
# Music moods: the AudioSet mood classes Doh et al. use (happy, funny, sad, tender, exciting, angry, scary)
# plus "calm", which the bundled game/orchestral catalogue needs (ambient, low-arousal pieces).
MUSIC_MOODS: tuple[str, ...] = ("happy", "funny", "sad", "tender", "exciting", "angry", "scary", "calm")

SPACES = ("VA", "VAD")

# Label -> NRC-VAD lexicon word whose coordinates it takes.
LEXICON_WORD: dict[str, str] = {
    "angry": "angry", "disgust": "disgust", "fear": "fear", "happy": "happy", "neutral": "neutral",
    "sad": "sad", "surprise": "surprise", "funny": "funny", "tender": "tender", "exciting": "exciting",
    "scary": "scary", "calm": "calm",
    # raw labels of public corpora that keep their own coordinates in manifests
    "frustrated": "frustrated", "excited": "excited", "fearful": "fearful", "disgusted": "disgusted",
    "surprised": "surprised", "anger": "anger", "joy": "joy", "sadness": "sadness",
}
NEUTRAL_CENTRE = np.array([0.5, 0.5, 0.5], dtype=np.float64)


@lru_cache(maxsize=1)
def lexicon() -> dict[str, np.ndarray]:
    """All bundled NRC-VAD rows: word -> array([valence, arousal, dominance]) in [0, 1]."""
    table: dict[str, np.ndarray] = {}
    with open(RESOURCES_DIR / "nrc_vad_subset.tsv", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("#") or line.startswith("word\t") or not line.strip():
                continue
            word, v, a, d = line.rstrip("\n").split("\t")
            table[word] = np.array([float(v), float(a), float(d)])
    return table


def vad(label: str, *, neutral_centre: bool = True) -> np.ndarray:
    """(valence, arousal, dominance) in [0, 1] for an emotion or mood label."""
    if label == "neutral" and neutral_centre:
        return NEUTRAL_CENTRE.copy()
    word = LEXICON_WORD.get(label, label)
    table = lexicon()
    if word not in table:
        raise KeyError(f"no VAD coordinates for label {label!r}; known: {sorted(LEXICON_WORD)}")
    return table[word].copy()


def coords(labels: Iterable[str], space: str = "VAD") -> np.ndarray:
    """Coordinates of several labels, shape (N, 2) for VA or (N, 3) for VAD."""
    dims = _dims(space)
    return np.stack([vad(lab)[:dims] for lab in labels])


def _dims(space: str) -> int:
    if space not in SPACES:
        raise ValueError(f"space must be one of {SPACES}, got {space!r}")
    return 2 if space == "VA" else 3


def similarity_from_coords(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """1 - euclidean(a_i, b_j) / max_distance, in [0, 1] (1 = same point).

    a: (N, K), b: (M, K) with K = 2 (VA) or 3 (VAD), coordinates in [0, 1]; max distance is sqrt(K),
    the diagonal of the unit square/cube. Returns (N, M).
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    dist = np.linalg.norm(a[:, None, :] - b[None, :, :], axis=-1)
    return 1.0 - dist / np.sqrt(a.shape[1])


def label_similarity(a: Sequence[str], b: Sequence[str] | None = None, space: str = "VAD") -> np.ndarray:
    """Label-similarity matrix S_y between label lists a (N) and b (M), in [0, 1], shape (N, M)."""
    b = a if b is None else b
    return similarity_from_coords(coords(a, space), coords(b, space))


def best_mood(emotion: str, space: str = "VAD", moods: Sequence[str] = MUSIC_MOODS) -> str:
    """The music mood most similar to a speech emotion (argmax of label similarity)."""
    sims = label_similarity([emotion], list(moods), space)[0]
    return moods[int(np.argmax(sims))]


def mood_from_va(valence: float, arousal: float, moods: Sequence[str] = MUSIC_MOODS) -> str:
    """Nearest mood tag to a (valence, arousal) point in [0, 1]^2 (e.g. vibenet valence and energy)."""
    pts = coords(moods, "VA")
    d = np.linalg.norm(pts - np.array([valence, arousal])[None, :], axis=1)
    return moods[int(np.argmin(d))]


# ---- label maps of public corpora -> EMOTIONS (speech) or MUSIC_MOODS (music); None = not used ----------
IEMOCAP: dict[str, str | None] = {
    "ang": "angry", "hap": "happy", "exc": "happy", "sad": "sad", "neu": "neutral", "fru": "angry",
    "sur": "surprise", "fea": "fear", "dis": "disgust", "oth": None, "xxx": None,
}
# RAVDESS filename field 3 (emotion): 01 neutral, 02 calm, 03 happy, 04 sad, 05 angry, 06 fearful,
# 07 disgust, 08 surprised. Calm speech is mapped to neutral (the 7-class space has no calm speech).
RAVDESS: dict[str, str | None] = {
    "01": "neutral", "02": "neutral", "03": "happy", "04": "sad", "05": "angry", "06": "fear",
    "07": "disgust", "08": "surprise",
}
CREMA_D: dict[str, str | None] = {
    "ANG": "angry", "DIS": "disgust", "FEA": "fear", "HAP": "happy", "NEU": "neutral", "SAD": "sad",
}
# KEMDy19/20 spell disgust as "disqust" in their annotation files.
KEMDY: dict[str, str | None] = {
    "angry": "angry", "disgust": "disgust", "disqust": "disgust", "fear": "fear", "happy": "happy",
    "neutral": "neutral", "sad": "sad", "surprise": "surprise",
}
AUDIOSET_MOOD: dict[str, str | None] = {
    "Happy music": "happy", "Funny music": "funny", "Sad music": "sad", "Tender music": "tender",
    "Exciting music": "exciting", "Angry music": "angry", "Scary music": "scary",
}
# Soundtracks360 (Eerola & Vuoskoski 2011) target emotions of the discrete set.
SOUNDTRACKS360: dict[str, str | None] = {
    "ANGER": "angry", "FEAR": "scary", "HAPPY": "happy", "SAD": "sad", "TENDER": "tender",
    "SURPRISE": None,  # set 1 also has SURPRISE and dimension targets: the importer uses the ratings there
}
DATASET_MAPS: dict[str, dict[str, str | None]] = {
    "iemocap": IEMOCAP, "ravdess": RAVDESS, "crema-d": CREMA_D, "kemdy": KEMDY,
    "audioset-mood": AUDIOSET_MOOD, "soundtracks360": SOUNDTRACKS360,
}


def map_label(dataset: str, raw: str) -> str | None:
    """Map a corpus's raw label to the project's label set; None for labels the project does not use."""
    table = DATASET_MAPS[dataset]
    key = raw.strip()
    if key in table:
        return table[key]
    for k, v in table.items():  # case-insensitive fallback
        if k.lower() == key.lower():
            return v
    raise KeyError(f"unknown {dataset} label {raw!r}; known: {sorted(table)}")
