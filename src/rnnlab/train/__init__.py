"""Training: what the model will be (:mod:`.prepare`), the config doctor's rules (:mod:`.doctor`),
Keras optimizers, the fit loop, resumable state, k-fold, linear baselines.

The entry point is :func:`rnnlab.train` (:func:`rnnlab.train.trainer.train`). Training builds on
:mod:`rnnlab.engine` (batches, losses, metrics) and writes run folders through :mod:`rnnlab.runs`;
it imports nothing from :mod:`rnnlab.use`, :mod:`rnnlab.experiments` or :mod:`rnnlab.cli`.
"""
