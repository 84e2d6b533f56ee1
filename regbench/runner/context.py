"""The run context: what one results folder's runs share, known before any training.

A ``RunContext`` holds the configuration, the data source and its Dataset, the splits
(extracted once per process), the task, the regularizer objects, the run keys and the
λ of each regularizer (with its source and the protocol that chose it). The executor
(``regbench.runner.executor``), the λ search (``regbench.runner.lambda_search``), the plan, the
workers and the manifest are handed a context; none of them builds a second one by
copying another's state: the λ search's trials get a context of their own
(``for_trials``) that is handed this one's data.
"""
from __future__ import annotations

import copy
from pathlib import Path

import torch

from regbench.options.config import RunConfig
from regbench.data import Dataset, FolderSource, SimulatedSource, source_of
from regbench.errors import RegbenchError
from regbench.runner.lambda_choice import LambdaChoice
from regbench.regularizers import get_spec
from regbench.runtime.hardware import hardware
from regbench.runner.values import RunFacts, RunInputs, Scoring, TrainingData
from regbench.runner.checks import check_run, resolve_lambdas, resolve_regularizers
from regbench.spectra import check_freq_limit
from regbench.store.runs import RunKey, RunStore
from regbench.tasks import Task, create_task
from regbench.training.train import resolve_device

# Seeds trained as one grouped model when models_per_group is not set, by device type.
# CPU: 1, grouping gains under 10% there (benchmarks/README.md, grouped training).
# CUDA: 1 too, though an H200 trained 8-32 grouped Fourier models 2-3.5x faster: its one
# grouped-vs-solo comparison scored all 8 grouped models lower (benchmarks/README.md),
# which the CPU does not show; a default must not change results until that is understood.
DEFAULT_MODELS_PER_GROUP = {"cpu": 1, "cuda": 1}


