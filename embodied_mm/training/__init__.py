"""Helpers of `embodied-mm train` (`embodied_mm/train.py`): data order, DDP, checkpoints,
held-out metrics and the model card."""
