"""bench/gpu.sh, the prepared GPU check: its CPU dry run (tiny data, M1 in float32, the precision
plumbing, Run.predict rows/s; run here through bench/gpu.py's main, the shell script through
--help) writes the results JSON; without CUDA and without --dry-run it refuses in one line. The
GPU run itself needs a CUDA machine (docs/benchmarks.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import gpu  # noqa: E402


def test_dry_run_writes_the_results_json(tmp_path, capsys):
    out = tmp_path / "gpu.json"
    assert gpu.main(["--dry-run", "--only", "m1,precision,predict", "--out", str(out)]) == 0, capsys.readouterr().err
    doc = json.loads(out.read_text())
    assert doc["dry_run"] is True and doc["device"] == "cpu" and doc["gpus"] == 0
    m1 = doc["results"]["m1"]
    assert len(m1["float32"]["epoch_seconds"]) == 1 and 0 <= m1["float32"]["val_auc"] <= 1
    assert m1["float32"]["device"] == "cpu" and m1["float32"]["nproc"] == 1
    assert m1["fp16"] == {"skipped": "fp16 needs CUDA"} and "oneDNN" in m1["bf16"]["skipped"]
    assert doc["results"]["predict"]["rows"] == 600 and doc["results"]["predict"]["rows_per_second"] > 0
    assert set(doc["results"]) == {"m1", "predict"}


def test_the_shell_script_runs_bench_gpu_py():
    env = {**os.environ, "PYTHON": sys.executable}
    done = subprocess.run([str(ROOT / "bench" / "gpu.sh"), "--help"], capture_output=True, text=True, timeout=120,
                          env=env)
    assert done.returncode == 0, done.stderr
    assert "--dry-run" in done.stdout and "--only" in done.stdout


def test_without_cuda_it_refuses_in_one_line(capsys, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert gpu.main(["--only", "m1"]) == 2
    assert "no CUDA device" in capsys.readouterr().err


def test_unknown_parts_are_refused(capsys):
    import pytest

    with pytest.raises(SystemExit):
        gpu.parse_args(["--only", "m1,m9"])
    assert "unknown part(s) m9" in capsys.readouterr().err
