"""filerate.engine.records: the contracts between the engine's steps, and the engine's
independence from the reports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from filerate.engine import batchio, records
from filerate.engine.records import (
    BATCH_COLUMNS,
    BatchRecord,
    ErrorKind,
    FileError,
    FileStatus,
    TaskTiming,
)
from filerate.reference import TYPE_CODES


def test_status_codes_are_stable():
    # files.parquet does not store them, but the compiled loop and int8 arrays do
    assert [int(s) for s in FileStatus] == list(range(-1, 9))
    assert batchio._TOO_LARGE == FileStatus.TOO_LARGE and batchio._GREW == FileStatus.GREW
    assert TYPE_CODES["binary"] == batchio.BINARY_TYPE


def test_every_reader_status_has_an_error_kind():
    reader = {FileStatus(c) for c in range(1, 6)}
    assert set(records.READER_ERROR_KIND) == reader


@pytest.mark.parametrize(
    "error,message",
    [
        (FileError(ErrorKind.READ_FAILED), "read failed"),
        (FileError(ErrorKind.OPEN_TRANSIENT), "open failed (transient)"),
        (FileError(ErrorKind.VANISHED, "No such file"), "vanished: No such file"),
        (FileError(ErrorKind.BATCH_FAILED, "KilledWorker: "), "batch failed: KilledWorker: "),
    ],
)
def test_error_message_and_its_kind(error, message):
    assert error.message == message
    assert records.kind_of_message(message) == error.kind.value


def test_kind_of_a_missing_message_is_unknown():
    assert records.kind_of_message(None) == records.kind_of_message(float("nan")) == "unknown"


def test_task_timing_round_trip_keeps_types():
    timing = TaskTiming(read_s=0.5, gpu_chunks=3, gpu_oom_splits=1)
    data = timing.to_dict()
    assert tuple(data) == records.TIMING_COLUMNS
    assert isinstance(data["read_s"], float) and isinstance(data["gpu_chunks"], int)
    assert TaskTiming.from_dict(json.loads(json.dumps(data))) == timing


def test_batch_record_columns_are_the_one_definition():
    row = BatchRecord(1, False, 2, "k", "w", 3, 4, "cpu", 0.0, 1.0, 2.0, 3.0, 5, 50, 0)
    data = row.to_dict()
    assert tuple(data) == BATCH_COLUMNS
    assert BatchRecord.from_dict(data) == row
    assert set(records.TIME_COMPONENTS + records.EXTRA_TIME_COMPONENTS) <= set(BATCH_COLUMNS)
    assert {"gpu_chunks", "gpu_oversize_files", "gpu_oom_splits"} <= set(BATCH_COLUMNS)


def test_engine_tasks_import_nothing_from_the_reports():
    """Workers import filerate.engine.tasks: it must stay light (no reports, no plots)."""
    code = (
        "import json, sys; import filerate.engine.tasks, filerate.engine.process; "
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    modules = json.loads(out.stdout)
    assert not [m for m in modules if m.startswith("filerate.reports")]
    assert "matplotlib" not in modules


def test_data_md_documents_every_batch_column_and_error_kind():
    data_md = (Path(__file__).resolve().parents[1] / "docs" / "DATA.md").read_text()
    batches = data_md[data_md.index("- `batches.parquet`") :]
    batches = " ".join(batches[: batches.index("\n- `")].split())
    assert ", ".join(BATCH_COLUMNS) in batches
    files = data_md[data_md.index("- `files.parquet`") :]
    files = " ".join(files[: files.index("\n- `")].split())
    assert all(f"`{kind.value}`" in files for kind in ErrorKind)


def test_a_summary_only_result_is_counted_but_keeps_no_analysis():
    import numpy as np

    from filerate.engine.file_results import FileResults
    from filerate.engine.records import ErrorKind, FileError, FileStatus, TaskResult

    res = TaskResult(
        2,
        4,
        np.array([0, 3], np.int8),
        np.array([5, 0]),
        np.array([7, 0], np.uint64),
        lines=np.array([1, 0]),
        words=np.array([2, 0]),
        non_ascii=np.array([0, 0]),
        type=np.array([1, 0], np.int8),
        errors={1: FileError(ErrorKind.VANISHED)},
    )
    short = res.summary_only()
    assert short.hash is None and short.lines is None and short.type is None
    assert short.status is res.status and short.errors == res.errors
    counted = FileResults(6, analysis=False)
    counted.place(short)
    assert counted.status[2] == FileStatus.OK and counted.bytes[2] == 5
    assert counted.errors[3].kind == ErrorKind.VANISHED
    assert not hasattr(counted, "hash")
    whole = FileResults(6)
    whole.place(res)
    assert whole.hash[2] == 7 and whole.lines[2] == 1
