"""The package's shape: no import circle, no paths of a developer's machine, imports that fail loudly."""
import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "ganlab"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """ganlab module → the ganlab modules it imports anywhere in its text (function-level imports too)."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[:len(package.split(".")) - node.level + 1]
                    base = ".".join(up + ([node.module] if node.module else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            else:
                continue
            edges |= {t for t in targets if t in modules and t != name}
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_no_import_circle():
    graph = import_graph()
    assert "ganlab.models.base" in graph and "ganlab.checkpoint_format" in graph["ganlab.models.base"]
    assert cycles(graph) == []
    assert cycles({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b"]]          # the walker sees a circle


def test_no_paths_of_a_developers_machine():
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    found = []
    for f in files:
        path = ROOT / f
        if path.suffix not in (".py", ".md", ".txt", ".toml", ".cfg", ".yml", ".yaml", ".json", ".css", ".js"):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        found += [f"{f}: {m}" for m in ("/work/", "/root/", "/home/") if m in text and f != "tests/test_package.py"]
    assert not found


def test_a_broken_tab_module_fails_the_app_loudly():
    """A broken import inside a tab's module stops `import ganlab.ui` instead of silently dropping the tab."""
    code = "import sys; sys.modules['ganlab.ui.live'] = None\ntry:\n    import ganlab.ui\nexcept ImportError:\n" \
           "    print('refused')\nelse:\n    print('imported')"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.stdout.strip() == "refused", out.stderr[-2000:]


def test_the_app_starts_without_importing_torchvision():
    """torchvision's import (about a second) is paid by the code that draws grids or reads datasets, when it first
    runs, not by every start of the app (bench/app.py's start figure)."""
    code = "import sys, ganlab.ui, app; print(sorted(m for m in sys.modules if m.split('.')[0] == 'torchvision'))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.stdout.strip() == "[]", out.stdout[-500:] + out.stderr[-2000:]
