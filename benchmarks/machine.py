"""The machine a benchmark ran on, in one line, and the CPU's theoretical peaks (for the encode floor)."""

from __future__ import annotations

import datetime
import os
import platform
import re
from pathlib import Path
from typing import Any

#: CPU flags worth naming in a benchmark header (vector width, bf16 dot products, AMX tiles, int8 dot products).
NAMED_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")


def cpu_mhz(cpuinfo: str = "/proc/cpuinfo") -> float | None:
    """The clock /proc/cpuinfo reports (under a hypervisor, usually the TSC rate, not the boost clock)."""
    try:
        for line in Path(cpuinfo).read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("cpu MHz"):
                return float(line.split(":", 1)[1])
    except (OSError, ValueError):
        pass
    return None


def onednn_version() -> str:
    import torch

    m = re.search(r"MKL-DNN v([\d.]+)", torch.__config__.show())
    return m.group(1) if m else "unknown"


def info() -> dict[str, Any]:
    import numpy as np
    import torch

    from xlalign.models.device import configure_cpu_threads, cpu_flags, cpu_has_bf16_units, cpu_model, usable_cpus

    flags = cpu_flags()
    return {
        "date": datetime.date.today().isoformat(), "cpu": cpu_model(), "flags": [f for f in NAMED_FLAGS if f in flags],
        "mhz": cpu_mhz(), "cpus": os.cpu_count(), "usable_cpus": usable_cpus(), "torch_threads": configure_cpu_threads(),
        "mem_gib": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30,
        "bf16_units": cpu_has_bf16_units(), "amx": "amx_bf16" in flags, "gpu": torch.cuda.get_device_name(0)
        if torch.cuda.is_available() else "none", "python": platform.python_version(), "torch": torch.__version__,
        "onednn": onednn_version(), "numpy": np.__version__, "load": os.getloadavg(),
    }


def bf16_units_text(m: dict[str, Any]) -> str:
    if m["amx"]:
        return "AMX-BF16 tiles (and AVX512-BF16)"
    if "avx512_bf16" in m["flags"]:
        return "AVX512-BF16 dot products, no AMX"
    return "none (bf16 would be emulated; `auto` = fp32)"


def line(m: dict[str, Any] | None = None) -> str:
    m = m or info()
    return (f"{m['date']} · {m['cpu']} · {m['cpus']} CPUs ({m['usable_cpus']} usable, torch {m['torch_threads']} threads)"
            f" · {m['mem_gib']:.0f} GiB · flags: {', '.join(m['flags']) or 'none of ' + '/'.join(NAMED_FLAGS)} · "
            f"bf16 units: {bf16_units_text(m)} · GPU: {m['gpu']} · Python {m['python']}, torch {m['torch']} "
            f"(oneDNN {m['onednn']}), numpy {m['numpy']} · load average {' '.join(f'{x:.1f}' for x in m['load'])}")


def peak_gflops(m: dict[str, Any], kind: str, fma_pipes: int = 2) -> float | None:
    """Theoretical peak of all usable cores: ``fma_pipes`` FMA pipes per core at the reported clock.

    fp32: 16 lanes × 2 FLOP per AVX-512 FMA (8 lanes with AVX2 only). bf16: AVX512-BF16 ``vdpbf16ps``
    does 32 bf16 products + sums per instruction (2× fp32); AMX-BF16 ≈ 1024 FLOP per cycle per core.
    An upper bound: the pipe count is not in the flags and turbo clocks are not reported.
    """
    if not m["mhz"]:
        return None
    ghz, cores = m["mhz"] / 1000, m["usable_cpus"]
    if kind == "fp32":
        per_cycle = fma_pipes * (32 if "avx512f" in m["flags"] else 16 if "avx2" in m["flags"] else 8)
    elif m["amx"]:
        per_cycle = 1024
    elif "avx512_bf16" in m["flags"]:
        per_cycle = fma_pipes * 64
    else:
        return None
    return ghz * cores * per_cycle
