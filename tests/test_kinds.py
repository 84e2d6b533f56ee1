"""Regularizer kinds as types: chosen once from ``needs``; the trainers and the plan ask
the kind and never read ``needs`` themselves."""
from pathlib import Path
from types import SimpleNamespace

import pytest

import regbench
from regbench.regularizers import get_spec
from regbench.regularizers.kinds import (AttributionPrior, BatchTransform,
                                         ExpectedGradientsPrior, GradientPrior, ModelOption,
                                         NoPenalty, ParameterPenalty, StepPenalty)

ROOT = Path(regbench.__file__).parent


@pytest.mark.parametrize("name,kind,extra", [
    ("none", NoPenalty, 0), ("fourier", AttributionPrior, 1), ("smoothness", AttributionPrior, 1),
    ("fourier@eg", ExpectedGradientsPrior, 1), ("l1_gradient", GradientPrior, 1),
    ("l2", ParameterPenalty, 0), ("saliency_guided", StepPenalty, 1),
    ("evoaug", BatchTransform, 0), ("dropout", ModelOption, 0)])
def test_the_kind_is_chosen_once_from_needs(name, kind, extra):
    reg = regbench.get_regularizer(name)
    assert type(reg.kind) is kind and reg.kind.regularizer is reg
    assert reg.kind.extra_backward_passes(1.0) == extra
    assert reg.kind.extra_backward_passes(0.0) == 0
    assert reg.kind.takes_lambda == get_spec(name).takes_lambda
    assert regbench.get_regularizer("fourier@eg", eg_references=3).kind \
        .extra_backward_passes(2.0) == 3


def test_model_options_and_transforms_come_from_their_kinds():
    assert regbench.get_regularizer("dropout", rate=0.3).model_options() == {"dropout": 0.3}
    assert regbench.get_regularizer("fourier").model_options() == {}
    X, y = object(), object()
    assert regbench.get_regularizer("fourier").transform(X, y, None) == (X, y)


def test_trainers_fit_loop_and_plan_never_read_needs():
    for module in ("train.py", "group.py", "fit.py", "checkpoint.py"):
        assert ".needs" not in (ROOT / "training" / module).read_text(), module
    # the plan reads no needs at all (it once read metrics' needs, for the Holm families)
    assert ".needs" not in (ROOT / "runner" / "plan.py").read_text()


def test_the_plan_times_each_kind_as_the_run_configures_it(monkeypatch):
    """A step penalty gets its own timing (not none's), an attribution prior on
    expected gradients with [regularizer_params] eg_references = 2 its own; priors of
    one kind and cost share one."""
    import regbench.runner.plan as plan
    params = {"fourier@eg": {"eg_references": 2}}
    names = ["none", "fourier", "smoothness", "saliency_guided", "fourier@eg", "l2", "evoaug"]
    data = SimpleNamespace(regularizers={n: get_spec(n).create(**params.get(n, {}))
                                         for n in names})
    timed_with = []

    def step_seconds(data, name):
        reg = data.regularizers[name]
        timed_with.append((name, reg.kind.extra_backward_passes(1.0)))
        return float(len(timed_with))

    monkeypatch.setattr(plan, "step_seconds", step_seconds)
    seconds = plan.timed_steps(data, names)
    assert timed_with == [("none", 0), ("fourier", 1), ("saliency_guided", 1),
                          ("fourier@eg", 2), ("l2", 0), ("evoaug", 0)]
    assert seconds == {"none": 1.0, "fourier": 2.0, "smoothness": 2.0,
                       "saliency_guided": 3.0, "fourier@eg": 4.0, "l2": 5.0, "evoaug": 6.0}
