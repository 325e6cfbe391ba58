"""The records the engine's steps hand each other, each defined once.

- :class:`FileStatus`: a file's outcome, one small integer per file (the reader's
  compiled loop writes codes 0-5; the client sets the rest);
- :class:`ErrorKind` and :class:`FileError`: why a file is an error, as a category plus
  detail; files.parquet's ``error`` column holds :attr:`FileError.message`
  (``"<kind>: <detail>"``) and run.json's ``errors_by_reason`` counts the kinds;
- :class:`TaskTiming`: where one task's time went (and what the GPU path did);
- :class:`TaskResult`: what one task returns to the client;
- :class:`BatchRecord`: one row of batches.parquet; its fields are the columns.

Kept free of numpy and Dask imports: the reports import it for the column names.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any

#: the operations whose per-file latency the reader times (engine.latency's histogram rows)
LATENCY_OPS = ("open", "read", "close", "hash", "count")


class FileStatus(IntEnum):
    """A file's outcome in one repeat (int8 in the per-file arrays)."""

    UNSET = -1  # no result has reached the file yet (client side only)
    OK = 0
    OPEN_FAILED = 1
    READ_FAILED = 2
    GREW = 3  # read more bytes than the manifest says
    SHRANK = 4  # read fewer bytes than the manifest says
    TOO_LARGE = 5  # over max_file_bytes: never read
    BATCH_FAILED = 6  # its task failed on every attempt
    TIMED_OUT = 7  # its task had not finished when the phase's timeout passed
    CHANGED = 8  # a real tree's file changed since its reference pass (client side)


class ErrorKind(StrEnum):
    """The category of a file error: what run.json and validation.json count by."""

    OPEN_FAILED = "open failed"
    OPEN_TRANSIENT = "open failed (transient)"  # failed in the reader, opened on a retry
    VANISHED = "vanished"
    READ_FAILED = "read failed"
    GREW = "changed since manifest (grew)"
    SHRANK = "changed since manifest (shrank)"
    TOO_LARGE = "too large"
    BATCH_FAILED = "batch failed"
    TIMEOUT = "timeout"
    LOST = "lost"  # no result came back (a bug if it ever happens)
    CHANGED = "changed since reference pass"  # a user's tree, read in place


#: the error kind of each status the reader sets (refined where the cause is known)
READER_ERROR_KIND = {
    FileStatus.OPEN_FAILED: ErrorKind.OPEN_FAILED,
    FileStatus.READ_FAILED: ErrorKind.READ_FAILED,
    FileStatus.GREW: ErrorKind.GREW,
    FileStatus.SHRANK: ErrorKind.SHRANK,
    FileStatus.TOO_LARGE: ErrorKind.TOO_LARGE,
}

#: kind counted for an error row whose message is missing (files.parquet ``error`` null)
UNKNOWN_KIND = "unknown"


@dataclass(frozen=True)
class FileError:
    """Why one file is an error: its kind, and details for a person."""

    kind: ErrorKind
    detail: str = ""

    @property
    def message(self) -> str:
        """The files.parquet ``error`` text: ``"<kind>: <detail>"``, or the kind alone."""
        return f"{self.kind.value}: {self.detail}" if self.detail else self.kind.value


def kind_of_message(message: str | None) -> str:
    """The kind of a files.parquet ``error`` text (the part before its first ``:``); for
    readers of that file, which holds the message only. The engine carries the kind."""
    if message is None or message != message:  # null, or NaN from pandas
        return UNKNOWN_KIND
    return message.split(":", 1)[0]


