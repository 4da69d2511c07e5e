"""MATE, the multimodal audio + text emotion reader (docs/methods.md section 4), one module per concern:
config (MateConfig, TrainConfig, load_config), model (MateModel), data (prepare_data), losses, train (fit,
cross_validate, run), evaluate (predict_data, score, evaluate_checkpoint), infer (the Mate wrapper)."""
