"""The emotion space: label sets, NRC-VAD coordinates, label similarity, dataset label maps."""
import numpy as np
import pytest

from esmr_core import emotion as em


def test_label_sets():
    assert em.EMOTIONS == ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
    assert {"happy", "funny", "sad", "tender", "exciting", "angry", "scary", "calm"} <= set(em.MUSIC_MOODS)


def test_vad_coordinates_come_from_the_lexicon():
    assert np.allclose(em.vad("angry"), [0.122, 0.830, 0.604])  # NRC-VAD v1 "angry"
    assert np.allclose(em.vad("calm"), [0.875, 0.100, 0.282])
    assert np.allclose(em.vad("neutral"), [0.5, 0.5, 0.5])  # moved to the centre, as Doh et al. do
    assert np.allclose(em.vad("neutral", neutral_centre=False), [0.469, 0.184, 0.357])
    with pytest.raises(KeyError):
        em.vad("hangry")


@pytest.mark.parametrize("space,dims", [("VA", 2), ("VAD", 3)])
def test_label_similarity_is_rescaled_to_unit_interval(space, dims):
    labels = list(em.EMOTIONS) + list(em.MUSIC_MOODS)
    s = em.label_similarity(labels, labels, space)
    assert s.shape == (len(labels), len(labels))
    assert np.allclose(np.diag(s), 1.0) and np.allclose(s, s.T)
    assert s.min() >= 0.0 and s.max() <= 1.0
    a, b = em.vad("happy")[:dims], em.vad("sad")[:dims]
    assert s[labels.index("happy"), labels.index("sad")] == pytest.approx(1 - np.linalg.norm(a - b) / np.sqrt(dims))
    # the corners of the unit square/cube are 0 apart from 1
    assert em.similarity_from_coords(np.zeros((1, dims)), np.ones((1, dims)))[0, 0] == pytest.approx(0.0)


def test_vad_tells_angry_from_fear_where_va_cannot():
    """The point of the VAD-guided paper: in VA fear's best mood is angry music, in VAD it is scary."""
    assert em.best_mood("fear", "VA") == "angry"
    assert em.best_mood("fear", "VAD") == "scary"
    assert em.best_mood("happy", "VAD") == "happy" and em.best_mood("sad", "VAD") == "sad"


def test_mood_from_va_corners():
    assert em.mood_from_va(1.0, 0.75) == "happy"
    assert em.mood_from_va(0.2, 0.3) == "sad"
    assert em.mood_from_va(0.9, 0.1) == "calm"
    assert em.mood_from_va(0.1, 0.95) in ("angry", "scary")


@pytest.mark.parametrize("dataset,raw,label", [
    ("iemocap", "exc", "happy"), ("iemocap", "fru", "angry"), ("iemocap", "xxx", None),
    ("ravdess", "02", "neutral"), ("ravdess", "06", "fear"), ("crema-d", "DIS", "disgust"),
    ("kemdy", "disqust", "disgust"), ("audioset-mood", "Tender music", "tender"),
    ("soundtracks360", "FEAR", "scary"), ("kemdy", "Surprise", "surprise"),
])
def test_dataset_label_maps(dataset, raw, label):
    assert em.map_label(dataset, raw) == label


def test_every_mapped_label_is_in_the_label_sets():
    for name, table in em.DATASET_MAPS.items():
        allowed = em.MUSIC_MOODS if name in ("audioset-mood", "soundtracks360") else em.EMOTIONS
        assert {v for v in table.values() if v is not None} <= set(allowed), name
    with pytest.raises(KeyError):
        em.map_label("ravdess", "09")
