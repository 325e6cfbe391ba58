"""A progress line for long corpus runs."""

from __future__ import annotations

import sys
import time

PROGRESS_AFTER_S = 2.0  # quiet for short runs (tests, small corpora)


class Progress:
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
