"""The module graph of the package: no import cycle, imports at the top, method names asked only by methods."""

import ast
import pathlib

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "tfface"
# Imports that may sit inside a function: optional extras, loaded only when used (Gradio, which the demo
# imports, takes seconds: every other command would pay for it).
OPTIONAL = {"ai_edge_litert.interpreter", "tfface.demo"}
# Modules whose functions import what they run: the command line, where each command loads only its own
# modules, so that --help, a bad flag and `tfface edit` with TFLite editors never start TensorFlow.
LOADS_PER_COMMAND = {"tfface.cli"}


def modules():
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = ast.parse(path.read_text(), str(path))
    return out


def imported(node, current, known):
    """tfface modules an import statement refers to."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        base = node.module or ""
        if node.level:
            base = ".".join(current.split(".")[: -node.level] + ([base] if base else []))
        names = [f"{base}.{a.name}" for a in node.names] + [base]
    found = set()
    for n in names:
        while n and n not in known:
            n = n.rpartition(".")[0]
        if n and n.startswith("tfface"):
            found.add(n)
    return found


def test_no_import_cycle():
    mods = modules()
    graph = {m: set() for m in mods}
    for m, tree in mods.items():
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                graph[m] |= imported(node, m, mods) - {m}
    state, stack = {}, []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == "open":
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(n):] + [n]))
            if n not in state:
                visit(n)
        stack.pop()
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m)


def test_imports_are_at_the_top_except_optional_extras():
    late = []
    for m, tree in modules().items():
        if m in LOADS_PER_COMMAND:
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.Import):
                        late += [f"{m}: import {a.name}" for a in inner.names if a.name not in OPTIONAL]
                    elif isinstance(inner, ast.ImportFrom) and inner.module not in OPTIONAL:
                        late.append(f"{m}: from {inner.module} import ...")
    assert not late, late


def test_only_a_methods_own_files_ask_which_method_runs():
    asking = []
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        for pattern in ('method == "', "method == '", 'method != "', "method != '"):
            if pattern in text:
                asking.append(f"{path.relative_to(PACKAGE)}: {pattern}")
    assert not asking, asking
