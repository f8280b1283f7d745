"""Experiments: sweeps over config variants (Optuna), the config doctor, comparisons."""
