"""`filerate stage`: copy a phase's corpus to the RAM disk, measured and budget-checked.

The budget and free memory are checked before anything is copied. The copy is made in a
``.partial`` sibling and renamed when complete, so a crashed copy is never mistaken for a
finished one; a leftover from an earlier run is removed (and said so), never trusted.
"""

from __future__ import annotations

import argparse
import errno
import getpass
import hashlib
import os
import shutil
import stat
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import psutil

from filerate import atomic, fmt
from filerate.errors import UserError
from filerate.openflags import READ_FLAGS
from filerate.units import GIB, MB, gib_to_bytes

PAGE = 4096
#: file systems that keep their files in memory
RAM_FILESYSTEMS = ("tmpfs", "ramfs")


def ramdisk_run_dir(root: str, workdir: str | None = None) -> Path:
    """Per-user, per-working-directory folder under the RAM disk root.

    Two workflows in different directories never share (or clobber) staged copies;
    Snakemake's own lock keeps two runs out of one directory.
    """
    workdir = os.path.realpath(workdir or os.getcwd())
    tag = hashlib.sha256(workdir.encode()).hexdigest()[:12]
    return Path(root) / f"filerate-{getpass.getuser()}" / tag


def filesystem(path: str) -> tuple[str, str]:
    """(mount point, filesystem type) holding ``path``, from /proc/mounts."""
    real = os.path.realpath(path)
    best = ("/", "unknown")
    try:
        with open("/proc/mounts") as fh:
            for line in fh:
                parts = line.split()
                if len(parts) < 3:
                    continue
                mnt = parts[1].replace("\\040", " ")
                if (real == mnt or real.startswith(mnt.rstrip("/") + "/")) and len(mnt) >= len(
                    best[0]
                ):
                    best = (mnt, parts[2])
    except OSError:
        pass
    return best


def estimate_footprint(sizes, dirs: int) -> int:
    """Bytes a tmpfs copy occupies: whole pages per file plus one page per directory."""
    pages = (sizes + PAGE - 1) // PAGE
    return int(pages.sum()) * PAGE + dirs * PAGE


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "stage",
        help="copy a corpus to the RAM disk (budget-checked, timed)",
        description=(
            "Copy the corpus files listed in --manifest from --source to --dest on the RAM "
            "disk. The phase budget and free memory are checked before copying; staging "
            "seconds, files/s, MB/s and the bytes occupied are written to --record."
        ),
    )
    p.add_argument("--manifest", required=True, help="the corpus manifest.parquet")
    p.add_argument("--source", required=True, help="the corpus files directory")
    p.add_argument("--dest", required=True, help="where the staged copy goes (on the RAM disk)")
    p.add_argument("--record", required=True, help="staging record (JSON) to write")
    p.add_argument("--phase", required=True, help="phase name (for the record)")
    p.add_argument("--corpus", default=None, help="corpus name (for the record)")
    p.add_argument(
        "--budget-gb",
        type=float,
        default=None,
        help="largest footprint allowed on the RAM disk (GB); default: no budget",
    )
    p.add_argument(
        "--min-free-memory-gb",
        type=float,
        default=1.0,
        help="refuse if less RAM than this would remain available (GB)",
    )
    p.add_argument("--threads", type=int, default=4, help="copy threads")
    p.add_argument(
        "--evict-source",
        choices=["fadvise", "drop_caches", "auto"],
        default=None,
        help="evict the source from the page cache first (verified with mincore), so the "
        "copy is timed from storage (a cold phase)",
    )
    p.set_defaults(func=run)


