"""The report's Run section (what ran, on what data, with which λ and why) and its
λ search sections (the trials' curve, the search's notes, the Pareto front)."""
from __future__ import annotations

import pandas as pd

from regbench.report import figures, lambda_sweep, stats
from regbench.report.blocks import figure_block, fmt, section_block
from regbench.report.load import ResultsFolder
from regbench.report.render import Bullets, Section, Table, Text
from regbench.store.runs import mixed_settings

NOT_TUNED = "λ was not tuned: each regularizer used its documented default λ."


# --- header ----------------------------------------------------------------------

def lambda_sources(folder: ResultsFolder, order) -> dict[str, str]:
    """Regularizer -> "default" | "tuned" | "user", from config.json or results.csv."""
    sources = dict(folder.config.get("lambda_source") or {})
    if "lambda_source" in folder.results:
        first = folder.results.groupby("regularizer")["lambda_source"].first()
        sources = {**first.astype(str).to_dict(), **sources}
    return {r: str(sources.get(r, "unknown")) for r in order}


def chosen_lambdas(folder: ResultsFolder, order) -> dict[str, float | None]:
    lambdas = dict(folder.config.get("lambdas") or {})
    if "lambda" in folder.results:
        first = folder.results.groupby("regularizer")["lambda"].first()
        lambdas = {**first.to_dict(), **lambdas}
    return {r: lambdas.get(r) for r in order}


def lambda_sentence(sources: dict[str, str]) -> str:
    if sources and all(s in ("default", "registry") for s in sources.values()):
        return NOT_TUNED
    parts = []
    for kind in dict.fromkeys(sources.values()):
        names = [r for r, s in sources.items() if s == kind]
        if kind != "unknown":
            parts.append(_source_phrase(kind).format(", ".join(names)))
    return ("; ".join(parts) or "the source of λ is not recorded") + "."


def _source_phrase(source: str) -> str:
    """How λ was set, with {} for the regularizers (results.csv's lambda_source, in
    the words of earlier regbench versions too)."""
    fixed = {"default": "λ was not tuned for {}: they used their documented default λ",
             "registry": "λ was not tuned for {}: they used their documented default λ",
             "tuned": "λ was tuned with Optuna for {}",
             "selected (constrained)": "λ was selected for {} on the selection seeds (within "
                                       "the performance margin of none, then the one-"
                                       "standard-error rule; see λ search)",
             "smallest grid λ (no λ within the margin)": "no λ of the grid kept validation "
                 "performance within the margin of none's for {}: the smallest grid λ was "
                 "used (see λ search)",
             "user": "λ was set by the user for {}", "--lambda": "λ was set by the user for {}",
             "paper rule": "λ was set by the paper's rule for {}",
             "scale rule": "λ was set by the scale rule for {} (λ × the penalty on a trained "
                           "none model = none's validation loss)"}
    if source in fixed:
        return fixed[source]
    if source.startswith("tuned ("):
        return f"λ was tuned with Optuna for {{}} {source[len('tuned '):]}"
    return f"λ for {{}}: {source}"


def _duration(seconds) -> str:
    try:
        seconds = float(seconds)
    except (TypeError, ValueError):
        return "–"
    h, rest = divmod(int(round(seconds)), 3600)
    return f"{h}h {rest // 60:02d}m {rest % 60:02d}s"


def _split_sizes(sizes) -> str:
    """'; train 678 (342 positive), ...' from config.json, or '' when not recorded."""
    if not isinstance(sizes, dict):
        return ""
    parts = [f"{name} {v.get('sequences')} ({v.get('positives')} positive)"
             for name, v in sizes.items() if isinstance(v, dict)]
    return "; " + ", ".join(parts) if parts else ""


def header(folder: ResultsFolder, order) -> Section:
    cfg = folder.config
    model = cfg.get("model") or {}
    model_text = ", ".join(f"{k}={v}" for k, v in model.items()) if isinstance(
        model, dict) else str(model)
    diff = str(cfg.get("paper_differences") or "").strip() or (
        "none: this is the paper's preset" if cfg.get("preset") == "paper"
        else "not recorded in config.json")
    info = Bullets([
        f"Preset: {cfg.get('preset', 'unknown')}",
        f"Data: {cfg.get('data', 'unknown')}",
        f"Split: {cfg.get('split', 'not recorded in config.json')}"
        + _split_sizes(cfg.get("split_sizes")),
        *_data_notes(cfg),
        f"Device: {cfg.get('device', 'unknown')}",
        f"Model: {model_text or 'unknown'}",
        f"Regularizers: {', '.join(order)}",
        f"Seeds per regularizer: {cfg.get('seeds', 'unknown')}",
        f"Last invocation: started {cfg.get('started', '?')}, finished "
        f"{cfg.get('finished', '?')} (wall time {_duration(cfg.get('wall_seconds'))}; runs "
        "stored by an earlier one are reused, their training time is in results.csv)",
        f"How this preset differs from the paper's sizes: {diff}",
        f"λ protocol: {cfg.get('lambda_protocol', 'not recorded in config.json')}",
        *_definition_lines(cfg),
    ])
    sources, lambdas = lambda_sources(folder, order), chosen_lambdas(folder, order)
    table = Table(pd.DataFrame({"regularizer": order,
                                "λ": [fmt(lambdas[r], 4) for r in order],
                                "λ source": [sources[r] for r in order]}), "λ per regularizer")
    intro = Text(f"This report compares {len(order)} regularizers, produced by the "
                 f"'{cfg.get('preset', 'unknown')}' preset on {cfg.get('data', 'unknown data')} "
                 f"({cfg.get('device', 'unknown device')}).")
    missing = None if cfg else Text("config.json is missing: run details are unknown.")
    return section_block("Run", intro, missing, *settings_warnings(folder), info,
                    Text(lambda_sentence(sources)), table)


