"""Grouped training inside a comparison (``models_per_group``): over the smoke preset's
three epochs members' results match solo runs within rounding (over a whole training
the rounding grows, as between thread counts: docs/distributed.md), non-groupable regularizers
train solo, and a shared grid's cells are the groups."""
import json

import pandas as pd
import pytest

from regbench.bench import Benchmark
from regbench.options.config import preset_config

def comparison(data, out, models_per_group, **settings):
    config = preset_config("smoke")
    config.data, config.scenario, config.out = str(data), None, str(out)
    config.regularizers = ["none", "fourier", "l2", "saliency_guided"]
    config.seeds, config.progress, config.device = 3, False, "cpu"
    config.models_per_group = models_per_group
    for key, value in settings.items():
        setattr(config, key, value)
    bench = Benchmark(config)
    bench.run(report=False)
    return bench, pd.read_csv(out / "results.csv")


@pytest.fixture(scope="module")
def data(tmp_path_factory, tune_kit):
    return tune_kit.make_dataset(tmp_path_factory.mktemp("group") / "data")


@pytest.fixture(scope="module")
def solo(data, tmp_path_factory):
    return comparison(data, tmp_path_factory.mktemp("solo") / "out", 1)[1]


def test_grouped_seeds_match_solo_runs(data, solo, tmp_path, tune_kit):
    bench, grouped = comparison(data, tmp_path / "out", 3)
    assert bench.context.seed_groups("fourier") == [[0, 1, 2]]
    assert bench.context.seed_groups("saliency_guided") == [[0], [1], [2]]   # needs="step": solo
    assert list(grouped["regularizer"]) == list(solo["regularizer"])
    assert (grouped["epochs"] == solo["epochs"]).all()
    assert (grouped["best_epoch"] == solo["best_epoch"]).all()
    # Measured on this data: test loss within 3e-5, attribution metrics within 5e-3.
    for column, tolerance in (("val_loss", 1e-4), ("test_loss", 1e-4), ("test_auroc", 1e-3),
                              ("motif_auprc", 2e-2), ("highfreq_fraction", 2e-2)):
        diff = (grouped[column] - solo[column]).abs().max()
        assert diff <= tolerance, (column, diff)
    alone = grouped["regularizer"] == "saliency_guided"   # trained solo both times
    tune_kit.same_results(grouped[alone], solo[alone])


def test_a_shared_grid_claims_whole_groups(data, tmp_path, tune_kit):
    url = f"sqlite:///{tmp_path / 'grid.db'}"
    _, local = comparison(data, tmp_path / "local", 2)
    _, shared = comparison(data, tmp_path / "shared", 2,
                           tuning={"storage": url, "study_name": "g"})
    grid = json.loads((tmp_path / "shared" / "grid.json").read_text())
    assert sorted(len(seeds) for _, seeds, _ in grid["cells"].values()) == \
        [1] * 6 + [2] * 3   # none, fourier, l2: seeds 0-1 and 2; saliency_guided solo
    assert len(grid["runs"]) == 12
    tune_kit.same_results(shared, local)
