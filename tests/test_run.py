"""`regbench run` end to end on the smoke preset, and its bad-input exits."""
import json
import os
import re
import stat

import numpy as np
import pandas as pd
import pytest

from regbench.cli import main
from regbench.store.runs import wide_results

COLUMNS = ["regularizer", "lambda", "seed", "val_loss", "test_accuracy", "test_auroc",
           "test_auprc", "highfreq_fraction", "entropy", "motif_fraction", "motif_auprc"]
ALL = sorted(["fourier", "l2", "none", "smoothness", "sparsity", "l1_gradient", "off_simplex",
              "saliency_guided", "evoaug", "dropout", "exp_activation"])   # "all", binary


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("smoke") / "run"
    old_umask = os.umask(0o022)  # the common default, whatever the test runner's is
    try:
        assert main(["run", "--preset", "smoke", "--regularizers", "all", "--out",
                     str(out), "--no-progress"]) == 0
    finally:
        os.umask(old_umask)
    return out


def test_every_result_file_is_readable_by_others_under_umask_022(smoke):
    files = [p for p in smoke.rglob("*") if p.is_file()]
    assert len(files) > 30  # tables, records, checkpoints, arrays, figures, the report
    modes = {str(p.relative_to(smoke)): oct(stat.S_IMODE(p.stat().st_mode)) for p in files}
    assert {m for m in modes.values()} == {"0o644"}, modes


def test_results_table_has_one_row_per_run_and_attribution_method(smoke):
    long = pd.read_csv(smoke / "results.csv")
    assert list(long.columns[:7]) == ["regularizer", "lambda", "lambda_source",
                                      "lambda_protocol", "selection_seeds", "seed", "method"]
    assert not [c for c in long.columns if c.startswith("ixg_")]  # a method column instead
    assert sorted(zip(long.regularizer, long.seed, long.method)) == sorted(
        (r, s, m) for r in ALL for s in (0, 1) for m in ("deep_lift_shap", "input_x_gradient"))
    # a run's facts repeat on its method rows; its metrics differ by method
    pairs = long.groupby(["regularizer", "seed"])
    assert (pairs["test_auroc"].nunique() == 1).all() and (pairs["entropy"].nunique() == 2).all()
    df = wide_results(long)  # the report's view: one row per run, ixg_ for input x gradient
    assert set(COLUMNS) <= set(df.columns)
    assert {c for c in df.columns if c.startswith("ixg_")} >= {"ixg_motif_fraction", "ixg_entropy"}
    ixg = long[long.method == "input_x_gradient"].set_index(["regularizer", "seed"])["entropy"]
    assert df.set_index(["regularizer", "seed"])["ixg_entropy"].equals(ixg.rename("ixg_entropy"))
    assert sorted(zip(df.regularizer, df.seed)) == sorted((r, s) for r in ALL for s in (0, 1))
    assert (df.status == "ok").all()
    ok = df[COLUMNS[3:]]
    assert np.isfinite(ok.to_numpy(float)).all()
    assert ((df.test_auroc >= 0) & (df.test_auroc <= 1)).all()
    assert ((df.motif_fraction >= 0) & (df.motif_fraction <= 1)).all()
    assert (df.loc[df.regularizer == "none", "lambda"] == 0).all()


def test_per_sequence_history_checkpoints_and_config(smoke):
    per_seq = pd.read_csv(smoke / "per_sequence.csv")
    assert set(per_seq.method) == {"deep_lift_shap", "input_x_gradient"}
    # the per-run means in results.csv are the means of the per-sequence table
    df = pd.read_csv(smoke / "results.csv")
    row = df[(df.regularizer == "fourier") & (df.seed == 1)
             & (df.method == "deep_lift_shap")].iloc[0]
    seqs = per_seq[(per_seq.regularizer == "fourier") & (per_seq.seed == 1)
                   & (per_seq.method == "deep_lift_shap")]
    assert row.motif_fraction == pytest.approx(seqs.motif_fraction.mean())
    history = pd.read_csv(smoke / "history.csv")
    assert {"train_loss", "train_penalty", "val_loss", "val_penalty"} <= set(history.columns)
    assert all((smoke / p).is_file() for p in df.checkpoint)
    config = json.loads((smoke / "config.json").read_text())
    assert config["preset"] == "smoke" and config["lambda_source"]["fourier"] == "registry"


