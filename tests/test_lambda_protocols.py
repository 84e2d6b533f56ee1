"""λ protocols (issue 27): constrained, paper, loss, fixed; what each row says of its λ."""
import dataclasses
import json
import math

import numpy as np
import optuna
import pandas as pd
import pytest
import torch

import regbench.tune as tune
import regbench.tune.outcome
import regbench.tune.search
from regbench.bench import Benchmark
from regbench.cli import build_parser, main
from regbench.commands.run import resolve_config
from regbench.options.config import PRESETS, preset_config
from regbench.runner.lambda_rules import measured_penalty, scale_lambda
from regbench.regularizers import get_regularizer, get_spec


# -- the constrained protocol's selection ------------------------------------------------
REFERENCE = {"none_performance": [0.90, 0.90, 0.90], "margin": 0.01, "direction": "higher",
             "performance_direction": "higher"}


def selection_study(trials, reference=REFERENCE) -> optuna.Study:
    """A study as the selection leaves it: each trial's per-seed validation endpoint,
    performance and loss in user attributes, its value their mean endpoint.
    trials: (λ, endpoints, performances)."""
    study = optuna.create_study(directions=["maximize"])
    study.set_user_attr(tune.REFERENCE_ATTR, reference)
    distribution = optuna.distributions.FloatDistribution(1e-2, 1e2, log=True)
    for lam, endpoint, performance in trials:
        study.add_trial(optuna.trial.create_trial(
            params={"lambda": lam}, distributions={"lambda": distribution},
            value=float(np.mean(endpoint)),
            user_attrs={"endpoint": list(endpoint), "performance": list(performance),
                        "val_loss": [0.4] * len(endpoint), "epochs": [5] * len(endpoint),
                        "seeds": [1000, 1001, 1002][:len(endpoint)]}))
    return study


def test_selection_choice_follows_the_margin_then_the_one_se_rule():
    # λ=10 is the most interpretable but costs 0.02 auROC (margin 0.01); of λ=0.1 and
    # λ=1, within one pooled SE (0.0115) of each other, the smaller is chosen
    study = selection_study([(0.1, (0.50, 0.52, 0.54), (0.90, 0.90, 0.90)),
                             (1.0, (0.51, 0.53, 0.55), (0.895, 0.895, 0.895)),
                             (10.0, (0.78, 0.80, 0.82), (0.88, 0.88, 0.88))])
    chosen = tune.outcome.chosen_trial(study, "selection")
    assert chosen.params["lambda"] == 0.1
    result = tune.outcome.tune_result(study, "fourier", "selection", "sqlite://", 0.0, chosen,
                                  REFERENCE)
    assert result.best_lambda == 0.1 and result.best_score == pytest.approx(0.52)
    assert result.feasible_found
    table = result.trials.set_index("lambda")
    assert table["feasible"].to_dict() == {0.1: True, 1.0: True, 10.0: False}
    assert table["within_one_se"].to_dict() == {0.1: True, 1.0: True, 10.0: False}
    assert table.loc[1.0, "performance_difference"] == pytest.approx(-0.005)
    assert table.loc[0.1, "endpoint"] == "0.5; 0.52; 0.54"


def test_no_lambda_within_the_margin_takes_the_smallest_and_says_so():
    study = selection_study([(1.0, (0.5,) * 3, (0.8,) * 3), (0.1, (0.4,) * 3, (0.85,) * 3)])
    chosen = tune.outcome.chosen_trial(study, "selection")
    result = tune.outcome.tune_result(study, "fourier", "selection", "sqlite://", 0.0, chosen,
                                  REFERENCE)
    assert result.best_lambda == 0.1 and not result.feasible_found


def test_workers_of_a_study_share_its_first_reference():
    """Workers whose none models differ in rounding choose with one reference."""
    study = optuna.create_study(directions=["maximize"])
    first = {**REFERENCE, "none_performance": [0.9, 0.9, 0.9]}
    assert tune.search._study_reference(study, first) == first
    later = {**REFERENCE, "none_performance": [0.9000001, 0.9, 0.9]}
    assert tune.search._study_reference(study, later) == first


