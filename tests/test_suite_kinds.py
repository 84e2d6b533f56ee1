"""Suite kinds own what makes them differ: the built-in ones are named in their own
module only, and a plug-in kind's hooks (points, label, check, keys, verdict) are what
the suite and its report call."""
import ast
from pathlib import Path

import pytest

import regbench
from regbench.options.config import preset_config
from regbench.options.merge import merge
from regbench.errors import RegbenchError
from regbench.report.render import Text
from regbench.suites.suite import load_suite, suite_points
from regbench.suites.builtins import KINDS
from regbench.suites.kinds import (SuiteKind, get_suite_kind, list_suite_kinds,
                                  register_suite_kind, SUITE_KINDS)

ROOT = Path(regbench.__file__).parent
OWN_MODULE = ROOT / "suites" / "builtins.py"


def _kind_literals(path: Path, names: set) -> list[tuple[int, str]]:
    """(line, text) of every string constant of ``path`` that is exactly a kind's name
    (f-string parts included)."""
    tree = ast.parse(path.read_text(), str(path))
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and node.value in names]


def test_no_module_but_their_own_names_a_built_in_kind():
    """``kind == "gc_sweep"`` and the like live in suite_builtins only: everything else
    asks the kind object it looks up."""
    names = {kind.name for kind in KINDS}
    assert names == {"compare", "stability", "gc_sweep", "data_scarcity", "multi_motif",
                     "lambda_sweep"}
    assert {text for _, text in _kind_literals(OWN_MODULE, names)} == names   # not vacuous
    found = {f"{path.relative_to(ROOT)}:{line}: {text!r}"
             for path in ROOT.rglob("*.py") if path != OWN_MODULE
             for line, text in _kind_literals(path, names)}
    assert not found, sorted(found)


@pytest.fixture
def plug_in():
    """Register kinds for one test; each is unregistered after it."""
    list_suite_kinds()              # the built-in kinds first, as a plug-in finds them
    registered = []

    def register(kind: SuiteKind) -> SuiteKind:
        registered.append(kind.name)
        return register_suite_kind(kind)
    yield register
    for name in registered:
        SUITE_KINDS.unregister(name)


def section_block(out, experiment, results, shares, order, manifest):
    yield Text("nothing")


def _suite_file(tmp_path, body: str) -> Path:
    path = tmp_path / "mine.toml"
    path.write_text('[[experiment]]\nname = "E"\n' + body)
    return path


def _base(tmp_path):
    base = preset_config("smoke")
    base.out = str(tmp_path / "out")
    return base


def test_a_plug_in_kinds_points_hook_expands_its_experiments(tmp_path, plug_in):
    """The suite asks the kind for an experiment's points ((value, config) pairs) and
    their labels, and gives each point its folder by data and configuration."""
    calls = []

    def seed_points(experiment, base, where):
        calls.append((experiment.name, where))
        points = []
        for seeds in (1, 2, 3):
            config = merge(base, {**experiment.config, "seeds": seeds}, where)
            config.validate()
            points.append((seeds, config))
        return points

    plug_in(SuiteKind("seed_ladder", "more seeds at each step", section_block,
                      points=seed_points, label=lambda point: f"{point.value} seed(s)"))
    suite = load_suite(_suite_file(tmp_path, 'kind = "seed_ladder"\n'))
    points = suite_points(suite, _base(tmp_path))
    assert calls == [("E", "suite mine, experiment 'E'")]
    assert [(p.value, p.config.seeds, p.label) for p in points] == [
        (1, 1, "1 seed(s)"), (2, 2, "2 seed(s)"), (3, 3, "3 seed(s)")]
    # seeds key no model: one folder, under the suite's points/
    assert len({p.config.out for p in points}) == 1
    assert Path(points[0].config.out).parent == tmp_path / "out" / "points"


def test_a_plug_in_kind_with_only_name_what_and_section_sweeps_like_any(tmp_path, plug_in):
    """The default hooks: one point per value of the swept scenario key, labelled
    key=value, nothing of its own to check."""
    plug_in(SuiteKind("plain", "what it shows", section_block))
    suite = load_suite(_suite_file(tmp_path, 'kind = "plain"\nscenario = "spi1_gc_bias"\n'
                                             'sweep = "gc.positives"\nvalues = [0.4, 0.7]\n'))
    points = suite_points(suite, _base(tmp_path))
    assert [p.label for p in points] == ["gc.positives=0.4", "gc.positives=0.7"]
    assert [p.config.simulate["gc.positives"] for p in points] == [0.4, 0.7]
    assert get_suite_kind("plain").facts(points[0]) == {}


def test_a_kinds_own_keys_and_check_are_its_own(tmp_path, plug_in):
    """Keys a kind owns are refused on another kind's table, naming the owner; its
    check refuses a bad table in one line; what it returns becomes the Experiment's."""
    def check(raw, where):
        if raw["lambda_points"] > 9:
            raise RegbenchError(f"{where}: lambda_points > 9")
        return {"lambda_points": raw["lambda_points"]}

    plug_in(SuiteKind("few", "few λ", section_block, keys=frozenset({"lambda_points"}),
                      check=check))
    suite = load_suite(_suite_file(tmp_path, 'kind = "few"\nlambda_points = 3\n'))
    assert suite.experiments[0].lambda_points == 3
    with pytest.raises(RegbenchError, match="experiment 1: lambda_points > 9"):
        load_suite(_suite_file(tmp_path, 'kind = "few"\nlambda_points = 10\n'))
    # lambda_points is owned twice now (lambda_sweep, few): the other kinds refuse it
    with pytest.raises(RegbenchError, match="lambda_points belongs to a (few|lambda_sweep) "
                                            "experiment"):
        load_suite(_suite_file(tmp_path, 'kind = "stability"\nfractions = [0.5]\n'
                                         'lambda_points = 3\n'))


def test_the_verdict_is_read_from_a_headline_kind_and_its_own_verdict(plug_in):
    """The suite's verdict experiment: the first of a headline kind, else the first;
    a kind's verdict hook writes the verdict read from it."""
    import pandas as pd

    from regbench.suites.verdict import verdict, verdict_experiment
    plug_in(SuiteKind("lead", "the lead", section_block, headline=True))
    plug_in(SuiteKind("own", "its own verdict", section_block,
                      verdict=lambda name, runs: [Text(f"{name}: {len(runs)} runs")]))
    manifest = {"experiments": [{"name": "A", "kind": "own"}, {"name": "B", "kind": "lead"}]}
    assert verdict_experiment(manifest) == "B"
    manifest = {"experiments": [{"name": "A", "kind": "own"}, {"name": "B", "kind": "own"}]}
    runs = pd.DataFrame({"experiment": ["A", "A", "B"], "point": ["p", "p", "q"]})
    section = verdict(runs, ["none"], manifest)
    assert [b.text for b in section.blocks] == ["A: 2 runs"]
