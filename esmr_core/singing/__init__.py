"""Singing -> songs to sing (docs/methods.md section 3; docs/singing.md), one module per concern:
config (SSCLConfig, TJAEConfig, TrainConfig, load_config), model (MoCo SSCL and TJAE, `Pretrained` checkpoints),
losses, data (training audio, augmented views), train (train_moco, train_tjae, run), evaluate (synthetic singers,
the grid search of the weights), recommend (inference: embeddings, guide embeddings, ranking); features (log-mel,
cheap augmentations), pitch (range, singing check, transposition), synth (synthetic singers).

    from esmr_core.singing.recommend import SingingRecommender
    rec = SingingRecommender.load(checkpoints_dir(), default_songs_dir())
    analysis = rec.analyze(samples16k)                  # range + embeddings + per-song factors
    songs = rec.rank(analysis, {"range": 1, "timbre": 0.5}, top_k=5)
"""
