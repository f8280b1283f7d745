"""Bad inputs of ``rnnlab calibrate`` (run in the registry on the toy run 'run', binary label 'pos')."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

import pandas as pd

from .cases import Case, command

CT = "tests/test_calibration.py::"


def _toy_as(name: str, change: Callable[[pd.DataFrame], pd.DataFrame], *extra: str) -> Callable[[Path], list[str]]:
    """``rnnlab calibrate run NAME``, NAME being the toy data changed by ``change``."""
    def args(folder: Path) -> list[str]:
        change(pd.read_csv(folder / "toy.csv")).to_csv(folder / name, index=False)
        return ["calibrate", "run", name, *extra]
    return args


def _flipped(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(pos=1 - frame["pos"])


def _unfinished(folder: Path) -> list[str]:
    (folder / "half").mkdir()
    shutil.copy(folder / "run" / "config.toml", folder / "half" / "config.toml")
    return ["calibrate", "half"]


def _member(folder: Path) -> list[str]:
    """An ensemble folder holding the toy run as its member 'members/1-toy'."""
    member = folder / "ens" / "members" / "1-toy"
    shutil.copytree(folder / "run", member, symlinks=False)
    (folder / "ens" / "ensemble.json").write_text('{"method": "mean", "members": []}', encoding="utf-8")
    return ["calibrate", "ens/members/1-toy"]


CASES = [
    Case("calibrate-unknown-method", "`rnnlab calibrate RUN --method isotonic`", "`rnnlab calibrate`",
         command("calibrate", "run", "--method", "isotonic"), 2,
         r"--method must be one of temperature, platt\. Got 'isotonic' instead\.",
         "`ConfigError` naming the two methods", CT + "test_calibrate_refuses_unknown_methods"),
    Case("calibrate-platt-multiclass", "`--method platt` on a multi-class (softmax) run", "`rnnlab calibrate`",
         None, 2, "", "`ConfigError`: `--method platt calibrates one sigmoid output per label; a multi-class "
         "(softmax) run takes --method temperature (one temperature on the logits vector).`",
         CT + "test_multiclass_calibration_end_to_end_through_the_cli"),
    Case("calibrate-platt-reversed", "`--method platt` on data whose labels the model ranks backwards (a fitted "
         "slope ≤ 0)", "`rnnlab calibrate`", _toy_as("flipped.csv", _flipped, "--method", "platt"), 2,
         r"Platt scaling of 'pos' has slope -?[\d.e+-]+ <= 0: .*ROC AUC 0\.\d+.*may not reverse the order",
         "`DataError`: why (the model scores the negatives above the positives: ROC AUC < 0.5, and a calibration "
         "may not reverse the order) and what to do (check the label column; more rows, temperature)",
         CT + "test_platt_scaling_per_label_and_its_refusal"),
    Case("calibrate-too-few-rows", "labelled DATA with fewer than 20 rows", "`rnnlab calibrate`",
         _toy_as("few.csv", lambda f: f.head(5)), 2,
         r"few\.csv has 5 rows; calibration needs at least 20 held-out rows", "`DataError` naming the count",
         CT + "test_calibrate_refuses_unknown_methods"),
    Case("calibrate-single-class", "labelled DATA where every label has one class (all positives)",
         "`rnnlab calibrate`", _toy_as("ones.csv", lambda f: f.assign(pos=1)), 2,
         r"every label has a single class in its 120 rows", "`DataError`: nothing to calibrate against", ""),
    Case("calibrate-no-label-columns", "DATA without the run's label columns", "`rnnlab calibrate`",
         _toy_as("texts.csv", lambda f: f.drop(columns=["pos"])), 2, r"'texts\.csv' has no column 'pos'",
         "`DataError` listing the file's columns", ""),
    Case("calibrate-missing-data", "DATA that does not exist", "`rnnlab calibrate`",
         command("calibrate", "run", "nowhere.csv"), 2, r"Data file 'nowhere\.csv' does not exist",
         "`DataError` naming the file", ""),
    Case("calibrate-data-format", "DATA of an unknown format (`scores.xlsx`) or a folder", "`rnnlab calibrate`",
         command("calibrate", "run", "scores.xlsx", files={"scores.xlsx": "id,text,pos\n"}), 2,
         r"Cannot tell the format of 'scores\.xlsx' from its name", "`DataError` listing the formats", ""),
    Case("calibrate-labels-file", "`--labels FILE` for a run whose data is not Jigsaw's", "`rnnlab calibrate`, "
         "`evaluate`, `thresholds`", command("calibrate", "run", "toy.csv", "--labels", "toy.csv"), 2,
         r"--labels 'toy\.csv': a separate labels file is read only for a Jigsaw test\.csv",
         "`ConfigError` (it was silently ignored before)", ""),
    Case("calibrate-unfinished", "an unfinished run folder (no manifest)", "`rnnlab calibrate`", _unfinished, 2,
         r"'half' is an unfinished run.*rnnlab train --resume half", "`RunError` naming the command that finishes it",
         ""),
    Case("calibrate-ensemble-member", "a member folder of a blend or k-fold run (`ENS/members/…`, "
         "`ENS/folds/fold-K`)", "`rnnlab calibrate`", _member, 2,
         r"is a member of the ensemble .*ens'.*calibrate the ensemble \(`rnnlab calibrate .*ens`\)",
         "`ConfigError`: the ensemble combines raw member outputs; calibrate the ensemble",
         CT + "test_card_of_a_blend_and_a_kfold_run_and_their_calibration"),
]
