"""Staging per worker: for Dask workers that share no RAM disk (other nodes; the loopback
test's workers, each with its own directory).

The batches are dealt out before anything is copied: worker k of W (sorted by address)
gets the k-th contiguous block of batches. Each worker then copies exactly the files of
its own batches from the corpus (which every worker must be able to read, e.g. on the
shared file system) into its own staging directory, all workers at once, and every timed
batch runs only on the worker holding its files (allow_other_workers=False). A batch whose
worker dies therefore is not retried elsewhere: its files end as errors or the phase's
timeout. A file that could not be copied is read as missing and recorded as an error.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field

from filerate.engine import batchio, cluster
from filerate.errors import UserError
from filerate.units import MB

COPY_THREADS = 4  # per worker: copying is system calls and waiting on storage


def deal(batches: list[tuple[int, int]], workers: list[str]) -> dict[str, list[int]]:
    """worker -> indices of the batches it owns: contiguous blocks, sizes differing by <= 1."""
    n, w = len(batches), len(workers)
    return {addr: list(range(k * n // w, (k + 1) * n // w)) for k, addr in enumerate(workers)}


def stage_batches(manifest: str, source: str, ranges: list, root: str | None, tag: str) -> dict:
    """On a worker: copy the files of ``ranges`` ([start, stop) rows) into a new directory
    under ``root`` (the worker's local directory when None); returns where and how long."""
    from distributed import get_worker

    from filerate import stage

    worker = get_worker()
    base = root or worker.local_directory
    dest = os.path.join(base, f"filerate-stage-{tag}-{os.getpid()}")
    table = batchio.file_table(manifest)
    paths = [p for lo, hi in ranges for p in table.path_raw[lo:hi]]
    sizes = sum(int(table.sizes[lo:hi].sum()) for lo, hi in ranges)
    t_start = time.time()
    t0 = time.perf_counter()
    os.makedirs(dest)
    try:
        for d in sorted({os.path.dirname(p) for p in paths} - {b""}):
            os.makedirs(os.path.join(os.fsencode(dest), d), exist_ok=True)
        failed = stage._copy_all(os.fsencode(source), os.fsencode(dest), paths, COPY_THREADS)
    except BaseException:  # e.g. ENOSPC: leave no half copy behind
        _remove(dest)
        raise
    seconds = time.perf_counter() - t0
    fs_mount, fs_type = stage.filesystem(dest)
    return {
        "worker": worker.address,
        "host": worker.ip if hasattr(worker, "ip") else None,
        "dir": dest,
        "fs_type": fs_type,
        "mount": fs_mount,
        "files": len(paths) - len(failed),
        "bytes": sizes,
        "failed_count": len(failed),
        "failed": failed[:100],
        "start": t_start,
        "seconds": seconds,
        "files_per_s": (len(paths) - len(failed)) / seconds if seconds else 0.0,
    }


def _remove(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)


@dataclass
class Placement:
    """Which worker owns which batches, and where each worker's copy is."""

    owner: dict[str, list[int]]
    dirs: dict[str, str] = field(default_factory=dict)

    def map(self, client, fn, specs: list[dict], keys: list[str], retries: int) -> list:
        """Submit every batch to its owner only, reading from the owner's copy."""
        futures = []
        for addr, owned in self.owner.items():
            if not owned:
                continue
            futures += client.map(
                fn,
                [{**specs[b], "data_dir": self.dirs[addr]} for b in owned],
                key=[keys[b] for b in owned],
                workers=[addr],
                allow_other_workers=False,
                pure=False,
                retries=retries,
            )
        return futures

    def remove(self, client) -> None:
        """Delete each worker's copy (on that worker; a worker gone took its copy along
        only if its directory was temporary, so this is best effort)."""
        for addr, path in self.dirs.items():
            with contextlib.suppress(Exception):
                client.run(_remove, path, workers=[addr], on_error="ignore")


def _collect_dirs(futures: dict, placement: Placement) -> None:
    """The directories of the workers that did finish, so a failure removes them too."""
    for addr, fut in futures.items():
        if fut.status == "finished":
            placement.dirs[addr] = fut.result()["dir"]


def stage(client, spec_base: dict, batches: list[tuple[int, int]], settings: dict):
    """Deal the batches, have every worker copy its own, and return (Placement, record);
    the record has the shape of a staging record (seconds = the slowest worker's wall)."""
    workers = sorted(cluster.worker_info(client))
    owner = deal(batches, workers)
    tag = f"{settings['name']}-{uuid.uuid4().hex[:8]}"
    t0 = time.perf_counter()
    futures = {
        addr: client.submit(
            stage_batches,
            spec_base["manifest"],
            spec_base["data_dir"],
            [batches[b] for b in owned],
            settings.get("worker_staging_root"),
            tag,
            workers=[addr],
            allow_other_workers=False,
            pure=False,
            key=f"stage-{tag}-{k}",
        )
        for k, (addr, owned) in enumerate(owner.items())
    }
    placement = Placement(owner=owner)
    per_worker = []
    for addr, fut in futures.items():
        try:
            res = fut.result()
        except Exception as exc:  # e.g. the worker's disk filled up: say where and why
            _collect_dirs(futures, placement)
            placement.remove(client)
            raise UserError(
                f"phase {settings['name']}: worker {addr} could not stage its batches: "
                f"{type(exc).__name__}: {exc}; free space there or set worker_staging_root"
            ) from None
        except BaseException:
            _collect_dirs(futures, placement)
            placement.remove(client)
            raise
        placement.dirs[addr] = res["dir"]
        per_worker.append({**res, "batches": len(owner[addr])})
    return placement, _record(settings, spec_base, per_worker, time.perf_counter() - t0)


def _record(settings: dict, spec_base: dict, per_worker: list[dict], seconds: float) -> dict:
    """The staging record of a per-worker staging (seconds: the slowest worker's wall)."""
    files = sum(w["files"] for w in per_worker)
    total = sum(w["bytes"] for w in per_worker)
    return {
        "phase": settings["name"],
        "staged": True,
        "mode": "per_worker",
        "source_dir": spec_base["data_dir"],
        "files": files,
        "bytes": total,
        "seconds": seconds,
        "files_per_s": files / seconds if seconds else 0.0,
        "mb_per_s": total / MB / seconds if seconds else 0.0,
        "failed_count": sum(w["failed_count"] for w in per_worker),
        "workers": per_worker,
        "how": (
            "each worker copied the files of the contiguous block of batches dealt to it into "
            "its own directory, all at once; seconds is the wall time until the last finished"
        ),
    }