def run(args) -> int:
    source_cache = None
    if args.evict_source:
        from filerate.engine import coldrun

        source_cache = coldrun.evict_source(args.manifest, args.source, args.evict_source)
        print(f"filerate stage: source {source_cache['note']}", file=sys.stderr)
    record = stage(
        args.manifest,
        args.source,
        args.dest,
        phase=args.phase,
        corpus=args.corpus,
        budget_gb=args.budget_gb,
        min_free_memory_gb=args.min_free_memory_gb,
        threads=args.threads,
    )
    record["source_cache"] = source_cache
    atomic.write_json(args.record, record)
    print(
        f"staged {fmt.num(record['files'])} files ({fmt.size(record['bytes'])}) "
        f"to {record['staged_dir']} "
        f"in {fmt.seconds(record['seconds'])}: {fmt.rate(record['files_per_s'])}, "
        f"{fmt.mb_per_s(record['mb_per_s'])}",
        file=sys.stderr,
    )
    return 0


def stage(
    manifest: str,
    source: str,
    dest: str,
    *,
    phase: str,
    corpus: str | None = None,
    budget_gb: float | None = None,
    min_free_memory_gb: float = 1.0,
    threads: int = 4,
) -> dict:
    """Copy the manifest's files from ``source`` to ``dest``; returns the staging record."""
    frame = pd.read_parquet(manifest, columns=["path_raw", "bytes"])
    paths = list(frame["path_raw"])
    sizes = frame["bytes"].to_numpy()
    dirs = sorted({os.path.dirname(p) for p in paths} - {b""})
    dest_p = Path(dest)
    root = dest_p.parent
    root.mkdir(parents=True, exist_ok=True)
    mount, fstype, warning = _where(root)
    need = estimate_footprint(sizes, len(dirs))
    total = int(sizes.sum())
    available = _check_room(phase, root, need, len(paths), total, budget_gb, min_free_memory_gb)
    _remove_leftovers(dest_p)
    used_before = shutil.disk_usage(root).used
    t0 = time.perf_counter()
    failed = _copy_tree(source, dest_p, dirs, paths, threads, phase, need)
    seconds = time.perf_counter() - t0
    occupied = shutil.disk_usage(root).used - used_before
    copied = len(paths) - len(failed)
    failed_paths = {os.fsencode(f["path"]) for f in failed}
    failed_sizes = (int(s) for p, s in zip(paths, sizes, strict=True) if p in failed_paths)
    copied_bytes = total - sum(failed_sizes)
    return {
        "phase": phase,
        "corpus": corpus,
        "staged": True,
        "source_dir": os.path.abspath(source),
        "staged_dir": str(dest_p),
        "ramdisk_root": str(root),
        "mount": mount,
        "fs_type": fstype,
        "is_tmpfs": fstype in RAM_FILESYSTEMS,
        "files": copied,
        "bytes": copied_bytes,
        "manifest_bytes": total,
        "estimated_bytes": need,
        "occupied_bytes": max(occupied, 0),
        "budget_bytes": gib_to_bytes(budget_gb) if budget_gb is not None else None,
        "available_memory_before": available,
        "seconds": seconds,
        "files_per_s": copied / seconds if seconds else 0.0,
        "mb_per_s": copied_bytes / MB / seconds if seconds else 0.0,
        "threads": threads,
        "failed": failed[:1000],
        "failed_count": len(failed),
        "warning": warning,
    }


def _where(root: Path) -> tuple[str, str, str | None]:
    """(mount point, file system type, a warning if it is not a RAM disk) of ``root``."""
    mount, fstype = filesystem(str(root))
    warning = None
    if fstype not in RAM_FILESYSTEMS:
        warning = (
            f"{root} is on {fstype} ({mount}), not a RAM disk: staging is measured "
            "but it is an ordinary copy; set ramdisk.root to a tmpfs mount"
        )
        print(f"filerate stage: warning: {warning}", file=sys.stderr)
    return mount, fstype, warning


