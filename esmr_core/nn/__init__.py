"""Building blocks the models share: layers (blocks), the checkpoint convention, the momentum (EMA) update."""
