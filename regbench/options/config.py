"""Typed run configuration: presets (smoke, quick, paper), TOML loading, validation.

A config file uses the same keys as the command-line flags, plus the sections
``[model]``, ``[train]``, ``[evaluation]`` and ``[simulate]`` (scenario overrides).
Unknown keys are an error so that a typo never silently changes an experiment; files
and flags are overlaid by ``options.merge``.
"""
from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import os
from dataclasses import asdict, dataclass, field, fields
from types import MappingProxyType
from typing import Mapping

from regbench.options.checks import check_fields, check_output_folder
from regbench.errors import RegbenchError
from regbench.options.presets import (PAPER_DIFFERENCES, PRESETS, paper_differences,  # noqa: F401
                              task_settings)
from regbench.options.settings import BinaryModelConfig, TrainConfig

# Raised whenever a stored run's numbers would mean something else: 2 = the paper's
# ReLU -> batch norm order, the authors' metric definitions, one reference seed.
RESULTS_VERSION = 2

# Raised (per task, in its config hash) whenever a task's stored runs would mean
# something else; binary runs use RESULTS_VERSION alone. profile 1: the padding-free
# output, counts pooled under it, the cut-off 200/1346 × the input length.
TASK_RESULTS_VERSIONS = {"profile": 1}

@dataclass(frozen=True)
class EvaluationConfig:
    """How trained models are scored."""

    n_shuffles: int = 20          # dinucleotide-shuffled references for DeepLIFT/SHAP
    max_sequences: int = 1000     # positive test sequences attributed per model
    n_examples: int = 3           # example tracks kept for the report
    batch_size: int = 128
    # One seed for the references of every model's evaluation attributions, so models
    # (seeds, regularizers) are explained against the same shuffles and differ only by
    # what they learned, not by reference noise.
    reference_seed: int = 0
    # Attribution methods scored, by name in the attribution registry (`regbench
    # methods` lists them); "all" or ["all"]: every registered method. Held as the list
    # of names it means (``resolve_methods``), so the evaluation hash names them.
    methods: list[str] | str = field(default_factory=lambda: ["deep_lift_shap",
                                                              "input_x_gradient"])
    # T of the high-frequency fraction; None: 0.15 L (150 at 1000 bp, the paper's).
    # An evaluation setting of its own, whatever the Fourier prior's freq_limit is.
    freq_limit: int | None = None
    # Integrated gradients: points on each path (midpoint rule); more is closer to the
    # integral (completeness) and costs proportionally more.
    ig_steps: int = 20

    def __post_init__(self):
        object.__setattr__(self, "methods", resolve_methods(self.methods))

    def validate(self) -> None:
        for key in ("n_shuffles", "max_sequences", "batch_size", "ig_steps"):
            if getattr(self, key) < 1:
                raise RegbenchError(f"[evaluation] {key} = {getattr(self, key)} is not valid: "
                                    "expected an integer >= 1")
        if self.n_examples < 0:
            raise RegbenchError(f"[evaluation] n_examples = {self.n_examples} is not valid: "
                                "expected an integer >= 0")
        if self.freq_limit is not None and self.freq_limit < 1:
            raise RegbenchError(f"[evaluation] freq_limit = {self.freq_limit} is not valid: "
                                "expected an integer >= 1, or leave it out for 0.15 L")

    def hashed(self) -> dict:
        """The settings that key a scored run: all of them, but a setting added after
        runs were stored only when it differs from the value those runs were scored
        with, so their keys hold."""
        return {k: v for k, v in asdict(self).items()
                if k not in ADDED_LATER or v != ADDED_LATER[k]}


# [evaluation] settings added after runs were stored, with the value those runs used.
ADDED_LATER = {"ig_steps": 20}


def resolve_methods(value) -> list[str]:
    """``[evaluation] methods`` ("all", a name, a comma list or a list of names) -> the
    registered names it means, "all" expanded; an unknown name is one RegbenchError line
    listing the known ones. The attribution registry (and torch) is loaded only for
    "all" or a name that is not built in."""
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise RegbenchError(f"[evaluation] methods = {value!r} is not valid: expected "
                            "'all', a method name or a list of names (regbench methods)")
    names = list(dict.fromkeys(v.strip() for v in value if v.strip()))
    if not names:
        raise RegbenchError("[evaluation] methods is empty: name at least one attribution "
                            "method, or \"all\" (regbench methods lists them)")
    from regbench.store.labels import BUILTIN_METHOD_LABELS  # torch-free
    if "all" in names or not set(names) <= set(BUILTIN_METHOD_LABELS):
        from regbench.attributions import resolve_methods as registered
        return registered(names)
    return names


