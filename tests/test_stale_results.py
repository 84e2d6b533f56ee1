"""Issue 29: stale results are never reused as new (data, λ studies, run settings,
large inputs, example tracks)."""
import json

import numpy as np
import pandas as pd
import pytest
import torch

from regbench.cli import main
from regbench.data import SimulatedSource
from regbench.errors import RegbenchError
from regbench.runtime.hardware import hardware
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
    assert optuna.load_study(study_name="old-l2", storage=url).user_attrs["study_key"] == \
        "fpC-cfg1"


# -- settings the run keys leave out -----------------------------------------------------
@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, tune_kit):
    return tune_kit.make_dataset(tmp_path_factory.mktemp("data"))


def test_every_row_records_how_it_was_trained_and_a_mixed_comparison_warns(
        data_dir, tmp_path, tune_kit, capsys):
    bench = tune_kit.make_bench(data_dir, tmp_path, ["none"])
    bench.config.threads = 1
    bench.run(report=False, plan=False)
    rows = pd.read_csv(tmp_path / "results.csv")
    assert set(zip(rows.threads, rows.device, rows.models_per_group)) == {(1, "cpu", 1)}
    assert set(rows.hardware) == {HERE}
    assert "warning" not in capsys.readouterr().err
    ids = sorted(p.name for p in (tmp_path / "runs").iterdir())
    # more threads, and seeds trained as one grouped model: the stored none runs are
    # reused (the keys are unchanged), the new l2 runs record the new settings
    bench = tune_kit.make_bench(data_dir, tmp_path, ["none", "l2"])
    bench.config.threads, bench.config.models_per_group = 2, 2
    bench.run(report=True, plan=False)
    rows = pd.read_csv(tmp_path / "results.csv").drop_duplicates(["regularizer", "seed"])
    assert {r: set(zip(g.threads, g.device, g.models_per_group))
            for r, g in rows.groupby("regularizer")} == {"none": {(1, "cpu", 1)},
                                                         "l2": {(2, "cpu", 2)}}
    assert set(ids) < {p.name for p in (tmp_path / "runs").iterdir()}
    warning = ("the runs compared were trained with different threads 1 / 2, "
               "models_per_group 1 / 2, which the run keys leave out")
    err = capsys.readouterr().err.splitlines()
    assert [line for line in err if "warning" in line] == [
        f"warning: results.csv: {warning} but which move the numbers (README: test auROC "
        "by up to 0.13); retrain them in one setting to compare them fairly"]
    assert f"Warning (results.csv): {warning}" in (tmp_path / "report.html").read_text()
    statistics = pd.read_csv(tmp_path / "statistics.csv")
    assert not {"threads", "models_per_group"} & set(statistics.metric)   # not metrics
    config = json.loads((tmp_path / "config.json").read_text())   # the rows' settings
    assert [config[k] for k in SETTINGS] == [[1, 2], "cpu", [1, 2]]


SETTINGS = ("threads", "device", "models_per_group")
HERE = hardware(torch.device("cpu"))   # this machine's processor, as rows record it


def test_a_rerun_with_other_settings_says_what_it_reuses_and_config_json_is_the_rows(
        data_dir, tmp_path, tune_kit, capsys):
    """Issue 42 item 3: threads, device and models per group stay out of the run keys
    (they change only float rounding; keyed, a rerun would retrain, and orphan, every
    stored run). A rerun with threads 2 and 2 models per group reuses the runs trained
    with 1 thread, alone: it says so, and config.json records what the rows were
    trained with (this invocation's settings apart), not threads 2."""
    bench = tune_kit.make_bench(data_dir, tmp_path, ["none"])
    bench.config.threads = 1
    bench.run(report=False, plan=False)
    table = (tmp_path / "results.csv").read_bytes()
    config = json.loads((tmp_path / "config.json").read_text())
    assert [config[k] for k in SETTINGS] == [1, "cpu", 1]
    assert config["this_invocation"] == {"threads": 1, "device": "cpu", "models_per_group": 1,
                                         "hardware": HERE}
    assert config["hardware"] == HERE
    assert "reusing" not in capsys.readouterr().err
    bench = tune_kit.make_bench(data_dir, tmp_path, ["none"])
    bench.config.threads, bench.config.models_per_group = 2, 2
    bench.run(report=False)
    out, err = capsys.readouterr()
    assert "plan: every run is stored in" in out
    assert [line for line in err.splitlines() if "reusing" in line] == [
        "note: reusing 2 stored runs trained with other settings than this invocation's "
        "(threads 2, models_per_group 2): 2 with threads 1, models_per_group 1; the run "
        "keys leave these settings out, so results.csv and config.json record what each "
        "row was trained with"]
    assert (tmp_path / "results.csv").read_bytes() == table   # reused as they were
    config = json.loads((tmp_path / "config.json").read_text())
    assert [config[k] for k in SETTINGS] == [1, "cpu", 1]
    assert config["this_invocation"] == {"threads": 2, "device": "cpu", "models_per_group": 2,
                                         "hardware": HERE}
    bench = tune_kit.make_bench(data_dir, tmp_path, ["none"])   # as trained: no note
    bench.config.threads = 1
    bench.run(report=False, plan=False)
    assert "reusing" not in capsys.readouterr().err
    # A run stored before rows recorded the hardware is not counted as differing; one
    # trained on another processor is
    seed0, seed1 = (bench.context.store.record_path(bench.context.key("none", s))
                    for s in (0, 1))
    for path, value in ((seed0, None), (seed1, "Another CPU (AVX512)")):
        record = json.loads(path.read_text())
        record["row"]["hardware"] = value
        path.write_text(json.dumps(record))
    bench = tune_kit.make_bench(data_dir, tmp_path, ["none"])
    bench.config.threads = 1
    bench.run(report=False, plan=False)
    assert [line for line in capsys.readouterr().err.splitlines() if "reusing" in line] == [
        "note: reusing 1 stored run trained with other settings than this invocation's "
        f"(hardware {HERE}): 1 with hardware Another CPU (AVX512); the run keys leave "
        "these settings out, so results.csv and config.json record what each row was "
        "trained with"]