class RunContext:
    """One results folder's configuration, data, splits, task, keys and λ."""

    def __init__(self, config: RunConfig, *, dataset: Dataset | None = None,
                 splits: dict[str, Dataset] | None = None):
        """``dataset`` and ``splits``: data another context of the same data loaded
        already (the λ search's trials: rows extracted once)."""
        self.config = config
        check_run(config)  # before anything is written; the CLI's check, too
        self.out = Path(config.out)
        self.store = RunStore(self.out)
        self.regularizers = resolve_regularizers(config.regularizers, config.task)
        lambdas, sources = resolve_lambdas(config, self.regularizers)
        # replaced by the λ search's choice (use_lambdas), never changed in place
        self.choice = LambdaChoice(config.lambda_protocol(), lambdas, sources)
        self.device = resolve_device(config.device)
        self.dataset: Dataset | None = dataset
        self._splits: dict[str, Dataset] = {} if splits is None else splits
        self._task: Task | None = None
        self.source = source_of(config)

    def for_trials(self, regularizer: str, trial_epochs: int | None) -> "RunContext":
        """The context of the λ search's runs of ``regularizer``: OUT/tuning, at most
        ``trial_epochs`` epochs, this one's data (rows extracted once)."""
        config = copy.deepcopy(self.config)
        config.regularizers, config.lambdas = [regularizer], {}
        config.out = str(self.out / "tuning")
        if trial_epochs is not None:
            if trial_epochs < 1:
                raise RegbenchError(f"--trial-epochs must be >= 1, got {trial_epochs}")
            if trial_epochs != config.train_config(0).max_epochs:
                config.train = {**config.train, "max_epochs": int(trial_epochs)}
        trials = RunContext(config, dataset=self.dataset, splits=self._splits)
        trials.use_lambdas(trials.choice.chose(regularizer, trials.choice.lambdas[regularizer],
                                               "search"))
        return trials

    def use_lambdas(self, choice: LambdaChoice) -> None:
        """Train with the λ of ``choice`` (the λ search's) from now on."""
        self.choice = choice

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

    def ready_data(self) -> Dataset:
        """The Dataset, checked and loaded (``check_data``, ``prepare_data``) the first
        time it is asked for."""
        if self.dataset is None:
            self.check_data()
            self.out.mkdir(parents=True, exist_ok=True)
            self.prepare_data()
        return self.dataset

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
        if isinstance(self.source, FolderSource) and dataset.motif_mask is None and \
                not (dataset.path / "motifs.bed").is_file():   # else noted on loading
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
        lam = self.choice.lambdas[regularizer] if lam is None else lam
        return RunKey(self.dataset.fingerprint, regularizer, float(lam), int(seed),
                      float(data_fraction), self.config.hash(), self.config.evaluation_hash())

    def study_key(self) -> str:
        """What names this context's Optuna studies: its data and its configuration."""
        return f"{self.dataset.fingerprint}-{self.config.hash()}"

    def train_rows(self, seed: int, fraction: float = 1.0) -> Dataset:
        """The training split, or a share of it (``Dataset.share``)."""
        return self.split("train").share(seed, fraction)

    def run_inputs(self, key: RunKey, models_per_group: int = 1) -> RunInputs:
        """The frozen inputs of training the run ``key`` (``runner.values.RunInputs``);
        ``models_per_group``: models trained together with it (1: alone)."""
        train = self.train_rows(key.seed, key.data_fraction)
        return RunInputs(
            key=key, task=self.task(), regularizer=self.regularizer(key.regularizer),
            config=self.config.train_config(key.seed),
            # flanked windows (jitter) for training only: validation uses the centred ones
            train=self.training_data(train.with_flanks()),
            valid=self.training_data(self.split("valid")), train_rows=len(train.codes),
            checkpoint=self.store.checkpoint_path(key),
            settings=self.run_settings(models_per_group))

    def facts(self) -> RunFacts:
        """What every run of this folder shares, with the λ chosen so far."""
        config = self.config
        return RunFacts(
            out=self.out, device=self.device, task=config.task,
            regularizers=tuple(self.regularizers), searched=tuple(self.searched_regularizers()),
            seeds=config.seeds, data_fractions=tuple(config.data_fractions()),
            progress=config.progress, train=config.train_config(0),
            tuning=config.tuning_config(), evaluation=config.evaluation_config(),
            choice=self.choice)

    def scoring(self, split: str) -> Scoring:
        """What ``evaluate`` needs to score a model on ``split`` (valid, test)."""
        return Scoring(self.split(split), self.task(), self.config.evaluation_config(),
                       self.device, self.freq_limit())

    def training_values(self) -> TrainingData:
        """The task, seed 0's settings, the train (centred) and validation rows and the
        regularizer objects of none and the run's regularizers."""
        names = dict.fromkeys(["none", *self.regularizers])
        return TrainingData(self.task(), self.config.train_config(0),
                            self.training_data(self.split("train")),
                            self.training_data(self.split("valid")),
                            {name: self.regularizer(name) for name in names})

    def regularizer(self, name: str):
        """The registry's regularizer ``name`` with this task's and the user's
        parameters."""
        params = {**self.task().prior_defaults().get(name.split("@")[0], {}),
                  **self.config.regularizer_params.get(name, {})}
        return get_spec(name).create(**params)

    def training_data(self, rows: Dataset) -> tuple:
        """(codes, the task's targets, the prior's rows) of a split, for the trainer."""
        prior_on = self.config.train_config(0).prior_on
        return (rows.codes, self.task().targets(rows),
                self.task().prior_rows(rows.labels, prior_on))

    def groupable(self, reg) -> bool:
        """Whether seeds of the regularizer object ``reg`` train as one grouped model."""
        from regbench.training.group import can_group
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
        size = self.models_per_group() if self.groupable(self.regularizer(regularizer)) else 1
        return [seeds[i:i + size] for i in range(0, len(seeds), size)]

    def seed_grid_groups(self, grid) -> list[tuple[str, list[int]]]:
        """The (regularizer, seed) pairs of ``grid`` as (regularizer, seeds trained
        together), in grid order (``seed_groups``)."""
        wanted = set(grid)
        return [(r, [s for s in seeds if (r, s) in wanted])
                for r in dict.fromkeys(r for r, _ in grid) for seeds in self.seed_groups(r)
                if any((r, s) in wanted for s in seeds)]

    def run_settings(self, models_per_group: int = 1) -> dict:
        """How this process trains: settings the run keys leave out, though they move
        the numbers (docs/distributed.md: grouping and threads moved a test auROC by 0.13 and 0.07;
        the processor picks torch's kernels: ``runtime.hardware``);
        every results.csv row records them. ``models_per_group``: models trained
        together with this one (1: alone)."""
        return {"threads": torch.get_num_threads(), "device": str(self.device),
                "models_per_group": models_per_group, "hardware": hardware(self.device)}

    # -- the grid -----------------------------------------------------------------------
    def searched_regularizers(self) -> list[str]:
        """The regularizers whose λ a tuning run searches: not fixed by the user, and
        with a λ that means something (not ``none``)."""
        return [name for name in self.regularizers
                if self.choice.sources[name] != "--lambda" and get_spec(name).searchable]

    def all_stored(self) -> bool:
        """Whether every seed run and share run is stored already, as far as their keys
        are known before training: False while a λ is still to be searched."""
        if self.config.tune and self.searched_regularizers():
            return False
        shares = [1.0, *self.config.data_fractions()]
        return all(self.store.record_path(self.key(r, seed, data_fraction=share)).exists()
                   for r in self.regularizers for seed in range(self.config.seeds)
                   for share in shares)

    def shares_grid(self) -> bool:
        """Whether the seed grid is worked through the Optuna storage as a queue
        (``regbench.distributed.workers``): a storage was given, so workers on other machines may
        join, or this command starts local workers."""
        return bool(self.config.tuning_config().storage) or self.config.worker_count() > 1


__all__ = ["DEFAULT_MODELS_PER_GROUP", "RunContext"]
