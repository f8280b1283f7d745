"""Training: losses, Keras optimizers, length-bucketed batches, the fit loop, metrics.

The entry point is :func:`rnnlab.train` (``rnnlab.train.trainer.train``).
"""
