"""Orchestration of a comparison: the grid of (regularizer, seed) runs and its store.

Every run is keyed by (dataset fingerprint, regularizer, λ, seed, data fraction,
config hash). A finished run is stored as ``runs/<key>.json`` (written atomically)
and never trained again, so an interrupted ``regbench run`` resumes where it stopped.
The tables (results.csv, per_sequence.csv, history.csv) are rebuilt from the store.
"""
from __future__ import annotations

import contextlib
import copy
import datetime as dt
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from regbench import __version__
from regbench.attributions import explain
from regbench.config import NOISE_SEEDS, RunConfig, paper_differences
from regbench.data import Dataset, FolderSource, SimulatedSource, one_hot, source_of
from regbench.errors import RegbenchError
from regbench.evaluate import evaluate, explain_settings
from regbench.memory import apply_process_settings
from regbench.metrics import motif_auprc
from regbench.record import RUN_RECORD, TEST_PREFIX
from regbench.regularizers import get_spec
from regbench.run_checks import check_run, resolve_lambdas, resolve_regularizers
from regbench.spectra import check_freq_limit
from regbench.store import (RunKey, RunStore, atomic_write, atomic_write_csv, lock_folder,
                            note_unreadable, results_frame)
from regbench.tasks import Task, create_task
from regbench.train import Trainer, load_checkpoint, resolve_device

# Seeds trained as one grouped model when models_per_group is not set, by device type.
# CPU: 1, grouping gains under 10% there (benchmarks/README.md, grouped training).
# CUDA: 1 too, though an H200 trained 8-32 grouped Fourier models 2-3.5x faster: its one
# grouped-vs-solo comparison scored all 8 grouped models lower (benchmarks/README.md),
# which the CPU does not show; a default must not change results until that is understood.
DEFAULT_MODELS_PER_GROUP = {"cpu": 1, "cuda": 1}



def extra_backward_passes(regularizer, lam: float) -> int:
    """Backward passes a training step makes beyond the loss's own: one input-gradient
    pass (kept for double backprop) for an attribution prior with λ > 0, else none
    (the regularizer's kind says)."""
    return regularizer.kind.extra_backward_passes(lam)


def measured_penalty(task: Task, regularizer, model, valid: tuple,
                     config) -> tuple[float, float]:
    """(validation correctness loss, penalty) of ``model`` as training reports them
    (``Trainer.evaluate`` at λ = 1: the penalty's mean over the prior's validation rows,
    or the model's for a weight penalty). valid: (codes (N, L), targets, prior rows
    bool (N,)); config: a TrainConfig."""
    trainer = Trainer(task, regularizer, 1.0, config)
    codes, targets = trainer.to_device(valid[0], valid[1])
    return trainer.evaluate(model.to(trainer.device), codes, targets, np.asarray(valid[2]))


def scale_lambda(loss: float, penalty: float) -> float | None:
    """The scale rule (the paper's for smoothness and sparsity, generalised): the λ at
    which λ × |penalty| equals the correctness loss; None when the penalty is 0 or
    not finite (a penalty such as sparsity's minus twice the Gini is negative: its size
    counts)."""
    if not (math.isfinite(loss) and math.isfinite(penalty)) or penalty == 0:
        return None
    return float(loss / abs(penalty))


