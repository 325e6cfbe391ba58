"""filerate report: one self-contained HTML page with inline plots."""

from __future__ import annotations

import base64
import re

import pytest

from filerate.reports import plots
from filerate.reports.load import load_phases
from fixtures_runs import build_phase, phase_args, run_cli

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def site(report_site):
    return report_site


def test_self_contained(site):
    html = site["html"]
    assert html.startswith("<!DOCTYPE html>")
    assert not re.search(r"https?://", html)
    assert "<script" not in html.lower() and "<link" not in html.lower()
    assert "@import" not in html and "url(" not in html
    srcs = re.findall(r"src=['\"]([^'\"]*)['\"]", html)
    assert len(srcs) == 4
    assert all(s.startswith("data:image/png;base64,") for s in srcs)
    assert [p.name for p in site["out"].parent.iterdir() if p.is_file()] == ["index.html"]


def test_plots_written_and_inlined(site):
    html = site["html"]
    for name in plots.NAMES:
        png = (site["plots"] / f"{name}.png").read_bytes()
        assert png.startswith(PNG) and len(png) > 5_000
        assert base64.b64encode(png).decode() in html
        assert f"id='plot-{name}'" in html


def test_sections(site):
    html = site["html"]
    for anchor in (
        "summary",
        "throughput",
        "bottlenecks",
        "predictions",
        "plots",
        "validation",
        "machine",
        "config",
        "dask",
    ):
        assert f"id='{anchor}'" in html
    assert "CPU (oversubscribed)" in html
    assert "storage I/O" in html
    # the unstable phase is quoted as a range, the validation failure is shown
    assert "(unstable)" in html
    assert "FAILED" in html
    assert "lines: 1" in html and "unreadable: 2" in html
    # the machine and the per-phase configuration
    assert "cpu_count*6+32" in html
    assert "GPU 0" in html


def test_text_is_escaped(site):
    html = site["html"]
    assert "Test CPU &lt;fast&gt; &amp; co" in html
    assert "<fast>" not in html


def test_mismatched_inputs(site, tmp_path, capsys):
    # the tables cover four phases; the report is given three
    args = phase_args(site["paths"][:3])
    rc = run_cli(
        [
            "report",
            *args,
            "--tables",
            str(site["tsv"]),
            "--bottlenecks",
            str(site["bjs"]),
            "--plots-dir",
            str(tmp_path / "p"),
            "--out",
            str(tmp_path / "index.html"),
        ]
    )
    assert rc == 2
    assert "rerun `filerate tables`" in capsys.readouterr().err
    assert not (tmp_path / "index.html").exists()
    rc = run_cli(
        [
            "report",
            *args,
            "--tables",
            str(tmp_path / "none.tsv"),
            "--bottlenecks",
            str(site["bjs"]),
            "--plots-dir",
            str(tmp_path / "p"),
            "--out",
            str(tmp_path / "index.html"),
        ]
    )
    assert rc == 2


def test_plots_without_optional_data(tmp_path):
    path = build_phase(tmp_path, "p", repeats=1, warmup=0)
    (path / "resources.parquet").unlink()
    phases = load_phases([path])
    assert plots.resources_png(phases).startswith(PNG)
    assert plots.timeline_png(phases).startswith(PNG)
    assert plots.median_repeat(phases[0])["repeat"] == 0


def test_markup_is_balanced(site):
    from html.parser import HTMLParser

    void = {"meta", "img", "br", "hr", "link", "input"}

    class Checker(HTMLParser):
        def __init__(self):
            super().__init__()
            self.stack, self.errors = [], []

        def handle_starttag(self, tag, attrs):
            if tag not in void:
                self.stack.append(tag)

        def handle_endtag(self, tag):
            if not self.stack or self.stack[-1] != tag:
                self.errors.append((tag, list(self.stack[-3:])))
            else:
                self.stack.pop()

    c = Checker()
    c.feed(site["html"])
    assert c.errors == [] and c.stack == []
