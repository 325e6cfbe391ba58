"""filerate.validate: every manifest file accounted for once, every value right."""

from __future__ import annotations

import argparse
import json

import pandas as pd
import pytest

from filerate import atomic, corpus
from filerate import validate as val
from filerate.errors import UserError

N = 80


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    out = tmp_path_factory.mktemp("validate-corpus")
    corpus.generate("val", {"files": N, "seed": 21, "binary_rate": 0.05}, out, processes=1)
    return pd.read_parquet(out / "manifest.parquet")


def files_frame(manifest: pd.DataFrame, analysis: str = "light") -> pd.DataFrame:
    """What `filerate process` writes for a run where every file came out right."""
    light = analysis == "light"
    frame = pd.DataFrame(
        {
            "path": manifest["path"],
            "path_raw": manifest["path_raw"],
            "status": "ok",
            "error": pd.Series([None] * len(manifest), dtype="object"),
            "bytes": pd.array(manifest["bytes"], dtype="Int64"),
            "xxh3": manifest["xxh3"].astype(object),
        }
    )
    for col in ("lines", "words", "non_ascii"):
        frame[col] = pd.array(manifest[col] if light else [None] * len(manifest), dtype="Int64")
    frame["binary"] = pd.array(
        manifest["binary"] if light else [None] * len(manifest), dtype="boolean"
    )
    frame["type"] = manifest["type"].astype(object) if light else None
    return frame


def run_dict(n=N, analysis="light", repeats=None) -> dict:
    repeats = repeats or [{"files_ok": n, "files_error": 0}] * 3
    return {"phase": "p", "settings": {"analysis": analysis}, "repeats": repeats}


def _mark_error(frame, i, reason):
    frame = frame.copy()
    frame.loc[i, "status"] = "error"
    frame.loc[i, "error"] = reason
    frame.loc[i, ["bytes", "xxh3", "lines", "words", "non_ascii", "binary", "type"]] = None
    return frame


def test_all_right(manifest):
    res = val.validate(manifest, files_frame(manifest), run_dict())
    assert res["ok"] is True
    assert res["phase"] == "p"
    assert res["manifest_files"] == N and res["files_ok"] == N and res["files_error"] == 0
    assert (res["missing"], res["duplicated"], res["unexpected"], res["mismatches"]) == (0, 0, 0, 0)
    assert set(res["mismatches_by_field"]) == set(val.FIELDS["light"])
    assert all(v == 0 for v in res["mismatches_by_field"].values())
    assert res["errors_by_reason"] == {}
    assert res["repeats_accounted"] is True
    assert res["examples"] == []
    json.dumps(res)  # what validation.json holds


def test_missing_row(manifest):
    files = files_frame(manifest).drop(index=5).reset_index(drop=True)
    res = val.validate(manifest, files, run_dict())
    assert res["ok"] is False
    assert res["missing"] == 1
    assert res["mismatches"] == 0


def test_duplicated_row(manifest):
    files = files_frame(manifest)
    files = pd.concat([files, files.iloc[[3]]], ignore_index=True)
    res = val.validate(manifest, files, run_dict())
    assert res["ok"] is False
    assert res["duplicated"] == 1
    assert res["missing"] == 0 and res["unexpected"] == 0


def test_unexpected_path(manifest):
    files = files_frame(manifest)
    extra = files.iloc[[0]].copy()
    extra["path"] = "not/in/manifest.txt"
    extra["path_raw"] = [b"not/in/manifest.txt"]
    files = pd.concat([files, extra], ignore_index=True)
    res = val.validate(manifest, files, run_dict())
    assert res["ok"] is False
    assert res["unexpected"] == 1
    assert res["missing"] == 0 and res["duplicated"] == 0


def test_unexpected_path_replacing_a_real_one(manifest):
    files = files_frame(manifest)
    files.loc[0, "path_raw"] = b"renamed.txt"
    res = val.validate(manifest, files, run_dict())
    assert res["ok"] is False
    assert res["unexpected"] == 1 and res["missing"] == 1


@pytest.mark.parametrize(
    "field,change",
    [
        ("words", lambda v: v + 1),
        ("lines", lambda v: v + 1),
        ("non_ascii", lambda v: v + 1),
        ("bytes", lambda v: v + 1),
        ("xxh3", lambda v: "0" * 16 if v != "0" * 16 else "1" * 16),
        ("type", lambda v: "other" if v != "other" else "python"),
        ("binary", lambda v: not v),
    ],
)
def test_one_wrong_value(manifest, field, change):
    files = files_frame(manifest)
    i = int((manifest["words"] > 0).to_numpy().nonzero()[0][0])
    files.loc[i, field] = change(files.loc[i, field])
    res = val.validate(manifest, files, run_dict())
    assert res["ok"] is False
    assert res["mismatches"] == 1
    assert res["mismatches_by_field"][field] == 1
    assert sum(res["mismatches_by_field"].values()) == 1
    ex = res["examples"]
    assert len(ex) == 1 and ex[0]["field"] == field and ex[0]["path"] == manifest["path"].iloc[i]
    json.dumps(res)


