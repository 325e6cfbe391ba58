"""The plan's predicted gains, tested: each ablation phase against its base (or, without
ablations, each phase against the one before it), and the RAM disk against reading in
place. The verdicts are described in the package docstring."""

from __future__ import annotations

import itertools
import statistics

from filerate import fmt
from filerate.confidence import ratio_ci
from filerate.config import ABLATION_KNOBS
from filerate.fmt import interval, ratio
from filerate.reports import measured
from filerate.reports.load import Phase, as_float

#: a staged phase less than this much faster than in place: "RAM disk no faster"
RAMDISK_GAIN_PCT = 5.0

_ANALYSIS_ORDER = {"minimal": 0, "light": 1, "full": 2}

#: settings two phases must share for their RAM-disk comparison to be fair
_SAME_KEYS = (
    "corpus",
    "backend",
    "workers",
    "processes",
    "batch_size",
    "gpu_memory_per_worker_gb",
    "analysis",
)


# ---- formatting ------------------------------------------------------------------------


def _fmt_value(value) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float) and value.is_integer():
        return f"{value:g}"
    return str(value)


def range_text(rng) -> str:
    """A measured range of changes, e.g. "−8 % to +17 %"."""
    if rng is None:
        return "—"
    a, b = rng
    return f"{fmt.pct(a, 0, True)} to {fmt.pct(b, 0, True)}"


def gain_text(gain: dict | None) -> str:
    """A gain as a ratio with its CI and pairing, e.g. "1.08× [1.02–1.13], one cluster"."""
    if not gain:
        return "—"
    ci = f" {interval(gain['low'], gain['high'], 2)}" if gain.get("low") is not None else ""
    return f"{ratio(gain['ratio'])}{ci}, {gain['mode']}"


def predicted_text(predicted) -> str:
    """A predicted gain, e.g. "+150–200 %"."""
    if predicted is None:
        return "no prediction"
    lo, hi = predicted
    if lo >= 0:
        return f"+{fmt.num(lo)}–{fmt.num(hi)} %"
    return f"{fmt.pct(lo, signed=True)[:-2]} to {fmt.pct(hi, signed=True)}"


# ---- measuring a change ------------------------------------------------------------------


def _knob_value(phase: Phase, knob: str):
    if knob == "workers":
        return phase.total_threads or phase.resolved.get("workers") or phase.settings.get(knob)
    return phase.settings.get(knob)


def _change(phase: Phase, base: Phase) -> tuple[float | None, list[float] | None]:
    """The files/s change over ``base`` in percent (medians) and its range over repeats."""
    s, b = phase.summary(), base.summary()
    med, bmed = as_float(s.get("files_per_s_median")), as_float(b.get("files_per_s_median"))
    if med is None or not bmed:
        return None, None
    change = (med / bmed - 1) * 100
    lo, hi = as_float(s.get("files_per_s_min")), as_float(s.get("files_per_s_max"))
    blo, bhi = as_float(b.get("files_per_s_min")), as_float(b.get("files_per_s_max"))
    rng = None
    if None not in (lo, hi, blo, bhi) and blo and bhi:
        rng = [(lo / bhi - 1) * 100, (hi / blo - 1) * 100]
    return change, rng


def change_ci(phase: Phase, base: Phase) -> list[float] | None:
    """The 95 % CI of the change in percent (bootstrap of the ratio of medians over the
    timed repeats), where both runs recorded confidence intervals; else None."""
    if not (phase.summary().get("files_per_s_ci") and base.summary().get("files_per_s_ci")):
        return None
    a, b = measured.timed_values(phase), measured.timed_values(base)
    if not a or not b or not statistics.median(b):
        return None
    ci = ratio_ci(a, b)
    return [(ci.low - 1) * 100, (ci.high - 1) * 100]


def paired_gain(phase: Phase, base: Phase) -> dict | None:
    """The gain measured interleaved with the base (engine.interleave): run.json
    ``interleave.pair`` when its base is ``base`` and it has a gain; else None."""
    pair = (phase.run.get("interleave") or {}).get("pair") or {}
    if pair.get("base") != base.name or not pair.get("gain"):
        return None
    return {"mode": pair["mode"], **pair["gain"]}


def _measured_gain(phase: Phase, base: Phase):
    """(change %, its 95 % CI in %, the gain as a ratio with CI and how it was paired):
    interleaved with the base where it was, else from the two phases' separate runs."""
    change, _ = _change(phase, base)
    gain = paired_gain(phase, base)
    if gain is not None:
        ci = [(gain["low"] - 1) * 100, (gain["high"] - 1) * 100]
        return (gain["ratio"] - 1) * 100, ci, gain
    ci = change_ci(phase, base)
    if change is None:
        return None, None, None
    ratio = {"ratio": change / 100 + 1, "mode": "separate runs", "method": "ratio of medians"}
    if ci:
        ratio.update(low=ci[0] / 100 + 1, high=ci[1] / 100 + 1)
    return change, ci, ratio


