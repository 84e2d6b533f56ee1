"""The processor a model trains on, as results.csv records it (``hardware``).

A CPU's vector instructions pick torch's kernels (AVX-512 or AVX2 on x86), and those
sum float32 in another order: a model trained on one is not bit for bit the model
trained on another, and a long run split over sessions may meet both. So each row
says where its model was trained, beside the thread count and the device.
"""
from __future__ import annotations

from pathlib import Path

import torch


def hardware(device: torch.device) -> str:
    """'AMD EPYC (AVX2)': the CPU's model name and the instructions torch's kernels
    use on it (``torch.backends.cpu.get_cpu_capability``); for a CUDA device, the
    GPU's name."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    capability = getattr(torch.backends.cpu, "get_cpu_capability", lambda: "")()
    return f"{cpu_name()} ({capability})" if capability else cpu_name()


def cpu_name() -> str:
    """The CPU's model name (Linux /proc/cpuinfo), else the platform's word for it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform
    return platform.processor() or platform.machine() or "unknown CPU"


__all__ = ["cpu_name", "hardware"]
