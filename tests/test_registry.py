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
