"""rnnlab.config sits low in the package: it imports only rnnlab.errors / rnnlab._io (and the
standard library, tomllib/tomli, tomli_w), its modules import each other without a cycle, and
no import hides in a function body. Read from the source, so it needs no import-graph tool."""

import ast

from helpers import ROOT

PACKAGE = ROOT / "src" / "rnnlab" / "config"
ALLOWED_OUTSIDE = {"rnnlab.errors", "rnnlab._io"}
THIRD_PARTY = {"tomli", "tomli_w"}


def _imports(path):
    """(module imported, line, inside a function) for every import of a config module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    in_function = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                   for n in ast.walk(f)}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno, id(node) in in_function) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ["rnnlab", "config"][: 3 - node.level] if node.level <= 2 else []
                target = ".".join(base + ([node.module] if node.module else []))
                names = [target] if node.module else [f"{target}.{a.name}" for a in node.names]
            else:
                names = [node.module]
            out += [(n, node.lineno, id(node) in in_function) for n in names]
    return out


MODULES = {p.stem: _imports(p) for p in PACKAGE.glob("*.py")}


def test_the_package_has_its_modules():
    assert {"__init__", "choices", "constraints", "schema", "build", "validate", "vectors", "load",
            "keys"} <= set(MODULES)


def test_only_errors_and_io_from_the_rest_of_rnnlab():
    bad = [(m, name) for m, imports in MODULES.items() for name, _, _ in imports
           if name.startswith("rnnlab.") and not name.startswith("rnnlab.config") and name not in ALLOWED_OUTSIDE]
    assert not bad, bad


def test_no_third_party_imports_but_toml():
    import sys

    std = set(sys.stdlib_module_names)
    bad = [(m, name) for m, imports in MODULES.items() for name, _, _ in imports
           if not name.startswith("rnnlab") and name.split(".")[0] not in std | THIRD_PARTY]
    assert not bad, bad


def test_no_imports_in_function_bodies():
    bad = [(m, name, line) for m, imports in MODULES.items() for name, line, inside in imports if inside]
    assert not bad, bad


def test_no_cycle_between_the_config_modules():
    edges = {m: {name.split(".")[2] for name, _, _ in imports
                 if name.startswith("rnnlab.config.") and name.split(".")[2] in MODULES}
             for m, imports in MODULES.items() if m != "__init__"}
    done, path = set(), []

    def visit(m):
        assert m not in path, f"import cycle: {' -> '.join(path[path.index(m):] + [m])}"
        if m in done:
            return
        path.append(m)
        for n in sorted(edges.get(m, ())):
            visit(n)
        path.pop()
        done.add(m)

    for m in sorted(edges):
        visit(m)
    assert edges["choices"] == set() and "schema" not in edges["build"] | edges["validate"]
