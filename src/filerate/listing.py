"""The directory walk that finds a tree's files, timed warm and cold.

Readers of a real tree pay for listing it before they read a byte (elbencho's treescan
and IO500's ``find`` measure the same thing). The walk never follows a symlink. A cold
listing needs the dentry and inode caches dropped, which only ``drop_caches`` does;
where it is refused (not root) the cold listing is reported as not measured, with why.
"""

from __future__ import annotations

import os
import time

from filerate.engine import cache


def walk(root: str | os.PathLike) -> dict:
    """Count the entries under ``root`` (iterative scandir, no symlink followed), timed."""
    files = dirs = symlinks = other = errors = 0
    stack = [os.fsencode(root)]
    t0 = time.perf_counter()
    while stack:
        d = stack.pop()
        try:
            it = os.scandir(d)
        except OSError:
            errors += 1
            continue
        with it:
            for e in it:
                try:
                    if e.is_symlink():
                        symlinks += 1
                    elif e.is_dir(follow_symlinks=False):
                        dirs += 1
                        stack.append(e.path)
                    elif e.is_file(follow_symlinks=False):
                        files += 1
                    else:
                        other += 1
                except OSError:
                    errors += 1
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "files": files,
        "dirs": dirs,
        "symlinks": symlinks,
        "other": other,
        "errors": errors,
        "entries_per_s": (files + dirs + symlinks + other) / seconds if seconds else 0.0,
    }


def measure(root: str | os.PathLike, cold: bool = False, eviction: str = "fadvise") -> dict:
    """The warm listing (after one untimed walk) and, when ``cold``, a cold one.

    A cold listing is measured only where ``drop_caches`` is both asked for (``eviction``
    ``drop_caches`` or ``auto``) and permitted: ``fadvise`` leaves dentries and inodes
    cached, so a listing after it would be warm whatever it is called.
    """
    out = {"root": os.fsdecode(os.path.abspath(root))}
    walk(root)  # warms the dentry cache for the warm figure
    out["warm"] = walk(root)
    if not cold:
        return out
    if eviction not in ("drop_caches", "auto"):
        out["cold"] = None
        out["cold_note"] = (
            "not measured: eviction is fadvise, which leaves dentries and inodes cached "
            "(set eviction: drop_caches, as root, to time a cold listing)"
        )
        return out
    refused = cache.drop_caches()
    if refused:
        out["cold"] = None
        out["cold_note"] = f"not measured: drop_caches refused ({refused})"
        return out
    out["cold"] = walk(root)
    out["cold_note"] = "dentries and inodes dropped (drop_caches) before the walk"
    return out


def seconds_for(listing: dict | None, cold: bool) -> float | None:
    """The listing seconds that match a repeat's cache state. A cold repeat whose dentries
    stayed cached (fadvise, or drop_caches refused) gets the warm listing: that is what a
    walk would cost it."""
    if not listing:
        return None
    part = listing.get("cold") if cold and listing.get("cold") else listing.get("warm")
    return part["seconds"] if part else None
