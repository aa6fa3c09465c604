"""The house rules of the code's layout, so that they stay true: the product's flow is its folders
(content -> speaking -> hearing -> session -> cli, each importing only those before it), no import
cycle, no module over 400 lines, no private name imported from another module, and nothing in
the product imports the measuring harness (benchmarks/)."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

from .conftest import ROOT

PACKAGE = ROOT / "voiceguide"
LAYERS = ["content", "speaking", "hearing", "session", "cli"]
"""Each subpackage may import the shared top-level modules (audio, clock, errors) and the layers
before it in this list, never one after it."""


def _modules() -> dict[str, Path]:
    return {".".join(p.relative_to(ROOT).with_suffix("").parts): p for p in PACKAGE.rglob("*.py")}


def _imports(name: str, path: Path) -> list[tuple[str, list[str]]]:
    """(module imported, names imported from it) for every import of `name`, outside `if
    TYPE_CHECKING:` blocks (types only: no import at run time, so no cycle)."""
    tree = ast.parse(path.read_text())
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = []

    def visit(nodes):
        for node in nodes:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, ast.ImportFrom):
                base = package[: len(package) - node.level + 1] if node.level else []
                module = ".".join(base + ([node.module] if node.module else []))
                found.append((module, [a.name for a in node.names]))
            elif isinstance(node, ast.Import):
                found.extend((a.name, []) for a in node.names)
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.stmt,)):
                    visit([child])

    visit(tree.body)
    return found


def _layer(module: str) -> int | None:
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 2 and parts[1] in LAYERS else None


def test_no_module_is_over_400_lines():
    long = {name: n for name, path in _modules().items() if (n := len(path.read_text().splitlines())) > 400}
    assert long == {}


def test_imports_go_one_way_down_the_flow_and_never_to_the_harness():
    modules = _modules()
    wrong = []
    for name, path in modules.items():
        for module, names in _imports(name, path):
            if module.split(".")[0] == "benchmarks":
                wrong.append(f"{name} imports the harness ({module})")
            target = module if module in modules else next((f"{module}.{n}" for n in names if f"{module}.{n}" in modules), module)
            mine, theirs = _layer(name), _layer(target)
            if mine is not None and theirs is not None and theirs > mine:
                wrong.append(f"{name} ({LAYERS[mine]}) imports {target} ({LAYERS[theirs]})")
            if mine is None and theirs is not None and name.count(".") == 1 and name not in ("voiceguide.__main__",):
                wrong.append(f"{name}, shared by every layer, imports {target}")
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private and module.startswith("voiceguide"):
                wrong.append(f"{name} imports the private {', '.join(private)} of {module}")
    assert wrong == []


def test_there_is_no_import_cycle():
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        targets = set()
        for module, names in _imports(name, path):
            targets |= {m for m in [module, *(f"{module}.{n}" for n in names)] if m in modules and m != name}
        graph[name] = targets - {n for n in targets if name.startswith(n + ".") or n == "voiceguide"}
    state: dict = {}

    def cycle_from(node, trail):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return trail + [node, nxt]
            if nxt not in state and (found := cycle_from(nxt, trail + [node])):
                return found
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            assert cycle_from(node, []) is None


FAKES = ["tests/session/test_controller.py", "tests/session/test_menu.py", "tests/hearing/test_listening.py",
         "tests/speaking/test_speaking.py"]
"""The test modules that define stand-ins for real parts (ScriptedRecognizer, Fed and Counted for
recognizers, ToneSynth for the synthesizer, output subclasses) and hand them to the real code."""


def _mypy(folder: Path, files: list[str]) -> subprocess.CompletedProcess:
    """mypy over `files` in `folder` (the test code and every call in it, against the product's
    annotations; errors only in these files)."""
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--follow-imports=silent", "--ignore-missing-imports", "--check-untyped-defs",
         "--no-error-summary", f"--cache-dir={ROOT / '.mypy_cache'}", *files],
        cwd=folder, env={**os.environ, "MYPYPATH": str(ROOT)}, capture_output=True, text=True, timeout=300,
    )


def test_the_fakes_type_check_against_the_protocols_of_the_parts_they_stand_for(tmp_path):
    """Every place a test hands a fake to the real code is type-checked against the real part's
    Protocol (Recognizer, Synthesizer, AudioOutput): a fake that drifts from it fails here, not in
    a test that then passes for the wrong reason. Shown on a copy of the tests whose scripted
    recognizer has lost its role."""
    checked = _mypy(ROOT, FAKES)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    copy = tmp_path / "tests"
    shutil.copytree(ROOT / "tests", copy, ignore=shutil.ignore_patterns("__pycache__"))
    fake = copy / "session" / "test_controller.py"
    source = fake.read_text()
    assert "        self.role = role\n" in source
    fake.write_text(source.replace("        self.role = role\n", "", 1))
    drifted = _mypy(tmp_path, FAKES)
    assert drifted.returncode == 1 and 'missing following "Recognizer" protocol member' in drifted.stdout, drifted.stdout
