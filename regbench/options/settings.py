"""Settings of the model and the trainer: plain dataclasses, no torch import, so that
options can be checked (and ``--help`` answered) before torch loads."""
from __future__ import annotations

from dataclasses import dataclass, field

from regbench.errors import RegbenchError

BATCH_NORM_POSITIONS = ("after_relu", "before_relu")

# Early-stopping rules ([train] stopping): name -> what it does, in one line (config.json
# and the plan print it). ``regbench.training.stopping`` holds the rules themselves.
PATIENCE, AUTHORS = "patience", "authors"
STOPPING_RULES = {
    PATIENCE: "stop after [train] patience epochs without a new lowest validation "
              "correctness loss; keep the epoch of the lowest",
    AUTHORS: "the paper authors' rule (train_profile_model.py, train_binary_model.py): keep "
             "the epoch of the lowest total validation loss (correctness + λ × penalty); "
             "stop once none of its last 3 epoch-to-epoch changes improved it by at least "
             "0.001",
}

# What one training epoch holds ([train] epoch): name -> what it is, in one line.
SHUFFLED, PEAKS = "shuffled", "peaks"
EPOCH_LAYOUTS = {
    SHUFFLED: "every training row once, in shuffled batches of [train] batch_size",
    PEAKS: "the paper authors' epoch (make_profile_dataset.py, SamplingCoordsBatcher with "
           "negative_ratio 1): every positive once, in shuffled batches of half "
           "[train] batch_size positives and as many negatives drawn from the training "
           "negatives (each used about equally often)",
}


@dataclass(frozen=True)
class BinaryModelConfig:
    """Architecture of the binary CNN. Defaults are the paper's."""

    seq_len: int = 1000
    n_tasks: int = 1
    conv_filters: list[int] = field(default_factory=lambda: [64, 64, 64])
    conv_widths: list[int] = field(default_factory=lambda: [15, 15, 13])
    batch_norm: bool = True
    # "after_relu": conv/dense -> ReLU -> batch norm, the paper authors' order
    # (binary_models.py); "before_relu": conv/dense -> batch norm -> ReLU.
    batch_norm_position: str = "after_relu"
    pool_size: int = 40
    pool_stride: int = 40
    dense_sizes: list[int] = field(default_factory=lambda: [50, 15])
    dropout: float = 0.0
    # Activation of the first convolution: "relu" (the paper), or "exp" (Koo &
    # Ploenzke 2021: exponential activations make first-layer filters motif-like).
    first_activation: str = "relu"

    def validate(self) -> None:
        """The architecture on its own (any sequence length); see ``validate_length``."""
        if len(self.conv_filters) != len(self.conv_widths) or not self.conv_filters:
            raise RegbenchError("conv_filters and conv_widths must be non-empty and the same "
                                f"length, got {self.conv_filters} and {self.conv_widths}")
        for key in ("conv_filters", "conv_widths", "dense_sizes", "pool_size", "pool_stride"):
            value = getattr(self, key)
            if min(value if isinstance(value, list) else [value], default=1) < 1:
                raise RegbenchError(f"[model] {key} = {value} is not valid: every size must "
                                    "be >= 1")
        if self.n_tasks < 1:
            raise RegbenchError(f"n_tasks must be >= 1, got {self.n_tasks}")
        if self.batch_norm_position not in BATCH_NORM_POSITIONS:
            raise RegbenchError(f"batch_norm_position must be one of "
                                f"{', '.join(BATCH_NORM_POSITIONS)}, got "
                                f"{self.batch_norm_position!r}")
        if self.first_activation not in ("relu", "exp"):
            raise RegbenchError(f"[model] first_activation = {self.first_activation!r} is not "
                                "valid: expected relu or exp")
        if not 0 <= self.dropout < 1:
            raise RegbenchError(f"dropout must be in [0, 1), got {self.dropout}")

    def validate_length(self) -> None:
        """The sequence length fits the convolutions and the pool."""
        if self.conv_output_length() < self.pool_size:
            raise RegbenchError(
                f"seq_len={self.seq_len} is too short for convolutions of widths "
                f"{self.conv_widths} followed by a max pool of {self.pool_size}; use longer "
                "sequences or smaller widths/pool")

    def conv_output_length(self) -> int:
        return self.seq_len - sum(w - 1 for w in self.conv_widths)

    def pooled_length(self) -> int:
        return (self.conv_output_length() - self.pool_size) // self.pool_stride + 1


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings; the same for every regularizer."""

    max_epochs: int = 30
    patience: int = 5
    batch_size: int = 64
    learning_rate: float = 1e-3
    seed: int = 0
    device: str = "auto"
    prior_on: str = "positives"  # binary models: the prior sees positive examples only
    mixed_precision: bool = False  # bfloat16 autocast for the model; penalties stay float32
    resident_data: bool | None = None  # data on the device: None = when it fits
    # Early stopping (STOPPING_RULES): "patience", or "authors" (the paper's code: the
    # total validation loss, their improvement rule; the paper protocol's profile runs)
    stopping: str = PATIENCE
    # What an epoch holds (EPOCH_LAYOUTS): "shuffled", or "peaks" (the authors' profile
    # epoch: every positive with as many negatives)
    epoch: str = SHUFFLED

    def validate(self) -> None:
        if self.max_epochs < 1 or self.patience < 1 or self.batch_size < 1:
            raise RegbenchError("max_epochs, patience and batch_size must all be >= 1")
        if not self.learning_rate > 0:
            raise RegbenchError(f"learning_rate must be > 0, got {self.learning_rate}")
        if self.prior_on not in ("positives", "all"):
            raise RegbenchError(f"prior_on must be 'positives' or 'all', got {self.prior_on!r}")
        if self.stopping not in STOPPING_RULES:
            raise RegbenchError(f"[train] stopping = {self.stopping!r} is not valid: expected "
                                f"one of {', '.join(STOPPING_RULES)}")
        if self.epoch not in EPOCH_LAYOUTS:
            raise RegbenchError(f"[train] epoch = {self.epoch!r} is not valid: expected one "
                                f"of {', '.join(EPOCH_LAYOUTS)}")
        if self.epoch == PEAKS and self.prior_on != "positives":
            raise RegbenchError("[train] epoch = \"peaks\" pairs positives with negatives and "
                                "needs prior_on = \"positives\"; set one of them back")


__all__ = ["AUTHORS", "BATCH_NORM_POSITIONS", "BinaryModelConfig", "EPOCH_LAYOUTS", "PATIENCE",
           "PEAKS", "SHUFFLED", "STOPPING_RULES", "TrainConfig"]
