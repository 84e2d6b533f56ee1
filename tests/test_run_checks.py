"""``check_run``: the command line and the Python API refuse the same options with the
same one line (exit code 2 and nothing written for the CLI)."""
import pytest

from regbench.cli import main
from regbench.options.config import preset_config
from regbench.errors import RegbenchError

GENOME = {"kind": "genome", "fasta": "g.fa", "peaks": "p.bed", "bigwig_plus": "p.bw",
          "bigwig_minus": "m.bw", "control_plus": "cp.bw", "control_minus": "cm.bw"}

# id: (regbench run flags, the same options as RunConfig changes, task of the preset)
CASES = {
    # checked by the CLI only before check_run: the Python API ran with them
    "controls without a profile model": (
        ["--genome", "g.fa", "--peaks", "p.bed", "--bigwig-plus", "p.bw", "--bigwig-minus",
         "m.bw", "--controls", "cp.bw", "cm.bw"],
        {"data_source": GENOME, "scenario": None}, "binary"),
    "artifacts without a storage": (
        ["--artifacts", "shared/runs"], {"artifacts": "shared/runs"}, "binary"),
    # checked by both before, in two layers
    "λ of a regularizer not in the run": (
        ["--regularizers", "none", "--lambda", "fourier=1"],
        {"regularizers": ["none"], "lambdas": {"fourier": 1.0}}, "binary"),
    "λ of a regularizer without one": (
        ["--regularizers", "none", "--lambda", "none=1"],
        {"regularizers": ["none"], "lambdas": {"none": 1.0}}, "binary"),
    "a regularizer of another task": (
        ["--model", "profile", "--regularizers", "evoaug"], {"regularizers": ["evoaug"]},
        "profile"),
    "an unknown regularizer": (
        ["--regularizers", "fourrier"], {"regularizers": ["fourrier"]}, "binary"),
    "the Pareto objective outside the loss protocol": (
        ["--lambda-protocol", "constrained", "--objective", "pareto"],
        {"tune": True, "tuning": {"protocol": "constrained", "objective": "pareto"}},
        "binary"),
    "no seeds": (["--seeds", "0"], {"seeds": 0}, "binary"),
    "a device that does not exist": (["--device", "tpu"], {"device": "tpu"}, "binary"),
    "a storage URL that is not one": (
        ["--storage", "not-a-url"], {"tuning": {"storage": "not-a-url"}}, "binary"),
}


def api_config(changes: dict, task: str, out):
    config = preset_config("smoke", task)
    for key, value in {**changes, "out": str(out)}.items():
        if isinstance(getattr(config, key), dict):
            getattr(config, key).update(value)
        else:
            setattr(config, key, value)
    return config


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_the_cli_and_the_python_api_refuse_alike(case, tmp_path, capsys, monkeypatch):
    from regbench.bench import Benchmark
    monkeypatch.delenv("REGBENCH_STORAGE", raising=False)
    monkeypatch.chdir(tmp_path)
    flags, changes, task = CASES[case]
    api_out, cli_out = tmp_path / "api", tmp_path / "cli"
    with pytest.raises(RegbenchError) as refused:
        Benchmark(api_config(changes, task, api_out))
    message = str(refused.value)
    assert "\n" not in message and message
    capsys.readouterr()
    assert main(["run", "--preset", "smoke", *flags, "--out", str(cli_out)]) == 2
    assert capsys.readouterr().err == f"regbench run: error: {message}\n"
    assert not api_out.exists() and not cli_out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []   # nothing written anywhere


def test_check_run_passes_a_preset_and_writes_nothing(tmp_path):
    from regbench.runner.checks import check_run
    config = preset_config("smoke")
    config.out = str(tmp_path / "run")
    check_run(config)
    assert not (tmp_path / "run").exists()


# id: (regbench run --suite gc-sweep flags, the same options as RunConfig changes); every
# gc-sweep experiment simulates its own scenario
SUITE_CASES = {
    "local workers": (["--workers", "2"], {"workers": 2}),
    "shares of the training rows": (["--fractions", "0.5"], {"fractions": [0.5]}),
    "a stability share": (["--stability-fraction", "0.1"], {"stability_fraction": 0.1}),
    "a data folder": (["--data", "mine"], {"data": "mine", "scenario": None}),
}


@pytest.mark.parametrize("case", SUITE_CASES, ids=list(SUITE_CASES))
def test_a_suite_refuses_alike_from_the_cli_and_run_suite(case, tmp_path, capsys,
                                                          monkeypatch):
    """Options a suite would silently drop: refused by ``run_suite`` (the Python API)
    with the command line's line, before any point is built."""
    import regbench.suites.suite
    from regbench.suites.suite import load_suite, run_suite

    def past_the_checks(*args):
        raise AssertionError("the suite's points were built: the options were not refused")

    monkeypatch.setattr(regbench.suites.suite, "suite_points", past_the_checks)
    monkeypatch.chdir(tmp_path)
    flags, changes = SUITE_CASES[case]
    with pytest.raises(RegbenchError) as refused:
        run_suite(load_suite("gc-sweep"), api_config(changes, "binary", tmp_path / "api"))
    message = str(refused.value)
    assert "\n" not in message and "does not go with --suite" in message
    capsys.readouterr()
    assert main(["run", "--suite", "gc-sweep", "--preset", "smoke", *flags, "--out",
                 str(tmp_path / "cli")]) == 2
    assert capsys.readouterr().err == f"regbench run: error: {message}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == []
