"""Read a phase directory (results/phases/{phase}/) into Python objects.

Shared by ``tables``, ``bottlenecks``, ``plots`` and ``report``. The files and their
columns are described in docs/DATA.md. ``run.json`` is required; ``batches.parquet``,
``resources.parquet`` and ``validation.json`` are loaded when present (``None`` when not),
and a step that needs one calls :func:`require`, which raises a one-line ``UserError``
naming the missing file and the step that makes it. ``files.parquet`` is not loaded: the
reports take their per-file accounting from ``validation.json``.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from filerate import fmt
from filerate.engine import records
from filerate.errors import UserError
from filerate.stats import cv_pct, timed_files_per_s

#: Per-task time components recorded in batches.parquet, in the order a task runs them.
COMPONENTS = records.TIME_COMPONENTS

#: Optional per-task components some engines also record (batches.parquet ``*_s``).
EXTRA_COMPONENT_LABELS = {"setup_s": "task setup"}


def task_components(frame: pd.DataFrame | None) -> list[str]:
    """The component columns of batches.parquet (defined in filerate.engine.records): the
    ones every task records, then the optional ones (``setup_s``) the frame holds."""
    extra = [c for c in records.EXTRA_TIME_COMPONENTS if frame is not None and c in frame]
    return list(COMPONENTS) + extra


_MAKER = {
    "run.json": "filerate process",
    "batches.parquet": "filerate process",
    "resources.parquet": "filerate process",
    "validation.json": "filerate validate",
}


@dataclass
class Phase:
    """One phase's outputs."""

    name: str
    dir: Path
    run: dict
    batches: pd.DataFrame | None = None
    resources: pd.DataFrame | None = None
    validation: dict | None = None
    notes: list[str] = field(default_factory=list)

    # ---- run.json conveniences -------------------------------------------------------
    @property
    def settings(self) -> dict:
        return self.run.get("settings") or {}

    @property
    def resolved(self) -> dict:
        return self.settings.get("resolved") or {}

    @property
    def cluster(self) -> dict:
        return self.run.get("cluster") or {}

    @property
    def staging(self) -> dict | None:
        return self.run.get("staging") or None

    @property
    def ablation(self) -> dict | None:
        return self.settings.get("ablation") or None

    @property
    def backend_used(self) -> str:
        return str((self.run.get("backend") or {}).get("used") or "unknown")

    @property
    def cpu_count(self) -> int | None:
        for value in (
            self.resolved.get("cpu_count"),
            (self.run.get("hardware") or {}).get("cpu_count"),
            (self.run.get("hardware") or {}).get("usable_cpus"),
        ):
            if isinstance(value, (int, float)) and value > 0:
                return int(value)
        return None

    @property
    def processes(self) -> int | None:
        return _int(self.cluster.get("processes"), self.resolved.get("processes"))

    @property
    def threads_per_process(self) -> int | None:
        return _int(
            self.cluster.get("threads_per_process"), self.resolved.get("threads_per_process")
        )

    @property
    def total_threads(self) -> int | None:
        value = _int(self.cluster.get("total_threads"), self.resolved.get("total_threads"))
        if value is None and self.cluster.get("workers"):
            value = sum(int(w.get("nthreads") or 0) for w in self.cluster["workers"]) or None
        return value

    @property
    def startup_s(self) -> float | None:
        return as_float(self.cluster.get("startup_s"))

    @property
    def kernel_warmup_s(self) -> float | None:
        """Seconds compiling the kernels and loading the path table on every worker, once
        per run before any timing (run.json ``cluster.kernel_warmup_s``)."""
        return as_float(self.cluster.get("kernel_warmup_s"))

    @property
    def staging_s(self) -> float | None:
        """Seconds spent copying the corpus to the RAM disk (0 when not staged)."""
        st = self.staging
        if not st or not st.get("staged"):
            return 0.0
        return as_float(st.get("seconds"))

    @property
    def staged(self) -> bool:
        st = self.staging
        if st is not None and "staged" in st:
            return bool(st["staged"])
        corpus = self.run.get("corpus") or {}
        if "staged" in corpus:
            return bool(corpus["staged"])
        return bool(self.settings.get("staging"))

    def repeats(self, timed: bool = True) -> list[dict]:
        """The repeat records of run.json; timed ones only unless ``timed`` is False."""
        reps = list(self.run.get("repeats") or [])
        return [r for r in reps if not r.get("warmup")] if timed else reps

    def summary(self) -> dict:
        """Files/s statistics over the timed repeats: run.json's summary, completed from
        the repeats where a key is missing (CV with the population standard deviation,
        as `filerate process` computes it)."""
        reps = self.repeats()
        fps = timed_files_per_s(self.run)
        walls = [float(r["wall_s"]) for r in reps if as_float(r.get("wall_s")) is not None]
        mbs = [float(r["mb_per_s"]) for r in reps if as_float(r.get("mb_per_s")) is not None]
        computed: dict[str, Any] = {
            "repeats": len(reps),
            "files_per_s_median": statistics.median(fps) if fps else None,
            "files_per_s_min": min(fps) if fps else None,
            "files_per_s_max": max(fps) if fps else None,
            "files_per_s_cv_pct": cv_pct(fps),
            "wall_s_median": statistics.median(walls) if walls else None,
            "mb_per_s_median": statistics.median(mbs) if mbs else None,
            "files_ok": reps[-1].get("files_ok") if reps else None,
            "files_error": reps[-1].get("files_error") if reps else None,
        }
        given = self.run.get("summary") or {}
        out = dict(computed)
        for key, value in given.items():
            if value is not None:
                out[key] = value
        return out

    def timed_batches(self) -> pd.DataFrame:
        """batches.parquet rows of the timed repeats (empty frame when none)."""
        frame = require(self, "batches")
        timed = {int(r["repeat"]) for r in self.repeats()}
        mask = frame["repeat"].isin(timed)
        if "warmup" in frame.columns:
            mask &= ~frame["warmup"].astype(bool)
        return frame[mask]


