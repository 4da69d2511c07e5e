"""Singing -> songs to sing (METHODS.md section 3, seeds/002).

    from esmr_core.singing import SingingRecommender
    rec = SingingRecommender.load(checkpoints_dir(), default_songs_dir())
    analysis = rec.analyze(samples16k)                  # range + embeddings + per-song factors
    songs = rec.rank(analysis, {"range": 1, "timbre": 0.5}, top_k=5)

Modules: features (log-mel, cheap augmentations), pitch (range, singing check, transposition), sscl (MoCo SSCL),
tjae (Time Jump AutoEncoder), synth (synthetic singers), train, recommend, evaluate.
"""
from .recommend import FACTORS, SingingAnalysis, SingingRecommender, default_weights, rank_songs

__all__ = ["FACTORS", "SingingAnalysis", "SingingRecommender", "default_weights", "rank_songs"]
