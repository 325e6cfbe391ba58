"""``filerate corpus``: generate (or sample) a corpus and its ground-truth manifest.

Output, in ``DIR`` (see docs/DATA.md)::

    DIR/files/             the tree
    DIR/manifest.parquet   one row of ground truth per file (filerate.reference), sorted by path_raw
    DIR/corpus.json        what was made, how long it took, and a digest of the manifest

Two sources:

- ``synthetic``: a deterministic project-like tree from ``seed`` (same settings give
  byte-identical files and manifest). Mostly Python, plus Markdown, JSON, text, logs, CSV,
  a few config files and binary files; lognormal sizes; empty files, non-ASCII UTF-8 text,
  planted exact duplicates (``dup_group``) and near-duplicates (``near_dup_group``).
- ``directory``: ``files`` regular files sampled with ``seed`` from a real tree (all of them
  if it has fewer), copied in with their relative paths. Symlinks are never followed;
  unreadable entries are skipped and listed.

A run first removes the old output in DIR (corpus.json and manifest.parquet first, so a
crash never leaves a complete-looking corpus), writes the tree into a temporary sibling
(``DIR/.files.partial-PID``) that is renamed to ``DIR/files`` when complete, and writes
the manifest and corpus.json atomically last.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import multiprocessing
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from filerate import atomic, reference
from filerate import config as cfg
from filerate.errors import UserError

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

#: (content pool, extension, share of the non-binary files). The shares sum to 1.
CATEGORIES = (
    ("python", b".py", 0.595),
    ("python", b".PY", 0.005),  # upper case: type "other" (extensions are case-sensitive)
    ("markdown", b".md", 0.10),
    ("json", b".json", 0.07),
    ("text", b".txt", 0.07),
    ("log", b".log", 0.07),
    ("csv", b".csv", 0.06),
    ("config", b".toml", 0.01),
    ("config", b".cfg", 0.008),
    ("config", b".yaml", 0.007),
    ("config", b"", 0.005),  # no extension
)
POOLS = ("python", "markdown", "json", "text", "log", "csv", "config", "binary")
BINARY_EXT = b".bin"
SUBDIRS_PER_PACKAGE = 10
POOL_BYTES = 512 * 1024  # per ASCII pool; the non-ASCII pools are half of it
SKIPPED_LIST_MAX = 100
PROGRESS_AFTER_S = 2.0
PARALLEL_MIN_FILES = 5000
CHUNK_FILES = 2500
MAX_PROCESSES = 8  # default cap on worker processes for synthetic generation


# --------------------------------------------------------------------------- content pools


class _Picker:
    """Deterministic choices from a numpy Generator, drawn in batches (fast, reproducible)."""

    def __init__(self, rng: np.random.Generator, batch: int = 1 << 16):
        self._rng = rng
        self._batch = batch
        self._vals: list[int] = []
        self._pos = 0

    def int(self, n: int) -> int:
        """An integer in [0, n)."""
        if self._pos == len(self._vals):
            self._vals = self._rng.integers(0, 1 << 40, size=self._batch).tolist()
            self._pos = 0
        v = self._vals[self._pos]
        self._pos += 1
        return v % n

    def __call__(self, seq):
        return seq[self.int(len(seq))]

    def num(self, lo: int, hi: int) -> int:
        """An integer in [lo, hi]."""
        return lo + self.int(hi - lo + 1)


NOUNS = (
    "value",
    "item",
    "record",
    "buffer",
    "config",
    "path",
    "result",
    "count",
    "index",
    "batch",
    "worker",
    "task",
    "file",
    "node",
    "cache",
    "stream",
    "queue",
    "token",
    "frame",
    "entry",
    "chunk",
    "metric",
    "sample",
    "report",
    "request",
    "session",
    "user",
    "event",
    "payload",
    "signal",
    "schema",
    "table",
    "column",
    "row",
    "header",
    "option",
    "handle",
    "target",
)
VERBS = (
    "compute",
    "load",
    "parse",
    "read",
    "write",
    "update",
    "build",
    "check",
    "merge",
    "filter",
    "scan",
    "render",
    "fetch",
    "encode",
    "decode",
    "split",
    "collect",
    "resolve",
    "validate",
    "normalise",
    "flush",
    "select",
    "format",
    "store",
)
PAST = {
    "compute": "computed",
    "load": "loaded",
    "parse": "parsed",
    "read": "read",
    "write": "written",
    "update": "updated",
    "build": "built",
    "check": "checked",
    "merge": "merged",
    "filter": "filtered",
    "scan": "scanned",
    "render": "rendered",
    "fetch": "fetched",
    "encode": "encoded",
    "decode": "decoded",
    "split": "split",
    "collect": "collected",
    "resolve": "resolved",
    "validate": "validated",
    "normalise": "normalised",
    "flush": "flushed",
    "select": "selected",
    "format": "formatted",
    "store": "stored",
}
ADJS = (
    "total",
    "raw",
    "cached",
    "pending",
    "active",
    "sorted",
    "local",
    "remote",
    "partial",
    "default",
    "last",
    "next",
    "max",
    "min",
    "mean",
    "stale",
    "valid",
    "empty",
    "large",
    "small",
)
SUFFIXES = (
    "Loader",
    "Manager",
    "Parser",
    "Writer",
    "Reader",
    "Handler",
    "Builder",
    "Cache",
    "Client",
    "Store",
    "Runner",
    "Scanner",
    "Queue",
    "Pool",
)
USERS = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy")
CITIES = ("London", "Paris", "Berlin", "Madrid", "Oslo", "Boston", "Denver", "Lima", "Cairo")
STATUS = ("ok", "ok", "ok", "pending", "failed", "retry", "done")
LEVELS = ("INFO", "INFO", "INFO", "INFO", "DEBUG", "DEBUG", "WARN", "ERROR")
EXCEPTIONS = ("ValueError", "KeyError", "TimeoutError", "OSError", "RuntimeError")
UNICODE = (
    "café",
    "naïve",
    "Größe",
    "über",
    "façade",
    "señal",
    "Zürich",
    "São Paulo",
    "Ærø",
    "crème brûlée",
    "déjà vu",
    "Übersicht",
    "日本語",
    "東京",
    "データ処理",
    "Привет",
    "données",
    "résumé",
    "😀",
    "🚀",
    "✓",
    "→",
    "—",
    "€ 12,50",
    "± 3 µs",
    "21 °C",
    "naïveté",
    "Ελληνικά",
)
UNI_CITIES = ("Zürich", "München", "Kraków", "São Paulo", "東京", "Reykjavík", "Malmö")
UNI_USERS = ("josé", "zoë", "søren", "françois", "björn", "jürgen", "ana-maría", "たろう")


def _ident(p: _Picker) -> str:
    return f"{p(ADJS)}_{p(NOUNS)}"


def _sentence(p: _Picker) -> str:
    n1, n2 = p(NOUNS), p(NOUNS)
    forms = (
        f"The {p(ADJS)} {n1} is {PAST[p(VERBS)]} before each {n2} is {PAST[p(VERBS)]}.",
        f"Every {n1} keeps a {p(ADJS)} {n2} so that it can be {PAST[p(VERBS)]} later.",
        f"If the {n1} is {p(ADJS)}, the {n2} is {PAST[p(VERBS)]} again.",
        f"This {n1} was {PAST[p(VERBS)]} {p.num(2, 99)} times by the {p(ADJS)} {n2}.",
        f"Use `{p(VERBS)}_{n1}()` to {p(VERBS)} a {n2}.",
    )
    return p(forms)


def _paragraph(p: _Picker, lo: int = 2, hi: int = 5) -> str:
    return " ".join(_sentence(p) for _ in range(p.num(lo, hi)))


def _python_block(p: _Picker) -> str:
    verb, noun, other = p(VERBS), p(NOUNS), p(NOUNS)
    a, b = p(NOUNS), p(ADJS)
    k = p.int(6)
    if k == 0:
        return (
            f"def {verb}_{noun}({other}s, limit={p.num(1, 500)}):\n"
            f'    """{verb.capitalize()} the {p(ADJS)} {noun} of each {other}."""\n'
            f"    {noun}s = []\n"
            f"    for {other} in {other}s:\n"
            f"        if {other}.{a} > limit:\n"
            f"            {noun}s.append({other}.{a} * {p.num(2, 9)})\n"
            f"    return sum({noun}s)\n\n\n"
        )
    if k == 1:
        cls = f"{noun.capitalize()}{p(SUFFIXES)}"
        return (
            f"class {cls}:\n"
            f'    """A {p(ADJS)} {noun} {p(SUFFIXES).lower()}."""\n\n'
            f"    def __init__(self, {a}, {b}={p.num(0, 1024)}):\n"
            f"        self.{a} = {a}\n"
            f"        self.{b} = {b}\n"
            f"        self._{other} = None\n\n"
            f"    def {verb}(self):\n"
            f"        if self._{other} is None:\n"
            f"            self._{other} = {p(VERBS)}_{other}(self.{a}, limit=self.{b})\n"
            f"        return self._{other}\n\n"
            f"    def __repr__(self):\n"
            f'        return f"{cls}({{self.{a}!r}})"\n\n\n'
        )
    if k == 2:
        return (
            f"def {verb}_{noun}({a}, {b}=None):\n"
            f"    try:\n"
            f"        {other} = {a}.{p(VERBS)}({b})\n"
            f"    except ({p(EXCEPTIONS)}, {p(EXCEPTIONS)}) as exc:\n"
            f'        raise RuntimeError(f"cannot {verb} {noun} {{{a}!r}}: {{exc}}") from exc\n'
            f"    return {other}\n\n\n"
        )
    if k == 3:
        return (
            f"{b.upper()}_{noun.upper()} = {p.num(0, 65536)}\n"
            f'{p(ADJS).upper()}_{other.upper()} = "{p(VERBS)}-{p(NOUNS)}"\n\n\n'
        )
    if k == 4:
        return (
            f"@{p(('staticmethod', 'functools.cache', 'property', 'contextlib.contextmanager'))}\n"
            f"def {verb}_{noun}(self, *{other}s, **options):\n"
            f"    # {_sentence(p)}\n"
            f"    options.setdefault({b!r}, {p.num(0, 100)})\n"
            f"    return {{{other}: options[{b!r}] for {other} in {other}s if {other}}}\n\n\n"
        )
    return (
        f"async def {verb}_{noun}(session, {a}_id: int, *, timeout: float = "
        f"{p.num(1, 60)}.0) -> dict:\n"
        f'    async with session.get(f"/api/{noun}s/{{{a}_id}}", timeout=timeout) as response:\n'
        f"        response.raise_for_status()\n"
        f"        data = await response.json()\n"
        f"    return {{key: data[key] for key in ({b!r}, {other!r}) if key in data}}\n\n\n"
    )


def _markdown_block(p: _Picker) -> str:
    title = f"{p(VERBS).capitalize()} the {p(ADJS)} {p(NOUNS)}"
    parts = [f"{'#' * p.num(2, 3)} {title}\n\n{_paragraph(p)}\n\n"]
    if p.int(2):
        parts.append("".join(f"- **{p(NOUNS)}**: {_sentence(p)}\n" for _ in range(p.num(2, 5))))
        parts.append("\n")
    if p.int(3) == 0:
        parts.append(f"```python\n{_python_block(p).rstrip()}\n```\n\n")
    if p.int(4) == 0:
        parts.append(f"| {p(NOUNS)} | {p(NOUNS)} | count |\n|---|---|---:|\n")
        parts.append(
            "".join(f"| {p(ADJS)} | {p(VERBS)} | {p.num(0, 999)} |\n" for _ in range(p.num(2, 4)))
        )
        parts.append("\n")
    return "".join(parts)


def _json_block(p: _Picker) -> str:
    return (
        f'  {{"id": {p.num(1, 999999)}, "name": "{p(NOUNS)}_{p.num(0, 999)}", '
        f'"{p(ADJS)}": {p.num(0, 99999) / 100:.2f}, "active": {p(("true", "false"))}, '
        f'"owner": "{p(USERS)}", "tags": ["{p(ADJS)}", "{p(NOUNS)}"]}},\n'
    )


def _text_block(p: _Picker) -> str:
    return _paragraph(p, 3, 7) + "\n\n"


def _stamp(p: _Picker, t: list) -> str:
    """The next timestamp of a log whose clock (ms) is ``t[0]``."""
    t[0] += p.num(1, 4000)
    ms = t[0]
    return (
        f"2024-{1 + ms // 2_678_400_000 % 12:02d}-{1 + ms // 86_400_000 % 28:02d}T"
        f"{ms // 3_600_000 % 24:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}."
        f"{ms % 1000:03d}Z"
    )


def _log_block(p: _Picker, t: list) -> str:
    stamp = _stamp(p, t)
    level = p(LEVELS)
    line = (
        f"{stamp} {level:<5} [worker-{p.int(16)}] {PAST[p(VERBS)]} {p.num(1, 5000)} "
        f"{p(NOUNS)}s in {p.num(1, 99999) / 100:.2f} ms user={p(USERS)}\n"
    )
    if level == "ERROR":
        line += (
            f"Traceback (most recent call last):\n"
            f'  File "/srv/app/{p(NOUNS)}.py", line {p.num(1, 900)}, in {p(VERBS)}_{p(NOUNS)}\n'
            f"{p(EXCEPTIONS)}: cannot {p(VERBS)} {p(NOUNS)} {p.num(1, 9999)}\n"
        )
    return line


def _csv_block(p: _Picker) -> str:
    return (
        f"{p.num(1, 9999999)},2024-{p.num(1, 12):02d}-{p.num(1, 28):02d} "
        f"{p.num(0, 23):02d}:{p.num(0, 59):02d}:{p.num(0, 59):02d},{p(USERS)},"
        f"{p(CITIES)},{p.num(0, 10_000_000) / 100:.2f},{p(STATUS)}\n"
    )


def _config_block(p: _Picker) -> str:
    lines = [f"[{p(NOUNS)}.{p(ADJS)}]\n"]
    for _ in range(p.num(2, 6)):
        key = _ident(p)
        val = p(
            (
                f"{p.num(0, 9999)}",
                f'"{p(VERBS)}-{p(NOUNS)}"',
                p(("true", "false")),
                f"{p.num(0, 999) / 10:.1f}",
            )
        )
        lines.append(f"{key} = {val}\n")
    lines.append("\n")
    return "".join(lines)


def _unicode_line(kind: str, p: _Picker, t: list) -> str:
    """A line with non-ASCII UTF-8 that fits the type (it starts each non-ASCII block)."""
    u1, u2 = p(UNICODE), p(UNICODE)
    if kind == "python":
        return f"# {u1} {p(NOUNS)} {u2}\n"
    if kind == "markdown":
        return f"> {u1}: {p(ADJS)} {p(NOUNS)} {u2}\n\n"
    if kind == "json":
        return f'  {{"note": "{u1} {u2}", "city": "{p(UNI_CITIES)}"}},\n'
    if kind == "text":
        return f"{u1} — {p(ADJS)} {p(NOUNS)} {u2}.\n"
    if kind == "log":
        return f'{_stamp(p, t)} INFO  [worker-{p.int(16)}] user={p(UNI_USERS)} msg="{u1} {u2}"\n'
    if kind == "csv":
        return (
            f"{p.num(1, 9999999)},2024-{p.num(1, 12):02d}-{p.num(1, 28):02d} 12:00:00,"
            f"{p(UNI_USERS)},{p(UNI_CITIES)},{p.num(0, 100000) / 100:.2f},{p(STATUS)}\n"
        )
    return f"# {u1} {u2}\n"


def _header(kind: str, stem: str, unicode: bool) -> bytes:
    """Each file starts with a header naming it, so no two generated files are identical."""
    u = " — données 日本語" if unicode else ""
    if kind == "python":
        text = f'"""{stem}: generated module{u}."""\n\nimport os\nimport sys\n\n\n'
    elif kind == "markdown":
        text = f"# {stem}{u}\n\n"
    elif kind == "json":
        text = f'{{"name": "{stem}{u}", "records": [\n'
    elif kind == "text":
        text = f"{stem}{u}\n\n"
    elif kind == "log":
        text = f"2024-01-01T00:00:00.000Z INFO  [main] start {stem}{u}\n"
    elif kind == "csv":
        text = f"# {stem}{u}\nid,timestamp,user,city,amount,status\n"
    else:
        text = f"# {stem}{u}\n\n"
    return text.encode()


def _build_pool(kind: str, p: _Picker, target: int, unicode: bool) -> tuple[bytes, np.ndarray]:
    """A text pool of about ``target`` bytes and the offsets where its blocks start."""
    blocks: list[bytes] = []
    size = 0
    t = [0]
    make = {
        "python": _python_block,
        "markdown": _markdown_block,
        "json": _json_block,
        "text": _text_block,
        "csv": _csv_block,
        "config": _config_block,
        "log": lambda p: _log_block(p, t),
    }[kind]
    while size < target:
        block = make(p)
        if unicode:
            block = _unicode_line(kind, p, t) + block
        data = block.encode()
        blocks.append(data)
        size += len(data)
    starts = np.cumsum([0] + [len(b) for b in blocks[:-1]], dtype=np.int64)
    return b"".join(blocks), starts


def _trim_utf8(data: bytes) -> bytes:
    """Drop an incomplete UTF-8 sequence cut off at the end of ``data``."""
    n = len(data)
    for k in range(1, min(4, n) + 1):
        c = data[n - k]
        if c < 0x80:
            return data
        if c >= 0xC0:  # lead byte of a k-byte tail
            need = 2 if c < 0xE0 else 3 if c < 0xF0 else 4
            return data if need <= k else data[: n - k]
    return data


_ALNUM = np.zeros(256, dtype=bool)
for _c in b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ":
    _ALNUM[_c] = True
_ALNUM_CHARS = b"abcdefghijklmnopqrstuvwxyz0123456789"


# --------------------------------------------------------------------------- synthetic plan


class _Plan:
    """Everything about a synthetic corpus, drawn up front: file i's content is a pure
    function of the plan, so files can be built in any order or process."""

    def __init__(self, settings: dict):
        s = settings
        n = int(s["files"])
        rng = np.random.Generator(np.random.PCG64(int(s["seed"])))
        p = _Picker(rng)
        self.n = n
        self.pools: dict[tuple[str, bool], tuple[bytes, bytes, np.ndarray]] = {}
        for kind in POOLS[:-1]:
            for unicode in (False, True):
                pool, starts = _build_pool(kind, p, POOL_BYTES // (2 if unicode else 1), unicode)
                self.pools[(kind, unicode)] = (pool, pool + pool, starts)
        binpool = rng.bytes(POOL_BYTES)
        self.pools[("binary", False)] = (
            binpool,
            binpool + binpool,
            np.arange(0, POOL_BYTES, 64, dtype=np.int64),
        )

        # per-file draws, in a fixed order
        shares = np.array([c[2] for c in CATEGORIES])
        cat = np.searchsorted(np.cumsum(shares / shares.sum()), rng.random(n), side="right")
        self.cat = np.minimum(cat, len(CATEGORIES) - 1)
        mean, sigma = float(s["mean_bytes"]), float(s["sigma"])
        mu = math.log(mean) - sigma * sigma / 2  # lognormal mean = exp(mu + sigma^2/2)
        sizes = np.rint(rng.lognormal(mu, sigma, n))
        self.size = np.clip(sizes, 1, int(s["max_bytes"])).astype(np.int64)
        self.empty = rng.random(n) < float(s["empty_rate"])
        self.binary = (rng.random(n) < float(s["binary_rate"])) & ~self.empty
        self.unicode = (rng.random(n) < float(s["non_ascii_rate"])) & ~self.binary
        self.u_off = rng.random(n)
        self.size[self.empty] = 0

        # planted copies: originals and copies are distinct non-empty files
        self.orig = np.full(n, -1, dtype=np.int64)  # index of the file a copy is made from
        self.dup_group = np.full(n, -1, dtype=np.int64)
        self.near_group = np.full(n, -1, dtype=np.int64)
        candidates = np.flatnonzero(~self.empty)
        n_dup = int(round(float(s["duplicate_rate"]) * n))
        n_near = int(round(float(s["near_duplicate_rate"]) * n))
        g_dup, g_near = math.ceil(n_dup / 1.5), math.ceil(n_near / 1.5)
        need = n_dup + n_near + g_dup + g_near
        if need > len(candidates):  # extreme rates on a tiny corpus: scale down
            scale = len(candidates) / need
            n_dup, n_near = int(n_dup * scale), int(n_near * scale)
            g_dup = min(n_dup, math.ceil(n_dup / 1.5))
            g_near = min(n_near, math.ceil(n_near / 1.5))
        chosen = rng.permutation(candidates)
        cuts = np.cumsum([g_dup, g_near, n_dup, n_near])
        orig_dup, orig_near = chosen[: cuts[0]], chosen[cuts[0] : cuts[1]]
        copy_dup, copy_near = chosen[cuts[1] : cuts[2]], chosen[cuts[2] : cuts[3]]
        for originals, copies, groups in (
            (orig_dup, copy_dup, self.dup_group),
            (orig_near, copy_near, self.near_group),
        ):
            g = len(originals)
            if not g:
                continue
            # every group gets at least one copy; the rest land at random
            which = np.concatenate(
                [np.arange(min(g, len(copies))), rng.integers(0, g, size=max(0, len(copies) - g))]
            )
            groups[originals] = np.arange(g)
            groups[copies] = which
            self.orig[copies] = originals[which]
        self.near_mods = rng.random((n, 9))  # changes of near copies (only their rows are used)
        self.near_copy = np.zeros(n, dtype=bool)
        self.near_copy[copy_near] = True
        self.planted = {
            "duplicate_copies": len(copy_dup),
            "dup_groups": len(orig_dup),
            "near_duplicate_copies": len(copy_near),
            "near_dup_groups": len(orig_near),
        }

        # a copy looks like its original: same extension, pool, flags and size
        src = np.where(self.orig >= 0, self.orig, np.arange(n))
        for arr in (self.cat, self.size, self.empty, self.binary, self.unicode, self.u_off):
            arr[:] = arr[src]

        # paths: pkg_NNNN/mod_NN/name_NNNNNN.ext, about files_per_dir files per leaf directory
        per_dir = int(s["files_per_dir"])
        leaves = (n + per_dir - 1) // per_dir
        wp = max(4, len(str(max(0, leaves - 1) // SUBDIRS_PER_PACKAGE)))
        self._wf = max(6, len(str(n - 1)))
        self.leaf_dirs = [
            f"pkg_{d // SUBDIRS_PER_PACKAGE:0{wp}d}/mod_{d % SUBDIRS_PER_PACKAGE:02d}".encode()
            for d in range(leaves)
        ]
        self.per_dir = per_dir

    def stem(self, i: int) -> str:
        return f"name_{i:0{self._wf}d}"

    def rel_path(self, i: int) -> bytes:
        ext = BINARY_EXT if self.binary[i] else CATEGORIES[self.cat[i]][1]
        return b"%s/%s%s" % (self.leaf_dirs[i // self.per_dir], self.stem(i).encode(), ext)

    def content(self, i: int) -> bytes:
        size = int(self.size[i])
        if size == 0:
            return b""
        j = int(self.orig[i]) if self.orig[i] >= 0 else i
        data = self._base(j, size)
        if self.near_copy[i]:
            data = self._perturb(data, self.near_mods[i], bool(self.binary[i]))
        return data

    def _base(self, j: int, size: int) -> bytes:
        if self.binary[j]:
            kind, unicode = "binary", False
            header = b"\0asm\x01\0\0\0" + self.stem(j).encode() + b"\0"
        else:
            kind, unicode = CATEGORIES[self.cat[j]][0], bool(self.unicode[j])
            header = _header(kind, self.stem(j), unicode)
        pool, doubled, starts = self.pools[(kind, unicode)]
        body = size - len(header)
        if body <= 0:
            data = header[:size]
        else:
            off = int(starts[int(self.u_off[j] * len(starts))])
            if body <= len(pool):
                data = header + doubled[off : off + body]
            else:  # larger than the pool: repeat it
                reps = body // len(pool) + 2
                data = header + (pool * reps)[off : off + body]
        if kind != "binary":  # text ends with a newline and is valid UTF-8
            data = (_trim_utf8(data[:-1]) if unicode else data[:-1]) + b"\n"
        return data

    @staticmethod
    def _perturb(data: bytes, u: np.ndarray, binary: bool) -> bytes:
        """Change 1-4 bytes at distinct positions (keeping text text and binary binary)."""
        arr = np.frombuffer(data, dtype=np.uint8)
        cand = np.flatnonzero(arr != 0) if binary else np.flatnonzero(_ALNUM[arr])
        out = bytearray(data)
        if len(cand) == 0:
            out[0] ^= 1 if out[0] != 1 else 2
            return bytes(out)
        used = set()
        for k in range(1 + int(u[0] * 4)):
            pos = int(cand[int(u[1 + 2 * k] * len(cand))])
            if pos in used:
                continue
            used.add(pos)
            old = out[pos]
            if binary:
                new = 1 + int(u[2 + 2 * k] * 255)
                out[pos] = new if new != old else new % 255 + 1
            else:
                new = _ALNUM_CHARS[int(u[2 + 2 * k] * len(_ALNUM_CHARS))]
                out[pos] = (
                    new
                    if new != old
                    else _ALNUM_CHARS[(_ALNUM_CHARS.index(new) + 1) % len(_ALNUM_CHARS)]
                )
        return bytes(out)


# --------------------------------------------------------------------------- writing


_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def _write_file(path: bytes, data: bytes) -> None:
    fd = os.open(path, _WRITE_FLAGS, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def _read_file(path: bytes) -> bytes:
    fd = os.open(path, _READ_FLAGS)
    try:
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks)


class _Rows:
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
            if key in ("bytes", "lines", "words", "non_ascii", "dup_group", "near_dup_group"):
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


class _Progress:
    """A line on stderr every ~10%, once the run has taken more than a couple of seconds."""

    def __init__(self, name: str, total: int, verb: str = ""):
        self.name, self.total, self.verb = name, total, verb
        self.start = time.perf_counter()
        self.next_step = 1

    def update(self, done: int) -> None:
        step = done * 10 // max(1, self.total)
        if step >= self.next_step:
            self.next_step = step + 1
            if time.perf_counter() - self.start >= PROGRESS_AFTER_S and done < self.total:
                print(
                    f"corpus {self.name}: {done}/{self.total} files{self.verb}",
                    file=sys.stderr,
                    flush=True,
                )


_PLAN: _Plan | None = None  # the plan a forked worker builds from


def _synthetic_chunk(task: tuple[bytes, int, int]) -> dict[str, list]:
    root, start, stop = task
    plan = _PLAN
    rows = _Rows()
    for i in range(start, stop):
        rel = plan.rel_path(i)
        data = plan.content(i)
        _write_file(root + b"/" + rel, data)
        rows.add(rel, data, int(plan.dup_group[i]), int(plan.near_group[i]))
    return rows.cols


def _default_processes(n: int) -> int:
    if n < PARALLEL_MIN_FILES or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return max(1, min(MAX_PROCESSES, cfg.usable_cpus()))


def _generate_synthetic(name: str, settings: dict, tmp: Path, processes: int | None) -> tuple:
    global _PLAN
    plan = _Plan(settings)
    root = os.fsencode(tmp)
    for leaf in plan.leaf_dirs:
        os.makedirs(root + b"/" + leaf, exist_ok=True)
    n = plan.n
    tasks = [(root, a, min(n, a + CHUNK_FILES)) for a in range(0, n, CHUNK_FILES)]
    processes = processes or _default_processes(n)
    if "fork" not in multiprocessing.get_all_start_methods():
        processes = 1  # workers inherit the plan by fork
    processes = max(1, min(processes, len(tasks)))
    progress = _Progress(name, n)
    rows = _Rows()
    _PLAN = plan
    try:
        if processes == 1:
            results = map(_synthetic_chunk, tasks)
            for cols in results:
                rows.extend(cols)
                progress.update(len(rows))
        else:
            with multiprocessing.get_context("fork").Pool(processes) as pool:
                for cols in pool.imap(_synthetic_chunk, tasks):
                    rows.extend(cols)
                    progress.update(len(rows))
    finally:
        _PLAN = None
    extra = {"planted": plan.planted, "processes": processes}
    return rows, extra


# --------------------------------------------------------------------------- directory mode


def _walk(root: bytes, exclude: set) -> tuple[list[bytes], int, list[tuple[bytes, str]]]:
    """Regular files under ``root`` (relative, sorted by bytes), symlinks seen, skipped."""
    files: list[bytes] = []
    skipped: list[tuple[bytes, str]] = []
    symlinks = 0
    stack = [b""]
    while stack:
        rel_dir = stack.pop()
        try:
            it = os.scandir(root + b"/" + rel_dir if rel_dir else root)
        except OSError as exc:
            skipped.append((rel_dir or b".", f"cannot list directory: {exc.strerror}"))
            continue
        with it:
            for entry in it:
                rel = rel_dir + b"/" + entry.name if rel_dir else entry.name
                try:
                    if entry.is_symlink():
                        symlinks += 1
                    elif entry.is_dir(follow_symlinks=False):
                        st = entry.stat(follow_symlinks=False)
                        if (st.st_dev, st.st_ino) not in exclude:
                            stack.append(rel)
                    elif entry.is_file(follow_symlinks=False):
                        files.append(rel)
                    else:
                        skipped.append((rel, "not a regular file"))
                except OSError as exc:
                    skipped.append((rel, exc.strerror or str(exc)))
    files.sort()
    return files, symlinks, skipped


def _generate_directory(name: str, settings: dict, tmp: Path, out: Path) -> tuple:
    src = os.fsencode(os.path.abspath(settings["path"]))
    if not os.path.isdir(src):
        raise cfg.ConfigError(
            f"config: corpora.{name}.path = {settings['path']!r}: must be an existing directory"
        )
    exclude = set()
    for d in (out, tmp):
        st = os.stat(d)
        exclude.add((st.st_dev, st.st_ino))
    candidates, symlinks, skipped = _walk(src, exclude)
    want = int(settings["files"])
    rng = np.random.Generator(np.random.PCG64(int(settings["seed"])))
    order = rng.permutation(len(candidates)) if candidates else np.zeros(0, dtype=np.int64)
    root = os.fsencode(tmp)
    rows = _Rows()
    made_dirs = {b""}
    unreadable = 0
    progress = _Progress(name, min(want, len(candidates)), " copied")
    for k in order:
        if len(rows) >= want:
            break
        rel = candidates[int(k)]
        try:
            data = _read_file(src + b"/" + rel)
        except OSError as exc:
            skipped.append((rel, f"cannot read: {exc.strerror or exc}"))
            unreadable += 1
            continue
        parent = rel.rpartition(b"/")[0]
        if parent not in made_dirs:
            os.makedirs(root + b"/" + parent, exist_ok=True)
            made_dirs.add(parent)
        _write_file(root + b"/" + rel, data)
        rows.add(rel, data)
        progress.update(len(rows))
    if not len(rows):
        raise cfg.ConfigError(
            f"config: corpora.{name}.path = {settings['path']!r}: holds no readable regular files"
        )
    skipped.sort()
    extra = {
        "source_path": settings["path"],
        "requested_files": want,
        "candidates": len(candidates),
        # every readable regular file of the tree is in the corpus (none left out by sampling)
        "all_files_used": len(rows) + unreadable == len(candidates),
        "symlinks_skipped": symlinks,
        "skipped_count": len(skipped),
        "skipped": [{"path": display_path(p), "reason": r} for p, r in skipped[:SKIPPED_LIST_MAX]],
    }
    if len(rows) < want:
        extra["note"] = (
            f"the tree has only {len(rows)} readable regular files "
            f"(fewer than the {want} requested): all of them are used"
        )
    return rows, extra


# --------------------------------------------------------------------------- API and CLI


def fill_settings(name: str, settings: dict) -> dict:
    """Validate one corpus's settings and fill the schema's defaults (raises ConfigError)."""
    conf = cfg.validate({"corpora": {name: dict(settings)}, "phases": {"p": {"corpus": name}}})
    return conf["corpora"][name]


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _clear_old_output(out: Path) -> None:
    """Remove what a previous run (complete or crashed) left in ``out``; nothing else."""
    for name in ("corpus.json", "manifest.parquet"):  # first: no complete-looking leftovers
        (out / name).unlink(missing_ok=True)
    for entry in out.iterdir():
        if entry.name.startswith(".files."):
            _remove(entry)
    files = out / "files"
    if files.exists() or files.is_symlink():
        trash = out / f".files.old-{os.getpid()}"
        os.rename(files, trash)
        _remove(trash)


def generate(
    name: str, settings: dict, out_dir: str | os.PathLike, processes: int | None = None
) -> dict:
    """Make corpus ``name`` in ``out_dir`` and return its corpus.json record.

    ``settings`` is one entry of the config's ``corpora`` (missing keys take the schema's
    defaults). ``processes`` (synthetic only) sets the worker processes; the output is
    identical for any value. Raises ``filerate.config.ConfigError`` for bad settings.
    """
    start = time.perf_counter()
    settings = fill_settings(name, settings)
    out = Path(out_dir).absolute()
    if settings["source"] == "directory":
        src = Path(settings["path"]).resolve()
        if src == out.resolve() or out.resolve() in src.parents:
            raise cfg.ConfigError(
                f"config: corpora.{name}.path = {settings['path']!r} is "
                f"inside the output directory {out}; choose another --out"
            )
    out.mkdir(parents=True, exist_ok=True)
    _clear_old_output(out)
    tmp = out / f".files.partial-{os.getpid()}"
    tmp.mkdir()
    try:
        if settings["source"] == "synthetic":
            rows, extra = _generate_synthetic(name, settings, tmp, processes)
        else:
            rows, extra = _generate_directory(name, settings, tmp, out)
        frame = rows.frame()
        os.rename(tmp, out / "files")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    atomic.write_parquet(out / "manifest.parquet", frame)
    seconds = time.perf_counter() - start
    total = int(frame["bytes"].sum())
    record = {
        "name": name,
        "source": settings["source"],
        "files": len(frame),
        "bytes": total,
        "seed": settings["seed"],
        "settings": settings,
        "seconds": round(seconds, 3),
        "files_per_s": round(len(frame) / seconds, 1),
        "mb_per_s": round(total / 1e6 / seconds, 2),
        "manifest_digest": manifest_digest(frame),
        "types": {k: int(v) for k, v in frame["type"].value_counts().sort_index().items()},
        "empty_files": int((frame["bytes"] == 0).sum()),
        "non_ascii_files": int((frame["non_ascii"] > 0).sum()),
        "binary_files": int(frame["binary"].sum()),
        "created_at": time.time(),
        **extra,
    }
    atomic.write_json(out / "corpus.json", record)
    return record


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "corpus",
        help="generate a synthetic corpus (or sample a real tree) and its ground-truth manifest",
        description=(
            "Make corpus CORPUS (an entry of the config's `corpora`) in DIR: DIR/files/ (the "
            "tree), DIR/manifest.parquet (ground truth per file: size, xxh3, lines, words, "
            "non-ASCII bytes, binary flag, type, planted duplicate groups; see docs/DATA.md) "
            "and DIR/corpus.json (counts, timing, manifest digest). A synthetic corpus is "
            "byte-identical for the same settings and seed; a directory corpus samples `files` "
            "regular files from `path` with `seed`, never following symlinks. Old output in "
            "DIR is replaced; a crash leaves no complete-looking corpus."
        ),
        epilog="example: filerate corpus --config config/config.yaml --name small "
        "--out results/corpus/small",
    )
    p.add_argument(
        "--config",
        default="config/config.yaml",
        metavar="FILE",
        help="YAML config (default: %(default)s)",
    )
    p.add_argument(
        "--settings",
        metavar="JSON",
        default=None,
        help="the corpus settings as JSON instead of reading them from --config "
        "(what the Snakemake rule passes, so config overrides reach this step)",
    )
    p.add_argument(
        "--name",
        required=True,
        metavar="CORPUS",
        help="which corpus of the config's `corpora` to make",
    )
    p.add_argument(
        "--out",
        metavar="DIR",
        default=None,
        help="output directory (default: results/corpus/CORPUS)",
    )
    p.add_argument(
        "--processes",
        type=int,
        default=None,
        metavar="N",
        help="worker processes for synthetic generation (default: one per usable CPU, at "
        "most 8, for 5,000+ files); the output is identical for any N",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:

    if args.settings:
        import json

        conf = {"corpora": {args.name: json.loads(args.settings)}}
    else:
        conf = cfg.load(args.config)
    if args.name not in conf["corpora"]:
        raise UserError(
            f"no corpus named {args.name!r} in {args.config}; "
            f"choose one of: {', '.join(conf['corpora'])}"
        )
    if args.processes is not None and args.processes < 1:
        raise UserError(f"--processes {args.processes}: must be >= 1")
    out = args.out or os.path.join("results", "corpus", args.name)
    rec = generate(args.name, conf["corpora"][args.name], out, processes=args.processes)
    print(
        f"corpus {rec['name']}: {rec['files']} files, {rec['bytes'] / 1e6:.1f} MB in "
        f"{rec['seconds']:.1f} s ({rec['files_per_s']:.0f} files/s) -> {out}"
    )
    return 0
