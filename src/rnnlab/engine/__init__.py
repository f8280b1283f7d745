"""The engine both training and inference run on: batches (length-bucketed), Keras losses,
metrics beside the majority baseline, and the forward pass over token ids.

Nothing here knows about run folders or configs; :mod:`rnnlab.train` and :mod:`rnnlab.runs`
both build on it.
"""

from .batching import PAD_MULTIPLE, inference_batches, inference_widths, iterate, padded, train_batches
from .losses import Loss, probability_loss
from .metrics import compute_metrics, format_metric, is_missing, label_counts
from .predict import predict_outputs

__all__ = ["PAD_MULTIPLE", "Loss", "compute_metrics", "format_metric", "inference_batches", "inference_widths",
           "is_missing", "iterate", "label_counts", "padded", "predict_outputs", "probability_loss", "train_batches"]
