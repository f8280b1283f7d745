"""``rnnlab report``: one self-contained HTML page (table, curves, heat-map, ROC, doctor, lengths),
checked as text and, where Chromium is installed, rendered in a real headless browser."""

from __future__ import annotations

import base64
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tomli_w
from helpers import run_cli, toy_config, write_toy_csv

import rnnlab.cli.report  # noqa: F401  (registers the command even before cli/__init__ imports it)
from rnnlab.experiments.sweep import run_sweep
from rnnlab.report.compare import collect, rows_from_runs
from rnnlab.report.html import render_report, roc_curves, write_report

SWEEP = {"compile.optimizer": ["adam", "sgd"], "model.layers.0.type": ["LSTM", "GRU"], "baselines": False}


class Page(HTMLParser):
    """The tags and attributes of a page, and its text."""

    def __init__(self, text: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def all(self, tag: str) -> list[dict]:
        return [attrs for t, attrs in self.tags if t == tag]


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    """A real 4-variant multi-label sweep (2 epochs, tiny GRU/LSTM); returns the study folder."""
    tmp = tmp_path_factory.mktemp("study")
    data = write_toy_csv(tmp / "toy.csv", n=240, multilabel=True)
    cfg = toy_config(data, tmp / "runs", fit__epochs=2, data__label_columns=["pos", "loud"])
    cfg["name"], cfg["sweep"] = "toy-study", SWEEP
    path = tmp / "study.toml"
    path.write_text(tomli_w.dumps(cfg))
    run_sweep(path)
    return tmp / "runs" / "toy-study"


@pytest.fixture(scope="module")
def report(study, tmp_path_factory) -> tuple[list[dict], Path, str]:
    """(rows, path, text) of the study's report, written once."""
    rows, metric = collect([str(study)])
    path = write_report(rows, tmp_path_factory.mktemp("report") / "report.html", "toy-study", metric)
    return rows, path, path.read_text(encoding="utf-8")


def _row(name: str, run_dir: str = "", **over) -> dict:
    """A comparison row as compare.collect makes them (a failed variant without a run by default)."""
    row = {"name": name, "run_dir": run_dir, "outcome": "failed", "reason": "it broke", "val_auc": None,
           "val_loss": None, "val_accuracy": None, "majority_accuracy": None, "auc_per_label": {}, "params": None,
           "best_epoch": None, "epochs": None, "seconds_per_epoch": None, "doctor": [], "params_shown": {}}
    return {**row, **over}


def _images(text: str) -> list[bytes]:
    srcs = [a["src"] for a in Page(text).all("img")]
    assert all(s.startswith("data:image/png;base64,") for s in srcs)
    return [base64.b64decode(s.split(",", 1)[1]) for s in srcs]


def test_report_parses_is_self_contained_and_inlines_five_figures(report):
    _, path, text = report
    page = Page(text)
    refs = [v for _, attrs in page.tags for k, v in attrs.items() if k in ("src", "href") and v]
    assert not [r for r in refs if r.startswith(("http://", "https://", "//"))]
    assert not page.all("script") and not page.all("link")
    images = _images(text)
    assert len(images) == 5  # learning curves, AUC heat-map, ROC panels, length histogram, reliability diagrams
    assert "<h2>Calibration</h2>" in text and "expected calibration error per label" in text
    assert all(png.startswith(b"\x89PNG") for png in images)
    assert path.stat().st_size > 20_000 and not list(path.parent.glob(".*.tmp"))


def test_report_holds_the_ranked_table_with_every_variant_and_coloured_status(report):
    rows, _, text = report
    page = Page(text)
    assert [t.get("class") for t in page.all("table")].count("compare") == 1
    compare = Page(text.split('<table class="compare">')[1].split("</table>")[0])
    assert len(compare.all("tr")) == 1 + len(rows) == 5
    assert "toy-study" in "".join(page.text) and "labels: pos, loud" in text
    for r in rows:
        assert r["name"] in text
    statuses = [a["class"] for a in page.all("td") if "status" in a.get("class", "")]
    assert statuses == ["status status-ok"] * 4
    assert text.count("no findings") == 4


def test_names_and_findings_are_escaped_and_missing_pieces_are_notes(report):
    rows, _, _ = report
    evil = "<script>alert(1)</script>"
    finding = {"rule": "softmax-one-unit", "severity": "error", "key": "model.layers.1.activation",
               "message": "one unit & <softmax>", "fix": "use sigmoid"}
    shown = {k: "·" for k in rows[0]["params_shown"]}
    text = render_report([*rows, _row(evil, doctor=[finding], params_shown=shown)], f"study {evil}")
    assert "<script" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "one unit &amp; &lt;softmax&gt;" in text and "fix: use sigmoid" in text and "sev-error" in text
    assert "no history.csv (no epochs): &lt;script&gt;" in text
    assert "status-failed" in text and len(_images(text)) == 5


def test_a_run_without_history_predictions_or_lengths_is_noted_not_fatal(report, tmp_path):
    rows, _, _ = report
    bare = tmp_path / "bare"
    shutil.copytree(rows[0]["run_dir"], bare)
    for name in ("history.csv", "validation_predictions.csv", "lengths.png"):
        (bare / name).unlink()
    text = render_report(rows_from_runs([bare]), "bare")
    assert "no history.csv" in text and "no validation_predictions.csv" in text
    assert "No variant has a lengths.png" in text
    assert len(_images(text)) == 1  # only the AUC heat-map (from metrics.json) is left


def test_explanations_name_the_tokens_that_push_each_label_up(report):
    _, _, text = report
    section = text.split("<h2>Explanations</h2>")[1].split("</section>")[0]
    tables = Page(section).all("table")
    assert [t["class"] for t in tables] == ["tokens", "tokens"]  # one per label: pos, loud
    captions = section.split("<caption>")[1:]
    assert [c.split("</caption>")[0] for c in captions] == ["pos", "loud"]
    pos_tokens = section.split("<caption>pos</caption>")[1].split("</table>")[0]
    # the toy labels: sentiment words drive 'pos'; the top few tokens hold at least one of them
    assert any(f"<td>{w}</td>" in pos_tokens for w in ("good", "great", "fine", "lovely", "superb"))
    assert section.count('class="expl"') == 3 and "Integrated Gradients" in section


def test_an_empty_comparison_still_renders():
    text = render_report([], "nothing yet")
    assert "no variants" in text and not _images(text)
    Page(text)


def test_roc_curves_per_label_and_micro_macro_for_multiclass():
    from sklearn.metrics import auc, roc_auc_score

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 50)
    binary = pd.DataFrame({"id": range(50), "y_pos": y, "p_pos": y * 0.5 + rng.random(50) * 0.6})
    assert list(roc_curves(binary)) == ["pos"]
    single_class = binary.assign(y_loud=0, p_loud=0.1)
    assert list(roc_curves(single_class)) == ["pos"]
    classes = np.array(["a", "b", "c"])
    k = rng.integers(0, 3, 60)
    scores = rng.dirichlet([1, 1, 1], 60) + np.eye(3)[k] * 0.5
    outputs = {f"p_{c}": scores[:, j] for j, c in enumerate(classes)}
    multiclass = pd.DataFrame({"id": range(60), "y": classes[k], **outputs})
    curves = roc_curves(multiclass)
    assert list(curves) == ["micro-average", "macro-average"]
    assert auc(*curves["micro-average"]) == pytest.approx(roc_auc_score(np.eye(3)[k], scores, average="micro"))
    macro = roc_auc_score(np.eye(3)[k], scores, average="macro")
    assert auc(*curves["macro-average"]) == pytest.approx(macro, abs=0.02)


