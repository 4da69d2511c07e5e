"""The package's shape: no import cycle inside esmr_core, no function-local import of its own light modules,
the core never imports gradio, and every reference to a document points at a file that exists."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "esmr_core"
# Third-party libraries whose import costs the cold start (or memory): a function may import a package module
# that pulls one of them lazily. A package module that pulls none of them is "light" and is imported at module level.
HEAVY_LIBS = ("torch", "librosa", "transformers", "sklearn", "scipy", "numba", "umap", "faiss", "onnxruntime",
              "pyarrow", "ray", "pocketsphinx", "music21", "parselmouth", "pyworld", "vibenet", "silero_vad",
              "av", "pandas", "plotly", "safetensors")


def _heavy(modules: list[str]) -> dict[str, bool]:
    """Which of these package modules pull a heavy library when imported (each in a fresh interpreter)."""
    import json
    import subprocess
    import sys

    code = ("import importlib, json, sys; m = sys.argv[1]; before = set(sys.modules); importlib.import_module(m); "
            f"print(json.dumps(sorted({{n.split('.')[0] for n in sys.modules}} & set({list(HEAVY_LIBS)!r}))))")
    out = {}
    for m in modules:
        p = subprocess.run([sys.executable, "-c", code, m], capture_output=True, text=True, cwd=ROOT, timeout=120)
        out[m] = p.returncode != 0 or bool(json.loads(p.stdout.strip().splitlines()[-1] or "[]"))
    return out


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(path: Path, node: ast.ImportFrom) -> list[str]:
    """Absolute package modules an ImportFrom names (a `from . import x` may name submodules)."""
    mod = _module(path)
    pkg = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
    if node.level:
        base = pkg.split(".")
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    if not target.startswith("esmr_core"):
        return []
    out = [target]
    for alias in node.names:
        sub = f"{target}.{alias.name}"
        if (PKG.parent / (sub.replace(".", "/") + ".py")).is_file() or (PKG.parent / sub.replace(".", "/")).is_dir():
            out.append(sub)
    return out


def _graph() -> tuple[dict[str, set[str]], list[tuple[str, str, int]]]:
    """(module -> modules imported at module level, [(module, imported, line) of function-local imports])."""
    graph, local = {}, []
    for path in sorted(PKG.rglob("*.py")):
        mod = _module(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        deps = graph.setdefault(mod, set())
        top = set(id(n) for n in tree.body)
        for node in ast.walk(tree):
            targets = []
            if isinstance(node, ast.ImportFrom):
                targets = _resolve(path, node)
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names if a.name.startswith("esmr_core")]
            if not targets:
                continue
            if id(node) in top or _in_type_checking(tree, node):
                deps.update(t for t in targets if t != mod)
            else:
                local += [(mod, t, node.lineno) for t in targets]
    return graph, local


def _in_type_checking(tree: ast.Module, node: ast.AST) -> bool:
    for top in tree.body:
        if isinstance(top, (ast.If, ast.Try)) and any(n is node for n in ast.walk(top)):
            return True   # module-level `if`/`try` blocks run at import time too
    return False


def _known(graph: dict[str, set[str]], name: str) -> str | None:
    """The graph's module for an imported name (a package's __init__ when the name is a package)."""
    while name and name not in graph:
        name = name.rsplit(".", 1)[0] if "." in name else ""
    return name or None


def test_no_import_cycle_inside_the_package():
    graph, _ = _graph()
    edges = {m: {_known(graph, d) for d in deps} - {None, m} for m, deps in graph.items()}
    state, stack, cycles = {}, [], []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for d in sorted(edges.get(m, ())):
            if d.endswith("__init__") or d == "esmr_core":
                continue
            if state.get(d) == 1:
                cycles.append(stack[stack.index(d):] + [d])
            elif d not in state:
                visit(d)
        stack.pop()
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            visit(m)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_the_cycle_check_sees_a_cycle(tmp_path, monkeypatch):
    """The check above can fail: two modules importing each other at module level form a cycle it reports."""
    pkg = tmp_path / "esmr_core"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .b import x\n")
    (pkg / "b.py").write_text("from . import a\nx = 1\n")
    monkeypatch.setattr(__import__(__name__), "ROOT", tmp_path)
    monkeypatch.setattr(__import__(__name__), "PKG", pkg)
    with pytest.raises(AssertionError, match="esmr_core.a -> esmr_core.b -> esmr_core.a"):
        test_no_import_cycle_inside_the_package()


@pytest.mark.slow
def test_no_function_local_import_of_the_packages_light_modules():
    """A function-local import of the package's own module is allowed only when that module pulls a heavy
    library (it buys the cold start); the CLI's commands import their modules when they run."""
    graph, local = _graph()
    # the encoder registry (esmr_core/encoders/__init__.py) builds an encoder only when one is asked for
    local = [(m, _known(graph, t) or t, line) for m, t, line in local
             if not m.startswith("esmr_core.cli") and m != "esmr_core.encoders"]
    heavy = _heavy(sorted({t for _, t, _ in local}))
    bad = [f"{m}:{line} imports {t}" for m, t, line in local if not heavy[t]]
    assert not bad, "import these at module level (they are light):\n" + "\n".join(bad)


def test_the_core_never_imports_gradio():
    offenders = [str(p.relative_to(ROOT)) for p in PKG.rglob("*.py")
                 if re.search(r"^\s*(import gradio|from gradio)", p.read_text(encoding="utf-8"), re.M)]
    assert not offenders


DOC_REF = re.compile(r"(?<![\w/.])((?:docs|bench|scripts|checkpoints|assets|esmr_core)/[\w./-]+\.(?:md|json|py|jsonl))")


def test_every_referenced_document_exists():
    """References to METHODS.md or the seed documents (not in this repository) are gone, and every repository
    file named in code, docs and model cards exists."""
    texts = [p for p in list(PKG.rglob("*.py")) + list((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]
             + list((ROOT / "checkpoints").glob("*/README.md")) + list((ROOT / "scripts").glob("*.py"))]
    stale, missing = [], []
    for p in texts:
        text = p.read_text(encoding="utf-8")
        if re.search(r"METHODS\.md|seeds/00\d", text):
            stale.append(str(p.relative_to(ROOT)))
        for ref in DOC_REF.findall(text):
            if "*" not in ref and "<" not in ref and not (ROOT / ref).exists():
                missing.append(f"{p.relative_to(ROOT)}: {ref}")
    assert not stale, "still refer to METHODS.md / seeds (use docs/methods.md): " + ", ".join(stale)
    assert not missing, "references to files that do not exist:\n" + "\n".join(sorted(set(missing)))

