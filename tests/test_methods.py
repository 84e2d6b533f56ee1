"""The evaluation attribution methods by name (saliency, integrated gradients, ISM and
the gradient-corrected variants): known answers on linear models, extra model inputs,
"all" in [evaluation] methods, and `regbench methods`."""
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from tangermeme.ersatz import dinucleotide_shuffle
from torch import nn

from regbench.attributions import (ExplainSettings, explain, input_x_gradient,
                                   list_attribution_methods, register_attribution_method,
                                   unregister_attribution_method)
from regbench.cli import main
from regbench.options.config import EvaluationConfig, RunConfig
from regbench.data import Dataset
from regbench.errors import RegbenchError
from regbench.evaluate import evaluate

L, T, TARGET = 12, 2, 1
NEW = ["saliency", "saliency_corrected", "input_x_gradient_corrected", "integrated_gradients",
       "integrated_gradients_corrected", "integrated_gradients_zero", "ism"]


class Linear(nn.Module):
    """f(x)[t] = scale * sum(w[t] * x) + b[t], float64; ``scale`` (N,) is an optional
    extra input (the role of a profile model's control tracks): never attributed, but
    every evaluation of f must get its row."""

    def __init__(self, seed=0):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.w = nn.Parameter(torch.randn(T, 4, L, generator=gen, dtype=torch.float64))
        self.b = nn.Parameter(torch.randn(T, generator=gen, dtype=torch.float64))

    def forward(self, X, scale=None):             # (N, 4, L) -> (N, T)
        out = torch.einsum("nbl,tbl->nt", X, self.w)
        return (out if scale is None else out * scale[:, None]) + self.b


def one_hot(n, seed=0):
    codes = torch.randint(0, 4, (n, L), generator=torch.Generator().manual_seed(seed))
    return nn.functional.one_hot(codes, 4).permute(0, 2, 1).to(torch.float64)


def shuffled_references(X, n_shuffles, seed):
    """(N, K, 4, L): reference k of every row drawn with seed ``seed + k``."""
    return torch.stack([dinucleotide_shuffle(X, n=1, random_state=[seed + k] * len(X))[:, 0]
                        for k in range(n_shuffles)], dim=1)


def corrected(w):
    return w - w.mean(dim=0, keepdim=True)


@pytest.fixture
def linear():
    model, X = Linear(), one_hot(5)
    model.train()  # each method must explain in eval mode and give the mode back
    return model, X, model.w.detach()[TARGET]


def run(name, model, X, **kw):
    settings = ExplainSettings(**{"target": TARGET, "batch_size": 3, "n_shuffles": 4,
                                  "reference_seed": 7, **kw})
    attr = explain(name, model, X, settings)
    assert model.training and attr.shape == X.shape and attr.dtype == torch.float64
    return attr


def test_saliency_is_the_weights_at_every_base(linear):
    model, X, w = linear
    assert torch.equal(run("saliency", model, X), w.expand_as(X))
    assert torch.equal(run("saliency_corrected", model, X), corrected(w).expand_as(X))


def test_input_x_gradient_and_its_correction(linear):
    model, X, w = linear
    assert torch.equal(run("input_x_gradient", model, X), X * w)
    assert torch.equal(run("input_x_gradient_corrected", model, X), X * corrected(w))
    with pytest.raises(RegbenchError, match="evaluation option"):
        input_x_gradient(model, X, create_graph=True, corrected=True)


@pytest.mark.parametrize("steps", [1, 20])
def test_integrated_gradients_from_zero_is_x_times_w(linear, steps):
    model, X, w = linear
    torch.testing.assert_close(run("integrated_gradients_zero", model, X, ig_steps=steps),
                               X * w, rtol=1e-12, atol=1e-12)


