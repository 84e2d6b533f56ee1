"""The paper's binary CNN (Tseng et al. 2020), configurable.

Every non-linearity is its own module, used once, and the model returns logits (no
sigmoid/softmax inside ``forward``) so tangermeme's DeepLIFT/SHAP can attribute it.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from regbench.errors import RegbenchError


@dataclass
class BinaryModelConfig:
    """Architecture of the binary CNN. Defaults are the paper's."""

    seq_len: int = 1000
    n_tasks: int = 1
    conv_filters: list[int] = field(default_factory=lambda: [64, 64, 64])
    conv_widths: list[int] = field(default_factory=lambda: [15, 15, 13])
    batch_norm: bool = True
    pool_size: int = 40
    pool_stride: int = 40
    dense_sizes: list[int] = field(default_factory=lambda: [50, 15])
    dropout: float = 0.0

    def validate(self) -> None:
        if len(self.conv_filters) != len(self.conv_widths) or not self.conv_filters:
            raise RegbenchError("conv_filters and conv_widths must be non-empty and the same "
                                f"length, got {self.conv_filters} and {self.conv_widths}")
        if self.conv_output_length() < self.pool_size:
            raise RegbenchError(
                f"seq_len={self.seq_len} is too short for convolutions of widths "
                f"{self.conv_widths} followed by a max pool of {self.pool_size}; use longer "
                "sequences or smaller widths/pool")
        if self.n_tasks < 1:
            raise RegbenchError(f"n_tasks must be >= 1, got {self.n_tasks}")
        if not 0 <= self.dropout < 1:
            raise RegbenchError(f"dropout must be in [0, 1), got {self.dropout}")

    def conv_output_length(self) -> int:
        return self.seq_len - sum(w - 1 for w in self.conv_widths)

    def pooled_length(self) -> int:
        return (self.conv_output_length() - self.pool_size) // self.pool_stride + 1


class BinaryCNN(nn.Module):
    """Conv (valid) → BN → ReLU blocks, max pool, dense → BN → ReLU blocks, linear.

    forward: X (N, 4, L) one-hot → logits (N, T).
    """

    def __init__(self, config: BinaryModelConfig | None = None, **kwargs):
        super().__init__()
        config = config or BinaryModelConfig(**kwargs)
        config.validate()
        self.config = config
        layers: list[nn.Module] = []
        channels = 4
        for filters, width in zip(config.conv_filters, config.conv_widths):
            layers.append(nn.Conv1d(channels, filters, width))
            if config.batch_norm:
                layers.append(nn.BatchNorm1d(filters))
            layers.append(nn.ReLU())
            channels = filters
        layers.append(nn.MaxPool1d(config.pool_size, config.pool_stride))
        layers.append(nn.Flatten())
        width = channels * config.pooled_length()
        for size in config.dense_sizes:
            layers.append(nn.Linear(width, size))
            if config.batch_norm:
                layers.append(nn.BatchNorm1d(size))
            layers.append(nn.ReLU())
            if config.dropout:
                layers.append(nn.Dropout(config.dropout))
            width = size
        layers.append(nn.Linear(width, config.n_tasks))
        self.layers = nn.Sequential(*layers)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """X: (N, 4, L) float one-hot. Returns logits (N, T)."""
        return self.layers(X)

    def describe(self) -> dict:
        return asdict(self.config)
