"""The package's shape: imports flow one way (no cycles between regbench's modules)."""
import ast
import importlib
import re
import subprocess
import sys
from pathlib import Path

import regbench

ROOT = Path(regbench.__file__).parent


def import_graph() -> dict[str, set[str]]:
    """module -> regbench modules it imports anywhere in its file (function-level
    imports included). ``from pkg import sub`` counts as importing pkg.sub only;
    ``from pkg import name`` of a package that finds its names lazily (``_HOME``:
    name -> module) counts as importing the module that holds the name."""
    modules = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                subs = [f"{node.module}.{lazy_home(node.module, alias.name)}"
                        for alias in node.names]
                targets = [t for t in subs if t in modules]
                if len(targets) < len(subs):
                    targets.append(node.module)
            else:
                continue
            graph[name] |= {t for t in targets if t in modules and t != name}
    return graph


def lazy_home(package: str, name: str) -> str:
    """The submodule of ``package`` that holds ``name`` when ``package`` re-exports it
    lazily (``regbench.tune``), else ``name`` itself."""
    init = ROOT.parent.joinpath(*package.split("."), "__init__.py")
    if not init.is_file() or "def __getattr__" not in init.read_text():
        return name
    return getattr(importlib.import_module(package), "_HOME", {}).get(name, name)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles():
    graph = import_graph()
    # the graph sees function-level imports, and names re-exported lazily
    assert "regbench.tune.search" in graph["regbench.runner.lambda_search"]
    assert cycles(graph) == []
    # The λ search is handed functions; it does not know the benchmark.
    tune = [m for m in graph if m.startswith("regbench.tune")]
    assert len(tune) > 1 and not any("regbench.bench" in graph[m] for m in tune)


# The command layer and the Python API's facade over the rooms of a run; every other
# module is below them.
COMMAND_LAYER = ("regbench.cli", "regbench.commands")
ORCHESTRATION = ("regbench.api", "regbench.bench")
HUB = {"bench", "benchmark", "Benchmark"}
MAX_MODULE_LINES, MAX_CLASS_LINES = 450, 250


def _in(module: str, layer) -> bool:
    return any(module == m or module.startswith(m + ".") for m in layer)


def modules_below_the_command_layer() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if not _in(name, COMMAND_LAYER + ORCHESTRATION):
            found[name] = path
    return found