def test_enqueued_lambdas_are_tried_first_and_only_once():
    study = optuna.create_study()
    assert tune.enqueue_lambdas(study, [1.0, 2.5, 1.0], n_trials=5) == [1.0, 2.5]
    assert tune.enqueue_lambdas(study, [1.0, 2.5], n_trials=5) == []   # a rerun
    study.optimize(lambda t: t.suggest_float("lambda", 1e-2, 1e2, log=True), n_trials=3)
    assert [t.params["lambda"] for t in study.trials[:2]] == [1.0, 2.5]
    assert tune.enqueue_lambdas(optuna.create_study(), [1.0, 2.0], n_trials=1) == [1.0]


# -- the scale rule ------------------------------------------------------------------------
def test_scale_lambda():
    assert scale_lambda(0.6, 0.3) == pytest.approx(2.0)
    assert scale_lambda(0.6, -0.3) == pytest.approx(2.0)   # sparsity's is negative
    assert scale_lambda(0.6, 0.0) is None and scale_lambda(0.6, math.nan) is None


def test_scale_rule_on_a_model_with_known_loss_and_penalty(small_task, motif_split):
    """Every weight 0 but the first convolution's (0.5 each), whose output batch norm
    scales by 0: the logits are 0, so the balanced BCE is ln 2, and the L2 penalty is
    0.25 x the first convolution's weights."""
    from regbench.training.train import TrainConfig
    torch.manual_seed(0)
    model = small_task.build_model()
    first = next(m for m in model.modules() if isinstance(m, torch.nn.Conv1d))
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        first.weight.fill_(0.5)
    codes, labels = motif_split[1]
    loss, penalty = measured_penalty(small_task, get_regularizer("l2"), model,
                                     (codes, labels, labels[:, 0] > 0),
                                     TrainConfig(device="cpu"))
    assert loss == pytest.approx(math.log(2), abs=1e-6)
    assert penalty == pytest.approx(0.25 * first.weight.numel())
    assert scale_lambda(loss, penalty) == pytest.approx(
        math.log(2) / (0.25 * first.weight.numel()), rel=1e-6)


# -- the protocol setting ----------------------------------------------------------------
def config_of(*argv):
    return resolve_config(build_parser("run").parse_args(["run", *argv]))


def test_protocol_setting_and_its_default(tmp_path):
    assert config_of("--out", str(tmp_path / "q")).lambda_protocol() == "constrained"
    assert config_of("--preset", "smoke", "--out", str(tmp_path / "s")).lambda_protocol() \
        == "fixed"   # smoke does not tune
    assert PRESETS["paper"]["tuning"]["protocol"] == "paper"
    assert preset_config("paper").lambda_protocol() == "paper"
    # the flag switches tuning on (or off, for fixed) when --tune is not given
    paper = config_of("--preset", "smoke", "--lambda-protocol", "paper", "--out",
                      str(tmp_path / "p"))
    assert paper.tune and paper.lambda_protocol() == "paper"
    assert not config_of("--lambda-protocol", "fixed", "--out", str(tmp_path / "f")).tune
    toml = tmp_path / "c.toml"
    toml.write_text('preset = "smoke"\n[tuning]\nprotocol = "loss"\n')
    assert config_of("--config", str(toml), "--out", str(tmp_path / "t")).lambda_protocol() \
        == "loss"


