"""filerate tables: one row per phase from synthetic phase directories."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from filerate.reports import tables
from filerate.reports.load import load_phases
from fixtures_runs import build_phase, phase_args, run_cli

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("phases")
    base = build_phase(root, "baseline", target=1000)
    # unstable: repeats 1.0x, 1.4x and 0.7x as long
    legendary = build_phase(
        root,
        "legendary",
        corpus="medium",
        corpus_files=20_000,
        corpus_bytes=256_000_000,
        batch_size=5000,
        task_s=4.0,
        repeat_scale=[1.0, 1.4, 0.7],
        target=7000,
        gate=3000,
        ramdisk_budget_gb=2,
        ramdisk_growth_bytes=50_000_000,
        analysis="minimal",
    )
    turbo = build_phase(
        root,
        "turbo",
        corpus="large",
        corpus_files=50_000,
        corpus_bytes=640_000_000,
        batch_size=10_000,
        task_s=8.0,
        target=10_000,
        ramdisk_budget_gb=0.5,
        files_error=3,
        mismatches=2,
    )
    inplace = build_phase(root, "inplace", staged=False)
    return [base, legendary, turbo, inplace]


@pytest.fixture(scope="module")
def table(runs):
    return tables.build_table(load_phases(runs), unstable_cv_pct=10)


def rec(table, phase):
    return table.set_index("phase").loc[phase].to_dict()


def test_columns_are_documented(table):
    assert list(table.columns) == tables.COLUMNS == list(tables.GLOSSARY)
    assert all(meaning.strip() for meaning in tables.GLOSSARY.values())


@pytest.mark.parametrize("doc", ["docs/DATA.md", "README.md"])
def test_docs_show_the_glossary(doc):
    # the glossary is defined once, in code; the docs carry it verbatim
    text = (ROOT / doc).read_text()
    assert tables.glossary_markdown() in text, (
        f"{doc}: paste the output of `python -m filerate.reports.tables --glossary`"
    )


def test_glossary_command(capsys):
    assert tables.main(["--glossary"]) == 0
    assert capsys.readouterr().out == tables.glossary_markdown()


def test_numbers_and_speedup(table, runs):
    phases = load_phases(runs)
    base = rec(table, "baseline")
    leg = rec(table, "legendary")
    s_base, s_leg = phases[0].summary(), phases[1].summary()
    assert base["files_per_s_median"] == pytest.approx(s_base["files_per_s_median"])
    assert base["speedup_vs_baseline"] == pytest.approx(1.0)
    assert leg["speedup_vs_baseline"] == pytest.approx(
        s_leg["files_per_s_median"] / s_base["files_per_s_median"]
    )
    assert leg["speedup_min"] == pytest.approx(s_leg["files_per_s_min"] / s_base["files_per_s_max"])
    assert leg["speedup_max"] == pytest.approx(s_leg["files_per_s_max"] / s_base["files_per_s_min"])
    assert base["total_threads"] == 12 and base["processes"] == 2
    assert base["startup_s"] == pytest.approx(1.0)
    assert base["staging_s"] == pytest.approx(0.5)
    assert rec(table, "inplace")["staging_s"] == 0.0
    assert base["corpus_mb"] == pytest.approx(128.0)
    assert base["repeats"] == 3


def test_unstable_flag(table):
    assert rec(table, "baseline")["stability"] == "stable"
    leg = rec(table, "legendary")
    assert leg["cv_pct"] > 10
    assert leg["stability"] == "unstable"
    # strict threshold: a CV equal to the threshold is still stable
    assert tables.stability(10.0, 3, 10.0) == "stable"
    assert tables.stability(10.01, 3, 10.0) == "unstable"
    assert tables.stability(None, 1, 10.0) == "single repeat"


def test_unstable_never_quoted_as_one_number(table):
    md = tables.to_markdown(table, 10)
    row = next(line for line in md.splitlines() if line.startswith("| legendary |"))
    leg = rec(table, "legendary")
    assert "unstable" in row
    assert f"{leg['files_per_s_min']:,.0f}–{leg['files_per_s_max']:,.0f}" in row
    assert f"{leg['files_per_s_median']:,.0f}" not in row
    # another corpus and analysis than the baseline: no speed-up is quoted at all
    assert "— (other corpus or analysis)" in row
    assert f"{leg['speedup_min']:.2f}–" not in row
    # against a like baseline, an unstable phase's speed-up is a range too
    like = {**rec(table, "baseline"), "phase": "baseline"}
    like.update({k: leg[k] for k in ("corpus", "corpus_files", "analysis")})
    text = tables.speedup_text({**leg, "phase": "legendary"}, like)
    assert text == f"{leg['speedup_min']:.2f}–{leg['speedup_max']:.2f}×"


def test_targets_met_and_missed(table):
    assert rec(table, "baseline")["target_met"] == "met"  # ~19,800 files/s vs 1,000
    assert rec(table, "turbo")["target_met"] == "missed"  # ~6,200 vs 10,000
    leg = rec(table, "legendary")  # ~5,000 (3,600-7,100, unstable) vs 7,000; gate 3,000
    assert leg["target_met"] == "missed" and leg["gate_met"] == "met"
    md = tables.to_markdown(table, 10)
    row = next(line for line in md.splitlines() if line.startswith("| legendary |"))
    assert "7,000: **missed** (range straddles it)" in row and "gate 3,000: **met**" in row
    assert rec(table, "inplace")["target_met"] == ""


def test_ramdisk_errors_and_mismatches(table):
    leg = rec(table, "legendary")
    assert leg["ramdisk_staged_mb"] == pytest.approx(256e6 * 1.05 / 1e6)
    assert leg["ramdisk_growth_mb"] == pytest.approx(50.0)
    assert leg["ramdisk_peak_mb"] == pytest.approx(256 * 1.05 + 50)
    assert leg["ramdisk_budget_mb"] == pytest.approx(2 * 2**30 / 1e6)
    assert leg["ramdisk_within_budget"] is True
    turbo = rec(table, "turbo")
    assert turbo["ramdisk_within_budget"] is False  # 672 MB staged vs 537 MB budget
    assert turbo["files_error"] == 3 and turbo["mismatches"] == 2
    assert turbo["validation_ok"] is False
    inplace = rec(table, "inplace")
    assert inplace["staged"] is False
    assert inplace["ramdisk_within_budget"] is None or math.isnan(inplace["ramdisk_within_budget"])


def test_cli_writes_tsv_and_md(runs, tmp_path):
    tsv, md = tmp_path / "t" / "throughput.tsv", tmp_path / "t" / "throughput.md"
    rc = run_cli(
        ["tables", *phase_args(runs), "--unstable-cv-pct", "10", "--tsv", str(tsv), "--md", str(md)]
    )
    assert rc == 0
    lines = tsv.read_text().splitlines()
    assert lines[0].split("\t") == tables.COLUMNS
    assert len(lines) == 1 + len(runs)
    assert all(len(line.split("\t")) == len(tables.COLUMNS) for line in lines)
    back = tables.read_tsv(tsv)
    assert list(back["phase"]) == ["baseline", "legendary", "turbo", "inplace"]
    assert list(back["stability"]) == ["stable", "unstable", "stable", "stable"]
    assert "| legendary |" in md.read_text()
    assert not [p for p in tsv.parent.iterdir() if p.name.endswith(".tmp")]


def test_cli_user_errors(runs, tmp_path, capsys):
    rc = run_cli(
        [
            "tables",
            "--phase-dir",
            str(tmp_path / "nope"),
            "--tsv",
            str(tmp_path / "a.tsv"),
            "--md",
            str(tmp_path / "a.md"),
        ]
    )
    assert rc == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "a.tsv").exists()
    rc = run_cli(
        [
            "tables",
            *phase_args(runs[:1]),
            "--unstable-cv-pct",
            "-1",
            "--tsv",
            str(tmp_path / "a.tsv"),
            "--md",
            str(tmp_path / "a.md"),
        ]
    )
    assert rc == 2
    rc = run_cli(
        [
            "tables",
            *phase_args([runs[0], runs[0]]),
            "--tsv",
            str(tmp_path / "a.tsv"),
            "--md",
            str(tmp_path / "a.md"),
        ]
    )
    assert rc == 2
    assert "given twice" in capsys.readouterr().err
