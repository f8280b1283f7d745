"""Atomic writes, and clear errors for a full disk or an unwritable output folder."""

import errno
import os

import pytest

from helpers import run_cli, toy_config, write_toy_csv
from rnnlab._io import OutputError, write_text


def test_atomic_write_leaves_no_partial_file_when_the_writer_fails(tmp_path, monkeypatch):
    target = tmp_path / "out.txt"
    target.write_text("old")

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(OutputError, match="the disk is full"):
        write_text(target, "new")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_training_into_an_unwritable_place_is_one_clear_line(tmp_path, capsys):
    import tomli_w

    data = write_toy_csv(tmp_path / "toy.csv")
    (tmp_path / "c.toml").write_text(tomli_w.dumps(toy_config(data, tmp_path / "runs")))
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, out, err = run_cli(["train", tmp_path / "c.toml", "--out", blocker / "run"], capsys)
    assert code == 1 and err.startswith("error: Cannot write") and "Traceback" not in err + out


def test_full_disk_during_training_is_a_clear_error(tmp_path, monkeypatch, capsys):
    import tomli_w

    data = write_toy_csv(tmp_path / "toy.csv")
    (tmp_path / "c.toml").write_text(tomli_w.dumps(toy_config(data, tmp_path / "runs")))
    real = os.replace

    def full_disk_for_weights(src, dst):
        if str(dst).endswith(".safetensors"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", full_disk_for_weights)
    code, out, err = run_cli(["train", tmp_path / "c.toml"], capsys)
    assert code == 1 and "the disk is full" in err and "Traceback" not in err + out
