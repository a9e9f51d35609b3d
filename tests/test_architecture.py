"""The package's shape: layered imports without cycles, one registry of models, small modules."""

from __future__ import annotations

import ast
from pathlib import Path

import yaml

from conftest import REPO

PACKAGE = REPO / "hepml"
# lower layers never import higher ones (imports inside functions count too)
LAYERS = {
    "hepml.errors": 0, "hepml.settings": 0, "hepml.yamlfile": 0, "hepml.logs": 0, "hepml.progress": 0,
    "hepml.split": 0, "hepml.expr": 0, "hepml.cpus": 0,
    "hepml.io": 1,
    "hepml.features": 2, "hepml.simulate": 2,
    "hepml.models": 3, "hepml.calibration": 3, "hepml.metrics": 3,
    "hepml.bundle": 4,
    "hepml.plotting": 5,
    "hepml.scoring": 6, "hepml.tasks": 6,
    "hepml.cli": 7,
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> int:
    prefix = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len)
    return LAYERS[prefix]


def _imports(path: Path, modules: set[str]) -> set[str]:
    """hepml modules imported by ``path``; ``from hepml.pkg import sub`` counts as ``hepml.pkg.sub``."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("hepml.") and not node.level:
            subs = {f"{node.module}.{a.name}" for a in node.names} & modules
            found.update(subs or {node.module})
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("hepml."))
    return found & modules


def _graph() -> dict[str, set[str]]:
    paths = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {name: _imports(path, set(paths)) - {name} for name, path in paths.items() if name != "hepml"}
    graph.pop("hepml.cli.__main__", None)  # the entry point runs the CLI package
    return graph


def test_no_import_goes_up_a_layer() -> None:
    upward = [f"{a} -> {b}" for a, targets in _graph().items() for b in targets if _layer(b) > _layer(a)]
    assert not upward, "imports against the layering: " + "; ".join(sorted(upward))


def test_no_import_cycle() -> None:
    graph = _graph()
    state: dict[str, int] = {}
    cycles: list[str] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(path[path.index(nxt):] + [nxt]) if nxt in path else f"{node} -> {nxt}")
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, "import cycles: " + "; ".join(cycles)


def test_every_module_has_a_layer() -> None:
    for name in _graph():
        _layer(name)  # raises ValueError (max of nothing) for a module outside the map


def test_workflow_schema_lists_the_registered_models() -> None:
    from hepml.models.registry import MODELS

    schema = yaml.safe_load((REPO / "workflows/schemas/config.schema.yaml").read_text())
    assert schema["properties"]["higgs"]["properties"]["models"]["items"]["enum"] == list(MODELS)


def test_modules_and_functions_stay_small() -> None:
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        assert text.count("\n") <= 400, f"{path} has {text.count(chr(10))} lines"
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                assert node.end_lineno - node.lineno < 60, f"{path}:{node.lineno} {node.name} is too long"


def test_importing_the_figures_leaves_matplotlib_alone() -> None:
    """A coffea user's notebook keeps its backend and style after importing hepml's plots."""
    import subprocess
    import sys

    code = ("import matplotlib, json; matplotlib.use('svg'); before = repr(sorted(matplotlib.rcParams.items()))\n"
            "import hepml.plotting, hepml.tasks.higgs.plots, hepml.tasks.cosmic.plots, hepml.tasks.dann.plots\n"
            "print(matplotlib.get_backend(), before == repr(sorted(matplotlib.rcParams.items())))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split()[-2:] == ["svg", "True"], out.stdout + out.stderr


def test_tensorflow_only_in_the_backend_module() -> None:
    """Every Keras path runs on TensorFlow, JAX and PyTorch: TensorFlow itself is imported only by
    the backend module and by the ONNX export (tf2onnx converts TensorFlow graphs)."""
    allowed = {"hepml.models.backend", "hepml.tasks.higgs.onnx"}
    users = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n == "tensorflow" or n.startswith("tensorflow.") for n in names):
                users.add(_module_name(path))
    assert users <= allowed, f"TensorFlow imported outside the backend module: {sorted(users - allowed)}"


def test_the_workflow_schema_is_built_from_the_settings_classes() -> None:
    """workflows/schemas/settings.schema.json is what ``hepml config-schema`` writes from the classes:
    a knob added, removed or bounded differently without regenerating it fails here."""
    import json

    from hepml.tasks.settings_schema import settings_schema

    committed = json.loads((REPO / "workflows" / "schemas" / "settings.schema.json").read_text())
    assert committed == json.loads(json.dumps(settings_schema())), (
        "regenerate: hepml config-schema --out workflows/schemas/settings.schema.json")
