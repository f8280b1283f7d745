"""The version of rnnlab (one place; ``rnnlab.__version__`` re-exports it)."""

__version__ = "0.1.0"