def _int(*values) -> int | None:
    """The first value that is a real number (not a bool or NaN), as an int."""
    for v in values:
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v:
            return int(v)
    return None


# ``value`` as a float; None when it is missing, a bool, not a number or NaN
as_float = fmt.as_number


def as_count(value) -> int | None:
    """A count from validation.json, which may give one as a number or as the list (or
    mapping) of what it counts."""
    if isinstance(value, (list, tuple, dict)):
        return len(value)
    f = as_float(value)
    return None if f is None else int(f)


def read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise UserError(
            f"{path} is not valid JSON ({exc.msg} at line {exc.lineno}); "
            f"rerun `{_MAKER.get(path.name, 'filerate process')}`"
        ) from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise UserError(
            f"cannot read {path}: {str(exc).splitlines()[0] if str(exc) else exc!r}; "
            f"rerun `{_MAKER.get(path.name, 'filerate process')}`"
        ) from None


def load_phase(path: str | Path) -> Phase:
    """Load one phase directory. Raises UserError if it or its run.json is missing."""
    path = Path(path)
    if not path.is_dir():
        raise UserError(
            f"phase directory {path} does not exist; run `filerate process` "
            "for that phase first (or fix --phase-dir)"
        )
    run_path = path / "run.json"
    if not run_path.is_file():
        raise UserError(f"{run_path} is missing; run `filerate process` for that phase first")
    run = read_json(run_path)
    phase = Phase(name=str(run.get("phase") or path.name), dir=path, run=run)
    if (path / "batches.parquet").is_file():
        phase.batches = read_parquet(path / "batches.parquet")
        _check_columns(
            phase.batches,
            path / "batches.parquet",
            ("repeat", "start", "stop", "files") + COMPONENTS,
        )
    if (path / "resources.parquet").is_file():
        res = read_parquet(path / "resources.parquet")
        if len(res) == 0:
            phase.notes.append(
                f"{path / 'resources.parquet'} holds no samples: CPU, memory, "
                "RAM-disk and GPU use are unknown for this phase"
            )
            res = pd.DataFrame({"t": pd.Series(dtype=float), "cpu_pct": pd.Series(dtype=float)})
        _check_columns(res, path / "resources.parquet", ("t", "cpu_pct"))
        phase.resources = res.sort_values("t", kind="stable").reset_index(drop=True)
    if (path / "validation.json").is_file():
        phase.validation = read_json(path / "validation.json")
    return phase


def _check_columns(frame: pd.DataFrame, path: Path, needed: tuple[str, ...]) -> None:
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise UserError(
            f"{path} lacks column(s) {', '.join(missing)} (see docs/DATA.md); "
            "rerun `filerate process` with this filerate version"
        )


def load_phases(paths) -> list[Phase]:
    """Load phase directories in the order given; the first is the baseline."""
    if not paths:
        raise UserError("no --phase-dir given; name at least one phase directory")
    phases = [load_phase(p) for p in paths]
    seen: dict[str, Path] = {}
    for ph in phases:
        if ph.name in seen:
            raise UserError(
                f"phase {ph.name!r} given twice ({seen[ph.name]} and {ph.dir}); "
                "name each phase directory once"
            )
        seen[ph.name] = ph.dir
    return phases


def require(phase: Phase, what: str):
    """Return ``phase.<what>`` or raise UserError naming the missing file."""
    value = getattr(phase, what)
    if value is None:
        name = {
            "batches": "batches.parquet",
            "resources": "resources.parquet",
            "validation": "validation.json",
        }[what]
        raise UserError(
            f"{phase.dir / name} is missing; run `{_MAKER[name]}` for phase {phase.name} first"
        )
    return value


def repeat_windows(phase: Phase, timed: bool = True) -> list[tuple[float, float]]:
    out = []
    for r in phase.repeats(timed):
        a, b = as_float(r.get("start")), as_float(r.get("stop"))
        if a is not None and b is not None and b >= a:
            out.append((a, b))
    return out


def gpu_indices(resources: pd.DataFrame | None) -> list[int]:
    """GPU numbers that have a ``gpu{i}_util_pct`` column in resources.parquet."""
    if resources is None:
        return []
    out = []
    for col in resources.columns:
        if col.startswith("gpu") and col.endswith("_util_pct"):
            middle = col[3 : -len("_util_pct")]
            if middle.isdigit():
                out.append(int(middle))
    return sorted(out)