def _data_notes(cfg: dict) -> list[str]:
    """A line per note said while loading the data (config.json's ``data_notes``: rows
    left out, letters read as N, no motif truth, ...); none recorded: no line."""
    notes = cfg.get("data_notes")
    if not isinstance(notes, list):
        return []
    return [f"Data note: {str(note).removeprefix('data: note: ')}" for note in notes]


def _definition_lines(cfg: dict) -> list[str]:
    """The run's definitions that config.json records (docs/profile.md): the explained
    output and the frequency cut-off rule; absent keys (older runs) give no line."""
    lines = []
    if cfg.get("explained_output"):
        lines.append(f"Explained output (attributions and the prior): "
                     f"{cfg['explained_output']}")
    if cfg.get("freq_limit_rule"):
        lines.append(f"Frequency cut-off: {cfg['freq_limit_rule']}")
    return lines


def settings_warnings(folder: ResultsFolder) -> list[Text]:
    """A warning per table whose runs were trained with different threads, devices or
    models per group (``store.mixed_settings``)."""
    tables = (("results.csv", folder.results), ("results_fraction.csv",
                                                 folder.fraction_results))
    lines = [(name, mixed_settings(frame)) for name, frame in tables if frame is not None]
    return [Text(f"Warning ({name}): {line}.") for name, line in lines if line]


# --- the λ search -----------------------------------------------------------------

def lambda_search(folder: ResultsFolder, order) -> Section | None:
    """The λ search: the constrained protocol's selection (every selection seed, the
    margin, the one-standard-error rule; ``selection_blocks``), and the validation loss
    per trial of the other searches (the loss protocol; constrained before issue 40)."""
    search = folder.lambda_search
    if search is None or search.empty:
        return None
    selected = lambda_sweep.selection_rows(search)
    blocks = selection_blocks(folder, order, selected) if len(selected) else []
    rest = search[~search["regularizer"].isin(set(selected["regularizer"]))]
    fig = figures.lambda_search(rest, order, chosen_lambdas(folder, order)) if len(
        rest) else None
    if fig is None and not any(blocks):
        return None
    notes = search_notes(folder, order)
    return section_block("λ search", *blocks, figure_block(
        "lambda_search", "Validation correctness loss (lower is better) per trial λ: the "
        "loss protocol's objective (in folders of regbench before issue 40, also the "
        "constrained protocol's constraint, within none's seed noise); the dashed line "
        "marks the λ used for the runs above.", fig), Bullets(notes) if notes else None)


def selection_blocks(folder: ResultsFolder, order, rows: pd.DataFrame) -> list:
    """The constrained protocol's λ selection: its figure (``lambda_sweep.selection_
    curves``) and a table per regularizer (grid, chosen λ, one-SE rule or none feasible)."""
    reference = (folder.config.get("lambda_reference") or {}).get("selection")
    reference = reference if isinstance(reference, dict) else None
    points = lambda_sweep.selection_points(rows, reference)
    curve = lambda_sweep.selection_curve(points, rows)
    fig = lambda_sweep.selection_curves(points, curve, order, reference)
    return [figure_block("lambda_selection", lambda_sweep.selection_caption(reference), fig),
            Table(lambda_sweep.selection_table(rows, curve, order),
                  "λ selection per regularizer (constrained protocol)")]


def search_notes(folder: ResultsFolder, order) -> list[str]:
    """Per searched regularizer: chosen λ at the edge of its range, or (a search by the
    validation loss) a λ curve flat within the seed-to-seed noise of the validation loss
    (``tune.notes.search_notes``)."""
    from regbench.errors import RegbenchError
    from regbench.regularizers import get_spec
    from regbench.tune.notes import search_notes as notes_of

    ok, chosen = stats.ok_runs(folder.results), chosen_lambdas(folder, order)
    selected = set(lambda_sweep.selection_rows(folder.lambda_search)["regularizer"])
    lines = []
    for reg in order:
        trials = folder.lambda_search[folder.lambda_search["regularizer"] == reg]
        if trials.empty or chosen.get(reg) is None:
            continue
        try:
            lambda_range = get_spec(reg).lambda_range
        except RegbenchError:  # a plug-in regularizer not installed here
            lambda_range = None
        noise = ok.loc[ok["regularizer"] == reg, "val_loss"].std(ddof=1)
        lines += [f"{reg}: {note}." for note in notes_of(  # selection: not by the loss
            trials, lambda_range, float(chosen[reg]), noise, flat=reg not in selected)]
    return lines


def pareto_search(folder: ResultsFolder, order) -> Section | None:
    trials = folder.pareto
    if trials is None or trials.empty:
        return None
    fig = figures.pareto_search(trials, order)
    return None if fig is None else section_block("λ search: Pareto front", figure_block(
        "pareto_front", "Each point is one λ trial (colour: log10 λ), scored on validation "
        "data (lower loss and higher motif auPRC are better); the dashed line joins the trials no other trial beats on both objectives; "
        "the red cross is the λ used for the runs above.", fig))
