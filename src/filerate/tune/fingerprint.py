"""The hardware fingerprint a tune result belongs to: a result measured on one machine (or
one storage device) says nothing about another, so the cache is keyed by it."""

from __future__ import annotations

import contextlib
import hashlib
import json

import psutil

from filerate.config import usable_cpus
from filerate.engine import disk, machine

#: total memory is compared in MiB: the kernel's reserve can move it by a few pages
_MIB = 1 << 20


def gpus() -> list[str]:
    """Names of the GPUs NVML sees; none where there is no driver (never raises)."""
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception:  # noqa: BLE001 - no library, no driver, no device: no GPU
        return []
    try:
        names = []
        for i in range(pynvml.nvmlDeviceGetCount()):
            name = pynvml.nvmlDeviceGetName(pynvml.nvmlDeviceGetHandleByIndex(i))
            names.append(name.decode() if isinstance(name, bytes) else str(name))
        return names
    except Exception:  # noqa: BLE001
        return []
    finally:
        with contextlib.suppress(Exception):
            pynvml.nvmlShutdown()


def storage(path: str) -> dict:
    """The block device and filesystem holding ``path`` (a tmpfs has no device)."""
    return {"device": disk.block_device(path), "fs_type": disk.mount_of(path).fs_type}


def fingerprint(corpus_dir: str, gpu_names: list[str] | None = None) -> dict:
    """CPU model, usable cores, memory, GPUs and the corpus's storage: what a tune result
    depends on besides the request itself."""
    return {
        "cpu_model": machine.cpu_model(),
        "usable_cpus": usable_cpus(),
        "memory_mib": psutil.virtual_memory().total // _MIB,
        "gpus": gpus() if gpu_names is None else list(gpu_names),
        "corpus_storage": storage(corpus_dir),
    }


def digest(data: dict) -> str:
    """A short stable hash of a JSON-able mapping (keys sorted)."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