def plan_direction(knob: str, frm, to) -> bool | None:
    """Did the knob move the way the plan moved it (more workers, bigger batches, less GPU
    memory per worker, lighter analysis)? None when it cannot be told."""
    try:
        if knob in ("workers", "batch_size"):
            return float(to) > float(frm)
        if knob == "gpu_memory_per_worker_gb":
            return float(to) < float(frm)
        if knob == "analysis":
            return _ANALYSIS_ORDER[str(to)] < _ANALYSIS_ORDER[str(frm)]
    except (TypeError, ValueError, KeyError):
        return None
    return None


# ---- one test ------------------------------------------------------------------------------


def _predicted(knob: str, changed: list[str], gains: dict) -> list[float] | None:
    """The plan's gain for one knob; for several, the combined ∏(1 + gain) − 1."""
    if len(changed) == 1:
        return gains.get(knob)
    lo = hi = 1.0
    any_pred = False
    for k in changed:
        if k in gains:
            any_pred = True
            lo *= 1 + gains[k][0] / 100
            hi *= 1 + gains[k][1] / 100
    return [(lo - 1) * 100, (hi - 1) * 100] if any_pred else None


def _moves(phase: Phase, base: Phase, knobs: list[str]) -> list[str]:
    """ "knob from → to" for each knob."""
    return [
        f"{k} {_fmt_value(_knob_value(base, k))} → {_fmt_value(_knob_value(phase, k))}"
        for k in knobs
    ]


def _within_ci(ci, predicted) -> tuple[str, str]:
    """A verdict only where the CI of the change excludes the other side."""
    lo, hi = predicted
    if ci[1] < lo:
        return "refuted", "the whole 95 % CI of the change is below the predicted range"
    if ci[0] > hi:
        return "refuted", "the whole 95 % CI of the change is above the predicted range"
    if lo <= ci[0] and ci[1] <= hi:
        return "confirmed", "the 95 % CI of the change lies inside the predicted range"
    return "inconclusive", "the 95 % CI of the change straddles an end of the predicted range"


def _within(change, rng, predicted, ci=None) -> tuple[str, str]:
    if ci is not None:
        return _within_ci(ci, predicted)
    lo, hi = predicted
    if lo <= change <= hi:
        return "confirmed", "the measured change lies in the predicted range"
    if rng is not None and rng[0] <= hi and rng[1] >= lo:
        return "inconclusive", "only the repeat-to-repeat range overlaps the prediction"
    side = "below" if change < lo else "above"
    return "refuted", f"the measured change is {side} the predicted range"


def _untestable_why(phase, base, knob, changed, corpus_changed) -> str | None:
    """Why the comparison cannot test the prediction of one knob, or None if it can."""
    if len(changed) != 1 or corpus_changed:
        parts = []
        if len(changed) > 1:
            parts.append(f"{len(changed)} knobs changed at once ({', '.join(changed)})")
        elif not changed:
            parts.append("no plan knob changed")
        if corpus_changed:
            parts.append(corpus_changed)
        return " and ".join(parts)
    against = [
        k
        for k in changed
        if plan_direction(k, _knob_value(base, k), _knob_value(phase, k)) is False
    ]
    if against:
        return (
            f"{', '.join(against)} moved against the plan's direction; the plan's "
            "prediction is for the opposite change"
        )
    if knob == "gpu_memory_per_worker_gb" and "gpu" not in (
        phase.backend_used,
        base.backend_used,
    ):
        return (
            f"backend {phase.backend_used}: GPU memory per worker has no effect "
            "without a GPU; the measured change is noise"
        )
    return None


def _verdict(phase, base, knob, changed, change, rng, predicted, corpus_changed, ci=None):
    if change is None:
        return "not testable here", "no files/s measured for one of the phases"
    why = _untestable_why(phase, base, knob, changed, corpus_changed)
    if why is not None:
        return "not testable here", why
    if predicted is None:
        return "no prediction", f"the plan predicted no gain for {knob}"
    return _within(change, rng, predicted, ci)


def _test(phase, base, knob, changed, gains, mode, corpus_changed=None) -> dict:
    _, rng = _change(phase, base)
    change, ci, gain = _measured_gain(phase, base)
    predicted = _predicted(knob, changed, gains)
    if len(changed) == 1:
        desc = _moves(phase, base, [knob])[0]
    else:
        desc = "; ".join(_moves(phase, base, changed)) or "no knob"
    verdict, reason = _verdict(
        phase, base, knob, changed, change, rng, predicted, corpus_changed, ci
    )
    pred = (
        "no prediction in the plan"
        if predicted is None
        else f"predicted {predicted_text(predicted)}"
    )
    return {
        "phase": phase.name,
        "base": base.name,
        "mode": mode,
        "knob": knob,
        "knobs_changed": changed,
        "from": ", ".join(f"{k} {_fmt_value(_knob_value(base, k))}" for k in changed) or "—",
        "to": ", ".join(_fmt_value(_knob_value(phase, k)) for k in changed) or "—",
        "description": desc,
        "predicted_pct": predicted,
        "measured_pct": change,
        "measured_range_pct": rng,
        "measured_ci_pct": ci,
        "gain": gain,
        "pairing": gain["mode"] if gain else None,
        "verdict": verdict,
        "reason": reason,
        "text": f"{desc}: {pred}, measured {fmt.pct(change, 0, True)}"
        + (f" (95 % CI {range_text(ci)})" if ci else "")
        + (f", gain {gain_text(gain)}" if gain else "")
        + f" → {verdict}",
    }


