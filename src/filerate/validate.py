"""`filerate validate`: every manifest file accounted for once, every value right.

Compares a phase's files.parquet with the manifest's ground truth, field by field, and
checks that every repeat in run.json accounted for every file. Exits non-zero, with one
line, on any missing, duplicated, unexpected or mismatched file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from filerate import atomic
from filerate.engine.records import kind_of_message
from filerate.errors import UserError
from filerate.reports.load import read_json, read_parquet

FIELDS = {
    "minimal": ["bytes", "xxh3"],
    "light": ["bytes", "xxh3", "lines", "words", "non_ascii", "binary", "type"],
    "full": ["bytes", "xxh3", "lines", "words", "non_ascii", "binary", "type"],
}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "validate",
        help="check a phase's results against the manifest's ground truth",
        description=(
            "Check that every manifest file appears exactly once in the phase's "
            "files.parquet, that every computed field equals the ground truth, and that "
            "every repeat accounted for every file. Writes validation.json; exits 1 on any "
            "missing, duplicated, unexpected or mismatched file."
        ),
    )
    p.add_argument("--manifest", required=True)
    p.add_argument("--phase-dir", required=True, help="results/phases/PHASE")
    p.add_argument("--out", required=True, help="validation.json to write")
    p.set_defaults(func=run)


def validate(manifest: pd.DataFrame, files: pd.DataFrame, run: dict) -> dict:
    level = run["settings"]["analysis"]
    n = len(manifest)
    counts = files["path_raw"].value_counts()
    duplicated = int((counts > 1).sum())
    known = set(manifest["path_raw"])
    seen = set(files["path_raw"])
    missing = len(known - seen)
    unexpected = len(seen - known)
    merged = manifest.merge(
        files.drop_duplicates("path_raw"), on="path_raw", suffixes=("_truth", ""), how="inner"
    )
    ok = merged[merged["status"] == "ok"]
    by_field, mismatched_files, examples = _mismatches(ok, FIELDS[level])
    errors = files[files["status"] == "error"]
    # files.parquet holds each error's message only: its kind is the part before the ":"
    reasons = errors["error"].map(kind_of_message).value_counts().to_dict()
    # a time-based repeat is several whole passes: each accounts for every file
    repeats_ok = all(
        r["files_ok"] + r["files_error"] == n * r.get("passes", 1) for r in run["repeats"]
    )
    passed = (
        missing == 0
        and duplicated == 0
        and unexpected == 0
        and mismatched_files == 0
        and repeats_ok
        and len(files) == n
    )
    return {
        "phase": run["phase"],
        "ok": passed,
        "analysis": level,
        "fields": FIELDS[level],
        "manifest_files": n,
        "result_rows": len(files),
        "files_ok": int((files["status"] == "ok").sum()),
        "files_error": len(errors),
        "missing": missing,
        "duplicated": duplicated,
        "unexpected": unexpected,
        "mismatches": mismatched_files,
        "mismatches_by_field": by_field,
        "errors_by_reason": reasons,
        "error_examples": [
            {"path": p, "error": e}
            for p, e in errors[["path", "error"]].head(10).itertuples(index=False)
        ],
        "repeats_accounted": repeats_ok,
        "examples": examples[:20],
    }


def _mismatches(ok: pd.DataFrame, fields: list[str]) -> tuple[dict, int, list[dict]]:
    """Among the files processed ok: mismatches per field, files with any mismatch, and up
    to three examples per field."""
    by_field, examples = {}, []
    bad_any = pd.Series(False, index=ok.index)
    for field in fields:
        truth, got = ok[f"{field}_truth"], ok[field]
        bad = _differs(truth, got)
        bad_any |= bad
        by_field[field] = int(bad.sum())
        for _, row in ok[bad].head(3).iterrows():
            examples.append(
                {
                    "path": row["path_truth"] if "path_truth" in row else row["path"],
                    "field": field,
                    "truth": _plain(row[f"{field}_truth"]),
                    "got": _plain(row[field]),
                }
            )
    return by_field, int(bad_any.sum()), examples


def _differs(truth: pd.Series, got: pd.Series) -> pd.Series:
    """Element-wise "not equal" where a null on either side differs from any value."""
    t, g = truth.astype(object), got.astype(object)
    t_na, g_na = t.isna(), g.isna()
    same = (t.where(~t_na, None) == g.where(~g_na, None)) & ~t_na & ~g_na
    return ~(same | (t_na & g_na))


def _plain(v):
    return v.item() if hasattr(v, "item") else (None if pd.isna(v) else v)


def _judge_duplicates(manifest, phase_dir: Path, manifest_path: Path, run_record: dict) -> dict:
    """A ``full`` phase's duplicates judged against the planted truth (dedup.judge)."""
    from filerate.dedup import judge

    path = phase_dir / "duplicates.parquet"
    if not path.exists():
        return {"error": f"{path} is missing"}
    dups = read_parquet(path)
    files_dir = str(manifest_path.parent / "files")
    return {
        "near": judge.judge_near(manifest, dups, files_dir, run_record["settings"]["minhash"]),
        "exact": judge.judge_exact(manifest, dups),
    }


def run(args) -> int:
    phase_dir = Path(args.phase_dir)
    for name in ("run.json", "files.parquet"):
        if not (phase_dir / name).exists():
            raise UserError(f"{phase_dir / name} is missing: run `filerate process` first")
    manifest = read_parquet(Path(args.manifest))
    files = read_parquet(phase_dir / "files.parquet")
    run_record = read_json(phase_dir / "run.json")
    result = validate(manifest, files, run_record)
    if run_record["settings"]["analysis"] == "full":
        manifest_path = Path(args.manifest)
        result["duplicates"] = _judge_duplicates(manifest, phase_dir, manifest_path, run_record)
    atomic.write_json(args.out, result)
    if not result["ok"]:
        print(
            f"filerate validate: phase {result['phase']} FAILED: {result['missing']} missing, "
            f"{result['duplicated']} duplicated, {result['unexpected']} unexpected, "
            f"{result['mismatches']} mismatched files, repeats accounted: "
            f"{result['repeats_accounted']} (details in {args.out})",
            file=sys.stderr,
        )
        return 1
    print(
        f"phase {result['phase']}: all {result['manifest_files']} files accounted for "
        f"({result['files_ok']} ok, {result['files_error']} errors), 0 mismatches",
        file=sys.stderr,
    )
    near = result.get("duplicates", {}).get("near")
    if near:
        print(
            f"phase {result['phase']}: near-duplicates at {near['threshold']:g}: precision "
            f"{_ratio(near['precision'])}, recall {_ratio(near['recall'])}, F1 "
            f"{_ratio(near['f1'])} ({near['reported_near_pairs']} pairs reported, "
            f"{near['planted_positives']} planted)",
            file=sys.stderr,
        )
    return 0


def _ratio(value) -> str:
    return value if isinstance(value, str) else f"{value:.3f}"
