"""The docs stay true: every config key and every command is documented; the README has the
install, demo and test commands CI runs."""

import re

from helpers import ROOT
from rnnlab.cli import app
from rnnlab.config import describe_keys


def test_every_config_key_is_in_the_reference():
    text = (ROOT / "docs" / "config.md").read_text()
    missing = [k for k, *_ in describe_keys() if f"`{k}`" not in text]
    assert not missing, f"docs/config.md lacks {missing}; regenerate its key table from describe_keys()"


def test_every_command_is_in_the_cli_reference():
    text = (ROOT / "docs" / "cli.md").read_text()
    names = [c.name for c in app.registered_commands]
    assert names and all(f"## `rnnlab {n}" in text for n in names)


def test_readme_has_the_two_commands_and_the_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "pip install torch==2.13.0 -e \".[test]\"" in readme
    assert "rnnlab demo --data ../shared/data/imdb/aclImdb_train.csv.gz" in readme
    ci = (ROOT / ".ci" / "run").read_text()
    test_command = re.search(r"^python -m pytest -q -n 2 --dist loadfile$", ci, re.M)
    assert test_command and "python -m pytest -q -n 2 --dist loadfile" in readme
