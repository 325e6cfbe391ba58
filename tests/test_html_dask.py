"""The HTML report's Dask section: TLS flags, dashboard, the link to Dask's report."""

from __future__ import annotations

from pathlib import Path

from filerate.reports.html.dask import section_dask
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
        {
            "kind": "LocalCluster",
            "address": "tcp://127.0.0.1:1",
            "tls": {"mode": "none", "opt_out": False, "why": "local cluster bound to 127.0.0.1"},
            "dashboard": {"enabled": False, "link": None},
        },  # fmt: skip
        REPORT_REC,
    )
    (ph.dir / "dask-report.html").write_text("<html></html>")
    out = tmp_path / "results" / "report" / "index.html"
    text = section_dask([ph], out)
    assert "href='../phases/base/dask-report.html'" in text
    assert "+12 % vs the timed median" in text and "1.25 s" in text
    assert "class='bad'" not in text  # nothing to flag


def test_a_tls_opt_out_and_an_open_dashboard_are_flagged(tmp_path):
    ph = _phase(
        tmp_path,
        "multi<node>",
        {
            "kind": "external",
            "address": "tcp://node7:8786",
            "tls": {"mode": "off", "opt_out": True},
            "dashboard": {"link": "http://0.0.0.0:8787/status", "loopback_only": False},
        },  # fmt: skip
    )
    text = section_dask([ph], tmp_path / "index.html")
    assert "TLS was turned off" in text and "OFF: opted out" in text
    assert "beyond loopback, no login" in text and "listened beyond loopback" in text
    assert "multi&lt;node&gt;" in text and "<node>" not in text  # escaped


def test_a_recorded_report_that_is_missing_is_said(tmp_path):
    ph = _phase(tmp_path, "p", {"tls": {"mode": "temporary"}}, REPORT_REC)
    text = section_dask([ph], tmp_path / "index.html")
    assert "recorded but missing" in text and "<span class='ok'>TLS</span>" in text


def test_filerate_report_links_a_phases_dask_report(tmp_path):
    """The whole command: a phase whose run.json records a Dask report gets a working
    relative link in index.html; the page stays self-contained otherwise."""
    import json
    import re

    from fixtures_runs import build_phase, phase_args, run_cli

    paths = [build_phase(tmp_path / "phases", "baseline", target=1000)]
    run_path = paths[0] / "run.json"
    run = json.loads(run_path.read_text())
    run["dask_report"] = REPORT_REC
    run_path.write_text(json.dumps(run))
    (paths[0] / "dask-report.html").write_text("<html>Dask Performance Report</html>")
    args = phase_args(paths)
    tsv, bjs = tmp_path / "t" / "throughput.tsv", tmp_path / "b" / "bottlenecks.json"
    out = tmp_path / "report" / "index.html"
    assert run_cli(["tables", *args, "--tsv", str(tsv), "--md", str(tsv.with_suffix(".md"))]) == 0
    assert run_cli(["bottlenecks", *args, "--md", str(bjs.with_suffix(".md")), "--json",
                    str(bjs)]) == 0  # fmt: skip
    assert run_cli(["report", *args, "--tables", str(tsv), "--bottlenecks", str(bjs),
                    "--plots-dir", str(tmp_path / "plots"), "--out", str(out)]) == 0  # fmt: skip
    html = out.read_text()
    assert "id='dask'" in html and "<a href='#dask'>" in html
    (href,) = [h for h in re.findall(r"href='([^'#]+)'", html) if not h.endswith(".png")]
    assert href == "../phases/baseline/dask-report.html"
    assert (out.parent / href).resolve() == (paths[0] / "dask-report.html").resolve()
