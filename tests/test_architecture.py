"""The package keeps its floors (docs/architecture.md): the import-linter contracts hold (layers,
inference without training, no cycles), ruff is clean, no module outside ``rnnlab.runs`` spells
a run-folder file name, and imports inside functions only defer an optional heavy dependency."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import ROOT
from rnnlab.runs import folder as run_folder

SRC = ROOT / "src" / "rnnlab"
# third-party packages that may be imported inside a function: optional extras or heavy imports
# that most commands never need
DEFERRED = {"optuna", "onnx", "onnxruntime", "fastapi", "uvicorn", "matplotlib", "pyarrow", "gensim", "captum",
            "mlflow", "torch.utils.tensorboard"}
# rnnlab modules that may be imported inside a function: they need an optional extra (fastapi)
DEFERRED_OWN = {"rnnlab.use.serve", "rnnlab.use.quantize",
                "rnnlab.train.launch"}  # launch: torch's elastic agent, for --nproc only
# Instant start: modules whose functions may import anything. The command modules (``rnnlab.cli.*``)
# import the library a command calls inside the command, so that ``rnnlab --help`` / ``COMMAND --help`` /
# ``--version`` load no torch, scikit-learn, pandas or matplotlib; ``rnnlab/__init__`` loads its
# public API on first use. tests/test_cli_start.py checks the result at run time.
DEFER_ANYTHING = ("rnnlab.cli.", "rnnlab.__init__")
# what a command module may import at module level (the rest of rnnlab and every heavy package go
# inside the command function)
CLI_TOP_LEVEL = {"__future__", "typer", "rich", "rnnlab.errors", "rnnlab._version", "rnnlab.cli"}
DOC_KEYWORDS = {"doc", "help", "description"}


def _tool(name: str) -> str:
    path = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (it is in the test extra: pip install -e '.[test]')")
    return path


def test_import_contracts_hold():
    result = subprocess.run([_tool("lint-imports"), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout and "3 kept" in result.stdout


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, on, stack, found, counter = {}, {}, set(), [], [], 0
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            v, children = work[-1]
            w = next(children, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges[w]))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    component.append(w)
                    if w == v:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_module_imports_itself_through_others():
    """No cycle between any modules at all, a package's __init__ and its own modules included
    (import-linter's acyclic_siblings contract only compares siblings)."""
    grimp = pytest.importorskip("grimp", reason="grimp comes with import-linter (the test extra)")
    graph = grimp.build_graph("rnnlab", cache_dir=None)
    edges = {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    assert _cycles(edges) == []
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]  # the check can fail


def test_ruff_is_clean():
    result = subprocess.run([_tool("ruff"), "check", "src", "tests", "bench"], cwd=ROOT, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout[-3000:]


def _modules():
    for path in sorted(SRC.rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"))


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def _documentation(tree: ast.AST) -> set[int]:
    """String constants that document (doc=, help=, description= arguments)."""
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg in DOC_KEYWORDS:
            ids.update(id(n) for n in ast.walk(node.value) if isinstance(n, ast.Constant))
    return ids


def test_only_runs_spells_run_folder_file_names():
    names = [v for k, v in vars(run_folder).items() if k.isupper() and isinstance(v, str) and "." in v]
    assert "config.toml" in names and "validation_predictions.csv" in names and len(names) >= 18
    found = []
    for path, tree in _modules():
        if path.relative_to(SRC).parts[0] == "runs":
            continue
        skip = _docstrings(tree) | _documentation(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
                found += [f"{path.relative_to(SRC)}:{node.lineno}: {name}" for name in names if name in node.value]
    assert not found, "run-folder file names outside rnnlab.runs (use RunFolder):\n" + "\n".join(found)


def _imported(node: ast.Import | ast.ImportFrom, module: str) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if node.level == 0:
        return [node.module]
    base = module.split(".")[:-node.level]  # a package's own module is "<package>.__init__"
    return [".".join([*base, node.module] if node.module else base)]


def test_imports_inside_functions_only_defer_optional_heavy_dependencies():
    bad = []
    for path, tree in _modules():
        module = "rnnlab." + ".".join(path.relative_to(SRC).with_suffix("").parts)
        if module.startswith(DEFER_ANYTHING):
            continue
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if not isinstance(node, (ast.Import, ast.ImportFrom)):
                    continue
                for name in _imported(node, module):
                    top = name.split(".")[0]
                    allowed = name in DEFERRED_OWN or (top != "rnnlab" and (top in DEFERRED or name in DEFERRED))
                    if not allowed:
                        bad.append(f"{path.relative_to(SRC)}:{node.lineno}: {ast.unparse(node)}")
    assert not bad, "imports inside functions that do not defer an optional heavy dependency:\n" + "\n".join(
        sorted(set(bad)))


def test_command_modules_import_only_light_modules_at_top_level():
    """A command module's top level imports the standard library, typer / rich, rnnlab.errors,
    rnnlab._version and rnnlab.cli; everything else is imported inside the command (instant --help)."""
    stdlib = sys.stdlib_module_names
    bad = []
    for path, tree in _modules():
        module = "rnnlab." + ".".join(path.relative_to(SRC).with_suffix("").parts)
        if not module.startswith("rnnlab.cli."):
            continue
        for node in tree.body:
            nodes = [node] + (node.body if isinstance(node, ast.If) else [])  # if TYPE_CHECKING: only for types
            for n in nodes:
                if not isinstance(n, (ast.Import, ast.ImportFrom)) or n is not node and _type_checking(node):
                    continue
                for name in _imported(n, module):
                    ok = name.split(".")[0] in stdlib or any(name == a or name.startswith(a + ".")
                                                             for a in CLI_TOP_LEVEL)
                    if not ok:
                        bad.append(f"{path.relative_to(SRC)}:{n.lineno}: {ast.unparse(n)}")
    assert not bad, "command modules that import library or heavy modules at the top (import them inside the " \
                    "command function):\n" + "\n".join(bad)


def _type_checking(node: ast.stmt) -> bool:
    return isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")
