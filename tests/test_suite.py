"""Suites (``regbench run --suite``): points, sweeps, nested shares, resuming, the report."""
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from regbench.cli import main

TINY = """
[experiment.config]
seeds = 2
simulate = {positives = 60, negatives = 60}
"""


def _suite(tmp_path, body: str, name="mine") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(body)
    return path


def _run(path, out, *extra) -> int:
    return main(["run", "--suite", str(path), "--preset", "smoke", "--regularizers",
                 "none,fourier", "--out", str(out), "--no-progress", *extra])


def test_a_gc_sweep_suite_really_sweeps_gc(tmp_path):
    path = _suite(tmp_path, """
description = "tiny GC sweep"
[[experiment]]
name = "GC shortcut"
kind = "gc_sweep"
scenario = "spi1_gc_bias"
sweep = "gc.positives"
values = [0.4, 0.7]
""" + TINY)
    out = tmp_path / "out"
    assert _run(path, out) == 0
    manifest = json.loads((out / "suite.json").read_text())
    assert [p["gc_gap"] for p in manifest["points"]] == pytest.approx([0.0, 0.3])
    from regbench.data import load_dataset
    from regbench.data.genome import gc_fraction
    gc = []
    for point in manifest["points"]:
        data = load_dataset(out / point["folder"] / "data")
        gc.append(gc_fraction(data.codes[data.labels[:, 0] == 1]).mean())
    assert gc[1] - gc[0] > 0.2        # the positives' background really is GC-richer
    results = pd.read_csv(out / "results.csv")
    assert set(results["point"]) == {"gc.positives=0.4", "gc.positives=0.7"}
    assert results["balanced_auroc"].between(0, 1).all()
    report = (out / "report.md").read_text()
    assert "## Verdict" in report and "## GC shortcut" in report
    assert "figures/gc_sweep.png" in report and "## How this was made" in report


def test_shares_of_the_training_rows_are_nested(tmp_path):
    from regbench.options.config import preset_config
    from regbench.runner.context import RunContext
    config = preset_config("smoke")
    config.out, config.progress = str(tmp_path), False
    context = RunContext(config)
    context.prepare_data()
    for seed in (0, 1):
        names = {f: set(context.train_rows(seed, f).names) for f in (1.0, 0.5, 0.25, 0.1)}
        assert names[0.1] < names[0.25] < names[0.5] < names[1.0]
        positives = context.train_rows(seed, 0.25).labels[:, 0].mean()
        assert positives == pytest.approx(context.split("train").labels[:, 0].mean(), abs=0.02)
    assert set(context.train_rows(0, 0.1).names) != set(context.train_rows(1, 0.1).names)


def test_a_stability_suite_reports_each_share(tmp_path):
    path = _suite(tmp_path, """
[[experiment]]
name = "Stability"
kind = "stability"
fractions = [0.5, 0.25]
""" + TINY)
    out = tmp_path / "out"
    assert _run(path, out) == 0
    shares = pd.read_csv(out / "results_fraction.csv")
    assert sorted(shares["data_fraction"].unique()) == [0.25, 0.5]
    assert (shares.groupby("data_fraction")["train_rows"].first().diff().dropna() > 0).all()
    report = (out / "report.md").read_text()
    assert "shares (0.5, 0.25)" in report and "Jaccard between seeds" in report
    # every number of the stability tables, tagged like results.csv
    seeds = pd.read_csv(out / "stability.csv")
    fraction = pd.read_csv(out / "stability_fraction.csv")
    for frame in (seeds, fraction):
        assert list(frame.columns[:5]) == ["experiment", "kind", "point", "sweep", "value"]
        assert (frame["experiment"] == "Stability").all() and frame["jaccard"].notna().all()
        assert frame["jaccard_positional"].between(-1, 1).all()
    assert sorted(fraction["fraction"].unique()) == [0.25, 0.5]
    assert "positional Jaccard, the paper's" in report