class Benchmark:
    """One results folder: prepares data, runs the grid, writes the tables."""

    def __init__(self, config: RunConfig):
        self.config = config
        check_run(config)  # before anything is written; the CLI's check, too
        self.out = Path(config.out)
        self.store = RunStore(self.out)
        self.regularizers = resolve_regularizers(config.regularizers, config.task)
        self.lambdas, self.lambda_sources = resolve_lambdas(config, self.regularizers)
        self.lambda_protocol = config.lambda_protocol()
        # How λ was chosen, for config.json: none's reference loss and noise, measured
        # penalties, the rule per regularizer (filled by ``tune_lambdas``).
        self.lambda_reference: dict = {}
        self.device = resolve_device(config.device)
        self.dataset: Dataset | None = None
        self._splits: dict[str, Dataset] = {}
        self._task: Task | None = None
        self.source = source_of(config)

    def task(self) -> Task:
        """The run's task (model, loss, prior rows, explained output) for this data."""
        if self._task is None:
            control = self.dataset.control
            self._task = create_task(self.config.task, self.config.task_model(),
                                     seq_len=self.dataset.length,
                                     n_tasks=len(self.dataset.tasks),
                                     n_controls=0 if control is None else control.shape[1])
        return self._task

    def split(self, name: str) -> Dataset:
        """The rows of one split (train, valid, test), extracted once per process."""
        if name not in self._splits:
            self._splits[name] = self.dataset.subset(name)
        return self._splits[name]

    # -- data -------------------------------------------------------------------------
    def check_data(self) -> None:
        """Validate the data source before anything is written."""
        self.source.check()
        if self.config.task == "profile" and self.source.has_signal() is False:
            raise RegbenchError("task = profile needs per-strand read counts: simulate a "
                                "scenario with [profile] enabled (e.g. --scenario "
                                "spi1_profile), or give --bigwig-plus and --bigwig-minus "
                                "with --genome")
        shape = self.source.planned_shape()
        if shape is not None:   # the model must fit the data: known before simulating it
            create_task(self.config.task, self.config.task_model(), seq_len=shape[0],
                        n_tasks=shape[1])
        if isinstance(self.source, FolderSource):  # read anyway: its splits are checked now
            self._use(self.source.load(self.out))
        if isinstance(self.source, SimulatedSource):   # OUT/data of another scenario
            self.source.check_existing(self.out)

    def prepare_data(self) -> Dataset:
        """The data source's Dataset (a scenario is simulated into OUT/data once)."""
        if self.dataset is None:
            self._use(self.source.load(self.out, progress=self.config.progress))
        return self.dataset

    def _use(self, dataset: Dataset) -> None:
        self.dataset = dataset
        self._check_splits()
        if dataset.split_source != Dataset.split_source:
            print(f"data: {dataset.split_source}", flush=True)
        if isinstance(self.source, FolderSource) and dataset.motif_mask is None:
            print(f"data: {dataset.path} has no motifs.bed, so the motif metrics (motif "
                  "fraction, motif auPRC) are not scored and GC reliance counts every base "
                  "as background", flush=True)

    def _check_splits(self) -> None:
        for split in ("train", "valid", "test"):
            if not (self.dataset.split == split).any():
                raise RegbenchError(f"the data in {self.dataset.path} has no {split!r} "
                                    "sequences; labels.tsv needs a split column with "
                                    "train, valid and test rows")
        test = self.dataset.split == "test"
        if not len(self.task().attributed_rows(self.dataset.labels[test], 1)[0]):
            raise RegbenchError(f"the data in {self.dataset.path} has no positive 'test' "
                                "sequence, and attributions are scored on those; put "
                                "positives in the test split (labels.tsv)")

    def freq_limit(self) -> int:
        """T of the evaluation's high-frequency fraction for this data's length: the
        task's rule, the one its Fourier prior's default follows (Task.default_freq_limit)."""
        length = self.dataset.codes.shape[1]
        limit = (self.config.evaluation_config().freq_limit
                 or self.task().default_freq_limit(length))
        check_freq_limit(length, limit)
        return limit

    # -- runs -------------------------------------------------------------------------
    def key(self, regularizer: str, seed: int, lam: float | None = None,
            data_fraction: float = 1.0) -> RunKey:
        lam = self.lambdas[regularizer] if lam is None else lam
        return RunKey(self.dataset.fingerprint, regularizer, float(lam), int(seed),
                      float(data_fraction), self.config.hash(), self.config.evaluation_hash())

    def train_rows(self, seed: int, fraction: float = 1.0) -> Dataset:
        """The training split, or a share of it: per class, the first ``fraction`` of
        the rows (at least 2) in an order drawn with ``seed``. Every regularizer of a
        seed sees the same rows, and the shares are nested: a smaller share's rows are
        inside every larger one's."""
        train = self.split("train")
        if fraction >= 1:
            return train
        rng = np.random.default_rng([seed, 11])
        positive = train.labels.max(axis=1) > 0
        keep = []
        for rows in (np.flatnonzero(positive), np.flatnonzero(~positive)):
            n = min(len(rows), max(2, round(fraction * len(rows))))
            keep.append(rng.permutation(rows)[:n])
        return train.subset(np.sort(np.concatenate(keep)))

    def regularizer(self, name: str):
        """The registry's regularizer ``name`` with this task's and the user's
        parameters."""
        params = {**self.task().prior_defaults().get(name.split("@")[0], {}),
                  **self.config.regularizer_params.get(name, {})}
        return get_spec(name).create(**params)

    def train_one(self, regularizer: str, seed: int, lam: float | None = None,
                  epoch_callback=None, bar=None, data_fraction: float = 1.0,
                  evaluate: bool = True) -> dict:
        """Train and evaluate one (regularizer, λ, seed, share of the training rows), or
        return the stored result. ``evaluate=False`` (λ-search trials) scores nothing:
        the test set and the report's example tracks stay untouched."""
        key = self.key(regularizer, seed, lam, data_fraction)
        stored = self.store.load(key)
        if stored is not None:
            return stored
        train, valid = self.train_rows(seed, data_fraction), self.split("valid")
        reg = self.regularizer(regularizer)
        checkpoint = self.store.trained(key)
        if checkpoint:   # trained before, scored another way: score it
            record = self._score_again(key, reg, checkpoint, len(train.codes), evaluate)
            if record is not None:
                return record
        trainer = Trainer(self.task(), reg, key.lam, self.config.train_config(seed))

        def on_epoch(epoch, record):
            if bar is not None:
                bar.set_postfix(reg=regularizer, seed=seed, epoch=epoch,
                                loss=f"{record['train_loss']:.3f}",
                                val=f"{record['val_loss']:.3f}")
            if epoch_callback is not None:
                epoch_callback(epoch, record)

        # flanked windows (jitter) for training only: validation uses the centred ones
        result = trainer.fit(self.training_data(train.with_flanks()), self.training_data(valid),
                             checkpoint=self.store.checkpoint_path(key), progress=on_epoch)
        return self._store_run(key, reg, result, len(train.codes), evaluate,
                               settings=self.run_settings())

    def train_seeds(self, regularizer: str, seeds: list[int], data_fraction: float = 1.0,
                    bar=None) -> list[dict]:
        """``train_one`` for each seed, the seeds not yet stored trained together as one
        grouped model (``regbench.group``) when there are several and the run can be
        grouped. Returns the records in seed order."""
        keys = {seed: self.key(regularizer, seed, data_fraction=data_fraction)
                for seed in seeds}
        records = {seed: self.store.load(keys[seed]) for seed in seeds}
        todo = [seed for seed in seeds
                if records[seed] is None and not self.store.trained(keys[seed])]
        reg = self.regularizer(regularizer)
        if len(todo) > 1 and self._groupable(reg):
            from regbench.group import GroupTrainer
            lam = keys[todo[0]].lam
            rows = {seed: self.train_rows(seed, data_fraction) for seed in todo}
            if bar is not None:
                bar.set_postfix(reg=regularizer, seeds=f"{todo[0]}-{todo[-1]} (grouped)")
            results = GroupTrainer(self.task(), reg, lam,
                                   [self.config.train_config(s) for s in todo]).fit(
                [self.training_data(rows[s].with_flanks()) for s in todo],
                self.training_data(self.split("valid")),
                checkpoints=[self.store.checkpoint_path(keys[s]) for s in todo])
            for seed, result in zip(todo, results):
                records[seed] = self._store_run(keys[seed], reg, result, len(rows[seed].codes),
                                                settings=self.run_settings(len(todo)))
        return [records[seed] or self.train_one(regularizer, seed, data_fraction=data_fraction,
                                                bar=bar) for seed in seeds]

    def _groupable(self, reg) -> bool:
        from regbench.group import can_group
        return self.models_per_group() > 1 and can_group(self.task(), reg,
                                                         self.config.train_config(0))

    def models_per_group(self) -> int:
        """Seeds trained as one grouped model: [train] models_per_group, else by device
        (``DEFAULT_MODELS_PER_GROUP``)."""
        size = self.config.models_per_group
        return size if size is not None else DEFAULT_MODELS_PER_GROUP[self.device.type]

    def seed_groups(self, regularizer: str) -> list[list[int]]:
        """The seeds of ``regularizer`` in the groups they train in (one seed each when
        it cannot be grouped)."""
        seeds = list(range(self.config.seeds))
        size = self.models_per_group() if self._groupable(self.regularizer(regularizer)) else 1
        return [seeds[i:i + size] for i in range(0, len(seeds), size)]

    def run_settings(self, models_per_group: int = 1) -> dict:
        """How this process trains: settings the run keys leave out, though they move
        the numbers (README: grouping and threads moved a test auROC by 0.13 and 0.07);
        every results.csv row records them. ``models_per_group``: models trained
        together with this one (1: alone)."""
        return {"threads": torch.get_num_threads(), "device": str(self.device),
                "models_per_group": models_per_group}

    def _score_again(self, key: RunKey, reg, checkpoint, train_rows: int,
                     evaluate: bool) -> dict:
        """The record of a run whose model was trained under another [evaluation]:
        its checkpoint scored the current way, its training facts kept. None when the
        checkpoint cannot be read (truncated, corrupt): the run is trained again."""
        from regbench.train import load_result
        try:
            result = load_result(checkpoint, str(self.device))
        except (EOFError, RuntimeError) as exc:
            # torch.load of a truncated or corrupt file; other RuntimeErrors (CUDA) raise
            if not isinstance(exc, EOFError) and "PytorchStreamReader" not in str(exc):
                raise
            note_unreadable(checkpoint, exc)
            return None
        if evaluate:
            tqdm.write(f"scoring {key.regularizer} seed {key.seed} again: trained earlier, "
                       "the [evaluation] settings changed")
        return self._store_run(key, reg, result, train_rows, evaluate,
                               settings=self.store.trained_settings(key))

    def _store_run(self, key: RunKey, reg, result, train_rows: int,
                   evaluate: bool = True, settings: dict | None = None) -> dict:
        """The record of a trained run (its row, scored on the test split unless
        ``evaluate`` is off), stored under ``key``. ``settings``: ``run_settings`` of
        its training; None: unknown (a model trained before they were recorded)."""
        ckpt = self.store.checkpoint_path(key)
        regularizer, seed = key.regularizer, key.seed
        row = {"regularizer": regularizer, "lambda": key.lam,
               "lambda_source": self.lambda_sources.get(regularizer, "tuned"),
               "lambda_protocol": self.lambda_protocol, "seed": seed,
               "data_fraction": key.data_fraction, "train_rows": train_rows,
               "status": result.status, "epochs": len(result.history),
               "best_epoch": result.best_epoch, "train_seconds": round(result.seconds, 3),
               "steps": result.steps, "step_seconds": result.train_step_seconds,
               "peak_mib": result.peak_step_bytes / 2 ** 20,
               "extra_backward": extra_backward_passes(reg, key.lam),
               "val_loss": result.best_val_loss, "checkpoint": str(ckpt.relative_to(self.out)),
               **(settings or dict.fromkeys(RUN_RECORD.settings()))}
        per_sequence, methods = [], {}
        if result.status == "ok" and evaluate:
            performance, methods, per_sequence, attr = self.evaluate(
                result.model, seed, regularizer, examples=key.data_fraction >= 1)
            row.update(performance)
            if attr is not None:
                names = [r["sequence"] for r in per_sequence if r["method"] == "deep_lift_shap"]
                row["attributions"] = self.store.save_attributions(key, attr.numpy(), names)
        record = {"key": key.__dict__, "row": row, "methods": methods,
                  "history": result.history, "per_sequence": per_sequence}
        self.store.save(key, record)
        return record

    def training_data(self, rows: Dataset) -> tuple:
        """(codes, the task's targets, the prior's rows) of a split, for the trainer."""
        prior_on = self.config.train_config(0).prior_on
        return (rows.codes, self.task().targets(rows),
                self.task().prior_rows(rows.labels, prior_on))

    def evaluate(self, model, seed: int, regularizer: str, examples: bool = True
                 ) -> tuple[dict, dict, list[dict], torch.Tensor | None]:
        """``evaluate.evaluate`` on the test split. Keeps the seed-0 example tracks when
        ``examples`` (a model trained on all the training rows: the report's tracks are
        the comparison's models, not those of a share run).

        Returns (performance {test_<metric>: value}, {method: {metric: value}},
        per-sequence rows, DeepLIFT/SHAP attributions (N, 4, L) on the CPU, or None when
        it is not among the methods)."""
        ev = self.config.evaluation_config()
        result = evaluate(model, self.split("test"), self.task(), ev, device=self.device,
                          freq_limit=self.freq_limit())
        performance = {TEST_PREFIX + name: value for name, value in result.performance.items()}
        methods = {method: dict(zip(rows["metric"], rows["value"]))
                   for method, rows in result.summary.groupby("method", sort=False)}
        shap = result.attributions.get("deep_lift_shap")
        if shap is not None and seed == 0 and examples:
            k = ev.n_examples
            mask = None if result.motif_mask is None else result.motif_mask[:k]
            self.store.save_examples(regularizer, result.X[:k].numpy(), shap[:k].numpy(),
                                     mask, result.names[:k])
        return performance, methods, result.per_sequence.to_dict("records"), shap

    # -- the whole grid -----------------------------------------------------------------
    def run(self, report: bool = True, argv: list[str] | None = None,
            plan: bool = True) -> Path:
        """Train and score the whole grid (stored runs are loaded, not retrained),
        write the tables, config.json and, with ``report``, the report. With
        ``workers`` > 1, ``argv`` (the command's arguments after ``regbench``) starts
        the other local workers once the data are ready. ``plan``: print the plan
        (timing a few steps first)."""
        workers = []
        with contextlib.ExitStack() as held:
            try:
                return self._run(report, argv, workers, plan, held)
            except BaseException:
                from regbench.workers import stop_local_workers
                stop_local_workers(workers)
                raise

    def _run(self, report: bool, argv: list[str] | None, workers: list, plan: bool,
             held: contextlib.ExitStack) -> Path:
        started = dt.datetime.now().astimezone()
        t0 = time.perf_counter()
        self.check_data()
        self.out.mkdir(parents=True, exist_ok=True)
        if not self.config.tuning_config().storage:
            # Alone on the folder: a second run would train every run again and write
            # a results.csv of its own. With a storage the grid shares the runs out (the
            # local workers this run starts get it through the environment).
            held.enter_context(lock_folder(self.out))
        self.prepare_data()
        apply_process_settings(self.device)
        from regbench.threads import apply_threads, available_cores
        threads = self.config.threads
        if self.config.workers > 1 and threads is None:   # each worker its share
            threads = max(1, available_cores() // self.config.workers)
        if self.config.workers > available_cores():
            print(f"warning: {self.config.workers} workers on {available_cores()} cores "
                  "share them, one thread each, and are slower than one worker per core "
                  "(4 workers on 2 cores: 0.97x one worker's speed, benchmarks/README.md)",
                  file=sys.stderr, flush=True)
        warning = apply_threads(threads)
        if warning:
            print(warning, file=sys.stderr, flush=True)
        if self.config.workers > 1 and argv is not None:
            from regbench.workers import start_local_workers
            from regbench.tune import default_storage
            storage = self.config.tuning_config().storage or default_storage(self.out)
            workers += start_local_workers(argv, self.config.workers - 1, threads, self.out,
                                           storage)
            print(f"started {len(workers)} more local worker(s), {threads} thread(s) each; "
                  f"logs in {self.out / 'logs'}", flush=True)
        if plan and self.all_stored():   # a rerun: no steps to time, nothing to plan
            print(f"plan: every run is stored in {self.out} already; the tables and the "
                  "report are written again", flush=True)
        elif plan:
            from regbench.plan import describe_plan
            print(describe_plan(self), flush=True)
        if self.config.tune:
            self.tune_lambdas()
        grid = [(r, s) for r in self.regularizers for s in range(self.config.seeds)]
        if self.shares_grid():
            from regbench.workers import work_grid
            work_grid(self, grid, self.config.data_fractions())
            from regbench.workers import wait_local_workers
            wait_local_workers(workers)
            missing = self.collect_grid(grid)
        else:
            self.train_grid(grid)
            missing = 0
        for line in self.store.settings_warnings():
            print(line, file=sys.stderr, flush=True)
        self.write_config(started, time.perf_counter() - t0)
        if missing:
            raise RegbenchError(
                f"the seed grid is complete, but {missing} of its runs were trained by "
                f"workers whose results folder {self.out} does not hold: give every "
                "worker one shared --out, or --artifacts DIR|s3://BUCKET; then gather "
                f"them with `regbench report {self.out} --storage URL`")
        if report:
            from regbench.report import write_report
            write_report(self.out)
            print(f"results: {self.out / 'results.csv'}\nreport:  {self.out / 'report.html'}",
                  flush=True)
        return self.out

    def shares_grid(self) -> bool:
        """Whether the seed grid is worked through the Optuna storage as a queue
        (``regbench.workers``): a storage was given, so workers on other machines may
        join, or this command starts local workers."""
        return bool(self.config.tuning_config().storage) or self.config.workers > 1

    def train_grid(self, grid) -> None:
        """Train (or load) every run of ``grid`` on all the data, then on each data
        fraction, writing the tables as runs finish."""
        records = []
        for record in self._train_grid(grid, "seed runs"):
            records.append(record)
            self.write_tables(records)
        done = []
        for fraction in self.config.data_fractions():
            # Kept apart, in results_fraction.csv, so no other table mixes them in.
            for record in self._train_grid(grid, f"{fraction:g} of the data", fraction):
                done.append(record)
                atomic_write_csv(results_frame(done), self.out / "results_fraction.csv")

    def collect_grid(self, grid) -> int:
        """The tables of a grid that workers trained: every run's stored record, in
        grid order. Returns how many are missing (trained by workers whose folder this
        one cannot see)."""
        return self.store.write_grid_tables(
            [(self.key(r, s, data_fraction=f).id(), f)
             for f in [1.0, *self.config.data_fractions()] for r, s in grid],
            stamp=self.stamped)

    def stamped(self, record: dict) -> dict:
        """The record with this run's λ protocol and λ source in its row, right after
        λ: a stored run (same key: same λ) may have been trained under another
        protocol."""
        row, reg = record["row"], record["row"]["regularizer"]
        if reg not in self.lambda_sources:
            return record
        stamped = {}
        for key, value in row.items():
            if key not in ("lambda_source", "lambda_protocol"):
                stamped[key] = value
            if key == "lambda":
                stamped["lambda_source"] = self.lambda_sources[reg]
                stamped["lambda_protocol"] = self.lambda_protocol
        return {**record, "row": stamped}

    def _train_grid(self, grid, desc: str, data_fraction: float = 1.0):
        """Yield the record of every (regularizer, seed) of ``grid`` as it is trained or
        loaded, on ``data_fraction`` of the training rows, under one progress bar."""
        groups = self.seed_grid_groups(grid)
        with tqdm(total=len(grid), desc=desc, unit="model", disable=not self.config.progress,
                  dynamic_ncols=True) as bar:
            done = 0
            for regularizer, seeds in groups:
                bar.set_postfix(reg=regularizer, seed=seeds[0])
                for record in self.train_seeds(regularizer, seeds, data_fraction, bar=bar):
                    record = self.stamped(record)
                    bar.update()
                    done += 1
                    if not self.config.progress:   # a log gets a line per model instead
                        row = record["row"]
                        print(f"{desc}: {done}/{len(grid)} {row['regularizer']} seed "
                              f"{row['seed']} ({row['status']}, best epoch "
                              f"{row['best_epoch']} of {row['epochs']})", flush=True)
                    yield record

    def seed_grid_groups(self, grid) -> list[tuple[str, list[int]]]:
        """The (regularizer, seed) pairs of ``grid`` as (regularizer, seeds trained
        together), in grid order (``seed_groups``)."""
        wanted = set(grid)
        return [(r, [s for s in seeds if (r, s) in wanted])
                for r in dict.fromkeys(r for r, _ in grid) for seeds in self.seed_groups(r)
                if any((r, s) in wanted for s in seeds)]

    def tune_lambdas(self) -> dict:
        """Choose λ by the run's protocol (``lambda_protocol``, LAMBDA_PROTOCOLS) for
        every regularizer whose λ the user did not fix; returns the TuneResults of the
        searches (constrained, loss), {} for the others. What each λ rests on goes to
        ``lambda_reference`` (config.json) and is printed."""
        searched = self.searched_regularizers()
        if self.lambda_protocol == "fixed" or not searched:
            return {}
        if self.lambda_protocol == "constrained" and self.validation_truth() is None:
            print("λ protocol: this data has neither motifs nor peak intervals to score "
                  "attributions against, so the constrained search cannot run: λ is "
                  "searched by validation loss instead (protocol loss)", flush=True)
            self.lambda_protocol = "loss"
            self.lambda_reference["fallback"] = "constrained -> loss: no ground truth"
        if self.lambda_protocol == "paper":
            for name in searched:
                lam, source, why = self.paper_lambda(name)
                self.lambdas[name], self.lambda_sources[name] = lam, source
                self.lambda_reference.setdefault("rules", {})[name] = why
                print(f"λ {name}: {lam:.4g} ({source}: {why})", flush=True)
            return {}
        return self._search_lambdas(searched)

    def _search_lambdas(self, searched: list[str]) -> dict:
        """The constrained or loss protocol's Optuna search of each regularizer in
        ``searched``, the registry's λ (and, constrained, the scale rule's) tried first."""
        import optuna

        from regbench.tune import search_notes, write_lambda_search
        optuna.logging.set_verbosity(optuna.logging.WARNING)  # our own line per study
        tuning = self.config.tuning_config()
        reference = self.none_reference(NOISE_SEEDS)
        constrained = self.lambda_protocol == "constrained"
        objective = "constrained" if constrained else tuning.objective
        limit = reference["loss"] + reference["noise"] if constrained else None
        if constrained:
            metric = self.validation_truth()[0]
            self.lambda_reference.update(loss_limit=limit, interpretability=(
                f"DeepLIFT/SHAP {metric} of the validation positives"))
            print(f"λ protocol constrained: the most interpretable λ (DeepLIFT/SHAP {metric} "
                  f"of the validation positives) whose validation loss is at most none's "
                  f"(seed 0) {reference['loss']:.4f} + its seed noise "
                  f"{reference['noise']:.4f} = {limit:.4f}", flush=True)
        results = {}
        for i, name in enumerate(searched, 1):
            enqueue = [get_spec(name).default_lambda]
            if constrained:
                scale, why = self.scale_rule(name)
                self.lambda_reference.setdefault("rules", {})[name] = (
                    f"tried first: the registry's λ {enqueue[0]:g}, the scale rule's: {why}")
                enqueue += [scale] if scale is not None else []
            study = f"{tuning.study_name}-{name}" if tuning.study_name else None
            result = self.search_lambda(
                name, n_trials=tuning.trials, timeout=tuning.timeout,
                storage=tuning.storage, study_name=study, objective=objective,
                progress=self.config.progress, trial_epochs=tuning.trial_epochs,
                heartbeat=tuning.heartbeat, grace=tuning.grace_period,
                label=f"λ search {i}/{len(searched)}", enqueue=tuple(enqueue),
                loss_limit=limit)
            results[name] = result
            if constrained:   # the study's limit (another worker's, should they differ)
                self.lambda_reference.setdefault("loss_limits", {})[name] = result.loss_limit
            write_lambda_search(self.out, results)
            self._use_search(name, result, objective)
            for note in search_notes(result.trials, get_spec(name).lambda_range,
                                     result.best_lambda, reference["noise"],
                                     flat=not constrained):
                self.lambda_reference.setdefault("notes", {}).setdefault(name, []).append(note)
                print(f"λ search {name}: note: {note}", flush=True)
        return results

    def _use_search(self, name: str, result, objective: str) -> None:
        """Take a search's λ; a constrained search with no feasible trial falls back to
        the registry's λ (and says so)."""
        counts = (f"{result.n_complete} complete, {result.n_pruned} pruned, "
                  f"{result.n_failed} failed trials, {result.seconds:.0f} s")
        if result.best_lambda is None and objective == "constrained" and result.n_complete:
            self.lambdas[name] = get_spec(name).default_lambda
            self.lambda_sources[name] = "registry (no feasible trial)"
            print(f"λ search {name}: no trial's validation loss was within none's seed "
                  f"noise, so the registry's λ={self.lambdas[name]:.4g} is used; {counts}",
                  flush=True)
            return
        if result.best_lambda is None:
            raise RegbenchError(f"no λ trial of {name} completed; raise --trials or "
                                "--trial-epochs, or fix λ with --lambda")
        self.lambdas[name] = result.best_lambda
        self.lambda_sources[name] = ("tuned (constrained)" if objective == "constrained"
                                     else f"tuned ({self.lambda_protocol}"
                                     + (", pareto)" if objective == "pareto" else ")"))
        score = (f", interpretability {result.best_score:.4f}"
                 if objective == "constrained" else "")
        print(f"λ search {name}: λ={result.best_lambda:.4g} (validation loss "
              f"{result.best_value:.4f}{score}); {counts}", flush=True)

    # -- what λ rules rest on ---------------------------------------------------------
    def none_reference(self, n_seeds: int) -> dict:
        """``none`` trained at the λ search's settings (OUT/tuning: at most [tuning]
        trial_epochs, scored on validation data only) with seeds 0..n_seeds-1, stored
        runs trained once: {"seeds", "losses" (best validation loss per seed), "loss"
        (seed 0's: the trials train seed 0 too, so the comparison is paired), "mean",
        "noise" (the losses' sd, ddof 1; 0 for one seed), "checkpoint" (seed 0's model),
        "epochs"}. Also kept in ``lambda_reference``."""
        cached = getattr(self, "_none_reference", None)
        if cached is not None and cached["seeds"] >= n_seeds:
            return cached
        bench = self._reference_bench()
        records = [bench.train_one("none", seed, lam=0.0, evaluate=False)
                   for seed in range(n_seeds)]
        failed = [r["row"]["seed"] for r in records if r["row"]["status"] != "ok"]
        if failed:
            raise RegbenchError(f"the none model of seed {failed[0]} (the λ protocol's "
                                "reference) did not train; fix the training settings or "
                                "use --lambda-protocol fixed")
        losses = [float(r["row"]["val_loss"]) for r in records]
        self._none_reference = {
            "seeds": n_seeds, "losses": losses, "loss": losses[0],
            "mean": float(np.mean(losses)),
            "noise": float(np.std(losses, ddof=1)) if n_seeds > 1 else 0.0,
            "checkpoint": str(bench.out / records[0]["row"]["checkpoint"]),
            "epochs": bench.config.train_config(0).max_epochs}
        self.lambda_reference["none"] = {
            k: v for k, v in self._none_reference.items() if k != "checkpoint"}
        epochs = self._none_reference["epochs"]
        self.lambda_reference["none"]["rule"] = (
            f"none trained with seeds 0-{n_seeds - 1} at the λ search's settings (at most "
            f"{epochs} epoch(s)): loss = seed 0's best validation loss (trials train seed "
            "0), noise = the sd of the seeds' best validation losses")
        print(f"λ reference: none at the λ search's settings (at most {epochs} epoch(s)): "
              f"validation loss {losses[0]:.4f} (seed 0)"
              + (f", sd {self._none_reference['noise']:.4f} across seeds 0-{n_seeds - 1}"
                 if n_seeds > 1 else ""), flush=True)
        return self._none_reference

    def _reference_bench(self) -> "Benchmark":
        return self._trial_bench("none", self.config.tuning_config().trial_epochs)

    def penalty_on_none(self, regularizer: str) -> tuple[float, float]:
        """(validation loss, penalty of ``regularizer``) measured on the reference's
        trained none model (seed 0), as training reports them (``measured_penalty``)."""
        reference = self.none_reference(1)
        model, _ = load_checkpoint(reference["checkpoint"], device=self.device)
        return measured_penalty(self.task(), self.regularizer(regularizer), model,
                                self.training_data(self.split("valid")),
                                self.config.train_config(0))

    def paper_scale_loss_on_none(self) -> float:
        """The reference's trained none model's (seed 0) validation correctness loss as
        the paper's authors' code computes it (``Task.paper_scale_loss``)."""
        model, _ = load_checkpoint(self.none_reference(1)["checkpoint"], device=self.device)
        trainer = Trainer(self.task(), self.regularizer("none"), 0.0,
                          self.config.train_config(0))
        codes, targets, _ = self.training_data(self.split("valid"))
        outputs, targets = trainer.outputs(model.to(trainer.device),
                                           *trainer.to_device(codes, targets))
        return float(self.task().paper_scale_loss(outputs, targets))

    def scale_rule(self, regularizer: str) -> tuple[float | None, str]:
        """(λ at which λ × the penalty measured on the trained none model equals that
        model's validation loss, or None when the penalty is 0; the sentence saying
        so, with the measured numbers)."""
        loss, penalty = self.penalty_on_none(regularizer)
        lam = scale_lambda(loss, penalty)
        self.lambda_reference.setdefault("penalties", {})[regularizer] = penalty
        if lam is None:
            return None, (f"its penalty on the trained none model is {penalty:.4g}, so no "
                          "λ scales it to the loss")
        low, high = get_spec(regularizer).lambda_range or (lam, lam)
        outside = (f"; outside the registry's range [{low:g}, {high:g}]"
                   if not low <= lam <= high else "")
        return lam, (f"none's validation loss {loss:.4g} ÷ |its penalty on the trained none "
                     f"model, {penalty:.4g}| = {lam:.4g}{outside}")

    def paper_lambda(self, regularizer: str) -> tuple[float, str, str]:
        """The paper protocol's λ of ``regularizer``: (λ, its source, why). Fourier:
        1 on binary models, ½ × none's validation loss on profile models; every other
        penalty: the scale rule (the registry's λ when the penalty measures 0)."""
        if regularizer.split("@")[0] == "fourier":
            if self.config.task == "binary":
                return 1.0, "paper rule", ("Fourier prior on a binary model: λ = 1 "
                                           "(paper §2.2)")
            loss = self.penalty_on_none(regularizer)[0]
            authors = self.paper_scale_loss_on_none()
            self.lambda_reference["paper_rule"] = {
                "none_validation_loss": loss, "authors_correctness_loss": authors,
                "lambda": 0.5 * authors}
            return 0.5 * authors, "paper rule", (
                f"Fourier prior on a profile model: ½ × none's validation correctness loss "
                f"as the authors' code computes it, {authors:.4g} (multinomial constants "
                f"in; regbench's loss without them: {loss:.4g}) (paper §2.2)")
        lam, why = self.scale_rule(regularizer)
        if lam is None:
            default = get_spec(regularizer).default_lambda
            return (default, "registry (scale rule undefined)",
                    f"{why}; registry λ {default:g}")
        return lam, "scale rule", why

    def search_lambda(self, regularizer: str, *, n_trials: int, trial_epochs=None,
                      **options):
        """``tune.tune_lambda`` for one regularizer on this benchmark's data, with trials
        trained into OUT/tuning; ``options`` as tune_lambda's (timeout, storage,
        study_name, objective, seed, progress, label, enqueue, loss_limit). Returns
        its TuneResult."""
        from regbench.tune import check_search, tune_lambda
        check_search(regularizer, n_trials, options.get("objective", "loss"))
        if self.dataset is None:
            self.check_data()
            self.out.mkdir(parents=True, exist_ok=True)
            self.prepare_data()
        return tune_lambda(self.lambda_trials(regularizer, trial_epochs), regularizer,
                           n_trials=n_trials, **options)

    def lambda_trials(self, regularizer: str, trial_epochs: int | None):
        """The λ search's ``tune.Trials``: seed 0 of ``regularizer`` trained at a trial's
        λ for at most ``trial_epochs`` epochs into OUT/tuning (runs/, checkpoints/),
        apart from the comparison's runs, scored on validation data only."""
        from regbench.tune import Trials
        trials = self._trial_bench(regularizer, trial_epochs)
        has_motifs = self.dataset.motif_mask is not None
        return Trials(
            train=lambda lam, on_epoch: trials.train_one(
                regularizer, 0, lam=lam, epoch_callback=on_epoch, evaluate=False),
            run_id=lambda lam: trials.key(regularizer, 0, lam).id(),
            score=trials.validation_motif_auprc if has_motifs else None,
            study_key=f"{self.dataset.fingerprint}-{trials.config.hash()}", out=self.out,
            interpretability=(trials.validation_interpretability
                              if self.validation_truth() is not None else None))

    def _trial_bench(self, regularizer: str, trial_epochs: int | None) -> "Benchmark":
        """The Benchmark of the λ search's runs of ``regularizer``: OUT/tuning, at most
        ``trial_epochs`` epochs, this one's data."""
        config = copy.deepcopy(self.config)
        config.regularizers, config.lambdas = [regularizer], {}
        config.out = str(self.out / "tuning")
        if trial_epochs is not None:
            if trial_epochs < 1:
                raise RegbenchError(f"--trial-epochs must be >= 1, got {trial_epochs}")
            if trial_epochs != config.train_config(0).max_epochs:
                config.train = {**config.train, "max_epochs": int(trial_epochs)}
        trials = Benchmark(config)
        trials.dataset, trials._splits = self.dataset, self._splits  # rows extracted once
        trials.lambda_sources[regularizer] = "search"
        return trials

    def validation_truth(self) -> tuple[str, str] | None:
        """(metric, Dataset field) the constrained λ search scores validation
        attributions with: motif auPRC where the data has motifs, else peak auPRC (genome
        peak intervals); None without either."""
        if self.dataset.motif_mask is not None:
            return "motif auPRC", "motif_mask"
        if self.dataset.peak_mask is not None:
            return "peak auPRC", "peak_mask"
        return None

    def validation_interpretability(self, record: dict) -> float:
        """The constrained search's score of a stored run: DeepLIFT/SHAP auPRC of the
        ground truth (``validation_truth``) on positive validation sequences."""
        return self.validation_motif_auprc(record, self.validation_truth()[1])

    def validation_motif_auprc(self, record: dict, truth: str = "motif_mask") -> float:
        """Motif auPRC (pooled, as ``metrics.motif_auprc``) of DeepLIFT/SHAP attributions
        of a stored run's model on positive validation sequences; the test set stays out
        of the λ search. truth: the Dataset's mask scored (motif_mask, peak_mask)."""
        valid = self.split("valid")
        ev = self.config.evaluation_config()
        task = self.task()
        rows, target = task.attributed_rows(valid.labels, ev.max_sequences)
        mask = getattr(valid, truth)
        if mask is None or not len(rows):
            return float("nan")
        from regbench.store import folder_file   # a record of another worker: not trusted
        checkpoint = folder_file(self.out, record["row"]["checkpoint"], "checkpoints")
        model, _ = load_checkpoint(checkpoint, device=self.device)
        args = tuple(a[rows] for a in task.model_args(torch.as_tensor(task.targets(valid))))
        attr = explain("deep_lift_shap", task.explainer(model), one_hot(valid.codes[rows]),
                       explain_settings(ev, target, self.device, args))
        return motif_auprc(attr.cpu().numpy(), mask[rows])

    def all_stored(self) -> bool:
        """Whether every seed run and share run is stored already, as far as their keys
        are known before training: False while a λ is still to be searched."""
        if self.config.tune and self.searched_regularizers():
            return False
        shares = [1.0, *self.config.data_fractions()]
        return all(self.store.record_path(self.key(r, seed, data_fraction=share)).exists()
                   for r in self.regularizers for seed in range(self.config.seeds)
                   for share in shares)

    def searched_regularizers(self) -> list[str]:
        """The regularizers whose λ a tuning run searches: not fixed by the user, and
        with a λ that means something (not ``none``)."""
        return [name for name in self.regularizers
                if self.lambda_sources[name] != "--lambda" and get_spec(name).searchable]

    def _tuning_info(self) -> dict | None:
        if not self.config.tune:
            return None
        from regbench.tune import redact_url
        info = dict(self.config.tuning_config().__dict__)
        info["storage"] = redact_url(info["storage"]) if info["storage"] else None
        return info

    def write_tables(self, records: list[dict]) -> None:
        self.store.write_tables(records)

    def _paper_differences(self) -> str:
        """The preset's differences from the paper; its simulated data sizes apply only
        when the data are simulated."""
        text = paper_differences(self.config.preset, self.config.task)
        if text and not isinstance(self.source, SimulatedSource):
            ds = self.dataset
            text += (f" (its simulated data sizes do not apply: these data are "
                     f"{len(ds.names)} sequences x {ds.length} bp from {self.source.name})")
        return text

    def _model_info(self) -> dict:
        """The model's settings for config.json; the architecture named unless it is the
        default binary CNN (config.json of earlier runs had no such key)."""
        record = dict(self.task().model_record())
        architecture, params = record.pop("architecture"), record.pop("params")
        if architecture == "binary_cnn" and not record:
            return params
        return {"architecture": architecture, **params, **record}

    def write_config(self, started, wall_seconds: float) -> None:
        ds = self.dataset
        info = {
            **self.config.to_dict(),
            "tuning": self._tuning_info(),
            "regularizers": self.regularizers,
            "lambdas": self.lambdas,
            "lambda_source": self.lambda_sources,
            "lambda_protocol": self.lambda_protocol,
            "lambda_reference": self.lambda_reference or None,
            "data": self.source.describe(ds),
            "dataset_fingerprint": ds.fingerprint,
            "split": ds.split_source,
            "split_sizes": {split: {"sequences": int((ds.split == split).sum()),
                                    "positives": int((ds.labels[ds.split == split].max(axis=1)
                                                      > 0).sum())}
                            for split in ("train", "valid", "test")},
            "device": str(self.device),
            "task": self.config.task,
            "model": self._model_info(),
            "train": self.config.train_config(0).__dict__,
            "evaluation": self.config.evaluation_config().__dict__,
            **({"explained_output": self.task().explained_output_rule()}
               if self.task().explained_output_rule() else {}),
            "freq_limit": self.freq_limit(),
            "freq_limit_rule": self.task().freq_limit_rule(ds.codes.shape[1]) + (
                "; [evaluation] freq_limit sets the metric's T" if
                self.config.evaluation_config().freq_limit else ""),
            "paper_differences": self._paper_differences(),
            "config_hash": self.config.hash(),
            "regbench_version": __version__,
            "torch_version": torch.__version__,
            "started": started.isoformat(timespec="seconds"),
            "finished": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            "wall_seconds": round(wall_seconds, 1),
        }
        atomic_write(self.out / "config.json", json.dumps(info, indent=2, default=str))
