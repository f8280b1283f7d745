"""examples/notebook.ipynb runs from top to bottom in a fresh kernel and shows its plot inline."""

from __future__ import annotations

import os

import pytest

from helpers import ROOT

NOTEBOOK = ROOT / "examples" / "notebook.ipynb"


def test_the_notebook_example_runs(tmp_path):
    nbformat = pytest.importorskip("nbformat", reason="nbformat is in the test extra: pip install -e '.[test]'")
    nbclient = pytest.importorskip("nbclient", reason="nbclient is in the test extra: pip install -e '.[test]'")
    pytest.importorskip("ipykernel", reason="ipykernel is in the test extra: pip install -e '.[test]'")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    env = {"OMP_NUM_THREADS": "1", "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits them (and PYTHONPATH: the code under test)
    try:
        nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                resources={"metadata": {"path": str(tmp_path)}}).execute()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), "the learning curves are not shown inline"
    runs = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert runs[0] == "notebook_gru" and len(runs) == 5  # train, fit, and one fit per fold of cv=3
    assert "memory:DataFrame:sha256=" in (tmp_path / "runs" / "notebook_gru" / "config.toml").read_text()
