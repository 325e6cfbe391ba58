"""The HTML report's "Dask" section: each phase's cluster address, TLS, dashboard and a
link to Dask's own performance report (docs/SECURITY.md, engine/daskreport.py).

A phase that opted out of TLS, or ran its timed repeats with the dashboard open beyond
loopback, is flagged here rather than left in run.json for someone to find.
"""

from __future__ import annotations

import os
from pathlib import Path

from filerate import fmt
from filerate.reports.html.markup import esc as _esc
from filerate.reports.html.markup import raw, table

REPORT_NAME = "dask-report.html"  # engine.daskreport.REPORT_NAME, not imported: no Dask here


def _tls_cell(tls: dict) -> str:
    mode = tls.get("mode")
    if mode is None:
        return "<span class='muted'>not recorded</span>"
    if tls.get("opt_out"):
        return "<span class='bad'>OFF: opted out (tls.enabled: false)</span>"
    if mode == "none":
        return f"not needed: {_esc(tls.get('why'))}"
    return f"<span class='ok'>TLS</span> ({_esc(mode)})"


def _dashboard_cell(dash: dict) -> str:
    link = dash.get("link")
    if not link:
        return "off"
    text = f"<code>{_esc(link)}</code>"
    if dash.get("loopback_only") is False:
        text += " <span class='warn'>beyond loopback, no login</span>"
    return text + " <span class='muted'>(live only while the phase ran)</span>"


def _report_cell(rec: dict | None, phase_dir: Path, out_dir: Path | None) -> str:
    if not rec:
        return "—"
    target = phase_dir / (rec.get("file") or REPORT_NAME)
    if not target.is_file():
        return f"<span class='bad'>recorded but missing: {_esc(target)}</span>"
    href = os.path.relpath(target, out_dir) if out_dir is not None else str(target)
    slow = rec.get("repeat_slowdown_pct")
    slow_txt = f", {slow:+.0f} % vs the timed median" if slow is not None else ""
    return (
        f"<a href='{_esc(href)}'>{_esc(REPORT_NAME)}</a> "
        f"<span class='muted'>(one extra, untimed repeat: "
        f"{fmt.seconds(rec.get('repeat_wall_s', 0))}"
        f"{slow_txt}; collecting and writing it {fmt.seconds(rec.get('collect_s', 0))})</span>"
    )


def _flags(opted_out: list[str], open_dash: list[str]) -> str:
    out = ""
    if opted_out:
        out += (
            "<p class='bad'>TLS was turned off (tls.enabled: false) in "
            f"{_esc(', '.join(opted_out))}: anyone who reached the scheduler could have "
            "run code as the user.</p>"
        )
    if open_dash:
        out += (
            "<p class='warn'>The dashboard listened beyond loopback in "
            f"{_esc(', '.join(open_dash))}: it has no login.</p>"
        )
    return out


def section_dask(phases, out_path: str | os.PathLike | None = None) -> str:
    """The section for ``phases`` (reports.load.Phase); links are relative to the folder of
    ``out_path``, the HTML file being written."""
    out_dir = Path(out_path).parent if out_path is not None else None
    rows, opted_out, open_dash = [], [], []
    for p in phases:
        cl = p.cluster
        tls, dash = cl.get("tls") or {}, cl.get("dashboard") or {}
        if tls.get("opt_out"):
            opted_out.append(p.name)
        if dash.get("link") and dash.get("loopback_only") is False:
            open_dash.append(p.name)
        scheduler = f"{_esc(cl.get('kind'))}: <code>{_esc(cl.get('address'))}</code>"
        report = _report_cell(p.run.get("dask_report"), Path(p.dir), out_dir)
        rows.append(
            [p.name, raw(scheduler), raw(_tls_cell(tls)), raw(_dashboard_cell(dash)), raw(report)]
        )
    return (
        "<h2 id='dask'>Dask: cluster, security, diagnostics</h2>"
        "<p>Where each phase's scheduler listened, whether TLS protected it "
        "(docs/SECURITY.md), its dashboard, and Dask's own performance report of one "
        "extra repeat run after the timed ones (never part of the figures above).</p>"
        + _flags(opted_out, open_dash)
        + table(["phase", "scheduler", "TLS", "dashboard", "Dask report"], rows)
    )