# How a run's λ is chosen ([tuning] protocol, --lambda-protocol): name -> one line.
# A λ fixed with --lambda (or [lambda]) is used as given under every protocol.
# none models (seeds 0..n-1) trained at the λ search's settings, whose validation
# losses give the searches none's loss (seed 0's) and its seed noise (their sd): the
# constrained protocol's loss limit, the loss protocol's "not identified" flag.
NOISE_SEEDS = 3
# The constrained protocol's selection seeds: SELECTION_SEED_BASE + 0..n-1 ([tuning]
# selection_seeds), apart from the verdict's seeds 0..seeds-1, so the λ the verdict
# tests was never chosen on the seeds that test it.
SELECTION_SEED_BASE = 1000

LAMBDA_PROTOCOLS = {
    "constrained": "λ chosen per regularizer (Optuna, a fixed grid of decades) on selection "
                   "seeds the verdict never sees, each λ trained as the verdict's models: "
                   "the primary endpoint's best validation mean among λ whose validation "
                   "performance is within the declared margin of none's, then the "
                   "one-standard-error rule (the smallest λ within one SE of the best)",
    "paper": "the paper's rule: Fourier λ = 1 on binary models, ½ × none's validation "
             "loss on profile models (computed as the authors' code computes it, which "
             "also sets their log_softmax explained output); every other penalty λ = "
             "none's validation loss ÷ its penalty measured on the trained none model",
    "loss": "λ tuned per regularizer (Optuna) for the lowest validation loss (the "
            "paper's Figure S25B search)",
    "fixed": "the registry's documented λ, or --lambda",
}


STORAGE_VARIABLE = "REGBENCH_STORAGE"   # the Optuna storage when --storage is not given


def storage_from_environment() -> str | None:
    """$REGBENCH_STORAGE, or None when it is unset or empty."""
    return os.environ.get(STORAGE_VARIABLE) or None


@dataclass(frozen=True)
class TuningConfig:
    """The λ search (Optuna) run before the seed runs when ``tune`` is on."""

    trials: int = 20                 # finished trials per regularizer, all workers together
    trial_epochs: int | None = None  # max epochs of a trial (default: train.max_epochs)
    timeout: float | None = None     # seconds per regularizer after which no trial starts
    # SQLAlchemy URL; None: $REGBENCH_STORAGE (keeps a password off the command line
    # and out of `ps`), else sqlite:///OUT/optuna.db
    storage: str | None = None
    study_name: str | None = None    # prefix; the study of a regularizer is NAME-REGULARIZER
    objective: str = "loss"          # loss | pareto (the loss protocol's objective)
    # How λ is chosen when tuning is on (LAMBDA_PROTOCOLS); tuning off means "fixed".
    protocol: str = "constrained"
    # Seconds between heartbeats of a running trial or grid run, and of silence after
    # which its worker counts as dead and the trial or run is queued again.
    heartbeat: int = 60
    grace_period: int = 180
    # The constrained protocol's selection seeds (SELECTION_SEED_BASE + 0..n-1): each
    # candidate λ is trained on every one of them; the one-SE rule needs at least 2.
    selection_seeds: int = 3

    def __post_init__(self):
        if self.storage is None:
            object.__setattr__(self, "storage", storage_from_environment())

    def validate(self) -> None:
        if not 1 <= self.heartbeat < self.grace_period:
            raise RegbenchError(f"[tuning] heartbeat = {self.heartbeat} and grace_period = "
                                f"{self.grace_period} are not valid: expected 1 <= heartbeat "
                                "< grace_period (seconds)")
        if self.trials < 1:
            raise RegbenchError(f"--trials must be >= 1, got {self.trials}")
        if not 2 <= self.selection_seeds <= 100:
            raise RegbenchError(f"[tuning] selection_seeds = {self.selection_seeds} is not "
                                "valid: expected 2 to 100 (the one-standard-error rule "
                                "needs a standard error)")
        if self.trial_epochs is not None and self.trial_epochs < 1:
            raise RegbenchError(f"--trial-epochs must be >= 1, got {self.trial_epochs}")
        if self.timeout is not None and not self.timeout > 0:
            raise RegbenchError(f"--timeout must be a number of seconds > 0, got {self.timeout}")
        if self.objective not in ("loss", "pareto"):
            raise RegbenchError(f"--objective must be loss or pareto, got {self.objective!r}")
        if self.protocol not in LAMBDA_PROTOCOLS:
            raise RegbenchError(f"--lambda-protocol ([tuning] protocol) must be one of "
                                f"{', '.join(LAMBDA_PROTOCOLS)}, got {self.protocol!r}")
        if self.objective == "pareto" and self.protocol != "loss":
            raise RegbenchError(f"--objective pareto is a search of the loss protocol, not "
                                f"of {self.protocol!r}: use --lambda-protocol loss")