def test_a_suite_report_computes_each_points_stability_once(tmp_path, monkeypatch):
    """The stability CSVs and the section share one point folder, so the point's
    attributions are read and compared once per report (they were read four times);
    the tables are unchanged."""
    from regbench.report import stability
    from regbench.suites.report import write_suite_report
    path = _suite(tmp_path, '[[experiment]]\nname = "S"\nkind = "stability"\n'
                  'fractions = [0.5]\n' + TINY)
    out = tmp_path / "out"
    assert _run(path, out) == 0
    before = (out / "stability.csv").read_bytes()
    loads = []
    real = stability.load_attributions
    monkeypatch.setattr(stability, "load_attributions",
                        lambda *a, **k: loads.append(a) or real(*a, **k))
    write_suite_report(out)
    assert len(loads) == 2          # the full-data models', then the share models'
    assert (out / "stability.csv").read_bytes() == before


def test_a_user_suite_with_an_unknown_key_exits_2_naming_it(tmp_path, capsys):
    path = _suite(tmp_path, """
[[experiment]]
name = "x"
kind = "compare"
sweeep = "gc.positives"
""")
    assert _run(path, tmp_path / "out") == 2
    err = capsys.readouterr().err.strip()
    assert "sweeep" in err and str(path) in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()
    bad_value = _suite(tmp_path, '[[experiment]]\nkind = "gc_sweep"\nsweep = "gc.nope"\n'
                                 'values = [0.5]\nscenario = "spi1_gc_bias"\n', "bad")
    assert _run(bad_value, tmp_path / "out2") == 2
    assert "gc.nope" in capsys.readouterr().err
    assert not (tmp_path / "out2").exists()
    no_sweep = _suite(tmp_path, '[[experiment]]\nkind = "gc_sweep"\n'
                                'scenario = "spi1_gc_bias"\n', "nosweep")
    assert _run(no_sweep, tmp_path / "out3") == 2
    assert "a gc_sweep experiment needs sweep and values" in capsys.readouterr().err
    assert _run("gc-sweep", tmp_path / "out4", "--data", str(tmp_path)) == 2
    assert "--data does not go with --suite gc-sweep" in capsys.readouterr().err
    assert not (tmp_path / "out3").exists() and not (tmp_path / "out4").exists()


def test_a_compare_suite_gives_a_verdict_in_valid_html(tmp_path):
    path = _suite(tmp_path, '[[experiment]]\nname = "Comparison"\nkind = "compare"\n' + TINY)
    out = tmp_path / "out"
    assert _run(path, out) == 0
    html = (out / "report.html").read_text()
    first = html.index("<h2>")
    assert html[first:].startswith("<h2>Verdict</h2>")
    # The best mean is marked, not starred (★ belongs to the primary endpoint's tests);
    # the primary endpoint's table states its error rate.
    assert "(best mean)" in html and "The best mean&#x27;s lead (secondary)" in html
    assert ("Primary endpoint, declared for the suite&#x27;s task on the ground truth its "
            "runs hold") in html
    assert "Benjamini-Hochberg controls the false discovery rate at 5%" in html
    images = re.findall(r"<img [^>]*>", html)
    assert images and all('src="data:image/png;base64,' in img for img in images)
    assert all(re.search(r'alt="[^"]{20,}"', img) for img in images)   # captions
    tables = re.findall(r"<table>(.*?)</table>", html, flags=re.S)
    assert tables and all(t.count("<tr>") >= 2 for t in tables)        # header + rows


def test_a_suite_resumes_after_a_kill(tmp_path):
    """kill -9 in the middle of the second point; the rerun trains only what is
    missing and keeps every stored run."""
    path = _suite(tmp_path, """
[[experiment]]
name = "GC"
kind = "gc_sweep"
scenario = "spi1_gc_bias"
sweep = "gc.positives"
values = [0.4, 0.6]
""" + TINY)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "regbench.cli", "run", "--suite", str(path), "--preset",
               "smoke", "--regularizers", "none,fourier", "--out", str(out), "--no-progress"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    worker = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 240
    while time.time() < deadline and len(list(out.glob("points/*/runs/*.json"))) < 5:
        time.sleep(0.05)
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()
    stored = {p: p.stat().st_mtime_ns for p in out.glob("points/*/runs/*.json")}
    assert 5 <= len(stored) < 8 and not (out / "report.html").exists()
    assert subprocess.run(command, env=env, capture_output=True).returncode == 0
    after = list(out.glob("points/*/runs/*.json"))
    assert len(after) == 8                                   # 2 points x 2 regs x 2 seeds
    assert all(p.stat().st_mtime_ns == t for p, t in stored.items())   # none retrained
    assert len(pd.read_csv(out / "results.csv").drop_duplicates(
        ["point", "regularizer", "seed"])) == 8