def test_tune_against_the_protocol_is_a_one_line_error(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", "--preset", "smoke", "--out", str(out), "--tune",
                 "--lambda-protocol", "fixed"]) == 2
    err = capsys.readouterr().err
    assert "goes against the λ protocol 'fixed'" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_bad_protocol_in_a_config_file(tmp_path, capsys):
    toml = tmp_path / "c.toml"
    toml.write_text('[tuning]\nprotocol = "best"\n')
    assert main(["run", "--config", str(toml), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "must be one of constrained, paper, loss, fixed, got 'best'" in err
    assert len(err.strip().splitlines()) == 1


def test_pareto_goes_with_the_loss_protocol_only(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", "--preset", "smoke", "--lambda-protocol", "constrained",
                 "--objective", "pareto", "--out", str(out)]) == 2
    assert "use --lambda-protocol loss" in capsys.readouterr().err and not out.exists()
    # without a protocol, the Pareto search is the loss protocol's
    assert config_of("--objective", "pareto", "--out", str(out)).lambda_protocol() == "loss"


def test_paper_protocol_gives_fourier_lambda_1_on_binary_models(tmp_path, tune_kit):
    data = tune_kit.make_dataset(tmp_path / "data")
    config = config_of("--preset", "smoke", "--data", str(data), "--regularizers",
                       "fourier,none", "--lambda-protocol", "paper", "--out",
                       str(tmp_path / "out"), "--device", "cpu")
    bench = Benchmark(config)
    choice = bench.search.tune_lambdas()
    assert choice.results == {}
    bench.context.use_lambdas(choice)
    assert bench.context.choice.lambdas == {"fourier": 1.0, "none": 0.0}
    assert bench.context.choice.sources == {"fourier": "paper rule", "none": "registry"}
    assert bench.context.choice.protocol == "paper"
    assert not (tmp_path / "out" / "tuning").exists()   # nothing trained to know it


def test_paper_rule_on_profile_models_and_the_scale_rule(tmp_path, tune_kit, monkeypatch):
    """With none's validation loss 0.8 (0.6 as the authors compute it) and penalties
    measured on it: profile Fourier λ = ½ × 0.6; smoothness (penalty 0.2) λ = 0.8 / 0.2;
    a penalty measuring 0 keeps the registry's λ, and says why."""
    data = tune_kit.make_dataset(tmp_path / "data")
    bench = tune_kit.make_bench(data, tmp_path / "out", ["fourier", "smoothness", "none"])
    penalties = {"fourier": 0.5, "smoothness": 0.2, "sparsity": 0.0}
    rules = bench.search.rules
    monkeypatch.setattr(rules, "penalty_on_none", lambda name: (0.8, penalties[name]))
    assert rules.paper_lambda("smoothness")[:2] == (pytest.approx(4.0), "scale rule")
    lam, source, why = rules.paper_lambda("sparsity")
    assert (lam, source) == (get_spec("sparsity").default_lambda,
                             "registry (scale rule undefined)")
    assert "penalty on the trained none model is 0" in why
    bench.config.task = "profile"
    # ½ × the loss as the authors compute it (multinomial constants in), not regbench's
    monkeypatch.setattr(rules, "paper_scale_loss_on_none", lambda: 0.6)
    lam, source, why = rules.paper_lambda("fourier")
    assert (lam, source) == (pytest.approx(0.3), "paper rule") and "½ × none's" in why
    assert "as the authors' code computes it, 0.6" in why and "without them: 0.8" in why
    assert rules.reference["paper_rule"] == {
        "none_validation_loss": 0.8, "authors_correctness_loss": 0.6, "lambda": 0.3}


# -- the loss protocol's flag ------------------------------------------------------------
def test_loss_protocol_flags_a_lambda_not_identified_by_validation_loss():
    trials = pd.DataFrame({"lambda": [0.1, 1.0, 10.0], "value": [0.401, 0.400, 0.403],
                           "state": ["complete"] * 3})
    notes = tune.search_notes(trials, (1e-2, 1e2), 1.0, noise=0.005)
    assert len(notes) == 1 and notes[0].startswith("λ not identified by validation loss")
    # a constrained search is not flagged
    assert tune.search_notes(trials, (1e-2, 1e2), 1.0, noise=0.005, flat=False) == []
    # A spread beyond the seed noise, but λ = 0.1 scores within it of the chosen 1.0:
    # a decade apart and indistinguishable, so λ is still not identified.
    rival = tune.search_notes(trials, (1e-2, 1e2), 1.0, noise=0.002)
    assert rival == ["λ not identified by validation loss: λ = 0.1, 10× the chosen 1, "
                     "scored 0.401 against 0.4, within the seed-to-seed sd of the "
                     "validation loss (0.002): the search could not tell them apart"]
    # Only twice the chosen λ within noise, the decade away well above it: identified.
    near = trials.assign(**{"lambda": [0.5, 1.0, 10.0]})
    assert tune.search_notes(near, (1e-2, 1e2), 1.0, noise=0.002) == []
    # The quick run's loss search (issue 27): 0.0116 chosen at 0.3407, λ = 1 at 0.3470,
    # seed sd 0.109: flagged, though λ = 16.7 did far worse (0.719).
    quick = pd.DataFrame({"lambda": [1.0, 16.69, 0.2646, 0.01164, 0.0142, 45.0],
                          "value": [0.3470, 0.7190, 0.4262, 0.3407, 0.3893, 0.8742],
                          "state": ["complete"] * 5 + ["pruned"]})
    notes = tune.search_notes(quick, (1e-2, 1e2), 0.01164, noise=0.1094)
    assert notes[-1].startswith("λ not identified by validation loss: λ = 1, 86× the "
                                "chosen 0.0116, scored 0.347 against 0.3407")


# -- searches and rows -------------------------------------------------------------------
@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, tune_kit):
    return tune_kit.make_dataset(tmp_path_factory.mktemp("data"))