def test_words_mismatch_counts_files_once(manifest):
    files = files_frame(manifest)
    files.loc[2, "words"] = files.loc[2, "words"] + 5
    files.loc[2, "lines"] = files.loc[2, "lines"] + 5
    files.loc[9, "words"] = files.loc[9, "words"] + 1
    res = val.validate(manifest, files, run_dict())
    assert res["mismatches_by_field"]["words"] == 2
    assert res["mismatches_by_field"]["lines"] == 1
    assert res["mismatches"] == 2  # files, not fields


def test_null_hash_on_an_ok_file_is_a_mismatch(manifest):
    files = files_frame(manifest)
    files.loc[4, "xxh3"] = None
    res = val.validate(manifest, files, run_dict())
    assert res["ok"] is False
    assert res["mismatches_by_field"]["xxh3"] == 1


def test_null_value_on_an_ok_file_is_a_mismatch(manifest):
    files = files_frame(manifest)
    files.loc[4, "words"] = None
    res = val.validate(manifest, files, run_dict())
    assert res["ok"] is False
    assert res["mismatches_by_field"]["words"] == 1


def test_errors_are_accounted_not_failures(manifest):
    files = _mark_error(files_frame(manifest), 3, "vanished: No such file or directory")
    files = _mark_error(files, 8, "too large: 10 bytes > max_file_bytes 5")
    files = _mark_error(files, 9, "too large: 11 bytes > max_file_bytes 5")
    rep = [{"files_ok": N - 3, "files_error": 3}] * 2
    res = val.validate(manifest, files, run_dict(repeats=rep))
    assert res["ok"] is True
    assert res["files_ok"] == N - 3 and res["files_error"] == 3
    assert res["errors_by_reason"] == {"vanished": 1, "too large": 2}
    assert res["mismatches"] == 0
    assert {e["error"] for e in res["error_examples"]} >= {"vanished: No such file or directory"}


def test_error_without_reason(manifest):
    files = _mark_error(files_frame(manifest), 0, None)
    res = val.validate(manifest, files, run_dict())
    assert res["errors_by_reason"] == {"unknown": 1}


def test_repeats_not_accounted(manifest):
    rep = [{"files_ok": N, "files_error": 0}, {"files_ok": N - 2, "files_error": 1}]
    res = val.validate(manifest, files_frame(manifest), run_dict(repeats=rep))
    assert res["repeats_accounted"] is False
    assert res["ok"] is False
    assert res["mismatches"] == 0 and res["missing"] == 0


def test_minimal_level_checks_only_size_and_hash(manifest):
    files = files_frame(manifest, analysis="minimal")
    res = val.validate(manifest, files, run_dict(analysis="minimal"))
    assert res["ok"] is True
    assert set(res["mismatches_by_field"]) == {"bytes", "xxh3"}
    files.loc[1, "xxh3"] = "f" * 16
    res = val.validate(manifest, files, run_dict(analysis="minimal"))
    assert res["ok"] is False and res["mismatches_by_field"]["xxh3"] == 1


def test_mismatch_on_an_error_file_is_not_counted(manifest):
    files = _mark_error(files_frame(manifest), 6, "open failed: Permission denied")
    files.loc[6, "words"] = 123456
    rep = [{"files_ok": N - 1, "files_error": 1}]
    res = val.validate(manifest, files, run_dict(repeats=rep))
    assert res["ok"] is True and res["mismatches"] == 0


# ---------------------------------------------------------------- the CLI step


def _phase_dir(tmp_path, manifest, files, run):
    m = tmp_path / "manifest.parquet"
    atomic.write_parquet(m, manifest)
    phase = tmp_path / "phase"
    phase.mkdir()
    atomic.write_parquet(phase / "files.parquet", files)
    atomic.write_json(phase / "run.json", run)
    out = tmp_path / "validation.json"
    return argparse.Namespace(manifest=str(m), phase_dir=str(phase), out=str(out)), out


def test_cli_ok(tmp_path, manifest, capsys):
    args, out = _phase_dir(tmp_path, manifest, files_frame(manifest), run_dict())
    assert val.run(args) == 0
    res = json.loads(out.read_text())
    assert res["ok"] is True and res["manifest_files"] == N
    assert "0 mismatches" in capsys.readouterr().err


def test_cli_failure_exits_1(tmp_path, manifest, capsys):
    files = files_frame(manifest)
    files.loc[0, "words"] = files.loc[0, "words"] + 1
    args, out = _phase_dir(tmp_path, manifest, files, run_dict())
    assert val.run(args) == 1
    res = json.loads(out.read_text())
    assert res["ok"] is False and res["mismatches_by_field"]["words"] == 1
    err = capsys.readouterr().err
    assert "FAILED" in err and "1 mismatched" in err


def test_cli_missing_results(tmp_path, manifest):
    args, _ = _phase_dir(tmp_path, manifest, files_frame(manifest), run_dict())
    (tmp_path / "phase" / "files.parquet").unlink()
    with pytest.raises(UserError, match="files.parquet is missing"):
        val.run(args)
