"""Scenario files (TOML): defaults, lookup by name, ``--set`` overrides, validation.

A scenario is a plain dict. ``load_scenario`` merges the file onto ``DEFAULTS`` so the
manifest records every parameter, applies dotted-key overrides, and checks everything
a user can get wrong (unknown keys, GC outside [0, 1], unknown motifs, motifs longer
than the sequence, instances that cannot fit with the asked spacing).
"""
from __future__ import annotations

import copy
import math
import tomllib
from pathlib import Path

from regbench.errors import RegbenchError
from regbench.lookup import find_file, list_names, search_folders
from regbench.simulate.motifs import Motif, resolve_motif

DEFAULTS: dict = {
    "name": "",
    "description": "",
    "seed": 0,
    "length": 200,
    "positives": 1000,
    "negatives": 1000,
    "motif_files": [],          # extra MEME files, searched before the built-in set;
                                # relative paths: next to the scenario file, else cwd
    "jaspar_release": "",       # for jaspar:ID motifs; "" = pyjaspar's default
    "gc": {"positives": 0.42, "negatives": 0.42},
    "tasks": [],                # [{name, motifs, prob}], see TASK_DEFAULTS
    "instances": {"distribution": "fixed", "count": 1, "mean": 1.0, "min": 1, "max": 3},
    "placement": {"mode": "center", "jitter": 20, "min_spacing": 0, "rc_prob": 0.5},
    "decoys": {"motifs": [], "positives": 0.0, "negatives": 0.0, "count": 1},
    "split": {"train": 0.8, "valid": 0.1, "test": 0.1},
    "profile": {"enabled": False, "counts": 200.0, "shift": 10, "width": 4.0,
                "background": 0.01, "peak_flank": 25},
    "sweep": {"key": "", "values": []},
}
# prob: chance that a positive is positive for this task (multi-task scenarios)
TASK_DEFAULTS: dict = {"name": "", "motifs": [], "prob": 0.5}


def scenario_dirs() -> list[Path]:
    """Where bare scenario names are looked up: ./simulations (your own), then the
    scenarios shipped inside the package (so a wheel install finds them too)."""
    return search_folders("simulations")


def list_scenarios() -> list[str]:
    """Names of the scenarios found in ``scenario_dirs()``, sorted."""
    return list_names(scenario_dirs())


def find_scenario(name_or_path: str | Path) -> Path:
    """The TOML file for a path, or for a bare name in ``scenario_dirs()``."""
    return find_file(name_or_path, "scenario", scenario_dirs())


def _beside(scenario_path: Path, motif_file) -> str:
    """A relative motif file in a scenario is looked up next to the scenario first."""
    candidate = scenario_path.parent / str(motif_file)
    return str(candidate) if candidate.is_file() else str(motif_file)