def test_constrained_selection_trains_every_grid_lambda_on_disjoint_seeds_as_the_verdict(
        data_dir, tmp_path, tune_kit):
    from regbench.tune.selection import Candidate, choose_lambda
    bench = tune_kit.make_bench(data_dir, tmp_path / "out", ["smoothness", "none"])
    bench.config.tune = True
    bench.config.tuning.update(trials=3, trial_epochs=1)   # trial_epochs: not for selection
    bench.context.use_lambdas(dataclasses.replace(bench.context.choice,
                                                  protocol=bench.config.lambda_protocol()))
    bench.context.prepare_data()
    bench.context.use_lambdas(bench.search.tune_lambdas())
    results = bench.context.choice.results
    selection = bench.context.choice.reference["selection"]
    assert selection["seeds"] == [1000, 1001, 1002]
    assert not set(selection["seeds"]) & set(range(bench.config.seeds))
    assert selection["endpoint"]["metric"] == "motif_fraction"
    trials = results["smoothness"].trials
    assert sorted(trials["lambda"]) == pytest.approx([0.01, 0.1, 1.0])   # decades at 0.1
    stored = [json.loads(p.read_text())
              for p in sorted((tmp_path / "out" / "tuning" / "runs").glob("*.json"))]
    assert len(stored) == 3 * 4   # none and 3 λ, 3 seeds each
    assert {r["row"]["seed"] for r in stored} == {1000, 1001, 1002}
    # the verdict's training (its config hash: epochs, patience, data), not 1-epoch trials
    assert {r["key"]["config_hash"] for r in stored} == {bench.config.hash()}
    parse = lambda text: tuple(float(v) for v in text.split("; "))  # noqa: E731
    expected = choose_lambda(
        [Candidate(r["lambda"], parse(r["endpoint"]), parse(r["performance"]))
         for _, r in trials.iterrows()], tuple(selection["none"]["performance"]),
        margin=0.01)
    assert bench.context.choice.lambdas["smoothness"] == expected.lam
    assert bench.context.choice.sources["smoothness"] == (
        "selected (constrained)" if expected.feasible_found
        else "smallest grid λ (no λ within the margin)")


def test_loss_protocol_tries_the_registry_lambda_first(data_dir, tmp_path, tune_kit):
    bench = tune_kit.make_bench(data_dir, tmp_path / "out", ["l2", "none"])
    bench.config.tune = True
    bench.config.tuning.update(trials=2, trial_epochs=1, protocol="loss")
    bench.context.use_lambdas(dataclasses.replace(bench.context.choice,
                                                  protocol=bench.config.lambda_protocol()))
    bench.context.prepare_data()
    bench.context.use_lambdas(bench.search.tune_lambdas())
    result = bench.context.choice.results["l2"]
    assert result.trials["lambda"].iloc[0] == get_spec("l2").default_lambda
    assert bench.context.choice.lambdas["l2"] == result.best_lambda
    assert bench.context.choice.sources["l2"] == "tuned (loss)"
    assert bench.context.choice.reference["none"]["seeds"] == 3   # its noise flags a flat search


