"""The paper's binary CNN (Tseng et al. 2020), configurable.

Every non-linearity is its own module, used once, and the model returns logits (no
sigmoid/softmax inside ``forward``) so tangermeme's DeepLIFT/SHAP can attribute it.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from regbench.errors import RegbenchError


BATCH_NORM_POSITIONS = ("after_relu", "before_relu")


@dataclass
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


class BinaryCNN(nn.Module):
    """Conv (valid) → ReLU → BN blocks, max pool, dense → ReLU → BN blocks, linear.

    The paper authors' order (``batch_norm_position="after_relu"``, the default);
    ``"before_relu"`` puts batch norm between the layer and its ReLU.

    forward: X (N, 4, L) one-hot → logits (N, T).
    """

    def __init__(self, config: BinaryModelConfig | None = None, **kwargs):
        super().__init__()
        config = config or BinaryModelConfig(**kwargs)
        config.validate()
        config.validate_length()
        self.config = config
        layers: list[nn.Module] = []
        channels = 4
        for filters, width in zip(config.conv_filters, config.conv_widths):
            layers += self._block(nn.Conv1d(channels, filters, width), filters)
            channels = filters
        layers.append(nn.MaxPool1d(config.pool_size, config.pool_stride))
        layers.append(nn.Flatten())
        width = channels * config.pooled_length()
        for size in config.dense_sizes:
            layers += self._block(nn.Linear(width, size), size)
            if config.dropout:
                layers.append(nn.Dropout(config.dropout))
            width = size
        layers.append(nn.Linear(width, config.n_tasks))
        self.layers = nn.Sequential(*layers)

    def _block(self, layer: nn.Module, channels: int) -> list[nn.Module]:
        """layer, ReLU and batch norm in the configured order (a fresh module each)."""
        if not self.config.batch_norm:
            return [layer, nn.ReLU()]
        if self.config.batch_norm_position == "before_relu":
            return [layer, nn.BatchNorm1d(channels), nn.ReLU()]
        return [layer, nn.ReLU(), nn.BatchNorm1d(channels)]

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """X: (N, 4, L) float one-hot. Returns logits (N, T)."""
        return self.layers(X)

    def describe(self) -> dict:
        return asdict(self.config)
