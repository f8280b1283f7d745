"""The docs stay true: every config key and every command is documented; the README starts with the
two commands (scripts/demo.sh, .ci/run) that set up everything on a fresh machine, and .ci/run runs
the README's test command and removes its venv."""

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
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


def _bash_blocks(text: str, heading: str) -> list[list[str]]:
    """The command lines (comments and blank lines dropped) of each ```bash block under ``heading``."""
    section = text.split(heading, 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"^```bash\n(.*?)^```", section, re.M | re.S)
    return [[line.split("#", 1)[0].strip() for line in b.splitlines() if line.split("#", 1)[0].strip()]
            for b in blocks]


def _script_lines(path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]


def test_readme_starts_with_the_two_commands_that_exist():
    readme = (ROOT / "README.md").read_text()
    assert re.findall(r"^## .*", readme, re.M)[0] == "## Two commands"  # the first section
    assert _bash_blocks(readme, "## Two commands")[0] == ["scripts/demo.sh", ".ci/run"]
    for name in ("scripts/demo.sh", ".ci/run", "scripts/install-torch-cpu.sh"):
        path = ROOT / name
        assert path.is_file() and os.access(path, os.X_OK), f"{name} is missing or not executable"
        assert subprocess.run(["bash", "-n", str(path)]).returncode == 0, f"{name}: bash syntax error"
    assert 'pip install torch==2.13.0 -e ".[test]"' not in readme  # the old install line that pulled CUDA elsewhere


def test_demo_script_sets_up_everything_with_runtime_dependencies_only():
    lines = _script_lines(ROOT / "scripts" / "demo.sh")
    venv = next(i for i, line in enumerate(lines) if "-m venv" in line)
    torch = lines.index('"$root/scripts/install-torch-cpu.sh"')
    package = next(i for i, line in enumerate(lines) if re.search(r"pip install .*-e ", line))
    assert venv < torch < package and lines[-1] == 'exec rnnlab demo "$@"'
    assert "[" not in lines[package].split("-e", 1)[1], "the demo installs no extras"
    installs = " ".join(line for line in lines if "pip install" in line)
    assert "test" not in installs


def test_torch_route_is_the_local_cpu_wheel_else_the_cpu_index():
    lines = _script_lines(ROOT / "scripts" / "install-torch-cpu.sh")
    text = "\n".join(lines)
    assert "--no-index --no-deps" in text  # found without an index: the local wheel, never PyPI's CUDA build
    assert "https://download.pytorch.org/whl/cpu" in text and '--index-url "$index"' in text
    assert not any(re.search(r"pip install [^|]*\btorch\b", line) and "--no-index" not in line
                   and "--index-url" not in line and "# its dependencies" not in line for line in
                   (ROOT / "scripts" / "install-torch-cpu.sh").read_text().splitlines())


def test_ci_runs_the_readme_test_command_with_the_test_extras():
    readme = (ROOT / "README.md").read_text()
    (test_command,), = _bash_blocks(readme, "## Tests")
    lines = _script_lines(ROOT / ".ci" / "run")
    assert lines[-1] == test_command == "python -m pytest -q -n 2 --dist loadfile"
    assert "scripts/install-torch-cpu.sh" in lines
    assert any(re.search(r'pip install .*-e "\.\[test[],]', line) for line in lines)


def test_ci_removes_its_venv_on_exit_also_on_failure_and_ctrl_c(tmp_path):
    """The trap lines of .ci/run, run as they are: the venv folder is gone after a failing command and
    after SIGINT."""
    lines = (ROOT / ".ci" / "run").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("venv_root="))
    setup = "\n".join(lines[start:start + 4])
    assert "trap" in setup and "mktemp" in setup
    for ending, code in (("false", 1), ("kill -INT $$; sleep 5", 130)):
        script = f"set -euo pipefail\nexport TMPDIR={tmp_path}\n{setup}\n" \
                 f'touch "$venv_root/big"; echo "$venv_root"\n{ending}\n'
        done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30)
        made = Path(done.stdout.strip())
        assert done.returncode == code and made.parent == tmp_path, (done.returncode, done.stdout, done.stderr)
        assert not made.exists(), f"{made} left behind"


