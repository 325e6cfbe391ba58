"""The end-of-run summary (filerate.summary) on synthetic tables; it must never fail."""

from __future__ import annotations

import json

import pytest

from filerate import summary

COLUMNS = (
    "phase",
    "corpus_files",
    "files_per_s_median",
    "files_per_s_ci_low",
    "files_per_s_ci_high",
    "staging_s",
    "startup_s",
    "files_error",
    "mismatches",
    "validation_ok",
)
ROWS = (
    ("turbo", 50000, 203000.0, 190000.0, 210000.0, 3.0, 0.75, 0, 0, "true"),
    ("broken", 1000, 900.0, "", "", 0, 1.0, 3, 1, "false"),
)


@pytest.fixture
def results(tmp_path):
    res = tmp_path / "results"
    (res / "tables").mkdir(parents=True)
    lines = ["\t".join(COLUMNS)] + ["\t".join(map(str, r)) for r in ROWS]
    (res / "tables" / "throughput.tsv").write_text("\n".join(lines) + "\n")
    (res / "reports").mkdir()
    limits = {
        "phases": [{"phase": "turbo", "processing_limit": "file open/read (CPU in syscalls)"}]
    }
    (res / "reports" / "bottlenecks.json").write_text(json.dumps(limits))
    for name, warmup in (("turbo", 2.67), ("broken", None)):
        (res / "phases" / name).mkdir(parents=True)
        run = {"cluster": {"kernel_warmup_s": warmup}}
        (res / "phases" / name / "run.json").write_text(json.dumps(run))
    return res


def test_one_real_pass_adds_every_set_up_cost():
    row = {"corpus_files": 50000, "files_per_s_median": 200000.0, "staging_s": 3.0, "startup_s": 1}
    total, rate = summary.one_pass(row, {"cluster": {"kernel_warmup_s": 0.75}})
    assert total == pytest.approx(3.0 + 1 + 0.75 + 0.25)
    assert rate == pytest.approx(50000 / 5.0)
    assert summary.one_pass({"corpus_files": 10}, {}) == (None, None)


def test_table_names_rates_passes_validation_and_limits(results, capsys):
    summary.print_summary(str(results), str(results / "report" / "index.html"))
    out = capsys.readouterr().out
    assert "files/s median [95 % CI]" in out
    assert "203,000 files/s [190,000–210,000]" in out
    assert "7.50K files/s (6.67 s)" in out  # 50,000 files / (3 + 0.75 + 2.67 + 0.246) s
    assert "ok (50,000 files)" in out and "FAILED: 3 errors, 1 mismatches" in out
    assert "file open/read (CPU in syscalls)" in out
    assert f"report: {results / 'report' / 'index.html'} (not written)" in out


def test_mentions_history_and_the_last_run(results, capsys, monkeypatch):
    hist = results / "history"
    hist.mkdir()
    (hist / "latest.json").write_text(json.dumps({"run_id": "B", "path": "x/B", "previous": "A"}))
    monkeypatch.setattr(summary, "since_last_run", lambda r: "since the last run (A): ...")
    summary.print_summary(str(results))
    out = capsys.readouterr().out
    assert "kept as: x/B" in out and "since the last run (A)" in out


def test_never_fails_and_says_why_in_one_line(results, capsys):
    (results / "tables" / "throughput.tsv").write_text("not\ta\ttable\n1\n")
    summary.print_summary(str(results))
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("filerate: no summary (")


def test_prints_nothing_before_the_tables_exist(tmp_path, capsys):
    summary.print_summary(str(tmp_path))
    assert capsys.readouterr().out == ""


def test_a_failed_validation_says_what_failed():
    row = {"validation_ok": "false", "files_error": 0, "mismatches": 0, "corpus_files": 10}
    val = {"missing": 2, "duplicated": 1, "unexpected": 0}
    assert summary.validated_text(row, val) == "FAILED: 2 missing, 1 duplicated"
    assert "0 errors" not in summary.validated_text(row, {})
    assert summary.validated_text(row, {}).startswith("FAILED (")


def test_limit_is_the_bottleneck_storys_cut_for_the_terminal():
    from filerate.reports.bottlenecks.story import files_per_s_limit

    long = {"limit": "x" * 80, "processing_limit": None}
    assert files_per_s_limit(long) == "x" * 80
    assert summary.limit_text(long) == "x" * (summary.LIMIT_CHARS - 1) + "…"
    assert summary.limit_text({}) == files_per_s_limit({}) == "—"
