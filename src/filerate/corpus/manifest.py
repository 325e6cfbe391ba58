"""The manifest: one row of ground truth per corpus file (from filerate.reference), its
``path`` display form and a digest that identifies a corpus's contents."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from filerate import reference

MANIFEST_COLUMNS = (
    "path",
    "path_raw",
    "bytes",
    "type",
    "xxh3",
    "lines",
    "words",
    "non_ascii",
    "binary",
    "dup_group",
    "near_dup_group",
)
_INT_COLUMNS = ("bytes", "lines", "words", "non_ascii", "dup_group", "near_dup_group")


class Rows:
    """Manifest columns, filled one file at a time."""

    def __init__(self):
        self.cols: dict[str, list] = {c: [] for c in MANIFEST_COLUMNS}

    def add(self, rel: bytes, data: bytes, dup: int = -1, near: int = -1) -> None:
        t = reference.truth(data, rel)
        c = self.cols
        c["path"].append(display_path(rel))
        c["path_raw"].append(rel)
        for key in ("bytes", "type", "xxh3", "lines", "words", "non_ascii", "binary"):
            c[key].append(t[key])
        c["dup_group"].append(dup)
        c["near_dup_group"].append(near)

    def extend(self, other: dict[str, list]) -> None:
        for key, values in other.items():
            self.cols[key].extend(values)

    def __len__(self) -> int:
        return len(self.cols["path_raw"])

    def frame(self) -> pd.DataFrame:
        c = self.cols
        order = sorted(range(len(self)), key=c["path_raw"].__getitem__)
        data = {}
        for key in MANIFEST_COLUMNS:
            values = [c[key][i] for i in order]
            if key in _INT_COLUMNS:
                data[key] = np.array(values, dtype=np.int64)
            elif key == "binary":
                data[key] = np.array(values, dtype=bool)
            else:
                data[key] = pd.Series(values, dtype=object)
        return pd.DataFrame(data, columns=list(MANIFEST_COLUMNS))


def display_path(rel: bytes) -> str:
    """The manifest's ``path``: UTF-8, with undecodable bytes shown as ``\\xNN``."""
    return rel.decode("utf-8", "backslashreplace")


def manifest_digest(frame: pd.DataFrame) -> str:
    """sha256 over the manifest's rows sorted by path_raw, each encoded as
    ``path_raw NUL xxh3 NUL decimal-bytes LF`` (a path cannot hold NUL). Stable across runs,
    independent of row order and of the other columns."""
    h = hashlib.sha256()
    rows = sorted(zip(frame["path_raw"], frame["xxh3"], frame["bytes"], strict=True))
    for path_raw, xxh3, size in rows:
        h.update(b"%s\0%s\0%d\n" % (bytes(path_raw), xxh3.encode(), int(size)))
    return h.hexdigest()
