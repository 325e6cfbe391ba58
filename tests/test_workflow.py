"""End to end: the real Snakemake workflow on a tiny config in a temporary directory."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
pytestmark = pytest.mark.slow

TINY = """
ramdisk: {{root: {ramdisk}, min_free_memory_gb: 0.1}}
corpora:
  a: {{files: 300, seed: 5}}
  b: {{files: 500, seed: 6}}
phases:
  first:  {{corpus: a, backend: cpu, workers: 2, batch_size: 100, analysis: light,
            repeats: 2, min_repeat_s: 0.3, target_files_per_s: 1000}}
  second: {{corpus: b, backend: cpu, workers: cpu_count*2, batch_size: 250,
            analysis: minimal, staging: false, repeats: 2, min_repeat_s: 0,
            target_files_per_s: 10000000}}
ablation: {ablation}
"""


def _env():
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}


def snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    cmd = [
        str(BIN / "snakemake"),
        "--cores",
        "2",
        "--directory",
        str(workdir),
        "--snakefile",
        str(workdir / "Snakefile"),
        *args,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=600)
    if check and proc.returncode != 0:
        pytest.fail(
            f"snakemake {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
        )
    return proc


def make_workdir(tmp: Path, ablation: bool = False) -> tuple[Path, Path]:
    work = tmp / "wf"
    work.mkdir()
    shutil.copy(ROOT / "Snakefile", work / "Snakefile")
    shutil.copytree(ROOT / "workflow", work / "workflow")
    shutil.copytree(ROOT / "envs", work / "envs")
    (work / "config").mkdir()
    ramdisk = Path("/dev/shm") / f"filerate-test-{uuid.uuid4().hex[:8]}"
    (work / "config" / "config.yaml").write_text(
        TINY.format(ramdisk=ramdisk, ablation=str(ablation).lower())
    )
    return work, ramdisk


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    work, ramdisk = make_workdir(tmp_path_factory.mktemp("e2e"))
    try:
        proc = snakemake(work)
        (work / "snakemake.out").write_text(proc.stdout + proc.stderr)  # the summary's checks
        yield work, ramdisk
    finally:
        shutil.rmtree(ramdisk, ignore_errors=True)


def test_dry_run_lists_every_step(tmp_path):
    work, _ = make_workdir(tmp_path)
    out = snakemake(work, "-n").stdout
    for rule in ("corpus", "stage", "process", "validate", "tables", "bottlenecks", "report"):
        assert f"rule {rule}:" in out or f"localrule {rule}:" in out, rule
    assert "results/staging/first.json" in out
    assert "results/staging/second.json" not in out  # staging: false reads in place


def test_dry_run_of_the_tree_mode_with_the_shipped_config(tmp_path):
    # the shipped tune request (its compare phase: the last warm one) must not stop a
    # run whose phases are the tree's; the tune then compares with tree_warm
    work, _ = make_workdir(tmp_path)
    shutil.copy(ROOT / "config" / "config.yaml", work / "config" / "config.yaml")
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "a.txt").write_text("a")
    out = snakemake(work, "-n", "--config", f"tree={tree}").stdout
    assert "rule report:" in out and "tree_warm" in out
    out = snakemake(work, "-n", "tune", "--config", f"tree={tree}").stdout
    assert "rule tune:" in out and '"compare_phase": "tree_warm"' in out
    assert "rule tune:" in snakemake(work, "-n", "tune").stdout  # the shipped plan


@pytest.mark.parametrize(
    "tune, message",
    [
        ("{compare_phase: nope}", "tune.compare_phase = 'nope': must be one of the phases"),
        ("{corpus: c}", "tune.corpus = 'c': no phase reads it"),
    ],
)
def test_dry_run_with_a_bad_tune_request_stops_only_the_tune(tmp_path, tune, message):
    work, _ = make_workdir(tmp_path)
    cfg = work / "config" / "config.yaml"
    text = cfg.read_text().replace(
        "  b: {files: 500, seed: 6}", "  b: {files: 500, seed: 6}\n  c: {files: 10}"
    )
    cfg.write_text(f"{text}tune: {tune}\n")
    assert "rule report:" in snakemake(work, "-n").stdout
    proc = snakemake(work, "-n", "tune", check=False)
    assert proc.returncode != 0
    lines = [ln for ln in (proc.stderr + proc.stdout).splitlines() if message in ln]
    assert lines and lines[0].startswith("filerate: config: "), proc.stderr[-2000:]


def test_full_run_produces_validated_results_and_reports(finished_run):
    work, ramdisk = finished_run
    res = work / "results"
    for corpus in ("a", "b"):
        assert (res / "corpus" / corpus / "manifest.parquet").exists()
    staging = json.loads((res / "staging" / "first.json").read_text())
    assert staging["staged"] and staging["files"] == 300 and staging["seconds"] > 0
    for phase, n in (("first", 300), ("second", 500)):
        run = json.loads((res / "phases" / phase / "run.json").read_text())
        val = json.loads((res / "phases" / phase / "validation.json").read_text())
        assert val["ok"] and val["manifest_files"] == n and val["mismatches"] == 0
        timed = [r for r in run["repeats"] if not r["warmup"]]
        assert len(timed) == 2 and all(r["files_ok"] == n * r["passes"] for r in timed)
        assert run["summary"]["files_per_s_median"] > 0
    # the table agrees with run.json
    table = pd.read_csv(res / "tables" / "throughput.tsv", sep="\t")
    first = json.loads((res / "phases" / "first" / "run.json").read_text())
    row = table.set_index("phase").loc["first"]
    assert row["files_per_s_median"] == pytest.approx(
        first["summary"]["files_per_s_median"], rel=1e-3
    )
    assert row["target_met"] == "met"
    assert table.set_index("phase").loc["second", "target_met"] == "missed"
    assert (res / "reports" / "bottlenecks.md").read_text().count("## ") >= 2
    html = (res / "report" / "index.html").read_text()
    assert "data:image/png;base64," in html and "http://" not in html and "https://" not in html
    assert sorted(p.name for p in (res / "report" / "plots").glob("*.png"))
    # the staged copy is gone once nothing needs it
    assert not any(ramdisk.glob("*/*/first")), list(ramdisk.rglob("*"))[:5]


def test_run_ends_with_a_summary_and_is_kept_in_history(finished_run):
    work, _ = finished_run
    out = (work / "snakemake.out").read_text()
    assert "filerate: what this machine did" in out and "report: results/report/index.html" in out
    assert "ok (300 files)" in out and "ok (500 files)" in out
    assert "phase first: starting " in out  # progress on the terminal
    latest = json.loads((work / "results" / "history" / "latest.json").read_text())
    entry = work / latest["path"]
    assert latest["new"] and latest["previous"] is None and entry.parent.name == "history"
    assert (entry / "phases" / "second" / "run.json").is_file()
    assert not list(entry.rglob("*.parquet"))


def test_rerunning_one_phase_reruns_only_it_and_its_reports(finished_run):
    work, _ = finished_run
    out = snakemake(work, "-n", "--forcerun", "results/phases/second/run.json").stdout
    assert "results/phases/second/run.json" in out
    assert "results/phases/first/run.json" not in out.split("Job stats")[0].replace(
        "input: results/phases/first/run.json", ""
    )  # first appears only as report input
    assert "rule corpus:" not in out
    # nothing to do after a finished run
    assert "Nothing to be done" in snakemake(work, "-n").stdout + snakemake(work, "-n").stderr


def test_a_tune_after_the_run_makes_only_the_report_out_of_date(finished_run):
    work, _ = finished_run
    result = work / "results" / "tune" / "tune.json"
    result.parent.mkdir(parents=True)
    result.write_text("{}")
    try:
        out = snakemake(work, "-n").stdout
    finally:
        shutil.rmtree(result.parent)
    assert "rule report:" in out and "Params have changed" in out
    assert "rule tune:" not in out  # the tune itself is never part of the run
    assert "rule process:" not in out and "rule tables:" not in out


def test_bad_config_stops_before_any_work_with_one_line(tmp_path):
    work, _ = make_workdir(tmp_path)
    cfg = work / "config" / "config.yaml"
    cfg.write_text(cfg.read_text().replace("batch_size: 100", "batch_size: 0"))
    proc = snakemake(work, check=False)
    assert proc.returncode != 0
    lines = [ln for ln in (proc.stderr + proc.stdout).splitlines() if "batch_size" in ln]
    assert lines and "phases.first.batch_size = 0" in lines[0] and ">= 1" in lines[0]
    assert not (work / "results").exists()


def test_lint_each_workflow_constant_is_bound_once():
    # the rule files share one namespace: a name bound again in a later file silently
    # changes what the earlier files' functions see
    seen: dict[str, str] = {}
    for path in [ROOT / "Snakefile", *sorted((ROOT / "workflow" / "rules").glob("*.smk"))]:
        for name in re.findall(r"^([A-Z][A-Z0-9_]*)\s*=", path.read_text(), re.M):
            assert name not in seen, f"{name}: bound in {seen[name]} and {path.name}"
            seen[name] = path.name
    assert "PHASES" in seen and "PHASE_FILES" in seen


def test_snakemake_lint_is_clean():
    proc = subprocess.run(
        [str(BIN / "snakemake"), "--lint", "--directory", str(ROOT)],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_snakemake_report_builds(finished_run):
    work, _ = finished_run
    snakemake(work, "--report", str(work / "report.html"))
    assert (work / "report.html").stat().st_size > 10_000
