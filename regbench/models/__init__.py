"""Models: the paper's binary CNN (profile models come with real data)."""
from regbench.models.binary import BinaryCNN, BinaryModelConfig

__all__ = ["BinaryCNN", "BinaryModelConfig"]
