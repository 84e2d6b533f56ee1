"""The paper's binary CNN (Tseng et al. 2020), configurable.

Every non-linearity is its own module, used once, and the model returns logits (no
sigmoid/softmax inside ``forward``) so tangermeme's DeepLIFT/SHAP can attribute it.
"""
from __future__ import annotations

from dataclasses import asdict

import torch
from torch import nn

from regbench.options.settings import BinaryModelConfig


class Exp(nn.Module):
    """exp(x), as a module of its own. It declares its DeepLIFT rule, the rescale rule,
    which DeepLIFT/SHAP reads from the model
    (``regbench.attributions.methods.deep_lift_shap.declared_rules``)."""

    deep_lift_rule = "rescale"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.exp(x)


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
        for i, (filters, width) in enumerate(zip(config.conv_filters, config.conv_widths)):
            exp = i == 0 and config.first_activation == "exp"
            layers += self._block(nn.Conv1d(channels, filters, width), filters, exp)
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

    def _block(self, layer: nn.Module, channels: int, exp: bool = False) -> list[nn.Module]:
        """layer, activation (ReLU, or Exp) and batch norm in the configured order (a
        fresh module each)."""
        act = Exp() if exp else nn.ReLU()
        if not self.config.batch_norm:
            return [layer, act]
        if self.config.batch_norm_position == "before_relu":
            return [layer, nn.BatchNorm1d(channels), act]
        return [layer, act, nn.BatchNorm1d(channels)]

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """X: (N, 4, L) float one-hot. Returns logits (N, T)."""
        return self.layers(X)

    def describe(self) -> dict:
        return asdict(self.config)
