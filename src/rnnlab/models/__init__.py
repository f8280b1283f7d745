"""Models: Keras-equivalent layers built from the config, and the Keras-style summary."""

from .model import RnnClassifier, build_model
from .summary import print_summary, summary_rows, summary_table

__all__ = ["RnnClassifier", "build_model", "print_summary", "summary_rows", "summary_table"]