def takes_the_hub(tree: ast.AST) -> list[str]:
    """Functions of a module with a parameter named or annotated as the hub
    (``bench``, ``Benchmark``): "function(parameter)" for each."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        args = node.args
        for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
            if arg is None:
                continue
            annotation = ast.unparse(arg.annotation) if arg.annotation is not None else ""
            if arg.arg in HUB or any(h in annotation for h in ("Benchmark", "bench.")):
                found.append(f"{getattr(node, 'name', 'lambda')}({arg.arg})")
    return found


def test_no_module_below_the_command_layer_imports_it_or_takes_the_hub():
    """plan, workers, suite, grid, tune and every room are handed the typed objects
    they need (RunContext, RunExecutor, ...), never the Benchmark facade; they import
    neither it nor the command layer."""
    graph = import_graph()
    below = modules_below_the_command_layer()
    assert {"regbench.runner.plan", "regbench.distributed.workers", "regbench.suites.suite", "regbench.distributed.grid",
            "regbench.runner.context", "regbench.runner.executor"} <= set(below)
    upward = {m: sorted(t for t in graph[m] if _in(t, COMMAND_LAYER + ORCHESTRATION))
              for m in below}
    assert {m: t for m, t in upward.items() if t} == {}
    hub = {m: takes_the_hub(ast.parse(p.read_text())) for m, p in below.items()}
    assert {m: f for m, f in hub.items() if f} == {}


def test_the_hub_finder_finds_a_hub_argument():
    code = ("def plan(bench): pass\n"
            "def grid(context, *, b: 'Benchmark'): pass\n"
            "def fine(context, executor): pass\n")
    assert takes_the_hub(ast.parse(code)) == ["plan(bench)", "grid(b)"]


def test_modules_and_classes_stay_small():
    """No module under regbench/ over 450 lines, no class over 250: a room says what it
    is (issue 30)."""
    long_modules, long_classes = {}, {}
    for path in ROOT.rglob("*.py"):
        text = path.read_text()
        name = str(path.relative_to(ROOT.parent))
        if len(text.splitlines()) > MAX_MODULE_LINES:
            long_modules[name] = len(text.splitlines())
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef):
                size = node.end_lineno - node.lineno + 1
                if size > MAX_CLASS_LINES:
                    long_classes[f"{name}:{node.name}"] = size
    assert long_modules == {} and long_classes == {}


def test_the_report_reads_search_notes_without_optuna():
    """The report's modules, and the notes on a λ search, import no Optuna (nor the
    search): only a grid's shared storage needs it."""
    code = ("import sys; import regbench.report, regbench.report.sections, "
            "regbench.commands.report; from regbench.tune import search_notes; "
            "from regbench.tune.notes import search_notes; "
            "assert 'optuna' not in sys.modules, 'optuna'; "
            "assert 'regbench.tune.search' not in sys.modules, 'search'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_pyproject_lists_every_package():
    """pyproject.toml lists the packages (simulations/ is mapped into the package), so a
    new sub-package left out of the list would be missing from the wheel."""
    import tomllib
    listed = set(tomllib.loads((ROOT.parent / "pyproject.toml").read_text())
                 ["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT.parent).parts) for p in ROOT.rglob("__init__.py")}
    assert found | {"regbench.simulations"} == listed


def test_a_wheel_install_finds_the_shipped_scenarios(tmp_path):
    """Built as a wheel and installed elsewhere, regbench still simulates the default
    scenario: the top-level simulations/ folder travels as package data."""
    import os
    import subprocess
    import sys
    repo = ROOT.parent
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(repo), "--no-deps",
                    "--no-build-isolation", "-q", "-w", str(tmp_path / "wheel")],
                   check=True, capture_output=True, timeout=300)
    wheel, = (tmp_path / "wheel").glob("regbench-*.whl")
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                    str(target), str(wheel)], check=True, capture_output=True, timeout=300)
    env = {**os.environ, "PYTHONPATH": str(target)}
    code = ("import regbench, sys; from regbench.cli import main; "
            "print(regbench.__file__); sys.exit(main(sys.argv[1:]))")
    done = subprocess.run([sys.executable, "-c", code, "simulate", "--scenario",
                           "spi1_binary", "--out", "data", "--set", "positives=20",
                           "--set", "negatives=20"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(str(target))  # the installed copy, not the checkout
    assert (tmp_path / "data" / "sequences.fa").is_file()


def test_test_modules_share_through_conftest_not_each_other():
    tests = Path(__file__).parent
    names = {p.stem for p in tests.glob("test_*.py")}
    for path in tests.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            imported = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                        [node.module] if isinstance(node, ast.ImportFrom) else [])
            assert not set(imported) & (names | {"conftest"}), (path.name, imported)


def layer_table(text: str) -> list[list[str]]:
    """The rows of the "## Layers" table of docs/architecture.md, top first: each row's
    module names (``regbench.`` + the backticked names of its second column)."""
    section = text.split("## Layers", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) >= 2 and "`" in cells[1]:
            rows.append(["regbench." + n for n in re.findall(r"`([\w.]+)`", cells[1])])
    return rows


def layer_of(module: str, rows: list[list[str]]) -> int | None:
    """The row of the longest table name that is ``module`` or a package above it."""
    matches = [(len(name), i) for i, row in enumerate(rows) for name in row
               if module == name or module.startswith(name + ".")]
    return max(matches)[1] if matches else None


def upward_imports(graph: dict[str, set[str]], rows: list[list[str]]) -> list[str]:
    """"a -> b" for each import of a module listed above the importer."""
    return sorted(f"{m} -> {t}" for m, targets in graph.items() if m != "regbench"
                  for t in targets if t != "regbench" and layer_of(t, rows) < layer_of(m, rows))


def test_the_layer_table_of_the_architecture_doc_holds():
    """Issue 43 item 5: docs/architecture.md's layer table places every module, and no
    module imports one listed above it."""
    rows = layer_table((ROOT.parent / "docs" / "architecture.md").read_text())
    graph = import_graph()
    assert len(rows) > 10
    assert [m for m in graph if m != "regbench" and layer_of(m, rows) is None] == []
    assert upward_imports(graph, rows) == []


def test_the_layer_check_finds_an_upward_import():
    rows = layer_table("## Layers\n| L | M |\n|---|---|\n| top | `a`, `b.c` |\n"
                       "| low | `b` |\n## Next\n| x | `z` |\n")
    assert rows == [["regbench.a", "regbench.b.c"], ["regbench.b"]]
    graph = {"regbench.b.d": {"regbench.b.c"}, "regbench.a": {"regbench.b.d"},
             "regbench.b.c": {"regbench.b.d"}}
    assert upward_imports(graph, rows) == ["regbench.b.d -> regbench.b.c"]


def test_the_top_level_holds_at_most_10_modules():
    """Issue 43 item 2: the flat modules live in packages named for their job (33 at
    614259b, 42 before the move)."""
    top = sorted(p.name for p in ROOT.glob("*.py") if p.name != "__init__.py")
    assert len(top) <= 10, top


def private_imports(root: Path) -> list[str]:
    """"module: name" for each private name (one leading underscore) a module of
    ``root``'s tree imports from another regbench module."""
    found = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("regbench"):
                found += [f"{path.relative_to(root)}: {node.module}.{a.name}"
                          for a in node.names
                          if a.name.startswith("_") and not a.name.startswith("__")]
    return sorted(found)


def test_no_private_name_is_imported_across_modules(tmp_path):
    """A name another module needs is public (41 such imports at 614259b)."""
    assert private_imports(ROOT) == []
    (tmp_path / "a.py").write_text("from regbench.x import _hidden, shown, __all__\n")
    assert private_imports(tmp_path) == ["a.py: regbench.x._hidden"]


def test_only_runtime_changes_process_wide_settings():
    """Threads, the allocator and cuDNN's autotuner are set in regbench/runtime only
    (applied by runtime.process for the CLI's run and Benchmark.run())."""
    pattern = re.compile(r"set_num_threads|set_num_interop_threads|mallopt|"
                         r"cudnn\.benchmark\s*=")
    found = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*.py")
             if pattern.search(p.read_text()) and p.parent.name != "runtime"]
    assert found == []


def test_old_module_paths_still_import():
    """Users' scripts that import a moved module by its old path keep working, with a
    DeprecationWarning; regbench.store still gives its names."""
    code = ("import warnings; warnings.simplefilter('error'); "
            "from regbench.store import RunKey; import regbench.store.runs as runs; "
            "assert RunKey is runs.RunKey; warnings.simplefilter('always'); "
            "from regbench.train import Trainer; import regbench.training.train as new; "
            "assert Trainer is new.Trainer; import regbench.context, regbench.runner.context; "
            "assert regbench.context is regbench.runner.context; "
            "from regbench.report.suite import write_suite_report")
    done = subprocess.run([sys.executable, "-W", "always", "-c", code], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "regbench.train moved to regbench.training.train" in done.stderr
