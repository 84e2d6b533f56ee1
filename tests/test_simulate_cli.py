"""`regbench simulate` on the command line, scenario files and --set overrides."""
import argparse
import json
import re

import pytest

from regbench.cli import main
from regbench.simulate import load_scenario, parse_overrides
from regbench.simulate import cli as sim_cli
from regbench.simulate.scenario import parse_value

SMALL = ["--set", "positives=20", "--set", "negatives=20", "--no-progress"]


def test_cli_writes_folder_with_seed_and_overrides(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["simulate", "--scenario", "spi1_binary", "--out", str(out), "--seed", "5",
                 "--set", "gc.positives=0.55", "--set", "length=120", *SMALL])
    assert code == 0 and str(out) in capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 5 and manifest["length"] == 120
    assert manifest["scenario"]["gc"]["positives"] == 0.55
    assert manifest["counts"]["sequences"] == 40
    assert {p.name for p in out.iterdir()} == {"sequences.fa", "sequences.fa.fai",
                                               "labels.tsv", "motifs.bed", "manifest.json"}


def test_cli_accepts_a_toml_path(tmp_path):
    scenario = tmp_path / "mine.toml"
    scenario.write_text('length = 100\npositives = 5\nnegatives = 5\n'
                        '[[tasks]]\nname = "G"\nmotifs = ["gata2"]\n')
    assert main(["simulate", "--scenario", str(scenario), "--out", str(tmp_path / "o"),
                 "--no-progress"]) == 0
    assert (tmp_path / "o" / "labels.tsv").read_text().startswith("name\tsplit\tG\n")


def test_scenario_with_its_own_meme_file(tmp_path, monkeypatch):
    (tmp_path / "m.meme").write_text("MEME version 4\n\nMOTIF AAA1 polyA\n"
                                     "letter-probability matrix: alength= 4 w= 4\n"
                                     + " 1 0 0 0\n" * 4)
    (tmp_path / "s.toml").write_text('motif_files = ["m.meme"]\npositives = 5\n'
                                     'negatives = 0\nlength = 50\n'
                                     '[[tasks]]\nname = "A"\nmotifs = ["polya"]\n')
    monkeypatch.chdir(tmp_path.parent)                   # not next to the scenario
    out = tmp_path / "o"
    assert main(["simulate", "--scenario", str(tmp_path / "s.toml"), "--out", str(out),
                 "--no-progress"]) == 0
    bed = (out / "motifs.bed").read_text().splitlines()
    assert len(bed) == 5 and all(line.split("\t")[3] == "AAA1" for line in bed)


@pytest.mark.parametrize("args,message", [
    (["--set", "tasks.0.motifs=[\"NOPE\"]"], "unknown motif 'NOPE'"),
    (["--set", "gc.positives=1.5"], "gc.positives = 1.5 is outside"),
    (["--set", "length=8"], "longer than the 8 bp sequences"),
    (["--set", "placement.min_spacing=500"], "min_spacing 500"),
    (["--set", "gc.positive=0.5"], "unknown key 'positive'"),
    (["--set", "positives"], "is not key=value"),
    (["--scenario", "no_such_scenario"], "unknown scenario 'no_such_scenario'.*spi1_binary"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, args, message):
    argv = ["simulate", "--scenario", "spi1_binary", "--out", str(tmp_path / "o"), *SMALL,
            *args]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert re.search(message, err)
    assert not (tmp_path / "o").exists()


def test_non_empty_out_needs_force(tmp_path, capsys):
    out = tmp_path / "o"
    out.mkdir()
    (out / "old").write_text("x")
    argv = ["simulate", "--scenario", "spi1_binary", "--out", str(out), *SMALL]
    assert main(argv) == 2 and "--force" in capsys.readouterr().err
    assert main([*argv, "--force"]) == 0 and not (out / "old").exists()


def test_every_option_has_help():
    parser = argparse.ArgumentParser()
    sim_cli.configure(parser)
    for action in parser._actions:
        assert action.help, action.dest


@pytest.mark.parametrize("name", ["spi1_binary", "spi1_gc_bias", "multi_motif", "spi1_profile"])
def test_shipped_scenarios_load(name):
    scenario = load_scenario(name)
    assert scenario["name"] == name and scenario["tasks"]
    if name == "spi1_gc_bias":
        assert scenario["gc"]["positives"] > scenario["gc"]["negatives"]
        key = scenario["sweep"]["key"]
        for value in scenario["sweep"]["values"]:
            assert load_scenario(name, {key: value})["gc"]["positives"] == value
    if name == "spi1_binary":
        assert scenario["length"] == 200 and scenario["tasks"][0]["motifs"] == ["MA0080.7"]
    assert scenario["profile"]["enabled"] == (name == "spi1_profile")


def test_override_values_parse_as_toml():
    assert parse_value("0.6") == 0.6 and parse_value("true") is True
    assert parse_value('["A", "B"]') == ["A", "B"] and parse_value("uniform") == "uniform"
    assert parse_overrides(["a.b=3", "c = x"]) == {"a.b": 3, "c": "x"}
    scenario = load_scenario("multi_motif", {"tasks.1.prob": 0.9, "placement.mode": "center"})
    assert scenario["tasks"][1]["prob"] == 0.9 and scenario["placement"]["mode"] == "center"
    table = load_scenario("spi1_binary", parse_overrides(["gc={positives=0.7}"]))
    assert table["gc"] == {"positives": 0.7, "negatives": 0.4}   # a table merges
