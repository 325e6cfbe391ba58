"""What a phase does around its timed repeats for the page cache and real trees.

:class:`RepeatStorage` is prepared once per phase, before the cluster starts (the timed
listing, the path table used for eviction, a real tree's truth hashes), and called by
engine.repeats around every repeat:

- ``before``: a cold in-place phase evicts the corpus before each timed repeat (outside
  the timed window) and verifies it with mincore(); other repeats only measure residency.
  The record is kept per repeat in run.json (``cache``).
- ``after``: files of a real tree whose content differed from the reference pass and whose
  identity changed since become per-file errors ("changed since reference pass"), never
  wrong numbers; the listing seconds and the rate with the listing are added.
- ``summary``: the phase's cache state for run.json's summary.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import numpy as np
import pandas as pd

from filerate import listing
from filerate.corpus import tree
from filerate.engine import batchio, cache
from filerate.engine.records import ErrorKind, FileError, FileStatus


@dataclass
class RepeatStorage:
    """A phase's cache and real-tree handling around its repeats."""

    settings: dict
    data_dir: str
    staged: bool
    table: batchio.FileTable
    manifest: pd.DataFrame
    truth: np.ndarray | None
    listed: dict

    @classmethod
    def prepare(cls, settings, manifest_path, manifest, data_dir, staging) -> RepeatStorage:
        """Before the cluster starts: the walk, the path table, the truth hashes
        (``staging``: the phase's staging record, or None when it reads in place)."""
        staged = bool(staging and staging.get("staged"))
        return cls(
            settings,
            str(data_dir),
            staged,
            batchio.file_table(manifest_path),
            manifest,
            truth_hashes(manifest),
            phase_listing(settings, str(data_dir), staged),
        )

    def before(self, warmup: bool) -> dict | None:
        return before_repeat(self.settings, self.data_dir, self.table, self.staged, warmup)

    @property
    def single_pass(self) -> bool:
        """Whether each timed repeat must be one pass: a cold one is evicted before it,
        a real tree's is checked against its reference pass, and a listing counted in the
        rate belongs to one pass. A staged cold phase is not: its source was evicted before
        the copy, and its repeats read the RAM disk like any staged phase."""
        s = self.settings
        evicted = s.get("cache") == "cold" and not self.staged
        return evicted or self.truth is not None or bool(s.get("listing_in_rate"))

    def after(self, rec: dict, results, cache_rec: dict | None) -> None:
        rec["cache"] = cache_rec
        account_changed(rec, results, self.manifest, self.truth, self.data_dir)
        with_listing(rec, self.listed, self.settings)

    def summary(self, records: list[dict]) -> dict:
        timed = [r for r in records if not r["warmup"]]
        return {
            "files_per_s_with_listing_median": median_or_none(
                [r.get("files_per_s_with_listing") for r in timed]
            ),
            "cache": summary(self.settings, records, self.staged),
        }


def note(rec: dict) -> str:
    """The progress line's cache remark for one repeat ("" when there is none)."""
    cache_rec = rec.get("cache")
    return f", {cache_rec['note']}" if cache_rec and cache_rec.get("note") else ""


def before_repeat(settings: dict, data_dir: str, table, staged: bool, warmup: bool) -> dict | None:
    """Evict (cold, in place, timed repeat) or just measure residency; None for warm-up."""
    if warmup:
        return None
    sample = settings.get("cache_sample_files", cache.MIN_SAMPLE)
    if settings.get("cache", "warm") == "cold" and not staged:
        return cache.evict(data_dir, table, settings.get("eviction", "fadvise"), sample)
    rec = cache.state(data_dir, table, sample)
    if staged and settings.get("cache") == "cold":
        rec["note"] = (
            "staged: the repeats read the RAM disk; the source was evicted before the copy"
        )
    return rec


def phase_listing(settings: dict, data_dir: str, staged: bool) -> dict:
    """Timed listing of the directory the repeats read."""
    cold = settings.get("cache") == "cold" and not staged
    return listing.measure(data_dir, cold=cold, eviction=settings.get("eviction", "fadvise"))


