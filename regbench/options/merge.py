"""Overlaying config files and command-line flags on a RunConfig: TOML reading, the
top-level keys, ``merge`` (sections merge key-wise) and the flag parsers."""
from __future__ import annotations

import copy
import math
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from regbench.options.checks import check_value
from regbench.options.config import RunConfig, architecture_of
from regbench.errors import RegbenchError


def read_toml(path: str | Path) -> dict:
    """Parse a TOML config file; a missing or malformed file is a RegbenchError."""
    path = Path(path)
    if path.is_dir():
        raise RegbenchError(f"config file {path} is a folder; give the path of a TOML file")
    if not path.is_file():
        raise RegbenchError(f"config file {path} does not exist")
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise RegbenchError(f"config file {path} is not valid TOML: {exc}") from None


TOP_LEVEL_KEYS = {"preset", "task", "regularizers", "scenario", "data", "data_source", "seeds", "lambda", "out",
                  "device", "progress", "simulate", "regularizer_params", "model", "train",
                  "evaluation", "tune", "tuning", "stability_fraction", "fractions",
                  "threads", "workers", "artifacts", "models_per_group"}


def merge(config: RunConfig, values: dict, origin: str) -> RunConfig:
    """Overlay ``values`` (flags or TOML keys) on ``config``; sections merge key-wise."""
    unknown = set(values) - TOP_LEVEL_KEYS
    if unknown:
        raise RegbenchError(f"unknown key(s) in {origin}: {', '.join(sorted(unknown))}; "
                            f"known keys: {', '.join(sorted(TOP_LEVEL_KEYS))}")
    config = copy.deepcopy(config)
    # The task first: [model] keys of the same values then belong to its model.
    ordered = sorted(values.items(), key=lambda kv: kv[0] != "task")
    for key, value in ordered:
        if value is None:
            continue
        if key == "lambda":
            if not isinstance(value, dict):
                raise RegbenchError(f"lambda in {origin} must be a table of NAME = VALUE")
            config.lambdas.update({name: check_value(lam, float, f"lambda.{name}")
                                   for name, lam in value.items()})
        elif key == "regularizers":
            config.regularizers = parse_regularizer_list(value)
        elif key in ("simulate", "model", "train", "evaluation", "regularizer_params", "tuning",
                     "data_source"):
            if not isinstance(value, dict):
                raise RegbenchError(f"{key} in {origin} must be a table of keys")
            if key == "model" and architecture_of(value, config) != architecture_of(
                    config.model, config):
                config.model = dict(value)  # a preset's sizes are for its own model
            else:
                getattr(config, key).update(value)
        else:
            setattr(config, key, value)
    _link_protocol(config, values, origin)
    return config


def _link_protocol(config: RunConfig, values: dict, origin: str) -> None:
    """A λ protocol given without ``tune`` switches tuning on (or off, for "fixed");
    given with a ``tune`` that says the opposite, it is an error. The Pareto objective
    given without a protocol means the loss protocol (its search)."""
    tuning = values.get("tuning")
    protocol = tuning.get("protocol") if isinstance(tuning, dict) else None
    if protocol is None:
        if isinstance(tuning, dict) and tuning.get("objective") == "pareto":
            config.tuning["protocol"] = "loss"
        return
    searches = protocol != "fixed"
    if values.get("tune") is None:
        config.tune = searches
    elif bool(values["tune"]) != searches:
        raise RegbenchError(f"{origin}: tune = {str(bool(values['tune'])).lower()} goes "
                            f"against the λ protocol {protocol!r} (tuning off means "
                            "'fixed'); give one of them")


def parse_regularizer_list(value) -> list[str]:
    """'all', 'fourier,none' or a list → list of names (validated later)."""
    if not isinstance(value, (str, list, tuple)) or not all(
            isinstance(v, str) for v in ([value] if isinstance(value, str) else value)):
        raise RegbenchError(f"regularizers = {value!r} is not valid: expected 'all', a comma "
                            "list such as 'fourier,none', or a list of names")
    items = value.split(",") if isinstance(value, str) else list(value)
    names = [str(v).strip() for v in items if str(v).strip()]
    if not names:
        raise RegbenchError("no regularizers given; use --regularizers all or a comma list")
    return names


def parse_lambda_assignments(items: list[str]) -> dict[str, float]:
    """['fourier=1.0', 'l2=1e-3'] → {'fourier': 1.0, 'l2': 0.001}."""
    out = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        try:
            lam = float(value)
        except ValueError:
            lam = math.nan
        if not sep or not name or not math.isfinite(lam):
            raise RegbenchError(f"--lambda expects NAME=VALUE with a number, e.g. fourier=1.0; "
                                f"got {item!r}")
        out[name.strip()] = lam
    return out


__all__ = ["TOP_LEVEL_KEYS", "merge", "parse_lambda_assignments", "parse_regularizer_list",
           "read_toml"]