def test_report_embeds_its_figures(smoke):
    html = (smoke / "report.html").read_text()
    assert len(re.findall(r"data:image/png;base64,", html)) >= 4
    assert "λ was not tuned" in html
    md = (smoke / "report.md").read_text()
    assert "fourier" in md and "±" in md


def test_rerun_resumes_without_retraining(smoke, capsys):
    before = {p.name: p.stat().st_mtime_ns for p in (smoke / "runs").iterdir()}
    table = (smoke / "results.csv").read_text()
    capsys.readouterr()
    assert main(["run", "--preset", "smoke", "--out", str(smoke), "--no-progress"]) == 0
    assert "plan: every run is stored in" in capsys.readouterr().out   # no steps timed
    after = {p.name: p.stat().st_mtime_ns for p in (smoke / "runs").iterdir()}
    assert before == after
    assert (smoke / "results.csv").read_text() == table


def test_a_changed_evaluation_scores_the_stored_models_again(tmp_path, capsys, tune_kit):
    """Adding an attribution method re-scores the trained models from their checkpoints
    (no retraining): the same table as a fresh run with both methods, timings aside."""
    config = tmp_path / "dls.toml"
    config.write_text('[evaluation]\nmethods = ["deep_lift_shap"]\n')
    args = ["run", "--preset", "smoke", "--regularizers", "none,fourier", "--seeds", "2",
            "--no-progress"]
    out, fresh = tmp_path / "out", tmp_path / "fresh"
    assert main([*args, "--out", str(out), "--config", str(config)]) == 0
    first = pd.read_csv(out / "results.csv")
    checkpoints = {p.name: p.stat().st_mtime_ns for p in (out / "checkpoints").iterdir()}
    assert len(checkpoints) == 4 and set(first.method) == {"deep_lift_shap"}
    capsys.readouterr()
    assert main([*args, "--out", str(out)]) == 0
    log = capsys.readouterr().out
    assert log.count("from its stored checkpoint: trained earlier") == 4
    assert {p.name: p.stat().st_mtime_ns for p in (out / "checkpoints").iterdir()} == \
        checkpoints
    again = pd.read_csv(out / "results.csv")
    assert set(again.method) == {"deep_lift_shap", "input_x_gradient"}
    # the training facts are the first run's, its timings included (the attributions
    # file is named by the whole run key, the evaluation's hash too)
    dls = again[again.method == "deep_lift_shap"].reset_index(drop=True)
    pd.testing.assert_frame_equal(dls.drop(columns="attributions"),
                                  first.drop(columns="attributions"))
    assert main([*args, "--out", str(fresh)]) == 0
    tune_kit.same_results(again, pd.read_csv(fresh / "results.csv"))