def test_shipped_suites_load():
    from regbench.suites.suite import list_suites, load_suite
    assert {"compare", "stability", "gc-sweep", "data-scarcity", "multi-motif",
            "paper", "lambda"} <= set(list_suites())
    for name in list_suites():
        suite = load_suite(name)
        assert suite.experiments
    assert load_suite("paper").preset == "paper"
    assert np.isclose(load_suite("paper").experiments[1].fractions, [0.1, 0.01]).all()


def test_two_suites_on_the_same_data_share_their_runs(tmp_path):
    """A stability suite, then a data-scarcity suite on the same scenario and
    configuration into the same folder: the second trains only its new share."""
    first = _suite(tmp_path, '[[experiment]]\nname = "S"\nkind = "stability"\n'
                             'fractions = [0.5]\n' + TINY, "first")
    second = _suite(tmp_path, '[[experiment]]\nname = "D"\nkind = "data_scarcity"\n'
                              'fractions = [0.5, 0.25]\n' + TINY, "second")
    out = tmp_path / "out"
    assert _run(first, out) == 0
    stored = {p: p.stat().st_mtime_ns for p in out.glob("points/*/runs/*.json")}
    assert len(stored) == 8                      # 2 regularizers x 2 seeds x (1 + 1 share)
    assert _run(second, out) == 0
    after = list(out.glob("points/*/runs/*.json"))
    assert len(after) == 12 and all(p.stat().st_mtime_ns == t for p, t in stored.items())
    shares = pd.read_csv(out / "results_fraction.csv")
    assert set(shares["experiment"]) == {"D"} and set(shares["data_fraction"]) == {0.5, 0.25}
    assert "## D" in (out / "report.md").read_text()


def test_a_multi_motif_suite_scores_each_task_on_its_own_motifs(tmp_path):
    path = _suite(tmp_path, '[[experiment]]\nname = "Factors"\nkind = "multi_motif"\n'
                            'scenario = "multi_motif"\n' + TINY
                  + 'evaluation = {methods = ["input_x_gradient"]}\n')
    out = tmp_path / "out"
    assert _run(path, out) == 0
    results = pd.read_csv(out / "results.csv")
    assert "| CTCF | fourier |" in (out / "report.md").read_text()
    from regbench.data import load_dataset
    from regbench.suites.extras import _task_motif_masks
    folder = out / json.loads((out / "suite.json").read_text())["points"][0]["folder"]
    data = load_dataset(folder / "data")
    expected = _own_motif_masks(data)
    assert set(expected) == {"SPI1", "GATA", "CTCF"} and all(m.any() for m in expected.values())
    masks = _task_motif_masks(data, data)
    assert {t: m.tolist() for t, m in masks.items()} == {
        t: m.tolist() for t, m in expected.items()}
    # the simulation never overlaps instances: a position belongs to one task at most
    assert not (masks["SPI1"] & masks["GATA"]).any()
    assert not ((masks["SPI1"] | masks["GATA"]) & masks["CTCF"]).any()
    # each task's auROC from its own output, its motif fraction from the attributions of
    # that output on the test rows positive for it, against its own motifs: by hand
    assert len(results) == 4
    for r in results.itertuples():
        by_hand = _per_task_scores(folder / r.checkpoint, data, expected)
        for task, (auroc, fraction) in by_hand.items():
            assert getattr(r, f"auroc_{task}") == pytest.approx(auroc, abs=1e-9), task
            assert getattr(r, f"motif_fraction_{task}") == pytest.approx(fraction, rel=1e-4)


def _own_motif_masks(data) -> dict:
    """{task: (N, L) bool} of every row of ``data``: the positions of the instances
    (motifs.bed) of the motifs the manifest gives to that task."""
    row = {n: i for i, n in enumerate(data.names)}
    masks = {}
    for motif in data.manifest["motifs"]:
        for task in motif["tasks"]:
            mask = masks.setdefault(task, np.zeros((len(data.names), data.length), bool))
            for r in data.motifs[data.motifs["name"] == motif["id"]].itertuples():
                mask[row[r.chrom], r.start:r.end] = True
    return masks