def _figures():
    """docs/figures.py, loaded as a module (it is a script, not part of the package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("docs_figures", ROOT / "docs" / "figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_best_blend_script_runs_the_commands_of_the_documented_blend():
    """scripts/jigsaw-best-blend.sh trains what the blends table's best row (t1_best) blends, with
    the commands of those runs' rows in the presets table, then rank-blends them in that order."""
    import shlex

    figures = _figures()
    done = subprocess.run(["bash", str(ROOT / "scripts" / "jigsaw-best-blend.sh"), "--print", "D.csv", "C.csv",
                           "out"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    *trains, blend = [shlex.split(line) for line in done.stdout.splitlines()]
    best = next(t for t in figures._spec("presets-jigsaw-blends")["trial"] if t["id"] == "t1_best")
    members = re.findall(r"@presets-jigsaw/(\w+)", best["command"])
    spec = figures._spec("presets-jigsaw")
    rows = {t["id"]: t for t in spec["trial"]}
    assert len(trains) == len(members) >= 7
    for got, member in zip(trains, members):
        want = shlex.split(figures._expand(rows[member]["command"], spec, Path("runs")))
        want = [a.replace("../shared/data/jigsaw_toxic/train_subset.csv.gz", "D.csv")
                .replace("../shared/data/imdb/aclImdb_train.csv.gz", "C.csv") for a in want]
        assert got[:-2] == want and got[-2:] == ["--out", f"out/{member.removeprefix('t1_')}"], member
        assert member in ("tfidf", "nbsvm") or "fit.threads=1" in got, f"{member}: not bit-reproducible"
    assert blend == ["rnnlab", "blend", *[t[-1] for t in trains], "--method", "rank", "--out", "out/blend"]
    assert best["command"].endswith("--method rank")


def test_measured_figures_in_the_docs_are_what_their_json_renders():
    figures = _figures()
    assert figures.stale() == [], "run python docs/figures.py render (or measure, then render)"
    blocks = [m.group("name") for p in figures.DOCS for m in figures.BLOCK.finditer(p.read_text())]
    assert {"jigsaw-quickstart", "cli-start", "suite-scorecard", "suite-keras", "suite-tok",
            "suite-serve"} <= set(blocks)
    assert len(blocks) == len(set(blocks)), "a figures block appears twice"
    for path in sorted(figures.FIGURES.glob("*.json")):  # every measured set says when, where and at what load
        data = json.loads(path.read_text())
        assert data["date"] and data["machine"]["cores"] and data["machine"]["cpu_model"], path.name
        assert data["load_average"]["before"] and data["load_average"]["after"], path.name
        assert data["name"] in figures.measures() and data["name"] == path.stem


# What looks like a measured figure: a metric to 4 decimals, a duration, a rate, a size, a ratio.
MEASURED = re.compile(r"\b0\.\d{4}\b"
                      r"|(?<![\w.])\d[\d,]*(?:\.\d+)?\s?(?:µs|ms|s|min|h|rows/s|requests/s|texts/s|KB|MB|GB)(?![\w/])"
                      r"|(?<![\w.])\d+(?:\.\d+)?[x×](?!\w)")
# Figures outside the rendered blocks that are not measurements, each with why.
NOT_MEASURED = {
    ("docs/benchmarks.md", "0.1 s"): "the thread tuner's /proc/stat window (engine/threads.py)",
    ("docs/benchmarks.md", "3x"): "the tuner's drop rule; M3's target",
    ("docs/benchmarks.md", "1.5x"): "the tuner's drift rule",
    ("docs/benchmarks.md", "5x"): "M1's target",
    ("docs/benchmarks.md", "32 MB"): "glibc's largest mmap threshold (DEFAULT_MMAP_THRESHOLD_MAX), a constant",
    ("docs/cli.md", "60 MB"): "the bound a test asserts",
    ("docs/cli.md", "4×"): "a doctor rule",
    ("docs/config.md", "1.6 GB"): "bucket x dim x 4 bytes at gensim's defaults: arithmetic",
    ("docs/tracking.md", "120 s"): "MLflow's own default timeout",
    ("docs/serve.md", "1 ms"): "--batch-wait-ms's default",
    ("docs/serve.md", "5 ms"): "--batch-wait-ms's default before 2026-12-02",
}


def hand_typed_figures(name: str, text: str) -> list[str]:
    """The measured-looking figures of a doc outside its rendered blocks, code and inline code."""
    blank = lambda m: "\n" * m.group(0).count("\n")  # noqa: E731 - keeps line numbers
    text = re.sub(r"<!-- figures:([\w-]+) -->.*?<!-- /figures:\1 -->", blank, text, flags=re.S)
    text = re.sub(r"```.*?```", blank, text, flags=re.S)
    text = re.sub(r"`[^`\n]*`", "``", text)  # inline code on one line, then (a table row's stray backtick aside)
    text = re.sub(r"^\|.*$", lambda m: m.group(0).replace("`", ""), text, flags=re.M)
    text = re.sub(r"`(?:[^`\n]|\n(?!\s*\n))*`", lambda m: "``" + blank(m), text)  # across lines of a paragraph
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("    "):  # an indented code block
            continue
        found += [f"{name}:{number}: {m.group(0)!r} in {line.strip()[:100]!r}" for m in MEASURED.finditer(line)
                  if (name, m.group(0)) not in NOT_MEASURED]
    return found


def test_no_measured_figure_is_typed_by_hand_outside_the_rendered_blocks():
    found = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        if path.name != "bad-inputs.md":  # generated from the registry of bad inputs (limits, not measurements)
            found += hand_typed_figures(str(path.relative_to(ROOT)), path.read_text())
    assert not found, ("figures typed by hand drift: measure them with docs/figures.py and render them into a "
                       "block, say it in words, or (a constant, a target) list it in NOT_MEASURED:\n"
                       + "\n".join(found))


def test_the_hand_typed_figure_check_catches_what_it_should():
    doc = ("Took 12.5 s, 0.9312 AUC, 3.1x faster, 1,204 rows/s.\n<!-- figures:x -->\n0.9999 in 9 s\n"
           "<!-- /figures:x -->\n`--set lr=0.0005` and\n```\n0.1234 3 ms\n```\n    python run.py  # 5 s\n")
    found = hand_typed_figures("doc.md", doc)
    assert [f.split(": ", 1)[1].split(" in ")[0] for f in found] == ["'12.5 s'", "'0.9312'", "'3.1x'", "'1,204 rows/s'"]
    assert hand_typed_figures("docs/cli.md", "within 60 MB of it") == []


def test_a_hand_edited_figure_is_caught():
    figures = _figures()
    readme = (ROOT / "README.md").read_text()
    assert any(m.group("name") == "jigsaw-quickstart" for m in figures.BLOCK.finditer(readme))
    auc = f"{json.loads((figures.FIGURES / 'jigsaw-quickstart.json').read_text())['results']['auc']:.4f}"
    edited = readme.replace(auc, "0.9999", 1)
    assert edited != readme and figures.rendered(edited) == readme  # rendering restores the measured value


def test_a_trial_table_is_measured_from_its_runs_and_rendered_with_where_and_load(tmp_path, monkeypatch):
    """Issue 14 item 6: a trial table (docs/presets.md's kind) comes from its commands' run folders:
    validation figures, epochs, wall time, machine and load as run.json records them; --only keeps
    the other trials' records; a hand-edited cell is restored by rendering."""
    import tomli_w

    from helpers import toy_config, write_toy_csv

    figures = _figures()
    monkeypatch.setattr(figures, "FIGURES", tmp_path / "figures")
    (tmp_path / "figures").mkdir()
    data = write_toy_csv(tmp_path / "toy.csv", n=160)
    cfg = toy_config(data, tmp_path / "runs", fit__epochs=2)
    (tmp_path / "toy.toml").write_text(tomli_w.dumps(cfg))
    spec = {"vars": {"T": str(tmp_path / "toy.toml")},
            "table": {"columns": ["run", "command", "val_auc", "val_accuracy", "epochs", "seconds", "load"]},
            "trial": [{"id": "gru", "run": "toy GRU", "command": "rnnlab train $T", "bold": True},
                      {"id": "lr", "run": "toy TF-IDF", "command": "rnnlab train $T --set model.type=tfidf_lr",
                       "shown": "... --set model.type=tfidf_lr"},
                      {"id": "mix", "run": "blend", "command": "rnnlab blend @gru @lr --method mean"}]}
    (tmp_path / "figures" / "toy.toml").write_text(tomli_w.dumps(spec))
    assert "toy" in figures.measures() and "toy" in figures.renderers()
    figures.measure_trials("toy", runs_root=tmp_path / "measured")
    rec = json.loads((tmp_path / "figures" / "toy.json").read_text())
    assert rec["name"] == "toy" and rec["load_average"]["before"] and rec["machine"]["cores"]
    runs = tmp_path / "measured" / "toy"
    for trial in ("gru", "lr", "mix"):
        metrics = json.loads((runs / trial / "metrics.json").read_text())
        assert rec["results"]["trials"][trial]["validation"]["auc"] == metrics["validation"]["auc"]
    table = figures.render_trials("toy")
    gru = rec["results"]["trials"]["gru"]
    assert f"| toy GRU | `rnnlab train $T` | **{gru['validation']['auc']:.4f}** |" in table
    assert f"| {gru['epochs_run']} ({gru['best_epoch']}) |" in table and "`... --set model.type=tfidf_lr`" in table
    assert re.search(r"Measured with `python docs/figures.py measure toy` on \d{4}-\d\d-\d\d, \d+ cores .*"
                     r"load average \(1 min\) at the end of each run \d+\.\d–\d+\.\d; `\$T` is `.*toy.toml`\.", table)
    before = rec["results"]["trials"]["lr"]
    figures.measure_trials("toy", only=["gru"], runs_root=tmp_path / "measured")
    again = json.loads((tmp_path / "figures" / "toy.json").read_text())["results"]["trials"]
    assert again["lr"] == before and list(again) == ["gru", "lr", "mix"]
    doc = f"x\n<!-- figures:toy -->\n{figures.render_trials('toy')}<!-- /figures:toy -->\n"
    auc = f"{again['gru']['validation']['auc']:.4f}"
    assert figures.rendered(doc.replace(auc, "0.9999", 1)) == doc
    # rows measured on two machines: the footer says which rows ran where (their times do not compare)
    path = tmp_path / "figures" / "toy.json"
    mixed = json.loads(path.read_text())
    lr = mixed["results"]["trials"]["lr"]
    lr["machine"] = {**lr["machine"], "cpu_model": "~ another CPU"}  # "~" sorts after any real model name
    path.write_text(json.dumps(mixed))
    one = again["gru"]["machine"]["cpu_model"]
    assert f"cores ({one}: gru, mix; ~ another CPU: lr)" in figures.render_trials("toy")


def test_a_held_out_trial_table_splits_its_source_and_records_evaluations(tmp_path, monkeypatch):
    """[split] holds rows out of a data file ($REST trains, $HELD is scored): ``rnnlab evaluate``
    and ``rnnlab blend --data`` trials record their figures on exactly the held rows."""
    import pandas as pd
    import tomli_w

    from helpers import toy_config, write_toy_csv

    figures = _figures()
    monkeypatch.setattr(figures, "FIGURES", tmp_path / "figures")
    (tmp_path / "figures").mkdir()
    source = write_toy_csv(tmp_path / "toy.csv", n=200)
    cfg = toy_config(source, tmp_path / "runs", fit__epochs=2)
    (tmp_path / "toy.toml").write_text(tomli_w.dumps(cfg))
    spec = {"split": {"source": str(source), "held": 50, "how": "random", "seed": 3},
            "vars": {"T": f"{tmp_path / 'toy.toml'} --set data.path=$REST"},
            "table": {"columns": ["run", "command", "val_auc"], "headers": {"val_auc": "mean ROC AUC"}},
            "trial": [{"id": "gru", "run": "toy GRU", "command": "rnnlab train $T"},
                      {"id": "lr", "run": "toy TF-IDF", "command": "rnnlab train $T --set model.type=tfidf_lr"},
                      {"id": "gru_held", "run": "GRU, held out", "command": "rnnlab evaluate @gru $HELD"},
                      {"id": "mix_held", "run": "blend, held out", "command": "rnnlab blend @gru @lr --data $HELD"}]}
    (tmp_path / "figures" / "held.toml").write_text(tomli_w.dumps(spec))
    figures.measure_trials("held", runs_root=tmp_path / "measured")
    runs = tmp_path / "measured" / "held"
    whole, rest, held = (pd.read_csv(p) for p in (source, runs / "data" / "rest.csv.gz", runs / "data" / "held.csv.gz"))
    assert len(held) == 50 and len(rest) == 150 and sorted(pd.concat([rest, held])["id"]) == sorted(whole["id"])
    trials = json.loads((tmp_path / "figures" / "held.json").read_text())["results"]["trials"]
    evaluation = json.loads((runs / "gru_held.json").read_text())
    assert evaluation["n"] == 50 and trials["gru_held"]["validation"]["auc"] == evaluation["auc"]
    assert trials["gru_held"]["overlaps_training"] is False
    blend = json.loads((runs / "mix_held" / "metrics.json").read_text())["validation"]
    assert blend["n"] == 50 and trials["mix_held"]["validation"]["auc"] == blend["auc"]
    table = figures.render_trials("held")
    assert "| run | command | mean ROC AUC |" in table and f"| {evaluation['auc']:.4f} |" in table


def test_a_validation_split_holds_out_exactly_the_rows_a_run_of_that_config_validates_on(tmp_path):
    """[split] how = "validation": $HELD is the validation side of the config's own split of the
    source (rnnlab's loader and split, matched back by id), $REST the training side, so a blend
    of runs trained on the whole file scored on $HELD is scored on their validation rows."""
    import pandas as pd
    import tomli_w

    import rnnlab
    from helpers import toy_config, write_toy_csv

    figures = _figures()
    source = write_toy_csv(tmp_path / "toy.csv", n=200, multilabel=True)
    cfg = toy_config(source, tmp_path / "runs", fit__epochs=1, data__label_columns=["pos", "loud"])
    (tmp_path / "toy.toml").write_text(tomli_w.dumps(cfg))
    spec = {"split": {"source": str(source), "how": "validation", "config": str(tmp_path / "toy.toml"),
                      "set": ["data.split_seed=7"]}}
    got = figures._held_split(spec, tmp_path / "data")
    rest, held = (pd.read_csv(figures.ROOT / got[k]) for k in ("REST", "HELD"))
    run = rnnlab.train({**cfg, "data": {**cfg["data"], "split_seed": 7}})
    validated = pd.read_csv(run.dir / "validation_predictions.csv")["id"]
    assert list(held["id"]) == sorted(validated, key=lambda i: int(i[1:])) and len(rest) + len(held) == 200
    assert not set(rest["id"]) & set(held["id"])
    with pytest.raises(SystemExit, match="needs config"):
        figures._held_split({"split": {"source": str(source), "how": "validation"}}, tmp_path / "data2")


def test_a_predict_trial_records_rows_per_second_and_the_output_hash(tmp_path, monkeypatch):
    """[repeat] makes a bigger file of a data file's rows; ``rnnlab predict`` trials record rows/s,
    wall time and the output's SHA-256 (equal for any --workers)."""
    import hashlib

    import pandas as pd
    import tomli_w

    from helpers import toy_config, write_toy_csv

    figures = _figures()
    monkeypatch.setattr(figures, "FIGURES", tmp_path / "figures")
    (tmp_path / "figures").mkdir()
    source = write_toy_csv(tmp_path / "toy.csv", n=120)
    (tmp_path / "toy.toml").write_text(tomli_w.dumps(toy_config(source, tmp_path / "runs", fit__epochs=1)))
    spec = {"repeat": {"source": str(source), "rows": 500},
            "vars": {"T": str(tmp_path / "toy.toml")},
            "table": {"columns": ["run", "rows_per_s", "seconds", "output"]},
            "trial": [{"id": "m", "run": "model", "command": "rnnlab train $T"},
                      {"id": "w1", "run": "one", "command": "rnnlab predict @m $REPEATED --workers 1"},
                      {"id": "w2", "run": "two", "command": "rnnlab predict @m $REPEATED --workers 2"}]}
    (tmp_path / "figures" / "rep.toml").write_text(tomli_w.dumps(spec))
    figures.measure_trials("rep", runs_root=tmp_path / "measured")
    runs = tmp_path / "measured" / "rep"
    big = pd.read_csv(runs / "data" / "repeated.csv.gz")
    assert len(big) == 500 and big["id"].is_unique
    trials = json.loads((tmp_path / "figures" / "rep.json").read_text())["results"]["trials"]
    for k in ("w1", "w2"):
        assert trials[k]["rows"] == 500 and trials[k]["rows_per_s"] > 0
        assert trials[k]["output_sha256"] == hashlib.sha256((runs / f"{k}.csv").read_bytes()).hexdigest()
    assert trials["w1"]["output_sha256"] == trials["w2"]["output_sha256"]
    table = figures.render_trials("rep")
    assert f"| one | {trials['w1']['rows_per_s']:,} |" in table and f"`{trials['w1']['output_sha256'][:12]}`" in table


def test_the_readme_summary_of_the_presets_is_rendered_from_their_trial_sets(tmp_path, monkeypatch):
    import shutil

    figures = _figures()
    monkeypatch.setattr(figures, "FIGURES", tmp_path)
    names = ["presets-imdb", "presets-imdb-blends", "presets-imdb-held", "presets-jigsaw", "presets-jigsaw-blends",
             "presets-jigsaw-held"]
    for k, name in enumerate(names):
        shutil.copy(ROOT / "docs" / "figures" / f"{name}.toml", tmp_path)
        ids = [t["id"] for t in figures._spec(name)["trial"]]
        trials = {tid: {"validation": {"accuracy": 0.80 + 0.001 * i + 0.01 * k, "auc": 0.90 + 0.001 * i + 0.01 * k}}
                  for i, tid in enumerate(ids)}
        (tmp_path / f"{name}.json").write_text(json.dumps({"date": f"2026-12-0{k + 1}T00:00:00Z",
                                                           "results": {"trials": trials}}))
    text = figures.render_readme_presets()
    rec = lambda name, tid, m: json.loads((tmp_path / f"{name}.json").read_text())["results"]["trials"][tid][  # noqa
        "validation"][m]
    best = max(json.loads((tmp_path / "presets-jigsaw-blends.json").read_text())["results"]["trials"].values(),
               key=lambda r: r["validation"]["auc"])["validation"]["auc"]
    assert f"| Jigsaw subset, 3,291 comments: mean ROC AUC | {rec('presets-jigsaw', 'nbsvm', 'auc'):.4f} | " in text
    assert f"**{rec('presets-imdb', 'strong', 'accuracy'):.4f}** (scratch: " in text and f"**{best:.4f}** (" in text
    assert f"`jigsaw-strong` {rec('presets-jigsaw-held', 'strong_held', 'auc'):.4f}" in text
    assert "2026-12-01, 2026-12-02" in text


def test_the_benchmark_scorecard_lists_every_target_a_run_checks(tmp_path, monkeypatch):
    """Issue 13: docs/benchmarks.md shows every ratio bench/run.py checks against its target, met or
    missed, from the run's results file: training, tokenizer, quality, memory, int8, contention, serve."""
    figures = _figures()
    ratios = [
        {"part": "m1", "vs": "keras-tf", "speedup": 5.5, "target": ">= 5x", "ok": True},
        {"part": "m1", "vs": "keras-jax", "speedup": 4.0},  # no target: not a check
        {"part": "m2", "vs": "keras-jax", "speedup": 0.5, "target": ">= 1x", "ok": False},
        {"part": "tok", "vs": "keras2-tokenizer", "speedup": 12.0, "identical": True,
         "target": ">= 10x, identical", "ok": True},
        {"part": "quality", "variant": "padded, 1 thread", "val_auc": 0.93},
        {"part": "quality", "variant": "bucketed", "val_auc": 0.9325, "difference": 0.0025,
         "target": "|difference| <= 0.002", "ok": False},
        {"part": "mem", "peak_rss_mb": 1200.0, "docs": 160000},
        {"part": "int8/m3", "speedup": 1.3, "auc_change": -0.0004, "target_auc_change": 0.001, "ok": True},
        {"part": "contention/m1", "what": "training", "auto_vs_best_fixed": 1.1, "target_vs_best": 1.5,
         "ok_vs_best": True, "auto_vs_own_idle": 3.5, "target_vs_idle": 3.0, "ok_vs_idle": False},
        {"part": "serve", "what": "errors", "value": 0, "target": "== 0", "ok": True}]
    results = tmp_path / "bench" / "results" / "run.json"
    results.parent.mkdir(parents=True)
    results.write_text(json.dumps({"command": "python bench/run.py --suite cpu", "date": "2026-12-02T08:00:00Z",
                                   "machine": {"cpus": 2, "platform": "Linux"}, "wall_seconds": 3600,
                                   "notes": ["load average (1 min) at start 1.0, at end 1.2"], "ratios": ratios}))
    rows = figures.scorecard(results)
    assert [r["ok"] for r in rows] == [True, False, True, False, True, True, True, False, True]
    assert rows[1]["measured"] == "2.00x slower" and rows[1]["target"] == "at least as fast"
    assert rows[3]["measured"] == "0.9325 (+0.0025)" and rows[3]["target"] == "within ±0.002"
    monkeypatch.setattr(figures, "ROOT", tmp_path)
    text = figures.render_scorecard(results)
    assert "| M2 training vs Keras 3 + JAX | 2.00x slower | at least as fast | **missed** |" in text
    assert "6 of the 9 targets met; missed: M2 training" in text and "bench/results/run.json" in text
    assert all(line.count("|") == 5 for line in text.splitlines() if line.startswith("| "))  # no stray cell
