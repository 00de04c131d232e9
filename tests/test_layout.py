"""The package layout: every module imports, imports form no cycle and point down the layers, and the
file-only commands load neither torch's training loop nor more than they need."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# Lower layers first; a module may import its own layer or a lower one, never a higher one.
LAYERS = ["core", "data", "eval", "train", "ablation"]
CORE = {"layers", "modules", "vae", "pyramid", "composite", "architectures", "objective", "schedules", "config", "errors", "io",
        "checkpoint", "runtime", "console", "signals"}


def module_files():
    return sorted(p for p in (REPO / "modules").rglob("*.py") if p.name != "__init__.py")


def module_name(path):
    return ".".join(path.relative_to(REPO).with_suffix("").parts)


def imported_modules(path):
    """Every ``modules.*`` module ``path`` imports, at the top or inside a function (hidden imports
    make cycles too)."""
    name = module_name(path)
    package = name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            candidates = [target] + [f"{target}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        else:
            continue
        found |= {c for c in candidates if c.startswith("modules.") and (REPO / (c.replace(".", "/") + ".py")).is_file()}
    return found - {name}


def layer_of(name):
    parts = name.split(".")
    return "core" if len(parts) == 2 else parts[1]


def test_core_is_what_the_layout_says_and_everything_else_is_in_a_layer_folder():
    for path in module_files():
        name = module_name(path)
        assert layer_of(name) in LAYERS, name
        if layer_of(name) == "core":
            assert path.stem in CORE, f"{name}: a new top-level module belongs in a layer folder"


def test_imports_point_down_the_layers_and_form_no_cycle():
    graph = {module_name(p): imported_modules(p) for p in module_files()}
    for name, targets in graph.items():
        for target in targets:
            assert LAYERS.index(layer_of(target)) <= LAYERS.index(layer_of(name)), f"{name} imports {target}"

    state = {}

    def visit(node, path):
        state[node] = "open"
        for target in graph.get(node, ()):
            if state.get(target) == "open":
                pytest.fail("import cycle: " + " -> ".join(path[path.index(target):] + [target]))
            if target not in state:
                visit(target, path + [target])
        state[node] = "done"

    for node in graph:
        if node not in state:
            visit(node, [node])


def test_every_module_imports():
    names = [module_name(p) for p in module_files()]
    code = "import importlib\nfor name in %r:\n    importlib.import_module(name)" % names
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def loaded_after(code):
    """The ``modules.*`` and torch modules a fresh interpreter has loaded after running ``code``."""
    probe = code + "\nimport sys; print(' '.join(m for m in sys.modules if m.startswith(('modules', 'torch'))))"
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return set(done.stdout.split())


def test_plot_only_and_the_csv_scorer_load_no_training_code(tmp_path):
    loaded = loaded_after(f"import experiments\ntry:\n    experiments.main(['--plot_only', '--out', {str(tmp_path)!r}])\n"
                          f"except SystemExit:\n    pass")
    assert "torch" not in loaded and "modules.train.loop" not in loaded
    loaded = loaded_after("import score\ntry:\n    score.main(['x.csv', '--answer', 'y.csv'])\nexcept SystemExit:\n    pass")
    assert "modules.train.loop" not in loaded and "modules.train.distributed" not in loaded
