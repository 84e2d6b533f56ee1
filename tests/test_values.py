"""Issue 43: the run core hands out frozen values, not a hub that modules write into."""
import ast
import dataclasses
from pathlib import Path

import pytest

import regbench
from regbench.runner.context import RunContext
from regbench.runner.lambda_choice import LambdaChoice
from regbench.runner.values import RunInputs, train_run

ROOT = Path(regbench.__file__).parent
CONTEXT_NAMES = {"ctx", "context", "trials"}   # what a context is called
MUTATORS = {"setdefault", "update", "append", "pop", "clear", "extend"}


def _context_root(node) -> bool:
    """Whether an attribute chain starts at a context: ctx.x, context.x, self.context.x."""
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        if isinstance(node, ast.Attribute) and node.attr == "context" and \
                isinstance(node.value, ast.Name) and node.value.id == "self":
            return True
        node = node.value
    return isinstance(node, ast.Name) and node.id in CONTEXT_NAMES


def context_writes(tree) -> list[int]:
    """Lines that assign to, or mutate in place, an attribute of a context."""
    lines = []
    for node in ast.walk(tree):
        targets = (node.targets if isinstance(node, ast.Assign) else
                   [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else [])
        for target in targets:
            # ctx.x = ..., ctx.x[k] = ... (not self.context = ..., which names one)
            if isinstance(target, (ast.Attribute, ast.Subscript)) and \
                    _context_root(target.value):
                lines.append(node.lineno)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                node.func.attr in MUTATORS and \
                isinstance(node.func.value, (ast.Attribute, ast.Subscript)) and \
                _context_root(node.func.value):
            lines.append(node.lineno)
    return sorted(lines)


def test_no_module_but_context_py_writes_into_a_context():
    found = {}
    for path in ROOT.rglob("*.py"):
        if path != ROOT / "runner" / "context.py":
            lines = context_writes(ast.parse(path.read_text()))
            if lines:
                found[str(path.relative_to(ROOT))] = lines
    assert found == {}


def test_the_write_finder_finds_the_old_hubs_writes():
    code = ("ctx.lambdas[name] = 1\n"
            "self.context.lambda_reference.setdefault('notes', {})\n"
            "ctx.lambda_protocol = 'loss'\n"
            "self.context = context\n"
            "context.selection_seeds[n] = s\n"
            "value = ctx.lambdas[name]\n"            # a read
            "choice = ctx.choice.chose(n, 1, 's')\n")  # a new value, not a write
    assert context_writes(ast.parse(code)) == [1, 2, 3, 5]


def test_a_lambda_choice_is_frozen_and_replaced():
    choice = LambdaChoice("constrained", {"fourier": 1.0}, {"fourier": "registry"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        choice.protocol = "loss"
    with pytest.raises(TypeError):
        choice.lambdas["fourier"] = 2.0
    picked = choice.chose("fourier", 0.1, "selected (constrained)", seeds="1000-1002")
    assert choice.lambdas == {"fourier": 1.0} and picked.lambdas == {"fourier": 0.1}
    assert picked.row_fields("fourier") == {
        "lambda_source": "selected (constrained)", "lambda_protocol": "constrained",
        "selection_seeds": "1000-1002"}
    assert picked.row_fields("l2")["lambda_source"] == "tuned"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, tune_kit):
    return tune_kit.make_dataset(tmp_path_factory.mktemp("values") / "data")


def test_training_one_run_reads_only_its_frozen_inputs(data_dir, tmp_path, tune_kit,
                                                       monkeypatch):
    """The executor's training path takes a RunInputs: once it is made, training calls
    no context method (each raises here), and gives the executor's own result."""
    bench = tune_kit.make_bench(data_dir, tmp_path / "out", ["fourier"])
    context = bench.context
    context.check_data()
    context.prepare_data()
    inputs = context.run_inputs(context.key("fourier", 0))
    assert isinstance(inputs, RunInputs)
    with pytest.raises(dataclasses.FrozenInstanceError):
        inputs.key = None
    for name, value in vars(RunContext).items():
        if callable(value) and not name.startswith("__"):
            monkeypatch.setattr(RunContext, name, lambda *a, _n=name, **k: pytest.fail(
                f"training called RunContext.{_n}"))
    result = train_run(dataclasses.replace(inputs, checkpoint=tmp_path / "alone.pt"))
    monkeypatch.undo()
    record = bench.executor.train_one("fourier", 0)
    assert record["row"]["epochs"] == len(result.history)
    assert record["row"]["val_loss"] == result.best_val_loss   # the same training
    assert inputs.checkpoint == context.store.checkpoint_path(context.key("fourier", 0))


def test_the_executors_training_path_names_no_context():
    """runner/values.py (the values and the training that reads them) names no context;
    its training functions touch nothing but their arguments."""
    tree = ast.parse((ROOT / "runner" / "values.py").read_text())
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert not names & {"ctx", "context"}
    training = [f for f in tree.body if isinstance(f, ast.FunctionDef)
                and f.name in ("train_run", "train_group")]
    assert len(training) == 2
    for function in training:
        names = {n.id for n in ast.walk(function) if isinstance(n, ast.Name)}
        assert "self" not in names


def test_the_run_core_reads_the_context_in_at_most_30_lines():
    """Issue 43: the executor, the λ search and rules and the plan take values (RunFacts,
    RunInputs, Scoring, TrainingData) and read the context only to get them; 143 lines
    read it at 614259b."""
    import re
    files = ["executor.py", "lambda_search.py", "lambda_rules.py", "plan.py"]
    lines = [line for f in files for line in (ROOT / "runner" / f).read_text().splitlines()
             if re.search(r"\b(ctx|context)\.", line)]
    assert len(lines) <= 30, lines
