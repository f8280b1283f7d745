"""The run name is one folder name: it can never place a run folder outside ``runs_dir``
(regression: ``--set name=../../escaped`` or an absolute name wrote outside it)."""

import os
from pathlib import Path

import pytest
import tomli_w
from hypothesis import given
from hypothesis import strategies as st

from helpers import run_cli, toy_config, write_toy_csv
from rnnlab.config import from_dict
from rnnlab.errors import ConfigError
from rnnlab.runs.folder import unique_run_dir


@pytest.mark.parametrize("name", ["../../escaped", "..", ".", "/tmp/abs", "a/b", "a\\b", "", " ", "x\x00y"])
def test_a_name_that_is_not_one_folder_name_is_refused(name):
    with pytest.raises(ConfigError) as e:
        from_dict({"name": name})
    assert "'name' parameter must be a folder name" in str(e.value) and "\n" not in str(e.value)


@given(st.text(min_size=1, max_size=40).filter(lambda s: s.strip() and s not in (".", "..")
                                                   and not set(s) & {"/", "\\", "\x00"}))
def test_any_accepted_name_stays_inside_runs_dir(name):
    cfg = from_dict({**toy_config(Path("toy.csv"), Path("runs")), "name": name})
    runs = os.path.abspath("some-runs-dir")
    assert os.path.dirname(os.path.abspath(unique_run_dir(runs, cfg.name))) == runs


def test_cli_refuses_an_escaping_name_and_writes_nothing(tmp_path, capsys):
    data = write_toy_csv(tmp_path / "toy.csv", n=40)
    cfg = tmp_path / "c.toml"
    cfg.write_text(tomli_w.dumps(toy_config(data, tmp_path / "runs")))
    code, out, err = run_cli(["train", cfg, "--set", "name=../../escaped"], capsys)
    assert code == 2 and "Traceback" not in out + err and "must be a folder name" in err
    assert not (tmp_path / "escaped").exists() and not (tmp_path.parent / "escaped").exists()
    assert not (tmp_path / "runs").exists()
