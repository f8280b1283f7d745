"""Using trained runs: batch scoring (:mod:`.predict`), decision thresholds, Kaggle submissions,
ONNX export, blends of runs, and the HTTP API (:mod:`.serve`).

Everything here works from a run folder (:mod:`rnnlab.runs`) and the inference engine
(:mod:`rnnlab.engine`); nothing imports :mod:`rnnlab.train`.
"""