def test_rows_say_their_protocol_and_lambda_source(data_dir, tmp_path, capsys):
    """A fixed λ, then the paper protocol on the same folder: Fourier's λ is 1 both
    times, so the runs are reused (their keys hold) and the rows say the new protocol."""
    out = tmp_path / "out"
    base = ["run", "--preset", "smoke", "--data", str(data_dir), "--regularizers",
            "fourier,none", "--seeds", "1", "--out", str(out), "--no-progress",
            "--device", "cpu"]
    assert main([*base, "--lambda", "fourier=1"]) == 0
    rows = pd.read_csv(out / "results.csv").groupby("regularizer").first()
    assert rows["lambda_protocol"].to_dict() == {"fourier": "fixed", "none": "fixed"}
    assert rows["lambda_source"].to_dict() == {"fourier": "--lambda", "none": "registry"}
    runs = sorted(p.name for p in (out / "runs").iterdir())
    capsys.readouterr()
    assert main([*base, "--lambda-protocol", "paper"]) == 0
    printed = capsys.readouterr().out
    assert "  λ protocol: paper (the paper's rule: Fourier λ = 1 on binary models" in printed
    assert "λ fourier: 1 (paper rule: Fourier prior on a binary model" in printed
    assert "expected time follows" not in printed   # binary Fourier's λ trains nothing
    assert sorted(p.name for p in (out / "runs").iterdir()) == runs
    rows = pd.read_csv(out / "results.csv").groupby("regularizer").first()
    assert rows["lambda_protocol"].to_dict() == {"fourier": "paper", "none": "paper"}
    assert rows["lambda_source"].to_dict() == {"fourier": "paper rule", "none": "registry"}
    assert rows.loc["fourier", "lambda"] == 1.0
    config = json.loads((out / "config.json").read_text())
    assert config["lambda_protocol"] == "paper"
    assert config["lambda_source"] == {"fourier": "paper rule", "none": "registry"}
    assert "λ protocol: paper" in (out / "report.html").read_text()


def test_the_paper_rule_loads_no_checkpoint_a_stored_record_names_outside(
        data_dir, tmp_path, tune_kit):
    """Issue 42 item 4: the λ reference's none model comes from a stored record of
    OUT/tuning/runs (shared with other workers); the checkpoint it names is checked as
    gather checks the paths it fetches, so a crafted record pointing at another model
    (here none seed 1's, copied outside the folder) cannot change l2's paper λ."""
    from regbench.errors import RegbenchError
    from regbench.runner.lambda_rules import LambdaRules
    out = tmp_path / "out"
    bench = tune_kit.make_bench(data_dir, out, ["l2", "none"])
    bench.context.prepare_data()
    bench.search.rules.none_reference(2)   # seeds 0 and 1 stored in OUT/tuning
    honest = bench.search.rules.paper_lambda("l2")[0]
    [seed0] = (out / "tuning" / "runs").glob("none_seed0_*.json")
    [seed1] = (out / "tuning" / "checkpoints").glob("none_seed1_*.pt")
    outside = tmp_path / "elsewhere.pt"
    outside.write_bytes(seed1.read_bytes())
    record = json.loads(seed0.read_text())
    assert record["row"]["checkpoint"].startswith("checkpoints/none_seed0_")
    for crafted in (str(outside), "../../elsewhere.pt", "checkpoints/../../../elsewhere.pt"):
        record["row"]["checkpoint"] = crafted
        seed0.write_text(json.dumps(record))
        rules = LambdaRules(tune_kit.make_bench(data_dir, out, ["l2", "none"]).context)
        rules.context.prepare_data()
        with pytest.raises(RegbenchError) as error:
            rules.paper_lambda("l2")
        assert str(error.value) == (
            f"refused path {crafted!r}: a results folder names its files "
            f"checkpoints/NAME; this one could lead outside {out / 'tuning'}")
    assert honest > 0


