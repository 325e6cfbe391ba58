"""The HTML report's Dask section: TLS flags, dashboard, the link to Dask's report."""

from __future__ import annotations

from pathlib import Path

from filerate.reports import daskinfo
from filerate.reports.load import Phase


def _phase(tmp_path: Path, name: str, cluster: dict, dask_report: dict | None = None) -> Phase:
    d = tmp_path / "results" / "phases" / name
    d.mkdir(parents=True)
    return Phase(name=name, dir=d, run={"cluster": cluster, "dask_report": dask_report})


REPORT_REC = {"file": "dask-report.html", "repeat_wall_s": 1.25, "repeat_slowdown_pct": 12.0,
              "collect_s": 0.4}  # fmt: skip


def test_the_section_links_the_report_relative_to_the_html(tmp_path):
    ph = _phase(
        tmp_path,
        "base",
        {"kind": "LocalCluster", "address": "tcp://127.0.0.1:1",
         "tls": {"mode": "none", "opt_out": False, "why": "local cluster bound to 127.0.0.1"},
         "dashboard": {"enabled": False, "link": None}},  # fmt: skip
        REPORT_REC,
    )
    (ph.dir / "dask-report.html").write_text("<html></html>")
    out = tmp_path / "results" / "report" / "index.html"
    text = daskinfo.section([ph], out)
    assert "href='../phases/base/dask-report.html'" in text
    assert "+12 % vs the timed median" in text and "1.250 s" in text
    assert "class='bad'" not in text  # nothing to flag


def test_a_tls_opt_out_and_an_open_dashboard_are_flagged(tmp_path):
    ph = _phase(
        tmp_path,
        "multi<node>",
        {"kind": "external", "address": "tcp://node7:8786",
         "tls": {"mode": "off", "opt_out": True},
         "dashboard": {"link": "http://0.0.0.0:8787/status", "loopback_only": False}},  # fmt: skip
    )
    text = daskinfo.section([ph], tmp_path / "index.html")
    assert "TLS was turned off" in text and "OFF: opted out" in text
    assert "beyond loopback, no login" in text and "listened beyond loopback" in text
    assert "multi&lt;node&gt;" in text and "<node>" not in text  # escaped


def test_a_recorded_report_that_is_missing_is_said(tmp_path):
    ph = _phase(tmp_path, "p", {"tls": {"mode": "temporary"}}, REPORT_REC)
    text = daskinfo.section([ph], tmp_path / "index.html")
    assert "recorded but missing" in text and "<span class='ok'>TLS</span>" in text
