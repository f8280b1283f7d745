"""Text → token ids: the Keras-compatible tokenizer, padding, and length statistics."""

from .sequences import Sequences, pad_sequences
from .stats import length_stats, plot_length_histogram
from .tokenizer import KERAS_FILTERS, Tokenizer, text_to_word_sequence

__all__ = ["KERAS_FILTERS", "Sequences", "Tokenizer", "length_stats", "pad_sequences",
           "plot_length_histogram", "text_to_word_sequence"]