@pytest.mark.parametrize("argv,message", [
    (["--regularizers", "fourier,bogus"], "unknown regularizer 'bogus'"),
    (["--preset", "huge"], "unknown preset 'huge'"),
    (["--lambda", "fourier=-1"], "λ for fourier must be"),
    (["--lambda", "fourier"], "--lambda expects NAME=VALUE"),
    (["--seeds", "0"], "seeds = 0 is not valid: expected an integer from 1 to 1000"),
    (["--stability-fraction", "1.5"], "stability_fraction = 1.5 is not valid"),
    (["--scenario", "no_such_scenario"], "no_such_scenario"),
    (["--regularizers", "none", "--lambda", "none=5"], "none has no λ"),
    (["--fractions", "1"], "fractions = [1.0] has no share below 1"),
])
def test_bad_input_exits_2_and_writes_nothing(tmp_path, capsys, argv, message):
    out = tmp_path / "out"
    assert main(["run", "--preset", "smoke", "--out", str(out), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_a_data_folder_is_read_never_written(smoke, tmp_path, capsys):
    """No index beside the FASTA, and a labels.tsv without a split column gets an
    automatic split that the log, config.json and the report announce."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "sequences.fa").write_bytes((smoke / "data" / "sequences.fa").read_bytes())
    (data / "motifs.bed").write_bytes((smoke / "data" / "motifs.bed").read_bytes())
    labels = pd.read_csv(smoke / "data" / "labels.tsv", sep="\t").drop(columns="split")
    labels.to_csv(data / "labels.tsv", sep="\t", index=False)
    before = {p.name: p.read_bytes() for p in data.iterdir()}
    out = tmp_path / "out"
    assert main(["run", "--preset", "smoke", "--data", str(data), "--regularizers", "none",
                 "--seeds", "1", "--out", str(out), "--no-progress"]) == 0
    assert {p.name: p.read_bytes() for p in data.iterdir()} == before
    printed = capsys.readouterr().out
    assert "data: automatic: labels.tsv has no split column" in printed
    assert "seed runs: 1/1 none seed 0 (ok, best epoch" in printed   # a line, not a bar
    assert json.loads((out / "config.json").read_text())["split"].startswith("automatic")
    assert "Split: automatic" in (out / "report.md").read_text()


def test_data_folder_missing_files(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    (data / "sequences.fa").write_text(">a\nACGT\n")
    assert main(["run", "--preset", "smoke", "--data", str(data),
                 "--out", str(tmp_path / "out")]) == 2
    assert "labels.tsv" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("toml,message", [
    ('seeds = "four"', "seeds = 'four' is not valid: expected an integer"),
    ('[train]\nmax_epochs = "5"', "[train] max_epochs = '5' is not valid: expected an integer"),
    ("regularizers = 5", "regularizers = 5 is not valid: expected 'all'"),
    ("[model]\nconv_filters = [8, -8]", "[model] conv_filters = [8, -8] is not valid"),
    ("[model]\nconv_filters = [8, 8.5]", "expected a list of integers"),
    ("[evaluation]\nreference_seed = true", "[evaluation] reference_seed = True"),
    ("tune = 1", "tune = 1 is not valid: expected true or false"),
    ('[lambda]\nfourier = "big"', "lambda.fourier = 'big' is not valid: expected a number"),
    ("[evaluation]\nn_shuffles = 0", "[evaluation] n_shuffles = 0 is not valid"),
    ("[regularizer_params.fourir]\nsoftness = 0.1",
     "[regularizer_params.fourir]: unknown regularizer 'fourir'"),
    # issue 42: a traceback while planning, once the scenario was simulated
    ('[regularizer_params.fourier]\nfreq_limit = "x"',
     "[regularizer_params.fourier]: regularizer 'fourier': freq_limit = 'x' is not valid: "
     "expected an integer"),
    # known only with the data's length: checked before the scenario is simulated
    ("[model]\nconv_widths = [200, 7]", "seq_len=100 is too short for convolutions"),
    ('[tuning]\nstorage = "bogus://x"', "unknown database kind 'bogus'"),
])
def test_bad_config_values_exit_2_with_one_line_before_anything_is_written(
        tmp_path, capsys, toml, message):
    cfg = tmp_path / "c.toml"
    cfg.write_text('preset = "smoke"\n' + toml + "\n")
    out = tmp_path / "out"
    assert main(["run", "--config", str(cfg), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
    assert not out.exists()


def test_out_pointing_at_a_file_exits_2(tmp_path, capsys):
    target = tmp_path / "results.txt"
    target.write_text("keep me")
    assert main(["run", "--preset", "smoke", "--out", str(target)]) == 2
    err = capsys.readouterr().err.strip()
    assert "is a file, not a folder" in err and len(err.splitlines()) == 1
    assert target.read_text() == "keep me"


def test_out_inside_a_file_and_a_file_as_data_exit_2(tmp_path, capsys):
    (tmp_path / "afile").write_text("keep me")
    for argv, message in ((["--out", str(tmp_path / "afile" / "sub")], "which is a file"),
                          (["--data", str(tmp_path / "afile"), "--out", str(tmp_path / "o")],
                           "is a file; give the dataset folder")):
        assert main(["run", "--preset", "smoke", *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err
    assert (tmp_path / "afile").read_text() == "keep me" and not (tmp_path / "o").exists()


def test_data_without_positive_test_sequences_exits_2_before_training(smoke, tmp_path,
                                                                      capsys):
    data = tmp_path / "data"
    data.mkdir()
    (data / "sequences.fa").write_bytes((smoke / "data" / "sequences.fa").read_bytes())
    labels = pd.read_csv(smoke / "data" / "labels.tsv", sep="\t")
    task = next(c for c in labels.columns if c not in ("name", "split"))
    labels.loc[(labels["split"] == "test") & (labels[task] == 1), "split"] = "train"
    labels.to_csv(data / "labels.tsv", sep="\t", index=False)
    out = tmp_path / "out"
    assert main(["run", "--preset", "smoke", "--data", str(data), "--regularizers", "none",
                 "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert "has no positive 'test' sequence" in err and len(err.splitlines()) == 1, err
    assert not out.exists()


def test_config_file_unknown_key(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text('preset = "smoke"\nsedes = 3\n')
    assert main(["run", "--config", str(cfg), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "unknown key(s)" in err and "sedes" in err
    assert not (tmp_path / "out").exists()


def test_run_with_tuning_uses_the_searched_lambda(tmp_path, capsys):
    out = tmp_path / "tuned"
    assert main(["run", "--preset", "smoke", "--regularizers", "fourier,none", "--seeds", "1",
                 "--tune", "--trials", "2", "--trial-epochs", "1", "--out", str(out),
                 "--no-progress"]) == 0
    printed = capsys.readouterr().out
    # The plan comes before the first trial: what runs, and how long at most.
    assert printed.index("plan:") < printed.index("λ selection fourier")
    # the constrained protocol: a grid of 2 decades, each on 3 selection seeds, trained
    # as the verdict's models (--trial-epochs is the loss protocol's)
    assert ("λ selection on seeds 1000-1002 (never a verdict seed): none and fourier at "
            "λ 0.1, 1: 9 models of at most 3 epochs") in printed
    assert "seed runs: 2 regularizers x 1 seed = 2 models" in printed
    assert re.search(r"a training step takes none [\d.]+ s; fourier [\d.]+ s", printed)
    df = pd.read_csv(out / "results.csv")
    search = pd.read_csv(out / "lambda_search.csv")
    fourier = df[df.regularizer == "fourier"].iloc[0]
    assert fourier.lambda_source in ("selected (constrained)",   # the default protocol
                                     "smallest grid λ (no λ within the margin)")
    assert fourier.selection_seeds == "1000-1002"
    assert fourier.lambda_protocol == "constrained"
    chosen = search[(search.regularizer == "fourier") & search.chosen]
    assert len(chosen) == 1 and fourier["lambda"] == pytest.approx(chosen["lambda"].iloc[0])
    assert set(search.regularizer) == {"fourier"}  # none needs no search
    assert (out / "optuna.db").is_file()
    config = json.loads((out / "config.json").read_text())
    assert config["tuning"]["trials"] == 2 and config["lambda_source"]["none"] == "registry"


def test_killed_run_resumes_to_the_same_results(smoke, tmp_path):
    """SIGKILL partway, rerun: the full table, no duplicates, the same numbers."""
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "killed"
    argv = [sys.executable, "-m", "regbench.cli", "run", "--preset", "smoke",
            "--regularizers", "all", "--out", str(out), "--no-progress"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and len(list((out / "runs").glob("*.json"))
                                         if (out / "runs").exists() else []) < 3:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = len(list((out / "runs").glob("*.json")))
    assert 3 <= finished < 2 * len(ALL), "the kill should land partway through the grid"
    subprocess.run(argv, check=True, capture_output=True, timeout=300)
    resumed = wide_results(pd.read_csv(out / "results.csv"))
    assert len(resumed) == 2 * len(ALL) and not resumed.duplicated(["regularizer", "seed"]).any()
    reference = wide_results(pd.read_csv(smoke / "results.csv"))
    columns = ["regularizer", "seed", "lambda", "val_loss", "test_auroc", "motif_auprc",
               "entropy", "ixg_motif_fraction"]
    key = ["regularizer", "seed"]
    pd.testing.assert_frame_equal(resumed[columns].sort_values(key).reset_index(drop=True),
                                  reference[columns].sort_values(key).reset_index(drop=True))


def test_pareto_tuning_shows_the_front_in_the_report(tmp_path):
    out = tmp_path / "pareto"
    assert main(["run", "--preset", "smoke", "--regularizers", "fourier,none", "--seeds", "1",
                 "--tune", "--objective", "pareto", "--trials", "3", "--trial-epochs", "1",
                 "--out", str(out), "--no-progress"]) == 0
    trials = pd.read_csv(out / "pareto.csv")
    assert trials["on_front"].any() and trials["chosen"].sum() == 1
    chosen = trials.loc[trials["chosen"], "lambda"].iloc[0]
    row = pd.read_csv(out / "results.csv").query("regularizer == 'fourier'").iloc[0]
    assert row["lambda"] == pytest.approx(chosen)
    assert "Pareto front" in (out / "report.html").read_text()
    assert (out / "figures" / "pareto_front.png").is_file()


def test_attributions_are_kept_for_seed_stability(smoke):
    df = pd.read_csv(smoke / "results.csv")
    row = df[(df.regularizer == "fourier") & (df.seed == 0)].iloc[0]
    with np.load(smoke / row.attributions) as stored, \
            np.load(smoke / "examples" / "fourier.npz") as examples:
        k = len(examples["names"])
        assert list(stored["names"][:k]) == list(examples["names"])
        np.testing.assert_allclose(stored["attr"][:k].astype(np.float32),
                                   examples["attr"].sum(axis=1), rtol=2e-3, atol=1e-6)
        # the hypothetical scores, whose observed base is the actual score
        hypothetical = stored["hypothetical"]
        assert hypothetical.dtype == np.float16
        assert hypothetical.shape == (len(stored["names"]), *examples["X"].shape[1:])
        np.testing.assert_allclose(hypothetical[:k].astype(np.float32) * examples["X"],
                                   examples["attr"], rtol=2e-3, atol=1e-6)
    assert all((smoke / p).is_file() for p in df.attributions)
    assert "Stability across seeds" in (smoke / "report.md").read_text()
    seeds = pd.read_csv(smoke / "stability.csv")
    assert seeds["jaccard"].notna().all() and seeds["jaccard_positional"].notna().all()


def test_stability_fraction_trains_on_a_share_and_reports_it(tmp_path):
    out = tmp_path / "run"
    assert main(["run", "--preset", "smoke", "--regularizers", "fourier,none", "--out",
                 str(out), "--stability-fraction", "0.1", "--no-progress"]) == 0
    full, part = pd.read_csv(out / "results.csv"), pd.read_csv(out / "results_fraction.csv")
    assert len(full) == len(part) == 8 and (full.data_fraction == 1).all()  # 2 methods
    assert (part.data_fraction == 0.1).all() and (part.status == "ok").all()
    # 10% of each class of the training rows, the same rows for every regularizer
    assert (part.train_rows == round(0.1 * full.train_rows.iloc[0] / 2) * 2).all()
    assert set(part.attributions).isdisjoint(full.attributions)
    report = (out / "report.md").read_text()
    assert "Stability: full data vs a share of it" in report
    assert "Stability across seeds" in report
    # the share models stay out of every other table
    assert len(pd.read_csv(out / "per_sequence.csv").groupby(["regularizer", "seed"])) == 4


def test_one_model_gets_the_same_attributions_in_any_run(smoke):
    """Evaluation references come from [evaluation] reference_seed, not the run's seed,
    so every model is explained against the same shuffles."""
    import torch

    from regbench.bench import Benchmark
    from regbench.options.config import preset_config
    from regbench.training.train import load_checkpoint

    config = preset_config("smoke")
    config.out, config.progress = str(smoke), False
    bench = Benchmark(config)
    bench.context.prepare_data()
    checkpoint = pd.read_csv(smoke / "results.csv").query(
        "regularizer == 'fourier' and seed == 1")["checkpoint"].iloc[0]
    model, _ = load_checkpoint(smoke / checkpoint)
    *first, attr_first, hypothetical_first = bench.executor.evaluate(model, 1, "fourier")
    *second, attr_second, hypothetical_second = bench.executor.evaluate(model, 5, "fourier")
    assert torch.equal(attr_first, attr_second)
    assert torch.equal(hypothetical_first, hypothetical_second)
    assert repr(first) == repr(second)   # NaN-aware: metrics without truth are NaN
    bench.config.evaluation = {"reference_seed": 1}  # the seed is really used
    assert not torch.equal(bench.executor.evaluate(model, 1, "fourier")[-2], attr_first)
    recorded = json.loads((smoke / "config.json").read_text())
    assert recorded["evaluation"]["reference_seed"] == 0


def test_evaluation_freq_limit_is_its_own_setting(smoke):
    """T of the high-frequency fraction comes from [evaluation], not from the Fourier
    prior's parameters; 0.15 L by default."""
    from regbench import RegbenchError
    from regbench.bench import Benchmark
    from regbench.options.config import preset_config

    config = preset_config("smoke")
    config.out, config.progress = str(smoke), False
    config.regularizer_params = {"fourier": {"freq_limit": 5}}
    bench = Benchmark(config)
    bench.context.prepare_data()
    assert bench.context.freq_limit() == 15  # 0.15 x 100 bp, whatever the prior uses
    bench.config.evaluation = {"freq_limit": 7}
    assert bench.context.freq_limit() == 7
    bench.config.evaluation = {"freq_limit": 80}
    with pytest.raises(RegbenchError, match="freq_limit must be an integer in 1 .. L//2"):
        bench.context.freq_limit()


def test_help_and_bad_options_answer_before_torch_loads(tmp_path):
    import subprocess
    import sys
    code = ("import sys, contextlib, io\n"
            "from regbench.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    try:\n"
            "        main(['run', '--help'])\n"
            "    except SystemExit:\n"
            "        pass\n"
            f"assert main(['run', '--seeds', '0', '--out', {str(tmp_path / 'x')!r}]) == 2\n"
            "assert main(['tune', '--preset', 'huge']) == 2\n"
            "print('torch' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.strip() == "False", done.stderr


def test_a_data_folder_without_motifs_bed_says_what_is_not_scored(smoke, tmp_path, capsys):
    from regbench.options.config import preset_config
    from regbench.runner.context import RunContext
    data = tmp_path / "data"
    data.mkdir()
    for name in ("sequences.fa", "labels.tsv"):
        (data / name).write_bytes((smoke / "data" / name).read_bytes())
    config = preset_config("smoke")
    config.data, config.scenario, config.out = str(data), None, str(tmp_path / "out")
    RunContext(config).check_data()
    assert "has no motifs.bed, so the motif metrics" in capsys.readouterr().out


@pytest.mark.parametrize("terminal, argv, shown", [(True, [], True),
                                                   (True, ["--no-progress"], False),
                                                   (False, [], False)])
def test_progress_bars_only_on_a_terminal(monkeypatch, terminal, argv, shown):
    import sys

    from regbench.cli import build_parser
    from regbench.commands.run import resolve_config
    monkeypatch.setattr(sys.stderr, "isatty", lambda: terminal)
    args = build_parser("run").parse_args(["run", "--preset", "smoke", *argv])
    assert resolve_config(args).progress is shown
