"""Utilisation in the timed repeats, from resources.parquet: CPU, context switches, memory
and, per GPU, utilisation, memory, temperature, power and clock."""

from __future__ import annotations

import numpy as np
import pandas as pd

from filerate.reports.load import Phase, gpu_indices, repeat_windows, require

#: resources.parquet ``gpu{i}_<column>`` -> the statistics reported for it
_GPU_STATS = (
    ("util_pct", ("mean", "peak")),
    ("mem_used_bytes", ("peak",)),
    ("temp_c", ("mean", "peak")),
    ("power_w", ("mean", "peak")),
    ("sm_clock_mhz", ("mean",)),
)


def sample_weights(t: np.ndarray, windows: list[tuple[float, float]]) -> np.ndarray:
    """Share of each sample's interval that lies inside the windows.

    A sample at ``t[i]`` describes ``(t[i-1], t[i]]`` (the first one a median sampling
    period before it): CPU % and utilisation are averages over that interval. Weighting
    by overlap lets repeats shorter than the sampling period still be measured.
    """
    if len(t) == 0:
        return np.zeros(0)
    gaps = np.diff(t)
    period = float(np.median(gaps)) if len(gaps) else 0.0
    lo = np.concatenate([[t[0] - period], t[:-1]])
    span = np.maximum(t - lo, 1e-12)
    overlap = np.zeros(len(t))
    for a, b in windows:
        overlap += np.clip(np.minimum(t, b) - np.maximum(lo, a), 0, None)
    return np.clip(overlap / span, 0, 1)


def _wmean(values: pd.Series, w: np.ndarray) -> float | None:
    x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    ok = np.isfinite(x) & (w > 0)
    if not ok.any():
        return None
    return float(np.average(x[ok], weights=w[ok]))


def _wmax(values: pd.Series, w: np.ndarray) -> float | None:
    x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    ok = np.isfinite(x) & (w > 0)
    return float(x[ok].max()) if ok.any() else None


def _unmeasured() -> dict:
    return {
        "cpu_pct_mean": None,
        "cpu_pct_peak": None,
        "busiest_cpu_pct_mean": None,
        "ctx_switches_per_s": None,
        "mem_used_bytes_peak": None,
        "tree_rss_bytes_peak": None,
        "gpus": [],
    }


def _busiest_cpu(res: pd.DataFrame, w: np.ndarray) -> float | None:
    """The highest mean of the per-CPU ``cpu{i}_pct`` columns."""
    cores = [
        _wmean(res[c], w)
        for c in res.columns
        if c.startswith("cpu") and c.endswith("_pct") and c[3:-4].isdigit()
    ]
    cores = [c for c in cores if c is not None]
    return max(cores) if cores else None


def _ctx_switches_per_s(res: pd.DataFrame, windows: list[tuple[float, float]]) -> float | None:
    """Increase of the cumulative counter from the last sample at or before each repeat's
    start to the first at or after its stop, per second."""
    if "ctx_switches" not in res.columns:
        return None
    t = res["t"].to_numpy(dtype=float)
    ctx = pd.to_numeric(res["ctx_switches"], errors="coerce").to_numpy(dtype=float)
    delta = dt = 0.0
    for a, b in windows:
        before = np.nonzero(t <= a)[0]
        after = np.nonzero(t >= b)[0]
        i = before[-1] if len(before) else 0
        j = after[0] if len(after) else len(t) - 1
        if j > i and np.isfinite(ctx[i]) and np.isfinite(ctx[j]):
            delta += ctx[j] - ctx[i]
            dt += t[j] - t[i]
    return delta / dt if dt > 0 else None


def _gpus(res: pd.DataFrame, w: np.ndarray) -> list[dict]:
    gpus = []
    for g in gpu_indices(res):
        rec = {"gpu": g}
        for col, stats in _GPU_STATS:
            name = f"gpu{g}_{col}"
            if name in res.columns:
                for stat in stats:
                    fn = _wmean if stat == "mean" else _wmax
                    rec[f"{col}_{stat}"] = fn(res[name], w)
        gpus.append(rec)
    return gpus


def utilisation(phase: Phase) -> dict:
    """Utilisation over the timed repeats, each sample weighted by its overlap with them."""
    res = require(phase, "resources")
    windows = repeat_windows(phase)
    t = res["t"].to_numpy(dtype=float)
    w = sample_weights(t, windows)
    period = float(np.median(np.diff(t))) if len(t) >= 2 else None
    out: dict = {"samples": int((w > 0).sum()), "sample_period_s": period}
    if not (w > 0).any():
        return {**out, **_unmeasured()}
    out["cpu_pct_mean"] = _wmean(res["cpu_pct"], w)
    out["cpu_pct_peak"] = _wmax(res["cpu_pct"], w)
    out["busiest_cpu_pct_mean"] = _busiest_cpu(res, w)
    out["ctx_switches_per_s"] = _ctx_switches_per_s(res, windows)
    for col in ("mem_used_bytes", "tree_rss_bytes"):
        out[f"{col}_peak"] = _wmax(res[col], w) if col in res.columns else None
    out["gpus"] = _gpus(res, w)
    return out
