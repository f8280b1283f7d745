"""describe_keys(): the rows of docs/config.md, unchanged since the module became a package."""

import json

from helpers import ROOT

from rnnlab.config import describe_keys

FIXTURE = ROOT / "tests" / "config" / "fixtures" / "describe_keys.json"


def test_the_rows_are_the_recorded_ones():
    assert [list(row) for row in describe_keys()] == json.loads(FIXTURE.read_text(encoding="utf-8"))


def test_every_row_is_in_the_reference_table_as_generated():
    text = (ROOT / "docs" / "config.md").read_text(encoding="utf-8")
    lines = set(text.splitlines())

    def cell(s: str) -> str:
        return s.replace("|", "\\|")

    missing = [key for key, tp, default, doc in describe_keys()
               if f"| `{key}` | {cell(tp)} | `{cell(default)}` | {cell(doc)} |" not in lines]
    assert not missing, f"docs/config.md rows differ from describe_keys() for {missing}"


def test_rows_walk_nested_sections_in_order():
    keys = [k for k, *_ in describe_keys()]
    assert keys[:3] == ["name", "seed", "runs_dir"]
    assert keys.index("fit.epochs") < keys.index("fit.early_stopping.enabled") < keys.index("fit.checkpoint.monitor")
    assert "model.embedding" not in keys and "model.embedding.dim" in keys
    assert {k: (t, d) for k, t, d, _ in describe_keys()}["fit.epochs"] == ("int", "1")
