"""One look-up for scenarios, suites and recipes (regbench.lookup): a shipped name, a
file in the kind's own folder in the cwd, or a path."""
import subprocess
import sys
from pathlib import Path

import pytest

from regbench.data.recipes import list_recipes, load_recipe
from regbench.errors import RegbenchError
from regbench.lookup import (find_file, is_path, list_names, search_folders,
                             shipped_simulations)
from regbench.simulate.scenario import find_scenario, list_scenarios
from regbench.suites.suite import find_suite, list_suites

# kind, its folder in the cwd, its folder inside the shipped simulations/, a shipped name
KINDS = [("scenario", "simulations", "", "spi1_binary"),
         ("suite", "suites", "suites", "paper"),
         ("recipe", "recipes", "recipes", "paper-spi1")]


def shipped(sub: str) -> Path:
    return Path(str(shipped_simulations())) / sub


@pytest.mark.parametrize("kind, own, sub, name", KINDS)
def test_a_shipped_name_resolves_to_the_shipped_file(tmp_path, monkeypatch, kind, own,
                                                    sub, name):
    monkeypatch.chdir(tmp_path)   # no ./simulations, ./suites or ./recipes here
    found = find_file(name, kind, search_folders(own, sub))
    assert found == shipped(sub) / f"{name}.toml" and found.is_file()


@pytest.mark.parametrize("kind, own, sub, name", KINDS)
def test_a_file_in_the_cwd_folder_wins_over_the_shipped_one(tmp_path, monkeypatch, kind,
                                                            own, sub, name):
    (tmp_path / own).mkdir()
    mine = tmp_path / own / f"{name}.toml"
    mine.write_text('description = "mine"\n')
    monkeypatch.chdir(tmp_path)
    assert find_file(name, kind, search_folders(own, sub)) == mine


def test_the_callers_look_in_the_same_folders(tmp_path, monkeypatch):
    """Scenarios, suites and recipes all go through the shared look-up: own files win."""
    for own in ("simulations", "suites", "recipes"):
        (tmp_path / own).mkdir()
    (tmp_path / "simulations" / "spi1_binary.toml").write_text("")
    (tmp_path / "suites" / "paper.toml").write_text("")
    (tmp_path / "recipes" / "mine.toml").write_text('accessions = ["encode:ENCSR1"]\n')
    monkeypatch.chdir(tmp_path)
    assert find_scenario("spi1_binary") == tmp_path / "simulations" / "spi1_binary.toml"
    assert find_suite("paper") == tmp_path / "suites" / "paper.toml"
    assert load_recipe("mine") == {"accessions": ["encode:ENCSR1"], "name": "mine"}
    assert list_scenarios() == list_names(search_folders("simulations"))
    assert list_suites() == list_names(search_folders("suites", "suites"))
    assert "mine" in list_recipes() and list_recipes() == sorted(set(list_recipes()))


def test_an_explicit_path_is_used_as_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "elsewhere").mkdir()
    mine = tmp_path / "elsewhere" / "spi1_binary.toml"   # a shipped name, as a path
    mine.write_text("")
    folders = search_folders("simulations")
    assert find_file(str(mine), "scenario", folders) == mine
    assert find_file("elsewhere/spi1_binary.toml", "scenario", folders) == \
        Path("elsewhere/spi1_binary.toml")
    (tmp_path / "here.toml").write_text("")   # .toml alone makes it a path
    assert find_file("here.toml", "scenario", folders) == Path("here.toml")


def test_a_name_or_a_path_is_told_apart_by_suffix_or_folder():
    assert not is_path("spi1_binary") and not is_path("paper-spi1")
    assert is_path("mine.toml") and is_path("dir/mine") and is_path(Path("/abs/x.toml"))


def test_a_missing_path_says_so(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(RegbenchError, match=r"^suite file nowhere/x\.toml does not exist; "
                                            r"check the path$"):
        find_file("nowhere/x.toml", "suite", search_folders("suites", "suites"))


@pytest.mark.parametrize("kind, own, sub, name", KINDS)
def test_an_unknown_name_lists_the_available_ones(tmp_path, monkeypatch, kind, own, sub,
                                                  name):
    (tmp_path / own).mkdir()
    (tmp_path / own / "aaa_mine.toml").write_text("")
    monkeypatch.chdir(tmp_path)
    folders = search_folders(own, sub)
    with pytest.raises(RegbenchError) as raised:
        find_file("no_such_thing", kind, folders)
    message = str(raised.value)
    assert message.startswith(f"unknown {kind} 'no_such_thing'; use a .toml path or one "
                              f"of: aaa_mine, ") and "\n" not in message
    assert message.endswith(", ".join(list_names(folders))) and name in message


def test_no_names_at_all_says_none_found(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(RegbenchError, match=r"one of: none found$"):
        find_file("x", "recipe", [tmp_path / "empty", tmp_path / "missing"])


def test_listing_is_sorted_without_duplicates(tmp_path, monkeypatch):
    (tmp_path / "simulations").mkdir()
    for stem in ("zzz", "spi1_binary", "aaa"):   # spi1_binary is shipped too
        (tmp_path / "simulations" / f"{stem}.toml").write_text("")
    (tmp_path / "simulations" / "notes.txt").write_text("")   # not a TOML file
    monkeypatch.chdir(tmp_path)
    names = list_names(search_folders("simulations"))
    assert names == sorted(set(names)) and names.count("spi1_binary") == 1
    assert {"aaa", "zzz", "multi_motif"} <= set(names) and "notes" not in names
    shipped_only = {p.stem for p in shipped("").glob("*.toml")}
    assert set(names) == shipped_only | {"aaa", "zzz", "spi1_binary"}


def test_the_lookup_imports_nothing_heavy():
    """--help lists names through it: no numpy, no torch, no simulator."""
    code = ("import sys; import regbench.lookup; "
            "heavy = {'numpy', 'torch', 'regbench.simulate'} & set(sys.modules); "
            "assert not heavy, heavy")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