def test_constrained_selection_is_the_same_under_another_thread_count(data_dir, tmp_path):
    """Issue 40: the same command with 1 and with 2 threads (another summation order, as
    another CPU gives) chooses the same λ; results.csv says which seeds chose it, none of
    them a verdict seed, and config.json declares the endpoint and margin."""
    chosen = {}
    for threads in (1, 2):
        out = tmp_path / f"threads{threads}"
        assert main(["run", "--preset", "smoke", "--data", str(data_dir), "--regularizers",
                     "fourier,none", "--seeds", "2", "--tune", "--lambda-protocol",
                     "constrained", "--trials", "3", "--threads", str(threads), "--out",
                     str(out), "--no-progress", "--device", "cpu"]) == 0
        rows = pd.read_csv(out / "results.csv")
        fourier = rows[rows["regularizer"] == "fourier"]
        assert set(fourier["selection_seeds"]) == {"1000-1002"}
        assert set(fourier["seed"]) == {0, 1}          # disjoint from 1000-1002
        assert rows.loc[rows["regularizer"] == "none", "selection_seeds"].isna().all()
        config = json.loads((out / "config.json").read_text())
        assert (config["endpoint"]["metric"], config["endpoint"]["margin"]) == (
            "motif_fraction", 0.01)
        chosen[threads] = config["lambdas"]["fourier"]
        search = pd.read_csv(out / "lambda_search.csv")
        assert search.loc[search["chosen"], "lambda"].tolist() == [chosen[threads]]
    assert chosen[1] == chosen[2]


def test_the_paper_rules_none_trains_as_the_verdicts_models(tmp_path, tune_kit):
    """The paper's λ reads "a model trained without the prior": its none trains for the
    verdict's epochs (smoke: 3), not the λ search's trial_epochs (smoke: 2)."""
    data = tune_kit.make_dataset(tmp_path / "data")
    outs = {}
    for protocol in ("paper", "loss"):
        config = config_of("--preset", "smoke", "--data", str(data), "--regularizers",
                           "smoothness,none", "--lambda-protocol", protocol, "--out",
                           str(tmp_path / protocol), "--device", "cpu")
        bench = Benchmark(config)
        bench.context.prepare_data()
        outs[protocol] = bench.search.rules.none_reference(1)
    assert (outs["paper"]["epochs"], outs["loss"]["epochs"]) == (3, 2)


def test_the_paper_rules_none_is_the_verdicts_none_seed_0_trained_once(tmp_path, tune_kit,
                                                                       capsys):
    """Same run key, same model: the verdict's none seed 0 is scored from the paper
    rule's checkpoint, not trained a second time; seed 1 trains as before."""
    data = tune_kit.make_dataset(tmp_path / "data")
    out = tmp_path / "out"
    assert main(["run", "--preset", "smoke", "--data", str(data), "--regularizers",
                 "smoothness,none", "--lambda-protocol", "paper", "--out", str(out),
                 "--device", "cpu", "--no-progress"]) == 0
    log = capsys.readouterr().out
    assert "the expected time follows once the paper rule's none is trained" in log
    assert "time: about" in log and "scoring not counted, not yet measured" in log
    assert log.count("scoring none seed 0 from its stored checkpoint") == 1
    assert "scoring none seed 1" not in log
    reference = json.loads(next((out / "tuning" / "runs").glob("none_seed0_*.json")).read_text())
    verdict = json.loads(next((out / "runs").glob("none_seed0_*.json")).read_text())
    for column in ("val_loss", "epochs", "best_epoch", "converged"):
        assert verdict["row"][column] == reference["row"][column], column
    assert verdict["history"] == reference["history"]
    assert verdict["row"]["test_auroc"] == verdict["row"]["test_auroc"]   # scored: a number
    ckpt = verdict["row"]["checkpoint"]
    assert (out / ckpt).read_bytes() == (out / "tuning" / reference["row"]["checkpoint"]).read_bytes()
