"""The machine a benchmark ran on, printed at the top of every report so figures can be compared."""

from __future__ import annotations

import os
import platform
import sys
from importlib.metadata import PackageNotFoundError, version


def _memory_gib() -> float | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 1024**2
    except OSError:
        return None
    return None


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "absent"


def describe() -> str:
    """One line: CPUs, memory, OS, Python and the Pulumi SDK versions."""
    memory = _memory_gib()
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"machine: {cpus} CPUs (nproc), {f'{memory:.1f} GiB' if memory else 'unknown'} memory, "
        f"{platform.system()} {platform.machine()} ({_cpu_model()}), "
        f"Python {sys.version.split()[0]}, pulumi {_version('pulumi')}, "
        f"pulumi-kubernetes {_version('pulumi-kubernetes')}"
    )