def _per_task_scores(checkpoint, data, masks) -> dict:
    """{task: (test auROC of output t, mean motif fraction of input x gradient of
    output t over the first 16 test rows positive for t)}, by sklearn and autograd."""
    import torch
    from sklearn.metrics import roc_auc_score

    from regbench.data import one_hot
    from regbench.training.train import load_checkpoint
    model, _ = load_checkpoint(checkpoint)
    test = data.subset("test")
    rows = [data.names.index(n) for n in test.names]
    X = one_hot(test.codes).float().requires_grad_()
    logits = model(X)
    scores = {}
    for i, task in enumerate(data.tasks):
        positive = np.flatnonzero(test.labels[:, i] > 0)[:16]       # max_sequences
        (grad,) = torch.autograd.grad(logits[:, i].sum(), X, retain_graph=True)
        g = (grad * X).abs().sum(1).detach().numpy()[positive]      # (n, L)
        inside = (g * masks[task][rows][positive]).sum(1) / g.sum(1)
        scores[task] = (roc_auc_score(test.labels[:, i], logits[:, i].detach().numpy()),
                        inside.mean())
    return scores


def test_a_registered_suite_kind_adds_its_columns_and_its_report_section(tmp_path,
                                                                          monkeypatch):
    """A suite kind is a registered object: a suite file may name it, its extras (one
    value per run, from the point's RunContext) reach results.csv and its section the
    report; a name registered twice is refused."""
    from regbench.suites import kinds as suite_kinds
    from regbench.errors import RegbenchError
    from regbench.report.render import Text
    from regbench.suites.suite import load_suite
    path = _suite(tmp_path, '[[experiment]]\nname = "Counted"\nkind = "counted"\n' + TINY)
    with pytest.raises(RegbenchError, match="kind = 'counted' is not valid"):
        load_suite(path)

    def extras(point, context):
        runs = pd.read_csv(context.out / "results.csv").drop_duplicates(["regularizer", "seed"])
        return pd.DataFrame({"regularizer": runs["regularizer"], "seed": runs["seed"],
                             "test_rows": len(context.split("test").names)})

    def section(out, experiment, results, shares, order, manifest):
        yield Text(f"Counted: {len(results)} runs on {int(results['test_rows'].iloc[0])} "
                   "test rows each.")

    # a copy of the entries, so the kind is gone after the test
    monkeypatch.setattr(suite_kinds.SUITE_KINDS, "_entries",
                        dict(suite_kinds.SUITE_KINDS._entries))
    suite_kinds.register_suite_kind(suite_kinds.SuiteKind(
        "counted", "the test rows of each run", section, extras, ("test_rows",)))
    with pytest.raises(RegbenchError, match="suite kind named 'counted' is already registered"):
        suite_kinds.register_suite_kind(suite_kinds.SuiteKind("counted", "again", section))
    out = tmp_path / "out"
    assert _run(path, out) == 0
    results = pd.read_csv(out / "results.csv")
    manifest = json.loads((out / "suite.json").read_text())
    sizes = manifest["points"][0]["sizes"]
    assert (results["test_rows"] == sizes["test"]).all()
    assert manifest["experiments"][0]["what"] == "the test rows of each run"
    report = (out / "report.md").read_text()
    assert f"Counted: 4 runs on {sizes['test']} test rows each." in report
    assert "the test rows of each run" in report


def test_a_profile_suites_report_names_the_profile_presets_differences(tmp_path):
    """The 'how it differs from the paper' line is the suite's task's text: a profile
    suite's quick preset is 646 bp in and 300 out, not the binary 200 bp."""
    from regbench.suites.report import how_made
    results = pd.DataFrame({"regularizer": ["none"], "train_seconds": [1.0]})
    manifest = {"suite": "s", "preset": "quick", "points": []}

    def line(task):
        section = how_made({**manifest, "task": task} if task else manifest, results,
                           tmp_path)
        return next(i for i in section.blocks[0].items if i.startswith("Preset:"))

    assert "646-bp inputs and 300-bp" in line("profile")
    assert "200 bp instead of 1000" in line("binary")
    assert line(None) == line("binary")        # suite.json before the task was recorded
