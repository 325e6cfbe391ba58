"""The report's "since the last run" section: this run's phases against the newest run
kept in results/history that measured something else (``filerate compare``'s table)."""

from __future__ import annotations

from pathlib import Path

from filerate import history
from filerate.reports import compare, compare_text
from filerate.reports.html.markup import esc, table
from filerate.reports.load import Phase


def previous_entry(results: Path, names: list[str]) -> Path | None:
    """The newest history entry that is not this run itself (the report may be rebuilt
    after the run was kept)."""
    mine = history.fingerprint(results, names)
    for path in reversed(history.entries(results / "history")):
        if history.read_entry(path).get("fingerprint") != mine:
            return path
    return None


def section_history(phases: list[Phase]) -> str:
    """The section, or a one-line note when there is nothing to compare with."""
    head = "<h2 id='history'>Since the last run</h2>"
    if not phases:
        return ""
    results = phases[0].dir.parent.parent  # results/phases/<phase>
    names = [p.name for p in phases]
    try:
        before = previous_entry(results, names)
    except OSError:
        before = None
    if before is None:
        return head + (
            "<p class='muted'>No earlier run is kept in results/history yet; the next run "
            "will be compared with this one (<code>filerate compare</code>).</p>"
        )
    try:
        result = compare.compare(compare.load_side(before), compare.load_side(results, names))
    except Exception as exc:  # noqa: BLE001 - a side section must not cost the report
        return head + f"<p class='muted'>Not compared with {esc(before.name)}: {esc(exc)}</p>"
    headers, rows = compare_text.rows(result)
    notes = "".join(f"<li>{esc(n)}</li>" for n in compare_text.notes(result))
    return (
        head + f"<p>A: {esc(result['a']['label'])} (kept run); B: this run. "
        "<code>filerate compare</code> prints the same table.</p>"
        + table(headers, rows, num_cols={1, 2, 3})
        + f"<ul class='muted'>{notes}</ul>"
    )
