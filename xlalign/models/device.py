"""Hardware: which device, which precision, and ZeroGPU on Hugging Face Spaces.

``auto`` precision means bf16 autocast where the hardware has bf16 matrix units (CUDA GPUs with
bf16 support; CPUs with AMX-BF16 or AVX512-BF16), fp32 elsewhere. On CPUs without those units,
bf16 autocast is emulated and slower than fp32, so ``auto`` never picks it there.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])
#: CPU flags (Linux /proc/cpuinfo) of bf16 matrix instructions.
BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


def best_device() -> str:
    """CUDA, then Apple MPS, then CPU."""
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


@functools.cache
def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> frozenset[str]:
    """The CPU feature flags (empty where /proc/cpuinfo does not exist)."""
    try:
        text = Path(cpuinfo).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def cpu_model(cpuinfo: str = "/proc/cpuinfo") -> str:
    """The CPU's model name, for benchmark records."""
    try:
        for line in Path(cpuinfo).read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def cpu_has_bf16_units(flags: frozenset[str] | None = None) -> bool:
    """True when the CPU executes bf16 matrix products natively (AMX-BF16 or AVX512-BF16)."""
    present = cpu_flags() if flags is None else flags
    return any(f in present for f in BF16_CPU_FLAGS)


def resolve_precision(precision: str, device: str, *, flags: frozenset[str] | None = None) -> str:
    """``auto`` → ``bf16`` or ``fp32`` for this device; explicit values pass through."""
    if precision in ("fp32", "bf16"):
        return precision
    if precision != "auto":
        raise ValueError(f"precision must be auto, fp32 or bf16, got {precision!r}")
    if device.startswith("cuda"):
        import torch

        return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "fp32"
    if device == "cpu":
        return "bf16" if cpu_has_bf16_units(flags) else "fp32"
    return "fp32"


def usable_cpus(root: str = "/sys/fs/cgroup") -> int:
    """CPUs this process may use: its affinity set, capped by a cgroup CPU quota (containers), counted in
    physical cores where SMT siblings share one (compute-bound kernels gain nothing from the sibling)."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)
    cores = set()
    for c in cpus:
        try:
            siblings = Path(f"/sys/devices/system/cpu/cpu{c}/topology/thread_siblings_list").read_text().strip()
        except OSError:
            siblings = str(c)
        cores.add(siblings)
    n = max(1, len(cores))
    quota = _cgroup_quota(root)
    return max(1, min(n, quota)) if quota is not None else n


def _cgroup_quota(root: str) -> int | None:
    """Whole CPUs allowed by a cgroup v2 ``cpu.max`` (or v1 ``cpu.cfs_quota_us``) quota, rounded up; None if unlimited."""
    import math

    try:
        text = Path(root, "cpu.max").read_text().split()
        if text and text[0] != "max":
            return math.ceil(int(text[0]) / int(text[1]))
        return None
    except (OSError, ValueError, IndexError):
        pass
    try:
        quota = int(Path(root, "cpu", "cpu.cfs_quota_us").read_text())
        period = int(Path(root, "cpu", "cpu.cfs_period_us").read_text())
        return math.ceil(quota / period) if quota > 0 and period > 0 else None
    except (OSError, ValueError):
        return None


#: Environment variables by which a user has already chosen the thread count.
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "XLALIGN_THREADS")


@functools.cache
def configure_cpu_threads() -> int:
    """Set torch's intra-op threads to :func:`usable_cpus` once per process; returns the count used.

    torch's default follows the machine's cores, not a container's quota, and oversubscribes it
    (every GEMM then waits on descheduled threads). ``XLALIGN_THREADS`` (or OMP/MKL_NUM_THREADS) wins.
    """
    import torch

    chosen = os.environ.get("XLALIGN_THREADS")
    if chosen is not None and chosen.strip().isdigit() and int(chosen) > 0:
        torch.set_num_threads(int(chosen))
    elif not any(os.environ.get(v) for v in THREAD_ENV):
        n = usable_cpus()
        if torch.get_num_threads() != n:
            torch.set_num_threads(n)
    return int(torch.get_num_threads())


@contextlib.contextmanager
def autocast(device: str, precision: str) -> Iterator[None]:
    """bf16 autocast for ``precision == "bf16"``; a no-op for fp32."""
    if precision != "bf16":
        yield
        return
    import torch

    with torch.autocast(device_type=device.split(":")[0], dtype=torch.bfloat16):
        yield


def on_zero_gpu() -> bool:
    """True on a Hugging Face Space with ZeroGPU hardware."""
    return os.environ.get("SPACES_ZERO_GPU", "").strip().lower() in ("1", "true")


def gpu_task(duration: int | Callable[..., int]) -> Callable[[F], F]:
    """Wrap a GPU entry point with ``spaces.GPU(duration=...)`` on ZeroGPU Spaces; unchanged elsewhere.

    ``duration`` is seconds of GPU time to reserve, or a function of the call's arguments
    (ZeroGPU's dynamic duration). The ``spaces`` package is imported only on ZeroGPU.
    """
    def wrap(fn: F) -> F:
        if not on_zero_gpu():
            return fn
        import spaces

        return spaces.GPU(duration=duration)(fn)  # type: ignore[no-any-return]

    return wrap


__all__ = ["THREAD_ENV", "autocast", "best_device", "configure_cpu_threads", "cpu_flags", "cpu_has_bf16_units",
           "cpu_model", "gpu_task", "on_zero_gpu", "resolve_precision", "usable_cpus"]