def _check_room(
    phase: str,
    root: Path,
    need: int,
    files: int,
    total: int,
    budget_gb: float | None,
    min_free_memory_gb: float,
) -> int:
    """Refuse (UserError) before copying anything when the copy would not fit the budget,
    free memory or the RAM disk; returns the memory available before staging."""
    if budget_gb is not None and need > budget_gb * GIB:
        raise UserError(
            f"phase {phase}: the staged corpus needs {fmt.size(need)} on the RAM disk "
            f"({files} files, {fmt.size(total)} of data) but ramdisk_budget_gb is "
            f"{fmt.gib_setting(budget_gb)}: raise the budget or set staging: false"
        )
    available = psutil.virtual_memory().available
    if available - need < min_free_memory_gb * GIB:
        raise UserError(
            f"phase {phase}: staging needs {fmt.size(need)} but only "
            f"{fmt.size(available)} of memory is available and "
            f"{fmt.gib_setting(min_free_memory_gb)} must stay free: free memory, lower "
            "ramdisk.min_free_memory_gb, or set staging: false"
        )
    free_fs = shutil.disk_usage(root).free
    if need > free_fs:
        raise UserError(
            f"phase {phase}: staging needs {fmt.size(need)} but {root} has "
            f"{fmt.size(free_fs)} free: enlarge the RAM disk or set staging: false"
        )
    return available


def _remove_leftovers(dest: Path) -> None:
    """Remove a staged copy (or partial copy) an earlier run left: never trusted."""
    for leftover in (dest, *dest.parent.glob(f"{dest.name}.partial-*")):
        if leftover.exists() or leftover.is_symlink():
            print(
                f"filerate stage: removing a leftover staged copy from an earlier run: {leftover}",
                file=sys.stderr,
            )
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover)
            else:
                leftover.unlink()


def _copy_tree(
    source: str, dest: Path, dirs: list, paths: list, threads: int, phase: str, need: int
) -> list[dict]:
    """Copy into a ``.partial`` sibling of ``dest`` and rename it when complete; the
    partial copy is removed on any failure. Returns the files that could not be copied."""
    root = dest.parent
    partial = root / f"{dest.name}.partial-{os.getpid()}"
    try:
        partial.mkdir()
        for d in dirs:
            os.makedirs(os.path.join(os.fsencode(partial), d), exist_ok=True)
        failed = _copy_all(os.fsencode(source), os.fsencode(partial), paths, threads)
        os.replace(partial, dest)
    except OSError as exc:
        shutil.rmtree(partial, ignore_errors=True)
        if exc.errno == errno.ENOSPC:
            raise UserError(
                f"phase {phase}: the RAM disk {root} filled up while staging "
                f"({need / GIB:.2f} GB needed); the partial copy was removed: "
                "enlarge it or set staging: false"
            ) from None
        raise
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return failed


def _copy_all(src: bytes, dst: bytes, paths: list[bytes], threads: int) -> list[dict]:
    """Copy files in parallel chunks; ENOSPC aborts, other per-file errors are recorded."""
    chunks = [paths[i::threads] for i in range(threads)]
    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(lambda c: _copy_chunk(src, dst, c), chunks))
    return [f for chunk in results for f in chunk]


def _copy_chunk(src: bytes, dst: bytes, paths: list[bytes]) -> list[dict]:
    failed = []
    for rel in paths:
        try:
            sfd = os.open(src + b"/" + rel, READ_FLAGS)
            try:
                st = os.fstat(sfd)
                if not stat.S_ISREG(st.st_mode):
                    failed.append({"path": os.fsdecode(rel), "error": "not a regular file"})
                    continue
                dfd = os.open(dst + b"/" + rel, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                try:
                    size = st.st_size
                    sent = 0
                    while sent < size:
                        n = os.sendfile(dfd, sfd, sent, size - sent)
                        if n == 0:
                            break
                        sent += n
                finally:
                    os.close(dfd)
            finally:
                os.close(sfd)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise
            failed.append({"path": os.fsdecode(rel), "error": exc.strerror})
    return failed


def remove_run_dir(root: str, workdir: str | None = None) -> None:
    """Remove this working directory's staged copies (used on success, error and Ctrl-C)."""
    shutil.rmtree(ramdisk_run_dir(root, workdir), ignore_errors=True)
