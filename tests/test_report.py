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


def test_first_screen_answers_the_question(site):
    html = site["html"]
    # the answer comes first: a verdict, then per phase two headline figures
    assert html.index("id='answer'") < html.index("id='summary'")
    assert "<p class='verdict'>Fastest: " in html
    assert html.count("<div class='card phase-card'>") == 4
    assert html.count("steady rate") >= 4 and html.count("one real pass") >= 4
    # one real pass includes the kernel warm-up, which run.json records
    assert "kernel warm-up 1.50 s" in html and "kernel warm-up 0.300 s" not in html
    assert "kernel warm-up 0.3000 s" not in html
    # what was measured, said plainly, and the settings beside it
    assert "copied to the RAM disk (tmpfs) and read there; warm page cache" in html
    assert "2 processes × 22 threads on 2 CPUs, batch 100, analysis light" in html


def test_speedups_only_like_with_like(site):
    html = site["html"]
    # legendary's corpus (8,800 files) is not the baseline's (10,000): no speed-up
    assert "— (other corpus or analysis)" in html
    # turbo reads the baseline's corpus at its analysis level: a speed-up is quoted
    assert "× baseline" in html


def test_one_bottleneck_story_per_phase(site):
    html = site["html"]
    assert "limiting resource" not in html and "<th>limits files/s</th>" not in html
    assert "<th>what limits files/s</th>" in html
    assert "files/s limited by CPU (oversubscribed)" in html
    assert "files/s limited by storage I/O" in html
    assert "Next change for files/s:" in html
    # time in stated units; idle CPUs, not idle slots
    assert "<th>wall seconds</th>" in html and "shares of time inside tasks" in html
    assert "idle slots" not in html and "CPUs 24 % busy, 76 % idle" in html
    assert "docs/BOTTLENECKS.md" in html


def test_no_device_rows_on_cpu_runs():
    from filerate.reports.bottlenecks import story

    shares = {"read": 50.0, "h2d": 0.0, "d2h": 0.0, "analyse": 50.0}
    rows = [{"component": k, "label": k} for k in shares]
    cpu = {"backend": "cpu", "busy_share_pct": shares, "breakdown": rows}
    assert [k for k, _ in story.task_shares(cpu)] == ["read", "analyse"]
    assert len(story.task_shares({**cpu, "backend": "gpu"})) == 4


def test_units_said_once_and_converted(site):
    html = site["html"]
    md = site["tsv"].with_suffix(".md").read_text()
    # a 2 GiB budget is converted to decimal units, never relabelled
    assert "2,147 MB" not in html and "2,147 MB" not in md
    assert "2.1 GB (2 GiB)" in html
    assert "of the 2.1 GB budget" in md
    assert "GiB" not in md


def test_plots_open_full_size(site):
    html = site["html"]
    links = re.findall(r"<a href='([^']+\.png)'", html)
    assert sorted(links) == sorted(f"plots/{n}.png" for n in plots.NAMES)
    assert all((site["out"].parent / link).is_file() for link in links)