def test_cli_writes_the_report_and_rejects_a_non_study(study, tmp_path, capsys):
    out = tmp_path / "out" / "r.html"
    code, stdout, _ = run_cli(["report", study, "--out", out], capsys)
    assert code == 0 and f"wrote {out}" in stdout
    assert "<h1>toy-study</h1>" in out.read_text(encoding="utf-8")
    code, _, stderr = run_cli(["report", tmp_path / "nowhere", "--out", tmp_path / "x.html"], capsys)
    assert code != 0 and stderr.startswith("error:") and not (tmp_path / "x.html").exists()


@pytest.fixture(scope="module")
def chromium() -> str:
    """The headless browser's binary; skips (before the study is built) when there is none."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.skip("no chromium binary on PATH: install it with `apt-get install -y chromium` to render the report")
    return found


def _browse(chromium: str, page: Path, tmp: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp / f"profile{len(list(tmp.glob('profile*')))}"
    profile.mkdir()
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={profile}", "--window-size=1400,2000", *args, page.resolve().as_uri()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def test_chromium_renders_a_non_blank_page_with_the_table(chromium, report, tmp_path):
    import matplotlib.image

    rows, path, _ = report
    shot = tmp_path / "shot.png"
    done = _browse(chromium, path, tmp_path, f"--screenshot={shot}")
    assert shot.exists(), done.stderr[-2000:]
    pixels = matplotlib.image.imread(shot)[..., :3]
    assert pixels.shape[:2] == (2000, 1400)
    assert pixels.std() > 0.05  # not one colour
    assert (pixels.min(axis=2) < 0.95).mean() > 0.03  # a fair share of the page is drawn on (blank: 0)
    dom = _browse(chromium, path, tmp_path, "--dump-dom").stdout
    assert '<table class="compare">' in dom and rows[0]["name"] in dom and dom.count("<img") == 5
    explained = dom.split("<h2>Explanations</h2>")[1]  # the explanations section rendered, tokens coloured
    assert explained.count('<table class="tokens">') == 2 and explained.count('class="tok"') > 10
    assert "rgba(214, 40, 40" in explained or "rgba(214,40,40" in explained
