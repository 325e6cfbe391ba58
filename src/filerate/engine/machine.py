"""What machine and software a run measured: recorded in every run.json."""

from __future__ import annotations

import platform
from importlib import metadata

import psutil

PACKAGES = (
    "filerate",
    "dask",
    "distributed",
    "dask-cuda",
    "numba",
    "numpy",
    "pandas",
    "pyarrow",
    "psutil",
    "nvidia-ml-py",
    "xxhash",
    "snakemake",
    "cupy-cuda12x",
    "cupy-cuda13x",
    "rmm-cu12",
)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def hardware(nvml=None) -> dict:
    from filerate.config import usable_cpus

    vm = psutil.virtual_memory()
    info = {
        "hostname": platform.node(),
        "cpu_model": cpu_model(),
        "logical_cpus": psutil.cpu_count(logical=True),
        "physical_cores": psutil.cpu_count(logical=False),
        "usable_cpus": usable_cpus(),
        "memory_bytes": vm.total,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "gpus": [],
        "gpu_driver": None,
    }
    if nvml is not None and nvml.handles:
        info["gpus"] = nvml.devices()
        info["gpu_driver"] = nvml.driver()
    info["gpu_monitor"] = nvml.status if nvml is not None else "not sampled"
    return info


def packages() -> dict:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out
