"""Runs over time: each finished run's small files kept under a run id.

``filerate history`` copies the tables, the bottleneck report, and each phase's run.json,
validation.json and staging record (never corpora, parquet files or the HTML page) into
``results/history/<UTC start>-<host>/``, in the same layout as ``results/`` so that
``filerate compare`` reads an entry and a results folder alike::

    entry.json                        run id, host, when measured, phases, fingerprint
    phases/<phase>/run.json           (and validation.json)
    staging/<phase>.json              where the phase staged
    tables/throughput.tsv, .md
    reports/bottlenecks.json, .md

The entry is built in a hidden temporary folder and renamed into place (atomic: an entry
is complete or absent). A run whose run.json files are byte-identical to the newest
entry's (the tables or report were only regenerated) adds no entry. ``--out`` writes
latest.json, which names the newest entry (the workflow's ``history`` rule output).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import socket
import tempfile
from pathlib import Path

from filerate.atomic import write_json
from filerate.errors import UserError

ENTRY = "entry.json"
#: files copied from results/ besides each phase's; anything larger is left out
TABLE_FILES = (
    "tables/throughput.tsv",
    "tables/throughput.md",
    "reports/bottlenecks.json",
    "reports/bottlenecks.md",
)
PHASE_FILES = ("run.json", "validation.json")
MAX_FILE_BYTES = 20_000_000


def phase_names(results: Path) -> list[str]:
    """The run's phases in table order (throughput.tsv), else every phases/*/run.json."""
    table = results / "tables" / "throughput.tsv"
    if table.is_file():
        rows = table.read_text().splitlines()[1:]
        names = [r.split("\t", 1)[0] for r in rows if r.strip()]
        if names:
            return names
    return sorted(p.parent.name for p in (results / "phases").glob("*/run.json"))


def fingerprint(results: Path, names: list[str]) -> str:
    """sha256 over the phases' run.json files: the same measurements give the same one."""
    digest = hashlib.sha256()
    for name in sorted(names):
        path = results / "phases" / name / "run.json"
        digest.update(name.encode() + b"\0")
        digest.update(path.read_bytes() if path.is_file() else b"(missing)")
    return digest.hexdigest()


