"""Experiments: sweeps over config variants (Optuna), ``rnnlab check`` (the config doctor on a
config or every variant of its sweep), and ``rnnlab demo``."""