@dataclass(frozen=True)
class Sections:
    """A run's settings as each consumer gets them: the trainer [train], evaluation
    [evaluation], the λ search [tuning], the task the [model] table (read-only)."""

    model: Mapping
    train: TrainConfig
    evaluation: EvaluationConfig
    tuning: TuningConfig


@dataclass
class RunConfig:
    """Everything that defines a ``regbench run``."""

    preset: str = "quick"
    # What the models predict (regbench.tasks): "binary" labels; profile models next.
    task: str = "binary"
    regularizers: list[str] = field(default_factory=lambda: ["all"])
    scenario: str | None = "spi1_binary"
    data: str | None = None
    # A registered data source and its arguments (regbench.data.sources), e.g.
    # {kind = "folder", path = "..."}; empty: --data, else the scenario.
    data_source: dict = field(default_factory=dict)
    seeds: int = 3
    lambdas: dict[str, float] = field(default_factory=dict)
    out: str = "results/quick"
    device: str = "auto"
    progress: bool = True
    simulate: dict = field(default_factory=dict)
    regularizer_params: dict[str, dict] = field(default_factory=dict)
    model: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)
    evaluation: dict = field(default_factory=dict)
    tune: bool = False
    tuning: dict = field(default_factory=dict)
    # > 0: also train each (regularizer, seed) on this share of the training rows and
    # compare its attributions with the full-data model's (the paper's 1% experiment)
    stability_fraction: float = 0.0
    # Shares of the training rows to train every (regularizer, seed) on as well, e.g.
    # [0.1, 0.01]; nested (each smaller set inside the larger); 1.0 is the main grid.
    fractions: list[float] = field(default_factory=list)
    # torch CPU threads of this process (None: torch's default, one per core); give
    # each of several processes on one machine its share of the cores
    threads: int | None = None
    # Processes this command starts on this machine to work the seed grid (and the λ
    # studies) together through the Optuna storage; each gets cores ÷ workers threads.
    # "auto": by the cores (runtime.threads.AUTO_WORKERS_RULE; 1 on 2 cores).
    workers: int | str = "auto"
    # Where grid workers that share no folder put their runs for the others: a folder,
    # or s3://BUCKET (Optuna's FileSystemArtifactStore / Boto3ArtifactStore).
    artifacts: str | None = None
    # Seeds of one regularizer trained together as one grouped model (regbench.training.group);
    # None: by device (context.DEFAULT_MODELS_PER_GROUP). Not part of a run's key, like
    # threads: both change only the float32 summation order (docs/distributed.md).
    models_per_group: int | None = None

    # -- typed views ------------------------------------------------------------------
    def sections(self) -> "Sections":
        """The typed, frozen sections, parsed and checked once per content of the raw
        tables (a changed table is parsed again, so a view is never stale)."""
        content = json.dumps([self.model, self.train, self.evaluation, self.tuning,
                              self.device, self.task, self.tune], sort_keys=True,
                             default=str)
        cached = self.__dict__.get("_sections")
        if cached is None or cached[0] != content:
            cached = (content, Sections(
                model=MappingProxyType(copy.deepcopy(self.model)),
                train=build_section(TrainConfig, {**self._protocol_defaults("train"), **self.train,
                                           "device": self.device}, "train"),
                evaluation=build_section(EvaluationConfig, self.evaluation, "evaluation"),
                tuning=build_section(TuningConfig, self.tuning, "tuning")))
            self.__dict__["_sections"] = cached
        return cached[1]

    def __getstate__(self) -> dict:
        """Copies and pickles leave the parsed sections behind (re-parsed on use)."""
        return {k: v for k, v in self.__dict__.items() if k != "_sections"}

    def worker_count(self) -> int:
        """Processes this command runs on this machine: ``workers``, or for "auto" the
        count ``runtime.threads.auto_workers`` gives for the cores available."""
        if self.workers == "auto":
            from regbench.runtime.threads import auto_workers
            return auto_workers()
        return self.workers

    def train_config(self, seed: int) -> TrainConfig:
        """The [train] section for one seed (the only thing that differs per run)."""
        return dataclasses.replace(self.sections().train, seed=seed)

    def evaluation_config(self) -> EvaluationConfig:
        return self.sections().evaluation

    def tuning_config(self) -> TuningConfig:
        return self.sections().tuning

    def task_model(self) -> Mapping:
        """The [model] table the task is built from: [model], with the λ protocol's
        defaults for this task (its ``TaskSettings.protocol_model_defaults``) under it."""
        model = self.sections().model
        defaults = self._protocol_defaults("model")
        if not defaults:
            return model
        return MappingProxyType({**defaults, **model})

    def _protocol_defaults(self, section: str) -> dict:
        """The λ protocol's defaults for this task's [model] or [train] table
        (``TaskSettings.protocol_model_defaults`` / ``protocol_train_defaults``), less
        the keys the table sets."""
        # from the raw table (no parsing: ``hash`` uses it), as ``lambda_protocol`` reads it
        protocol = self.tuning.get("protocol", TuningConfig.protocol) if self.tune else "fixed"
        defaults = getattr(task_settings(self.task), f"protocol_{section}_defaults")
        table = getattr(self, section)
        return {k: v for k, v in defaults.get(protocol, {}).items() if k not in table}

    def lambda_protocol(self) -> str:
        """How this run chooses λ (LAMBDA_PROTOCOLS): [tuning] protocol when tuning is
        on, else "fixed"."""
        return self.tuning_config().protocol if self.tune else "fixed"

    def validate(self) -> None:
        """Every value, before anything is read or written: types from the fields, then
        ranges. One RegbenchError line names the key, the value and what is expected."""
        if isinstance(self.out, os.PathLike):
            self.out = os.fspath(self.out)
        for key, value in check_fields(RunConfig, asdict(self), "").items():
            setattr(self, key, value)
        if not 1 <= self.seeds <= SELECTION_SEED_BASE:
            raise RegbenchError(f"seeds = {self.seeds} is not valid: expected an integer from "
                                f"1 to {SELECTION_SEED_BASE} (seeds from {SELECTION_SEED_BASE} "
                                "on choose λ)")
        if not 0 <= self.stability_fraction < 1:
            raise RegbenchError(f"stability_fraction = {self.stability_fraction} is not valid: "
                                "expected a share in (0, 1), e.g. 0.01, or 0 for off")
        if self.threads is not None and self.threads < 1:
            raise RegbenchError(f"threads = {self.threads} is not valid: expected an integer "
                                ">= 1 (this process's share of the cores)")
        if self.models_per_group is not None and self.models_per_group < 1:
            raise RegbenchError(f"models_per_group = {self.models_per_group} is not valid: "
                                "expected an integer >= 1 (1: every model alone)")
        if self.workers != "auto" and (not isinstance(self.workers, int) or self.workers < 1):
            raise RegbenchError(f"workers = {self.workers!r} is not valid: expected 'auto' or "
                                "an integer >= 1 (processes on this machine)")
        if self.artifacts is not None and self.artifacts.startswith("s3://") and \
                "/" in self.artifacts[len("s3://"):].strip("/"):
            raise RegbenchError(f"artifacts = {self.artifacts!r} is not valid: give a bucket, "
                                "s3://BUCKET (Optuna's Boto3ArtifactStore keys runs by id, "
                                "without a prefix)")
        for share in self.fractions:
            if not 0 < share <= 1:
                raise RegbenchError(f"fractions = {self.fractions} is not valid: expected "
                                    "shares in (0, 1], e.g. [0.1, 0.01]")
        if self.fractions and all(share == 1 for share in self.fractions):
            raise RegbenchError(f"fractions = {self.fractions} has no share below 1: the seed "
                                "runs use all the training rows; give shares below 1, e.g. "
                                "[0.1, 0.01]")
        check_output_folder(self.out)
        for name, params in self.regularizer_params.items():
            if not isinstance(params, dict):
                raise RegbenchError(f"[regularizer_params] {name} = {params!r} is not valid: "
                                    "expected a table of the regularizer's parameters")
        rc = self.model.get("reverse_complement", False)
        if not (isinstance(rc, bool) or (rc == "both" and self.task == "profile")):
            raise RegbenchError(f"[model] reverse_complement = {rc!r} is not valid: expected "
                                "true or false" + (", or \"both\"" if self.task == "profile"
                                                   else ""))
        if architecture_of(self.model, self) == "binary_cnn":
            # the length is checked with the data; other architectures by their builder
            build_section(BinaryModelConfig, {k: v for k, v in self.model.items()
                                       if k not in ("architecture", "reverse_complement")},
                   "model")
        self.sections()

    def data_fractions(self) -> list[float]:
        """The shares below 1 of the training rows that runs are also trained on
        (``fractions`` and ``stability_fraction``), largest first."""
        shares = set(self.fractions) | ({self.stability_fraction} - {0.0})
        return sorted((float(s) for s in shares if s < 1), reverse=True)

    def to_dict(self) -> dict:
        return asdict(self)

    def hash(self) -> str:
        """Hash of what changes a trained model (not seeds, λ, output or progress).

        ``RESULTS_VERSION`` is in it, so runs stored by a regbench whose models or
        metrics meant something else are never reused."""
        keys = ("preset", "scenario", "data", "simulate", "regularizer_params", "model", "train")
        values = {k: getattr(self, k) for k in keys}
        # The protocol's defaults change the model's training: keyed like [model], [train].
        values["model"] = {**self._protocol_defaults("model"), **self.model}
        values["train"] = _hashed_train({**self._protocol_defaults("train"), **self.train})
        # Only when set, so the keys of runs stored before these settings existed hold.
        if self.task != "binary":
            values["task"] = self.task
        if self.task in TASK_RESULTS_VERSIONS:
            values["task_results_version"] = TASK_RESULTS_VERSIONS[self.task]
        if self.data_source:
            values["data_source"] = self.data_source
        blob = json.dumps({**values, "results_version": RESULTS_VERSION}, sort_keys=True,
                          default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    def evaluation_hash(self) -> str:
        """Hash of how a trained model is scored (part of every run key)."""
        blob = json.dumps(self.evaluation_config().hashed(), sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]


# [train] settings added after runs were stored, with the value those runs used: keyed
# only when they differ from it, so the keys of runs stored before them hold.
TRAIN_ADDED_LATER = {"stopping": TrainConfig.stopping, "epoch": TrainConfig.epoch}


def _hashed_train(train: dict) -> dict:
    """The [train] table as a run's key holds it (TRAIN_ADDED_LATER)."""
    return {k: v for k, v in train.items()
            if k not in TRAIN_ADDED_LATER or v != TRAIN_ADDED_LATER[k]}


def build_section(cls, values: dict, section: str):
    known = {f.name for f in fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise RegbenchError(f"unknown key(s) in [{section}]: {', '.join(sorted(unknown))}; "
                            f"known keys: {', '.join(sorted(known))}")
    obj = cls(**check_fields(cls, values, section))
    if hasattr(obj, "validate"):
        obj.validate()
    return obj


def preset_config(name: str, task: str = "binary") -> RunConfig:
    """The RunConfig of a preset for a task, with its default output folder. A preset's
    [model] sizes are for the binary CNN; a task with its own preset tables
    (``TaskSettings.presets``) starts from its model's defaults and those tables."""
    if name not in PRESETS:
        raise RegbenchError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
    preset = copy.deepcopy(PRESETS[name])
    tables = task_settings(task).presets
    if tables is not None:
        preset["model"] = {}
        for section, values in tables.get(name, {}).items():
            preset[section] = {**preset.get(section, {}), **copy.deepcopy(values)}
    return RunConfig(preset=name, task=task, out=f"results/{name}", **preset)


def architecture_of(model: dict, config: "RunConfig") -> str:
    return model.get("architecture", config.model.get(
        "architecture", task_settings(config.task).architecture))
