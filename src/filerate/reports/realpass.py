"""One real pass over the corpus: what a user waits for the first time, not the steady
rate. Set-up (staging + cluster start-up + kernel warm-up, wall seconds) plus the corpus
read once at the steady median rate. One place, used by the first screen and the terminal."""

from __future__ import annotations

from filerate.fmt import as_number


def real_pass(files, rate, staging_s=None, startup_s=None, warmup_s=None) -> dict | None:
    """{'files', 'setup': {part: s}, 'seconds', 'files_per_s'}, or None where the rate is
    unknown; a missing set-up part counts as 0 s."""
    files, rate = as_number(files), as_number(rate)
    if not files or not rate:
        return None
    setup = {
        "staging": as_number(staging_s) or 0.0,
        "start-up": as_number(startup_s) or 0.0,
        "kernel warm-up": as_number(warmup_s) or 0.0,
    }
    seconds = sum(setup.values()) + files / rate
    return {"files": files, "setup": setup, "seconds": seconds, "files_per_s": files / seconds}