def parse_value(text: str):
    """A ``--set`` value as a TOML literal (``0.6``, ``true``, ``["SPI1"]``), else a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_overrides(items: list[str] | None) -> dict:
    """``["gc.positives=0.6", ...]`` -> ``{"gc.positives": 0.6, ...}``."""
    overrides = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise RegbenchError(f"--set {item!r} is not key=value; write e.g. "
                                "--set gc.positives=0.6")
        overrides[key.strip()] = parse_value(value.strip())
    return overrides


def apply_override(scenario: dict, dotted: str, value) -> None:
    """Set ``scenario[a][b]...`` for ``dotted = "a.b..."``; list items by index (tasks.0)."""
    node, parts = scenario, dotted.split(".")
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise RegbenchError(f"scenario key {dotted}: {part!r} is not an index below "
                                    f"{len(node)}; write e.g. tasks.0.motifs")
            part = int(part)
        elif not isinstance(node, dict) or part not in node:
            known = ", ".join(node) if isinstance(node, dict) else "none"
            raise RegbenchError(f"scenario key {dotted}: unknown key {part!r}; known keys "
                                f"here: {known}")
        if last and isinstance(node[part], dict):   # a table: merge, still checking keys
            if not isinstance(value, dict):
                raise RegbenchError(f"scenario key {dotted}: a table; set one of its keys, e.g. "
                                    f"{dotted}.{next(iter(node[part]), 'key')}=...")
            node[part] = _merge(node[part], value, f"{dotted}.")
        elif last:
            node[part] = value
        else:
            node = node[part]


def _merge(defaults: dict, given: dict, where: str) -> dict:
    """Recursively fill ``given`` from ``defaults``; an unknown key is an error (typos)."""
    merged = copy.deepcopy(defaults)
    for key, value in given.items():
        if key not in defaults:
            raise RegbenchError(f"unknown scenario key {where}{key!r}; known keys: "
                                f"{', '.join(defaults)}")
        if isinstance(defaults[key], dict):
            if not isinstance(value, dict):
                raise RegbenchError(f"scenario key {where}{key} must be a table")
            merged[key] = _merge(defaults[key], value, f"{where}{key}.")
        else:
            merged[key] = value
    return merged


def _merge_tasks(tasks) -> list[dict]:
    if not isinstance(tasks, list) or not tasks:
        raise RegbenchError("a scenario needs at least one [[tasks]] entry with a name "
                            "and motifs")
    return [_merge(TASK_DEFAULTS, t if isinstance(t, dict) else {}, f"tasks.{i}.")
            for i, t in enumerate(tasks)]


def load_scenario(name_or_path: str | Path | dict, overrides: dict | None = None) -> dict:
    """Read, complete, override and validate a scenario; returns a plain dict.

    ``name_or_path``: a shipped name (``spi1_binary``), a .toml path, or a dict.
    ``overrides``: dotted keys to values, e.g. ``{"positives": 100, "gc.positives": 0.6}``.
    """
    if isinstance(name_or_path, dict):
        raw = copy.deepcopy(name_or_path)
        origin = raw.pop("source", "<dict>")   # an already loaded scenario loads again
    else:
        path = find_scenario(name_or_path)
        try:
            raw = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise RegbenchError(f"scenario file {path} is not valid TOML ({exc})") from None
        raw.setdefault("name", path.stem)
        raw["motif_files"] = [_beside(path, p) for p in raw.get("motif_files", [])]
        origin = str(name_or_path)   # as given, so manifests do not depend on the checkout
    scenario = _merge(DEFAULTS, raw, "")
    scenario["tasks"] = _merge_tasks(scenario["tasks"])
    for key, value in (overrides or {}).items():
        apply_override(scenario, key, value)
    scenario["tasks"] = _merge_tasks(scenario["tasks"])
    validate(scenario)
    scenario["source"] = origin
    return scenario


# ---------------------------------------------------------------- validation

def _check(ok: bool, message: str) -> None:
    if not ok:
        raise RegbenchError(message)


def _number(scenario: dict, dotted: str, lo: float, hi: float = math.inf,
            integer: bool = False) -> None:
    node = scenario
    for part in dotted.split("."):
        node = node[int(part)] if isinstance(node, list) else node[part]
    kind = int if integer else (int, float)
    _check(isinstance(node, kind) and not isinstance(node, bool),
           f"{dotted} must be {'an integer' if integer else 'a number'}, got {node!r}")
    _check(lo <= node <= hi, f"{dotted} = {node} is outside [{lo}, {hi}]; "
           f"give a value in that range")


def validate(scenario: dict) -> None:
    """Raise RegbenchError on the first thing a user must fix."""
    for key, lo in [("seed", 0), ("length", 1), ("positives", 0), ("negatives", 0),
                    ("instances.count", 0), ("instances.min", 0), ("instances.max", 0),
                    ("placement.jitter", 0), ("placement.min_spacing", 0),
                    ("decoys.count", 0), ("profile.shift", 0), ("profile.peak_flank", 0)]:
        _number(scenario, key, lo, integer=True)
    for key in ["gc.positives", "gc.negatives", "placement.rc_prob", "decoys.positives",
                "decoys.negatives", "split.train", "split.valid", "split.test"]:
        _number(scenario, key, 0.0, 1.0)
    for key in ["instances.mean", "profile.counts", "profile.width", "profile.background"]:
        _number(scenario, key, 0.0)
    _check(scenario["positives"] + scenario["negatives"] > 0,
           "positives + negatives is 0; ask for at least one sequence")
    _check(scenario["instances"]["distribution"] in ("fixed", "poisson"),
           f"instances.distribution must be 'fixed' or 'poisson', got "
           f"{scenario['instances']['distribution']!r}")
    _check(scenario["placement"]["mode"] in ("center", "uniform"),
           f"placement.mode must be 'center' or 'uniform', got "
           f"{scenario['placement']['mode']!r}")
    inst = scenario["instances"]
    _check(inst["distribution"] == "fixed" or inst["min"] <= inst["max"],
           "instances.min is above instances.max; lower min or raise max")
    split = scenario["split"]
    _check(abs(split["train"] + split["valid"] + split["test"] - 1) < 1e-9,
           "split.train + split.valid + split.test must sum to 1")
    _check(isinstance(scenario["motif_files"], list),
           "motif_files must be a list of MEME file paths")
    _validate_tasks(scenario)
    _check_fit(scenario)


def _validate_tasks(scenario: dict) -> None:
    names = [t["name"] for t in scenario["tasks"]]
    _check(all(isinstance(n, str) and n and n not in ("name", "split") for n in names),
           "every task needs a name (a non-empty string other than 'name' or 'split')")
    _check(len(set(names)) == len(names), f"task names must be unique, got {names}")
    for i, task in enumerate(scenario["tasks"]):
        _check(isinstance(task["motifs"], list) and len(task["motifs"]) > 0,
               f"task {task['name']} needs a non-empty motifs list, e.g. motifs = [\"SPI1\"]")
        _number(scenario, f"tasks.{i}.prob", 0.0, 1.0)
    task_ids = {m.id for m in task_motifs(scenario)}
    decoys = scenario["decoys"]
    _check(isinstance(decoys["motifs"], list), "decoys.motifs must be a list of motif names")
    decoy_ids = {m.id for m in decoy_motifs(scenario)}
    _check(not task_ids & decoy_ids, f"motif(s) {sorted(task_ids & decoy_ids)} are both a "
           "task motif and a decoy; a decoy must be a different motif")
    _check(bool(decoy_ids) or decoys["positives"] == decoys["negatives"] == 0,
           "decoys.positives/negatives are set but decoys.motifs is empty; list decoy motifs")


def resolve_motifs(scenario: dict, keys) -> list[Motif]:
    """The motifs named by ``keys``, looked up in the scenario's files, built-ins, JASPAR."""
    files = [Path(p) for p in scenario["motif_files"]]
    return [resolve_motif(k, files, scenario["jaspar_release"] or None) for k in keys]