@dataclass
class TaskTiming:
    """Seconds one task spent in each part, and the GPU path's chunking counters.

    The ``*_s`` components never add up to more than the task's own span. On the CPU
    ``analyse_s`` is counting (fused into the read loop), on the GPU the kernel; the
    ``gpu_*`` counters are 0 on the CPU.
    """

    setup_s: float = 0.0  # manifest lookup and buffer
    read_s: float = 0.0  # system calls (open/read/close) and the loop around them
    hash_s: float = 0.0  # xxh3
    h2d_s: float = 0.0  # host -> device copies
    analyse_s: float = 0.0  # counting: CPU loop or GPU kernel
    d2h_s: float = 0.0  # device -> host copies
    pack_s: float = 0.0  # building the result
    gpu_chunks: int = 0  # device copies + kernel launches the batch took
    gpu_oversize_files: int = 0  # files in chunks larger than the device budget
    gpu_oom_splits: int = 0  # chunks that ran out of device memory and were halved

    def to_dict(self) -> dict[str, float | int]:
        # each value as its field's type: the seconds as float, the counters as int
        return {f.name: type(f.default)(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskTiming:
        return cls(**{name: data[name] for name in TIMING_COLUMNS if name in data})


#: batches.parquet columns of a task's time, in the order a task runs them (setup first)
TIMING_COLUMNS = tuple(f.name for f in dataclasses.fields(TaskTiming))
#: the parts of a task's processing time, in the order it runs them
TIME_COMPONENTS = ("read_s", "hash_s", "h2d_s", "analyse_s", "d2h_s", "pack_s")
#: time columns some tasks also record, outside the components (reports list them last)
EXTRA_TIME_COMPONENTS = ("setup_s",)


#: TaskResult's per-file fields beyond status, bytes and errors
PER_FILE_ANALYSIS = ("hash", "lines", "words", "non_ascii", "type", "entropy", "signature")


@dataclass
class TaskResult:
    """What one task returns: per-file arrays for rows [start, stop) of the manifest.

    The analysis arrays (lines, words, non_ascii, type) are None at ``minimal``, entropy
    and signature are None below ``full``;
    ``errors`` maps a file's index in the batch to its error (failed files only).
    """

    start: int
    stop: int
    status: Any  # np.ndarray int8 of FileStatus codes
    bytes: Any  # np.ndarray int64
    hash: Any  # np.ndarray uint64
    lines: Any = None
    words: Any = None
    non_ascii: Any = None
    type: Any = None  # np.ndarray int8 of reference.TYPES codes
    entropy: Any = None  # np.ndarray float64, bits per byte (``full`` only)
    signature: Any = None  # np.ndarray uint32 (files x hashes): MinHash (``full`` only)
    errors: dict[int, FileError] = field(default_factory=dict)
    timing: TaskTiming = field(default_factory=TaskTiming)
    worker: str = "local"
    pid: int = 0
    thread: int = 0
    device: str = "cpu"  # "cpu" or "gpu:N"
    t_start: float = 0.0  # epoch seconds, worker clock
    t_stop: float = 0.0
    latency: Any = None  # np.ndarray int64 (ops x buckets): engine.latency histograms
    latency_max: Any = None  # np.ndarray int64 (ops): the longest of each operation, ns

    def summary_only(self) -> TaskResult:
        """The result without its per-file hashes and analysis: what a pass that is not a
        round trip's last needs (its files' status, bytes and errors, its timing and
        latency), so the workers send and the client places a fraction of the data."""
        return dataclasses.replace(self, **dict.fromkeys(PER_FILE_ANALYSIS))


@dataclass
class BatchRecord:
    """One row of batches.parquet: one task that returned, in one repeat."""

    repeat: int
    warmup: bool
    batch: int
    key: str
    worker: str
    pid: int
    thread: int
    device: str
    submitted: float  # client clock
    start: float  # worker clock
    stop: float  # worker clock
    received: float  # client clock
    files: int
    bytes: int  # bytes of the files read ok
    errors: int
    timing: TaskTiming = field(default_factory=TaskTiming)
    attempts: int | None = None  # starts seen in the scheduler's log (None: not known)

    def to_dict(self) -> dict[str, Any]:
        """The row, columns in :data:`BATCH_COLUMNS` order (timing flattened)."""
        row = {f: getattr(self, f) for f in _BATCH_SCALARS if f != "attempts"}
        row.update(self.timing.to_dict())
        row["attempts"] = self.attempts
        return row

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> BatchRecord:
        return cls(
            **{f: row[f] for f in _BATCH_SCALARS if f in row},
            timing=TaskTiming.from_dict(row),
        )


_BATCH_SCALARS = tuple(f.name for f in dataclasses.fields(BatchRecord) if f.name != "timing")
#: the columns of batches.parquet, in order
BATCH_COLUMNS = (*(f for f in _BATCH_SCALARS if f != "attempts"), *TIMING_COLUMNS, "attempts")