def _read_run(results: Path, name: str) -> dict:
    try:
        return json.loads((results / "phases" / name / "run.json").read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def _host(runs: list[dict]) -> str:
    for run in runs:
        host = (run.get("hardware") or {}).get("hostname")
        if host:
            return str(host)
    return socket.gethostname()


def run_id(started_at: float | None, host: str) -> str:
    """``20261128T040312Z-host``: sorts by time; the host keeps runs of machines apart."""
    when = dt.datetime.fromtimestamp(started_at or dt.datetime.now().timestamp(), dt.timezone.utc)
    safe_host = re.sub(r"[^A-Za-z0-9.-]+", "-", host).strip("-.") or "host"
    return f"{when:%Y%m%dT%H%M%SZ}-{safe_host}"


def _order(path: Path) -> tuple:
    """Sort key of an entry: its start time (the name's first 16 characters), then when it
    was recorded, then the name's ``-2``, ``-10`` … suffix as a number (a partial rerun
    keeps the first run's start time: ``-10`` must sort after ``-9``, not after ``-1``)."""
    name = path.name
    suffix = re.search(r"-(\d+)$", name)
    recorded = str(read_entry(path).get("recorded_at") or "")
    return (name[:16], recorded, int(suffix.group(1)) if suffix else 0, name)


def entries(root: Path) -> list[Path]:
    """The complete history entries, oldest first (by start time, then recording time)."""
    if not root.is_dir():
        return []
    return sorted((p for p in root.iterdir() if p.is_dir() and (p / ENTRY).is_file()), key=_order)


def read_entry(path: Path) -> dict:
    try:
        return json.loads((path / ENTRY).read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def _copy_small(src: Path, dst: Path, kept: list[str], left_out: list[str], rel: str) -> None:
    if not src.is_file():
        return
    if src.stat().st_size > MAX_FILE_BYTES:
        left_out.append(f"{rel} (over {MAX_FILE_BYTES:,} bytes)")
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dst)
    kept.append(rel)


def _fill(tmp: Path, results: Path, names: list[str]) -> tuple[list[str], list[str]]:
    kept: list[str] = []
    left_out: list[str] = []
    for rel in TABLE_FILES:
        _copy_small(results / rel, tmp / rel, kept, left_out, rel)
    for name in names:
        for leaf in PHASE_FILES:
            rel = f"phases/{name}/{leaf}"
            _copy_small(results / rel, tmp / rel, kept, left_out, rel)
        rel = f"staging/{name}.json"
        _copy_small(results / rel, tmp / rel, kept, left_out, rel)
    return kept, left_out


def _entry_record(results: Path, names: list[str], print_: str) -> dict:
    runs = [_read_run(results, n) for n in names]
    started = [r["started_at"] for r in runs if isinstance(r.get("started_at"), (int, float))]
    finished = [r["finished_at"] for r in runs if isinstance(r.get("finished_at"), (int, float))]
    return {
        "host": _host(runs),
        "started_at": min(started, default=None),
        "finished_at": max(finished, default=None),
        "recorded_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "phases": names,
        "fingerprint": print_,
    }


def record(results: Path, root: Path) -> tuple[Path, bool]:
    """Keep ``results``' run in ``root``; (the entry, whether it is new)."""
    names = phase_names(results)
    if not names:
        raise UserError(f"no phase results under {results}/phases; run the workflow first")
    print_ = fingerprint(results, names)
    known = entries(root)
    if known and read_entry(known[-1]).get("fingerprint") == print_:
        return known[-1], False
    entry = _entry_record(results, names, print_)
    ident = run_id(entry["started_at"], entry["host"])
    target, n = root / ident, 2
    while target.exists():  # two runs in one second: keep both
        target, n = root / f"{ident}-{n}", n + 1
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=root))
    try:
        kept, left_out = _fill(tmp, results, names)
        write_json(
            tmp / ENTRY, {"run_id": target.name, **entry, "files": kept, "left_out": left_out}
        )
        os.chmod(tmp, 0o755)
        os.rename(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target, True


def resolve(ref: str, root: Path) -> Path:
    """A history entry or results folder from a path, a run id or a run id's prefix."""
    path = Path(ref)
    if (path / "phases").is_dir():
        return path
    known = entries(root)
    matches = [p for p in known if p.name == ref] or [p for p in known if p.name.startswith(ref)]
    if len(matches) == 1:
        return matches[0]
    have = ", ".join(p.name for p in known[-5:]) or "none yet"
    why = "matches several runs" if matches else "is neither a results folder nor a run id"
    raise UserError(f"{ref!r} {why} in {root} (newest: {have})")


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "history",
        help="keep this run's tables and run.json under results/history/<run id>",
        description=(
            "Copy the run's small files (tables, bottleneck report, each phase's run.json, "
            "validation.json and staging record) into HISTORY_DIR/<UTC start>-<host>/, "
            "atomically; a run already kept adds nothing. --list shows the entries."
        ),
    )
    p.add_argument("--results", default="results", metavar="DIR")
    p.add_argument("--history-dir", default=None, metavar="DIR", help="default: RESULTS/history")
    p.add_argument("--out", metavar="JSON", help="write latest.json naming the newest entry")
    p.add_argument("--list", action="store_true", help="list the kept runs, oldest first")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    results = Path(args.results)
    root = Path(args.history_dir) if args.history_dir else results / "history"
    if args.list:
        for path in entries(root):
            entry = read_entry(path)
            print(f"{path.name}  {', '.join(entry.get('phases') or [])}")
        return 0
    path, new = record(results, root)
    known = entries(root)
    older = known[: known.index(path)] if path in known else []
    print(f"filerate history: {'kept' if new else 'already kept'} as {path}")
    if args.out:
        write_json(
            args.out,
            {
                "run_id": path.name,
                "path": str(path),
                "new": new,
                "previous": older[-1].name if older else None,
            },
        )
    return 0
