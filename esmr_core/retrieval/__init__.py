"""Emotion-based speech-to-music retrieval (docs/methods.md sections 1 and 2): the joint speech-music model
(model), its inputs from frozen encoders (features), losses, training data (data), training run (train),
evaluation (evaluate), and the search over a catalogue (index, catalog_index) with its 2-D map (map2d)."""