def truth_hashes(manifest: pd.DataFrame) -> np.ndarray | None:
    """The manifest's xxh3 as uint64 (0 where it has none); None without identity columns."""
    if "mtime_ns" not in manifest or "xxh3" not in manifest:
        return None
    hexes = manifest["xxh3"].fillna("0").to_numpy(dtype=str)
    return np.array([int(h, 16) for h in hexes], dtype=np.uint64)


def reclassify_changed(results, manifest: pd.DataFrame, truth, data_dir: str) -> int:
    """Mark ok files whose size or hash differ from the reference pass and whose identity
    changed as errors (:attr:`FileStatus.CHANGED`); returns how many."""
    if truth is None:
        return 0
    ok = results.ok()
    differs = ok & ((results.hash != truth) | (results.bytes != manifest["bytes"].to_numpy()))
    rows = np.flatnonzero(differs)
    if not len(rows):
        return 0
    changed = tree.changed_rows(manifest, data_dir, rows)
    for i, detail in changed.items():
        results.status[i] = FileStatus.CHANGED
        results.errors[i] = FileError(ErrorKind.CHANGED, detail)
    return len(changed)


def summary(settings: dict, repeats: list[dict], staged: bool) -> dict:
    """cache: warm | cold | not cold | ramdisk, with the resident shares of the repeats."""
    timed = [r for r in repeats if not r["warmup"] and r.get("cache")]
    shares = [r["cache"]["resident_share"] for r in timed]
    wanted = settings.get("cache", "warm")
    if staged:
        state = "ramdisk"
    elif wanted == "cold":
        state = "cold" if timed and all(r["cache"]["cold"] for r in timed) else "not cold"
    else:
        state = "warm"
    methods = sorted({r["cache"]["method"] for r in timed if r["cache"].get("method")})
    notes = sorted({r["cache"]["note"] for r in timed if r["cache"].get("note")})
    return {
        "requested": wanted,
        "state": state,
        "methods": methods,
        "resident_share_max": max(shares) if shares else None,
        "resident_share_min": min(shares) if shares else None,
        "notes": notes,
    }


def evict_source(manifest: str, source: str, method: str, sample: int = cache.MIN_SAMPLE) -> dict:
    """Evict a corpus before it is staged, so the copy starts from cold storage."""
    return cache.evict(source, batchio.FileTable.from_manifest(manifest), method, sample)


def read_manifest(path: str) -> pd.DataFrame:
    """The manifest columns a phase needs; a real tree's also has the truth hash and the
    identity of each file at the reference pass (to tell a changed file from a bug)."""
    import pyarrow.parquet as pq

    have = set(pq.read_schema(path).names)
    cols = ["path", "path_raw", "bytes"]
    if "mtime_ns" in have:
        cols += ["xxh3", "dev", "ino", "mtime_ns", "ctime_ns"]
    return pd.read_parquet(path, columns=cols)


def account_changed(rec: dict, results, manifest, truth, data_dir: str) -> None:
    """Files of a real tree changed since its reference pass become per-file errors."""
    changed = reclassify_changed(results, manifest, truth, data_dir)
    if changed:
        rec["files_ok"] -= changed
        rec["files_error"] += changed
        rec["files_per_s"] = rec["files_ok"] / rec["wall_s"] if rec["wall_s"] > 0 else 0.0
    rec["changed_files"] = changed


def with_listing(rec: dict, listed: dict, settings: dict) -> None:
    """The listing seconds matching this repeat's cache state, and the rate with them."""
    cold = bool(rec.get("cache") and rec["cache"].get("cold"))
    seconds = listing.seconds_for(listed, cold) if not rec["warmup"] else None
    rec["listing_s"] = seconds
    # a listing before every pass: a repeat may hold several
    listings = seconds * rec.get("passes", 1) if seconds is not None else None
    rec["files_per_s_with_listing"] = (
        rec["files_ok"] / (rec["wall_s"] + listings) if listings is not None else None
    )
    if settings.get("listing_in_rate") and seconds is not None:
        rec["files_per_s_without_listing"] = rec["files_per_s"]
        rec["files_per_s"] = rec["files_per_s_with_listing"]


def median_or_none(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None
