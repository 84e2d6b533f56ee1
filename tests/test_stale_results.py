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