def test_mixed_settings_ignores_rows_that_did_not_record_them():
    from regbench.store.runs import mixed_settings
    frame = pd.DataFrame({"threads": [2.0, np.nan, 2.0], "device": ["cpu", "cpu", None],
                          "models_per_group": [1, 1, 1]})
    assert mixed_settings(frame) is None
    frame.loc[1, "device"] = "cuda:0"
    assert mixed_settings(frame).startswith("the runs compared were trained with different "
                                            "device cpu / cuda:0, which")
    assert mixed_settings(pd.DataFrame({"regularizer": ["none"]})) is None  # old tables


# -- example tracks ----------------------------------------------------------------------
def test_example_tracks_come_from_the_full_data_model(data_dir, tmp_path, tune_kit):
    bench = tune_kit.make_bench(data_dir, tmp_path, ["none"])
    bench.config.seeds, bench.config.fractions = 1, [0.3]
    bench.run(report=False, plan=False)
    records = {share: bench.context.store.load(bench.context.key("none", 0, data_fraction=share))
               for share in (1.0, 0.3)}
    saved = {share: np.load(tmp_path / r["row"]["attributions"])["attr"].astype(np.float32)
             for share, r in records.items()}
    with np.load(tmp_path / "examples" / "none.npz") as examples:
        tracks = examples["attr"].sum(axis=1)   # (k, L), as the stored attributions
    k = len(tracks)
    assert np.allclose(tracks, saved[1.0][:k], rtol=1e-2, atol=1e-3)
    assert not np.allclose(tracks, saved[0.3][:k], rtol=1e-2, atol=1e-3)


# -- unreadable stored files: one note, the right reason, trained again (issue 42) -------
@pytest.mark.parametrize("kind", ["grid run", "λ trial"])
def test_a_truncated_record_is_one_note_and_its_run_is_trained_again(data_dir, tmp_path,
                                                                    tune_kit, capsys, kind):
    """A run whose record is truncated (its checkpoint intact) was noted twice in a grid
    (``train_seeds`` and ``train_one`` each loaded it), then "scored again: the
    [evaluation] settings changed", which they had not; a λ trial's (tuning/runs/) was
    scored again from its checkpoint, though its note said "trained again". Either lost
    the settings it was trained with. Now: one note, and it is trained again, whole."""
    bench = tune_kit.make_bench(data_dir, tmp_path, ["none"])
    bench.context.check_data()

    def train():
        if kind == "grid run":
            return bench.executor.train_seeds("none", [0])[0]
        return bench.executor.train_one("none", 0, evaluate=False)
    first = train()
    record = bench.context.store.record_path(bench.context.key("none", 0))
    record.write_text(record.read_text()[:40])
    capsys.readouterr()
    again = train()
    out, err = capsys.readouterr()
    assert err.count("cannot be read") == 1, err
    assert err.startswith(f"note: {record} cannot be read (")
    assert err.rstrip().endswith("its run counts as missing and is trained again")
    assert "settings changed" not in out + err and "again:" not in out + err
    assert again["history"] == first["history"]
    assert {k: again["row"][k] for k in ("threads", "device", "models_per_group")} == \
        {k: first["row"][k] for k in ("threads", "device", "models_per_group")}
    assert bench.context.store.load(bench.context.key("none", 0)) is not None   # whole


def _no_model_config(path):
    import torch
    payload = torch.load(path, weights_only=True)
    del payload["model_config"]
    torch.save(payload, path)


def _another_shape(path):
    import torch
    payload = torch.load(path, weights_only=True)
    name = next(iter(payload["state_dict"]))
    payload["state_dict"][name] = torch.zeros(3, 3, 3)
    torch.save(payload, path)


@pytest.mark.parametrize("damage,why", [
    (lambda p: p.write_bytes(np.random.default_rng(0).bytes(4096)), "corrupt"),
    (lambda p: p.write_bytes(p.read_bytes()[:200]), "corrupt or truncated"),
    (_no_model_config, "it has no model_config"),
    (_another_shape, "its model cannot be rebuilt from it: Error(s) in loading state_dict"),
], ids=["random bytes", "truncated", "no model_config", "weights of another shape"])
def test_an_unreadable_checkpoint_is_one_note_and_its_run_is_trained_again(
        data_dir, tmp_path, tune_kit, capsys, damage, why):
    """A run scored again from its checkpoint (its record gone: trained under another
    [evaluation]) whose checkpoint is no checkpoint is trained again with a note. Random
    bytes were refused as "could run code", stopping the run; a checkpoint without
    model_config or with weights of another shape was a traceback."""
    bench = tune_kit.make_bench(data_dir, tmp_path, ["none"])
    bench.context.check_data()
    first = bench.executor.train_one("none", 0, evaluate=False)
    key = bench.context.key("none", 0)
    store = bench.context.store
    store.record_path(key).unlink()
    checkpoint = store.checkpoint_path(key)
    damage(checkpoint)
    capsys.readouterr()
    again = bench.executor.train_one("none", 0, evaluate=False)
    err = capsys.readouterr().err
    assert err.count("cannot be read") == 1, err
    assert err.startswith(f"note: {checkpoint} cannot be read ({why}"), err
    assert "could run code" not in err and "trained again" in err
    assert again["history"] == first["history"]   # trained again, the same way
    from regbench.training.train import load_result
    assert load_result(checkpoint).best_epoch == first["row"]["best_epoch"]
