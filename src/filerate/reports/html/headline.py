"""The first screen: how fast this machine reads files, and what to change. One sentence
of verdict, then per phase two headline figures — the steady rate of the timed repeats
(median [95 % CI]) and one real pass with its set-up (staging, cluster start-up, kernel
warm-up) — with what was measured and the settings beside them."""

from __future__ import annotations

from filerate import fmt
from filerate.reports import realpass
from filerate.reports.bottlenecks import story
from filerate.reports.html.markup import esc
from filerate.reports.load import Phase, as_float
from filerate.reports.tables import comparable, files_per_s_text, speedup_text


def real_pass(row: dict, phase: Phase) -> dict | None:
    """This phase's real pass (filerate.reports.realpass)."""
    return realpass.real_pass(
        row.get("corpus_files"),
        row.get("files_per_s_median"),
        phase.staging_s,
        phase.startup_s,
        phase.kernel_warmup_s,
    )


def measured_what(row: dict, phase: Phase) -> str:
    """Warm or cold, staged or in place, and which storage, said plainly."""
    corpus = phase.run.get("corpus") or {}
    cache = str(row.get("cache") or "warm")
    fs = corpus.get("fs_type")
    where = f"{fs} on {corpus['device']}" if fs and corpus.get("device") else fs
    if phase.staged:
        st = phase.staging or {}
        place = f"copied to the RAM disk ({st.get('fs_type') or 'tmpfs'}) and read there"
    else:
        place = "read in place" + (f" ({where})" if where else "")
    cache_text = {
        "warm": "warm page cache (files already in memory)",
        "cold": "cold page cache (evicted before every repeat)",
    }.get(cache, f"page cache {cache}")
    size = fmt.size(as_float(corpus.get("bytes")))
    return f"{fmt.num(row.get('corpus_files'))} files ({size}), {place}; {cache_text}"


def settings_text(row: dict, phase: Phase) -> str:
    return (
        f"{row.get('backend')}: {fmt.num(phase.processes)} processes × "
        f"{fmt.num(phase.threads_per_process)} threads on {fmt.num(phase.cpu_count)} CPUs, "
        f"batch {fmt.num(row.get('batch_size'))}, analysis {row.get('analysis')}, "
        f"cache {row.get('cache') or 'warm'}"
    )


def _spread(row: dict) -> str:
    if as_float(row.get("files_per_s_ci_low")) is not None:
        return "median [95 % CI]"
    return "range" if row.get("stability") == "unstable" else "median (slowest–fastest)"


def _pass_text(rp: dict | None) -> str:
    if rp is None:
        return "—"
    parts = " + ".join(f"{k} {fmt.seconds(v)}" for k, v in rp["setup"].items() if v)
    return (
        f"{fmt.num(rp['files'])} files in {fmt.seconds(rp['seconds'])}: "
        f"{parts or 'no set-up'} + the files at the steady rate"
    )


def _figure(value: str, label: str, detail: str) -> str:
    number, _, unit = value.partition(" ")
    return (
        f"<div class='fig'><div><span class='big'>{esc(number)}</span> {esc(unit)}</div>"
        f"<div><b>{esc(label)}</b><br><span class='muted'>{esc(detail)}</span></div></div>"
    )


def _card(row: dict, phase: Phase, ph: dict, base: dict) -> str:
    rp = real_pass(row, phase)
    change = story.files_per_s_change(ph).get("change")
    speedup = speedup_text(row, base) if row["phase"] != base["phase"] else ""
    like = f" · {speedup} {base['phase']}" if comparable(row, base) and speedup else ""
    unstable = " (unstable)" if row.get("stability") == "unstable" else ""
    return (
        f"<div class='card phase-card'><h3>{esc(row['phase'])}{esc(unstable)}</h3>"
        f"<p class='settings'>{esc(settings_text(row, phase))}</p>"
        "<div class='figs'>"
        + _figure(
            fmt.short_rate(row.get("files_per_s_median")),
            "steady rate",
            f"{files_per_s_text(row)} files/s: {_spread(row)} of the timed repeats{like}",
        )
        + _figure(fmt.short_rate(rp["files_per_s"]) if rp else "—", "one real pass", _pass_text(rp))
        + "</div>"
        f"<p>Measured: {esc(measured_what(row, phase))}.</p>"
        f"<p>Files/s limited by <b>{esc(story.files_per_s_limit(ph))}</b>; next change: "
        f"{esc(change)}.</p></div>"
    )


def verdict(rows: list[dict], phases: list[Phase], report: dict) -> str:
    """One sentence: the fastest steady rate, its real pass, and the next change."""
    rated = [
        (r, p) for r, p in zip(rows, phases, strict=True) if as_float(r.get("files_per_s_median"))
    ]
    if not rated:
        return "No phase measured a rate: see Validation below for why."
    row, phase = max(rated, key=lambda rp: float(rp[0]["files_per_s_median"]))
    ph = next((x for x in report.get("phases", []) if x.get("phase") == row["phase"]), {})
    rp = real_pass(row, phase)
    once = f", {fmt.short_rate(rp['files_per_s'])} for one real pass with set-up" if rp else ""
    change = story.files_per_s_change(ph).get("change")
    where = "staged on the RAM disk" if phase.staged else "read in place"
    shaky = ", unstable: rerun on a quieter machine" if row.get("stability") == "unstable" else ""
    return (
        f"Fastest: {row['phase']}, {fmt.short_rate(row['files_per_s_median'])} steady "
        f"({row.get('cache') or 'warm'} cache, {where}{shaky}){once}. Limited by "
        f"{story.files_per_s_limit(ph)}" + (f"; next change: {change}." if change else ".")
    )


def section_answer(rows: list[dict], phases: list[Phase], report: dict) -> str:
    by_phase = {p.get("phase"): p for p in report.get("phases", [])}
    cards = [
        _card(r, p, by_phase.get(r["phase"], {}), rows[0])
        for r, p in zip(rows, phases, strict=True)
    ]
    return (
        "<section id='answer'>"
        f"<p class='verdict'>{esc(verdict(rows, phases, report))}</p>"
        "<div class='cards'>" + "".join(cards) + "</div></section>"
    )