def task_motifs(scenario: dict) -> list[Motif]:
    """Every task's motifs, in task order (duplicates kept)."""
    return resolve_motifs(scenario, [k for t in scenario["tasks"] for k in t["motifs"]])


def decoy_motifs(scenario: dict) -> list[Motif]:
    return resolve_motifs(scenario, scenario["decoys"]["motifs"])


def max_instances(scenario: dict) -> int:
    """Most task instances one positive can carry."""
    inst = scenario["instances"]
    most = inst["count"] if inst["distribution"] == "fixed" else inst["max"]
    return max(most, len(scenario["tasks"]) if inst["min"] >= 1 else 0)


def _check_fit(scenario: dict) -> None:
    """Worst case: the most instances of the widest motifs, with spacing, must fit."""
    length = scenario["length"]
    motifs = task_motifs(scenario) + decoy_motifs(scenario)
    widest = max(motifs, key=lambda m: m.width)
    _check(widest.width <= length, f"motif {widest.id} ({widest.name}) is {widest.width} bp, "
           f"longer than the {length} bp sequences; raise length")
    has_decoys = scenario["decoys"]["positives"] > 0 or scenario["decoys"]["negatives"] > 0
    count = max_instances(scenario) + (scenario["decoys"]["count"] if has_decoys else 0)
    spacing = scenario["placement"]["min_spacing"]
    need = count * widest.width + max(count - 1, 0) * spacing
    _check(need <= length, f"{count} motif instances of up to {widest.width} bp with "
           f"min_spacing {spacing} need {need} bp but sequences are {length} bp; lower "
           "instances/decoys.count/min_spacing or raise length")
