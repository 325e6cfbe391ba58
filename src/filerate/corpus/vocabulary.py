"""Words for synthetic text: fixed word lists and a seeded ``Picker`` that chooses from them.

The lists are part of the corpus's definition: changing one changes every generated file.
"""

from __future__ import annotations

import numpy as np


class Picker:
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


def ident(p: Picker) -> str:
    return f"{p(ADJS)}_{p(NOUNS)}"


def sentence(p: Picker) -> str:
    n1, n2 = p(NOUNS), p(NOUNS)
    forms = (
        f"The {p(ADJS)} {n1} is {PAST[p(VERBS)]} before each {n2} is {PAST[p(VERBS)]}.",
        f"Every {n1} keeps a {p(ADJS)} {n2} so that it can be {PAST[p(VERBS)]} later.",
        f"If the {n1} is {p(ADJS)}, the {n2} is {PAST[p(VERBS)]} again.",
        f"This {n1} was {PAST[p(VERBS)]} {p.num(2, 99)} times by the {p(ADJS)} {n2}.",
        f"Use `{p(VERBS)}_{n1}()` to {p(VERBS)} a {n2}.",
    )
    return p(forms)


def paragraph(p: Picker, lo: int = 2, hi: int = 5) -> str:
    return " ".join(sentence(p) for _ in range(p.num(lo, hi)))
