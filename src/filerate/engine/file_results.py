"""Per-file results of one repeat, filled in as its batches come back, and the
files.parquet frame made from them (columns in docs/DATA.md)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from filerate.engine.records import ErrorKind, FileError, FileStatus, TaskResult
from filerate.reference import TYPE_CODES, TYPES

#: columns null at ``minimal`` analysis
_LIGHT_COLUMNS = ("lines", "words", "non_ascii")


class FileResults:
    """One entry per manifest file; every file starts UNSET and must end ok or in error."""

    def __init__(self, n: int, analysis: bool = True):
        """``analysis``: keep hashes and analysis too; without, only each file's status,
        bytes and error (a pass that is not its round trip's last: see
        TaskResult.summary_only); such results are counted, never turned into a frame."""
        self.status = np.full(n, FileStatus.UNSET, dtype=np.int8)
        self.bytes = np.zeros(n, dtype=np.int64)
        self.errors: dict[int, FileError] = {}  # manifest row -> error
        self.analysis = analysis
        if not analysis:
            return
        self.hash = np.zeros(n, dtype=np.uint64)
        self.lines = np.zeros(n, dtype=np.int64)
        self.words = np.zeros(n, dtype=np.int64)
        self.non_ascii = np.zeros(n, dtype=np.int64)
        self.type = np.zeros(n, dtype=np.int8)
        self.entropy = np.zeros(n, dtype=np.float64)  # ``full`` only
        self.signature: np.ndarray | None = None  # files x hashes, made by the first result

    def place(self, res: TaskResult) -> None:
        """Put one task's results at its rows of the manifest."""
        lo, hi = res.start, res.stop
        self.status[lo:hi] = res.status
        self.bytes[lo:hi] = res.bytes
        for i, error in res.errors.items():
            self.errors[lo + i] = error
        if not self.analysis:
            return
        self.hash[lo:hi] = res.hash
        if res.lines is not None:
            self.lines[lo:hi] = res.lines
            self.words[lo:hi] = res.words
            self.non_ascii[lo:hi] = res.non_ascii
            self.type[lo:hi] = res.type
        if res.signature is not None:
            self._place_full(res)

    def _place_full(self, res: TaskResult) -> None:
        if self.signature is None:
            self.signature = np.zeros((len(self.status), res.signature.shape[1]), np.uint32)
        self.entropy[res.start : res.stop] = res.entropy
        self.signature[res.start : res.stop] = res.signature

    def fail(self, lo: int, hi: int, status: FileStatus, error: FileError) -> None:
        """Rows [lo, hi) got no result: record them all as ``error``."""
        self.status[lo:hi] = status
        self.errors.update(dict.fromkeys(range(lo, hi), error))

    def account_unset(self) -> None:
        """Record any file no result reached as an error. Cannot happen unless a result
        went missing: it is accounted for loudly rather than lost."""
        unset = self.status == FileStatus.UNSET
        if unset.any():
            self.status[unset] = FileStatus.BATCH_FAILED
            lost = FileError(ErrorKind.LOST, "no result came back")
            self.errors.update(dict.fromkeys(np.flatnonzero(unset).tolist(), lost))

    def ok(self) -> np.ndarray:
        return self.status == FileStatus.OK

    def errors_by_kind(self) -> dict[str, int]:
        """{error kind: files}, most frequent first (run.json ``errors_by_reason``)."""
        failed = np.flatnonzero(~self.ok()).tolist()
        kinds = [self.errors[i].kind.value for i in failed if i in self.errors]
        return pd.Series(kinds, dtype="object").value_counts().to_dict()

    def frame(self, manifest: pd.DataFrame, level: str) -> pd.DataFrame:
        """files.parquet: one row per manifest file, in manifest order."""
        ok = self.ok()
        messages = pd.Series({i: e.message for i, e in self.errors.items()}, dtype="object")
        error = pd.Series([None] * len(manifest), dtype="object")
        if len(messages):
            error.iloc[messages.index.to_numpy()] = messages.to_numpy()
        frame = pd.DataFrame(
            {
                "path": manifest["path"],
                "path_raw": manifest["path_raw"],
                "status": np.where(ok, "ok", "error"),
                "error": error,
                "bytes": pd.array(np.where(ok, self.bytes, 0), dtype="Int64"),
                "xxh3": pd.Series([f"{h:016x}" for h in self.hash.tolist()], dtype="object"),
            }
        )
        frame.loc[~ok, ["bytes", "xxh3"]] = None
        self._add_analysis(frame, ok, level in ("light", "full"))
        if level == "full":
            self._add_full(frame, ok)
        return frame

    def _add_full(self, frame: pd.DataFrame, ok: np.ndarray) -> None:
        """The ``full`` columns: entropy (bits per byte) and the MinHash signature (the
        hashes' uint32 values, little-endian, as bytes); null on errors."""
        frame["entropy"] = pd.array(np.where(ok, self.entropy, np.nan), dtype="Float64")
        frame.loc[~ok, "entropy"] = None
        sig = self.signature
        if sig is None:  # no batch came back
            frame["minhash"] = None
            return
        raw = np.ascontiguousarray(sig.astype("<u4")).view(f"V{4 * sig.shape[1]}").ravel()
        frame["minhash"] = pd.Series(
            [bytes(v) if k else None for v, k in zip(raw, ok, strict=True)]
        )

    def _add_analysis(self, frame: pd.DataFrame, ok: np.ndarray, light: bool) -> None:
        """The ``light`` columns: values where computed, null at ``minimal`` and on errors."""
        for col in _LIGHT_COLUMNS:
            frame[col] = (
                pd.array(getattr(self, col), dtype="Int64")
                if light
                else pd.array([None] * len(frame), dtype="Int64")
            )
        types = np.asarray(TYPES, dtype=object)[self.type]
        frame["binary"] = (
            pd.array(self.type == TYPE_CODES["binary"], dtype="boolean")
            if light
            else pd.array([None] * len(frame), dtype="boolean")
        )
        frame["type"] = pd.Series(types, dtype="object") if light else None
        if light:
            frame.loc[~ok, [*_LIGHT_COLUMNS, "binary", "type"]] = None