def test_integrated_gradients_against_shuffles_is_complete(linear):
    model, X, w = linear
    refs = shuffled_references(X, 4, seed=7)                 # (N, 4 refs, 4, L)
    attr = run("integrated_gradients", model, X)
    torch.testing.assert_close(attr, (X - refs.mean(dim=1)) * w, rtol=1e-12, atol=1e-12)
    with torch.no_grad():  # completeness: f(x) - mean f(x')
        fx = model(X)[:, TARGET]
        fref = model(refs.flatten(0, 1))[:, TARGET].view(len(X), 4).mean(dim=1)
    torch.testing.assert_close(attr.sum(dim=(1, 2)), fx - fref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(run("integrated_gradients_corrected", model, X),
                               (X - refs.mean(dim=1)) * corrected(w), rtol=1e-12, atol=1e-12)
    # the same references as DeepLIFT/SHAP: per position, the same sum over bases
    shap = run("deep_lift_shap", model, X)
    torch.testing.assert_close(shap.sum(dim=1), attr.sum(dim=1), rtol=1e-10, atol=1e-10)
    assert not torch.allclose(run("integrated_gradients", model, X, reference_seed=8), attr)


def test_ism_is_the_substitution_effect(linear):
    model, X, w = linear
    attr = run("ism", model, X)
    torch.testing.assert_close(attr, w - (X * w).sum(dim=1, keepdim=True),
                               rtol=1e-12, atol=1e-12)
    assert torch.all(attr[X == 1] == 0)                     # the observed base: no change


@pytest.mark.parametrize("name", ["saliency", "saliency_corrected", "input_x_gradient",
                                  "input_x_gradient_corrected", "integrated_gradients",
                                  "integrated_gradients_corrected",
                                  "integrated_gradients_zero", "ism", "deep_lift_shap"])
def test_extra_model_inputs_reach_every_evaluation_row_for_row(linear, name):
    """With f = scale * (w . x) + b every method's answer is scale times the plain one:
    the args reach each batch, step and reference with their own example's row."""
    model, X, _ = linear
    scale = torch.tensor([0.5, -1.0, 2.0, 3.0, -0.25], dtype=torch.float64)
    plain = run(name, model, X)
    torch.testing.assert_close(run(name, model, X, args=(scale,)),
                               scale[:, None, None] * plain, rtol=1e-10, atol=1e-10)


def test_methods_all_expands_and_unknown_names_are_one_line():
    everything = list_attribution_methods()
    assert set(NEW) < set(everything)
    assert EvaluationConfig(methods="all").methods == everything
    assert EvaluationConfig(methods=["all"]).methods == everything
    assert EvaluationConfig(methods="ism, saliency").methods == ["ism", "saliency"]
    with pytest.raises(RegbenchError, match=r"unknown attribution method\(s\) nope; known: "
                                            r"deep_lift_shap, .*ism"):
        EvaluationConfig(methods=["saliency", "nope"])
    with pytest.raises(RegbenchError, match="methods is empty"):
        EvaluationConfig(methods=[])
    config = RunConfig(preset="smoke", evaluation={"methods": "all"})
    config.validate()
    assert config.evaluation_config().methods == everything
    config.evaluation["methods"] = 3
    with pytest.raises(RegbenchError, match=r"\[evaluation\] methods = 3 is not valid"):
        config.validate()


def test_an_unknown_method_in_the_config_stops_the_run_before_anything_is_written(
        tmp_path, capsys):
    (tmp_path / "c.toml").write_text('[evaluation]\nmethods = ["saliency", "nope"]\n')
    out = tmp_path / "run"
    assert main(["run", "--preset", "smoke", "--config", str(tmp_path / "c.toml"),
                 "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "unknown attribution method(s) nope; known: deep_lift_shap" in err and "ism" in err
    assert not out.exists()


def test_the_built_in_labels_are_known_without_torch():
    """regbench.store.runs names every built-in method as the registry does, in the
    registry's order (the report's order of methods), so the report and a config of
    built-in names need no torch."""
    code = ("import json, sys\nfrom regbench.options.config import EvaluationConfig\n"
            "from regbench.store.runs import METHOD_LABELS\n"
            "methods = EvaluationConfig(methods=list(reversed(METHOD_LABELS))).methods\n"
            "print(json.dumps([list(METHOD_LABELS.items()), methods, "
            "'torch' in sys.modules]))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    labels, methods, torch_loaded = json.loads(done.stdout)
    from regbench.attributions import describe_attribution_method
    registered = [[m, describe_attribution_method(m).label] for m in list_attribution_methods()]
    assert labels == registered                      # the same names, labels and order
    assert methods == [m for m, _ in reversed(registered)]   # resolved as given, torch-free
    assert not torch_loaded


def test_regbench_methods_lists_names_labels_and_descriptions(capsys):
    register_attribution_method("mine", label="my method")(lambda model, X, s: X)
    try:
        assert main(["methods", "--format", "tsv"]) == 0
        rows = [line.split("\t") for line in capsys.readouterr().out.strip().splitlines()]
        assert rows[0] == ["name", "label", "description"]
        assert [r[0] for r in rows[1:]] == list_attribution_methods()
        listed = {r[0]: r for r in rows[1:]}
        assert listed["mine"] == ["mine", "my method", "-"]
        assert listed["ism"][1] == "ISM" and "observed base" in listed["ism"][2]
        assert "Majdandzic" in listed["saliency_corrected"][2]
        assert "shuffled" in listed["integrated_gradients"][1]
        assert "zero baseline" in listed["integrated_gradients_zero"][1]
        assert main(["methods"]) == 0
        table = capsys.readouterr().out
        assert "corrected integrated gradients vs shuffled refs" in table
    finally:
        unregister_attribution_method("mine")


def test_every_method_is_scored_by_evaluate(small_task, motif_problem):
    codes, labels = motif_problem(n=16)
    mask = np.zeros(codes.shape, bool)
    test = Dataset.from_arrays([f"s{i}" for i in range(16)], codes, labels, ["test"] * 16,
                               tasks=["motif"], motif_mask=mask)
    torch.manual_seed(0)
    model = small_task.build_model()
    config = EvaluationConfig(methods="all", n_shuffles=2, max_sequences=3, batch_size=64)
    result = evaluate(model, test, small_task, config, device="cpu")
    assert list(result.summary["method"].unique()) == list_attribution_methods()
    assert list(result.per_sequence["method"].value_counts()) == [3] * len(
        list_attribution_methods())
    for name, attr in result.attributions.items():
        assert attr.shape == (3, 4, 60) and torch.isfinite(attr).all(), name
        assert attr.abs().sum() > 0, name
    values = result.summary.set_index(["method", "metric"])["value"]
    assert np.isfinite(values.loc[(NEW, "entropy")]).all()