def _missing_base(phase: Phase, gains: dict) -> dict:
    ab = phase.ablation
    knob = str(ab.get("knob"))
    frm, to = _fmt_value(ab.get("from")), _fmt_value(ab.get("to"))
    return {
        "phase": phase.name,
        "base": ab.get("base"),
        "mode": "ablation",
        "knob": knob,
        "knobs_changed": [knob],
        "from": frm,
        "to": to,
        "description": f"{knob} {frm} → {to}",
        "predicted_pct": gains.get(knob),
        "measured_pct": None,
        "measured_range_pct": None,
        "measured_ci_pct": None,
        "gain": None,
        "pairing": None,
        "verdict": "not testable here",
        "reason": f"base phase {ab.get('base')!r} is not among the phase dirs",
        "text": f"{knob}: base phase {ab.get('base')} missing → not testable here",
    }


# ---- all tests ----------------------------------------------------------------------------


def _ablation_tests(phases: list[Phase], gains: dict) -> list[dict]:
    by_name = {p.name: p for p in phases}
    tests = []
    for p in phases:
        if not p.ablation:
            continue
        knob = str(p.ablation.get("knob"))
        base = by_name.get(str(p.ablation.get("base")))
        if base is None:
            tests.append(_missing_base(p, gains))
        else:
            tests.append(_test(p, base, knob, [knob], gains, "ablation"))
    return tests


def _consecutive_tests(phases: list[Phase], gains: dict) -> list[dict]:
    tests = []
    for prev, p in itertools.pairwise(phases):
        changed = [k for k in ABLATION_KNOBS if _knob_value(p, k) != _knob_value(prev, k)]
        pc = (p.run.get("corpus") or {}).get("files")
        bc = (prev.run.get("corpus") or {}).get("files")
        corpus_changed = (
            f"the corpus changed ({fmt.num(bc)} → {fmt.num(pc)} files)" if pc != bc else None
        )
        knob = changed[0] if len(changed) == 1 else "+".join(changed) or "none"
        tests.append(_test(p, prev, knob, changed, gains, "consecutive", corpus_changed))
    return tests


def predictions(phases: list[Phase], gains: dict) -> dict:
    """Ablation tests when any phase is an ablation, else consecutive comparisons."""
    if any(p.ablation for p in phases):
        return {"mode": "ablation", "tests": _ablation_tests(phases, gains)}
    return {"mode": "consecutive", "tests": _consecutive_tests(phases, gains)}


# ---- RAM disk vs in place -----------------------------------------------------------------


def _ramdisk_pair(staged: Phase, inplace: Phase) -> dict | None:
    change, rng = _change(staged, inplace)
    if change is None:
        return None
    overlap = rng is not None and rng[0] <= 0 <= rng[1]
    no_faster = change < RAMDISK_GAIN_PCT or overlap
    stage_s = staged.staging_s or 0.0
    text = (
        f"{staged.name} (staged) {fmt.num(staged.summary()['files_per_s_median'])} "
        f"files/s vs {inplace.name} (in place) "
        f"{fmt.num(inplace.summary()['files_per_s_median'])} files/s: "
        f"{fmt.pct(change, 0, True)} (range {range_text(rng)}); staging cost "
        f"{fmt.num(stage_s, 2)} s"
    )
    return {
        "staged": staged.name,
        "in_place": inplace.name,
        "change_pct": change,
        "range_pct": rng,
        "staging_s": stage_s,
        "verdict": "RAM disk no faster than in place"
        if no_faster
        else "RAM disk faster than in place",
        "text": text,
    }


def ramdisk_pairs(phases: list[Phase]) -> list[dict]:
    """Phases that differ only in staging: is the RAM disk faster?"""
    out, seen = [], set()
    for i, a in enumerate(phases):
        for b in phases[i + 1 :]:
            if a.staged == b.staged:
                continue
            if not all(a.settings.get(k) == b.settings.get(k) for k in _SAME_KEYS):
                continue
            staged, inplace = (a, b) if a.staged else (b, a)
            if (staged.name, inplace.name) in seen:
                continue
            seen.add((staged.name, inplace.name))
            pair = _ramdisk_pair(staged, inplace)
            if pair is not None:
                out.append(pair)
    return out
