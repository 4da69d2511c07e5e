"""MATE, the multimodal audio + text emotion reader (docs/methods.md section 4): model, data, losses, training
run, cross-validated evaluation and inference."""
