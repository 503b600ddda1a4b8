"""Choosing the compute device: CUDA, then Apple MPS, then CPU, unless the user names one; and how many CPU threads
torch uses for a piece of work."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class DeviceInfo:
    """A device the user can pick: `name` for torch ("cuda:0", "mps", "cpu") and a label for people."""

    name: str
    label: str


def available_devices() -> list[DeviceInfo]:
    """Return every usable device, best first: each CUDA GPU by name, Apple MPS, then the CPU."""
    devices = [DeviceInfo(f"cuda:{i}", torch.cuda.get_device_name(i)) for i in range(torch.cuda.device_count())]
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        devices.append(DeviceInfo("mps", "Apple GPU (MPS)"))
    devices.append(DeviceInfo("cpu", f"CPU ({torch.get_num_threads()} threads)"))
    return devices


def select_device(name: str | None = "auto") -> torch.device:
    """Return the torch device for `name`; "auto" (or None) picks the best available one.

    Raises ValueError with a readable message when the named device is not usable here.
    """
    if not name or name == "auto":
        return torch.device(available_devices()[0].name)
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ValueError(f"Unknown device {name!r}: use auto, cpu, cuda, cuda:N or mps") from exc
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("CUDA was requested but no CUDA GPU is usable here; use --device cpu or auto")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"{name} does not exist: this machine has {torch.cuda.device_count()} CUDA device(s)")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError("Apple MPS was requested but is not available here; use --device cpu or auto")
    return device


def describe_device(device: torch.device | str) -> str:
    """Return a label for people, e.g. 'NVIDIA H100 80GB HBM3' or 'CPU'."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return {"mps": "Apple GPU (MPS)", "cpu": "CPU"}.get(device.type, str(device))


def autocast(device: torch.device, enabled: bool = True):
    """Return a bf16 autocast context on CUDA (a no-op elsewhere)."""
    return torch.autocast("cuda", dtype=torch.bfloat16, enabled=enabled and device.type == "cuda")


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with `n` torch intra-op threads on this thread, then restore the previous number.

    With OpenMP (PyTorch's CPU builds) the setting belongs to the calling thread, so a worker ranking with one
    thread leaves the threads of training, running beside it, as they were."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
