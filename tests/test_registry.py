"""The regularizer registry, from inside and from outside the package."""
import subprocess
import sys
import textwrap

import pytest
import torch

import regbench
from regbench import RegbenchError
from regbench.regularizers.registry import _REGISTRY


def test_builtins_are_registered_with_ranges():
    names = regbench.list_regularizers()
    assert {"none", "l2", "fourier", "smoothness", "sparsity"} <= set(names)
    spec = regbench.get_regularizer("fourier").spec
    assert spec.needs == "attributions"
    assert spec.params == {"freq_limit": None, "softness": 0.2, "smooth_sigma": 3}
    assert spec.lambda_range[0] < spec.default_lambda < spec.lambda_range[1]
    assert regbench.get_regularizer("l2").needs == "parameters"
    assert regbench.get_regularizer("none").needs == "nothing"


def test_unknown_name_lists_known_ones():
    with pytest.raises(RegbenchError, match="unknown regularizer 'fourrier'.*fourier.*sparsity"):
        regbench.get_regularizer("fourrier")


def test_unknown_parameter_is_rejected():
    with pytest.raises(RegbenchError, match="no parameter.*bogus"):
        regbench.get_regularizer("fourier", bogus=1)


@pytest.mark.parametrize("name", [*regbench.list_regularizers(), "fourier@eg"])
def test_every_regularizer_parameter_refuses_a_value_of_the_wrong_type(name):
    """Issue 42: [regularizer_params.fourier] freq_limit = "x" was a traceback while
    planning. Every parameter is checked when the regularizer is bound, from its
    annotation or its default: a string for a number, a number for a string."""
    spec = _spec(name)
    for param, default in spec.params.items():
        wrong = 1.5 if isinstance(default, str) else "x"
        with pytest.raises(RegbenchError, match=rf"'{name}': {param} = .* is not valid: "
                                                rf"expected .*, or leave it out"):
            spec.create(**{param: wrong})
        spec.create(**{param: default})   # its default goes


def _spec(name):
    from regbench.regularizers import get_spec
    return get_spec(name)


def test_regularizer_parameters_take_what_toml_and_python_give():
    """Whole floats for integers (TOML's 10.0), integers for floats, None where the
    annotation allows it, numpy numbers; a bool is no number."""
    import numpy as np
    fourier = _spec("fourier")
    for params in ({"freq_limit": 10.0}, {"freq_limit": None}, {"smooth_sigma": 2},
                   {"freq_limit": np.int64(12)}, {"softness": np.float32(0.1)}):
        assert fourier.create(**params).params[next(iter(params))] == params[
            next(iter(params))]
    for params in ({"freq_limit": 10.5}, {"softness": True}, {"smooth_sigma": None}):
        with pytest.raises(RegbenchError, match="is not valid"):
            fourier.create(**params)


def test_register_and_bind_parameters_round_trip():
    @regbench.register_regularizer("test_scaled_l1", needs="attributions", lambda_range=(1e-3, 1e1))
    def scaled_l1(attr, scale=2.0):
        return scale * attr.abs().sum(dim=(1, 2)).mean()

    try:
        reg = regbench.get_regularizer("test_scaled_l1", scale=3.0)
        attr = torch.ones(2, 4, 5)
        assert reg(attr).item() == pytest.approx(3.0 * 20)
        assert reg.spec.default_lambda == pytest.approx(0.1)  # geometric mean of the range
        assert "test_scaled_l1" in regbench.list_regularizers()
        with pytest.raises(RegbenchError, match="already registered"):
            regbench.register_regularizer("test_scaled_l1", needs="attributions")(lambda a: a.sum())
    finally:
        _REGISTRY.pop("test_scaled_l1", None)


def test_bad_registration_arguments():
    with pytest.raises(RegbenchError, match="needs"):
        regbench.register_regularizer("x", needs="weights")
    with pytest.raises(RegbenchError, match="lambda_range"):
        regbench.register_regularizer("x", needs="nothing", lambda_range=(1.0, 0.1))


def test_fourier_default_freq_limit_scales_with_length():
    reg = regbench.get_regularizer("fourier")
    attr = torch.rand(3, 4, 1000, dtype=torch.float64)
    assert reg(attr).item() == pytest.approx(
        regbench.regularizers.fourier_penalty(attr, 150).item())


def test_plugin_through_entry_point(tmp_path):
    """A third-party package registers through the ``regbench.regularizers`` group."""
    (tmp_path / "my_prior_pkg.py").write_text(textwrap.dedent("""
        import regbench

        @regbench.register_regularizer("center_mass", needs="attributions",
                                       lambda_range=(0.01, 1.0))
        def center_mass(attr, width=3):
            return attr.abs().sum(dim=(1, 2)).mean() * width
    """))
    dist = tmp_path / "my_prior_pkg-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: my-prior-pkg\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[regbench.regularizers]\ncenter_mass = my_prior_pkg\n")
    code = ("import regbench, torch; r = regbench.get_regularizer('center_mass', width=2); "
            "print(sorted(regbench.list_regularizers())); print(r(torch.ones(1, 4, 5)).item())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"}, check=True)
    names, value = out.stdout.strip().splitlines()
    assert "center_mass" in names and "fourier" in names
    assert float(value) == pytest.approx(40.0)


def test_cli_lists_regularizers(capsys):
    from regbench.cli import main
    assert main(["regularizers"]) == 0
    out = capsys.readouterr().out
    for name in ("none", "l2", "fourier", "smoothness", "sparsity"):
        assert f"\n{name} " in out
    assert "λ search range" in out
