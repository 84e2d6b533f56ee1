"""Issue 29: stale results are never reused as new (data, λ studies, run settings,
large inputs, example tracks)."""
import pytest

from regbench.cli import main
from regbench.data import SimulatedSource
from regbench.errors import RegbenchError
from regbench.simulate import simulate

SMALL = {"length": 100, "positives": 30, "negatives": 30}


# -- simulated data ---------------------------------------------------------------------
def test_a_second_scenario_into_the_same_out_is_refused(tmp_path):
    SimulatedSource("spi1_binary", SMALL).load(tmp_path)
    first = (tmp_path / "data" / "sequences.fa").read_bytes()
    with pytest.raises(RegbenchError, match=r"holds data simulated from scenario "
                       r"'spi1_binary', not 'spi1_gc_bias' as asked; give another --out, "
                       r"or delete .*data to simulate this scenario there$"):
        SimulatedSource("spi1_gc_bias", SMALL).load(tmp_path)
    with pytest.raises(RegbenchError, match=r"scenario 'spi1_binary' with gc.positives = "
                       r"0.4, not 0.6 as asked"):
        SimulatedSource("spi1_binary", {**SMALL, "gc.positives": 0.6}).load(tmp_path)
    with pytest.raises(RegbenchError, match=r"with positives = 30, not 31 as asked"):
        SimulatedSource("spi1_binary", {**SMALL, "positives": 31}).load(tmp_path)
    assert (tmp_path / "data" / "sequences.fa").read_bytes() == first   # untouched
    # the same scenario, however it is named, reuses the data
    from regbench.simulate.scenario import find_scenario
    path = str(find_scenario("spi1_binary"))
    assert len(SimulatedSource(path, SMALL).load(tmp_path).names) == 60
    assert len(SimulatedSource("spi1_binary", SMALL).load(tmp_path).names) == 60


def test_run_with_another_scenario_exits_2_before_training(tmp_path, capsys):
    out = tmp_path / "run"
    simulate("spi1_binary", out / "data", overrides=PRESET_SMOKE_DATA, progress=False)
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    code = main(["run", "--preset", "smoke", "--scenario", "spi1_gc_bias", "--regularizers",
                 "none", "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "not 'spi1_gc_bias' as asked" in err[0]
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before


PRESET_SMOKE_DATA = {"length": 100, "positives": 120, "negatives": 120}


# -- λ studies named with --study-name -------------------------------------------------
def _quick_trials(out, key):
    """tune.Trials whose every trial 'trains' at once, to a loss of |log10 λ + 2|."""
    import math

    from regbench.tune import Trials
    return Trials(train=lambda lam, on_epoch: {"row": {"epochs": 1, "status": "ok",
                                                       "val_loss": abs(math.log10(lam) + 2)}},
                  run_id=lambda lam: f"run-{lam:.6g}", score=None, study_key=key, out=out)


def test_a_named_study_of_other_data_or_settings_is_refused(tmp_path):
    import optuna

    from regbench.tune import open_study, tune_lambda
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    first = tune_lambda(_quick_trials(tmp_path, "fpA-cfg1"), "l2", n_trials=2, storage=url,
                        study_name="mine-l2", progress=False)
    study = optuna.load_study(study_name="mine-l2", storage=url)
    assert study.user_attrs["study_key"] == "fpA-cfg1" and first.n_complete == 2
    for other in ("fpB-cfg1", "fpA-cfg2"):   # other data; other trial settings
        with pytest.raises(RegbenchError, match=r"^study 'mine-l2' in sqlite:///.* was made "
                           rf"for other data or trial settings \(key fpA-cfg1, this run's "
                           rf"{other}\); use another --study-name$"):
            tune_lambda(_quick_trials(tmp_path, other), "l2", n_trials=3, storage=url,
                        study_name="mine-l2", progress=False)
    assert len(study.get_trials()) == 2   # nothing was run in it
    again = tune_lambda(_quick_trials(tmp_path, "fpA-cfg1"), "l2", n_trials=3, storage=url,
                        study_name="mine-l2", progress=False)
    assert again.n_complete == 3
    # a study made before keys were stored adopts the first key it is used with
    open_study(url, "old-l2", "loss", seed=0)
    tune_lambda(_quick_trials(tmp_path, "fpC-cfg1"), "l2", n_trials=1, storage=url,
                study_name="old-l2", progress=False)
    assert optuna.load_study(study_name="old-l2", storage=url).user_attrs == {
        "study_key": "fpC-cfg1"}
