"""Numbers and units for people, said once: the HTML, the Markdown and the terminal all
format through here, so the same figure reads the same everywhere.

Sizes are decimal SI: kB = 10^3, MB = 10^6, GB = 10^9 bytes (as disks and networks are
sold, and as MB/s is everywhere in filerate). Settings named ``*_gb`` in the config are
GiB (2^30 bytes); shown here they are converted, never relabelled. Missing values read
"—"; negative numbers use a real minus sign.
"""

from __future__ import annotations

import math

MISSING = "—"
_SIZE_STEPS = ((1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB"))


def as_number(value) -> float | None:
    """A float, or None for missing, NaN, empty or non-numeric values."""
    if value is None or isinstance(value, bool):
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def _minus(text: str) -> str:
    return text.replace("-", "−")


def num(value, digits: int = 0, unit: str = "") -> str:
    """12,345 (thousands separators), with an optional unit after a space."""
    f = as_number(value)
    if f is None:
        return MISSING
    if not math.isfinite(f):
        return _minus(str(f))
    text = _minus(f"{f:,.{digits}f}")
    return f"{text} {unit}" if unit else text


def pct(value, digits: int = 0, signed: bool = False) -> str:
    """42 % (or +4.2 % with signed=True); the value is already a percentage."""
    f = as_number(value)
    if f is None:
        return MISSING
    text = f"{f:+,.{digits}f}" if signed else f"{f:,.{digits}f}"
    return _minus(text) + " %"


def rate(files_per_s, unit: str = "files/s") -> str:
    """Files per second, whole numbers: 95,108 files/s."""
    return num(files_per_s, 0, unit)


def short_rate(files_per_s) -> str:
    """A headline rate to three significant figures: 95.1K files/s, 1.23M files/s. The
    rate is rounded first and the unit picked after, so 999,600 reads 1.00M, not 1,000K."""
    f = as_number(files_per_s)
    if f is None:
        return MISSING
    if f:
        f = round(f, 2 - math.floor(math.log10(abs(f))))
    for scale, suffix in ((1e6, "M"), (1e3, "K")):
        if abs(f) >= scale:
            return f"{_sig3(f / scale)}{suffix} files/s"
    return f"{_sig3(f)} files/s"


def _sig3(x: float) -> str:
    digits = 0 if abs(x) >= 100 else 1 if abs(x) >= 10 else 2
    return _minus(f"{x:,.{digits}f}")


def interval(low, high, digits: int = 0) -> str:
    """[90,100–99,200]; missing ends read '—'."""
    return f"[{num(low, digits)}–{num(high, digits)}]"


def rate_ci(median, low, high) -> str:
    """95,108 files/s [90,100–99,200]: a median with its 95 % confidence interval."""
    if as_number(low) is None and as_number(high) is None:
        return rate(median)
    return f"{rate(median)} {interval(low, high)}"


def size(n_bytes, digits: int = 1) -> str:
    """Bytes in decimal units: 295.0 MB, 2.1 GB, 512 bytes."""
    f = as_number(n_bytes)
    if f is None:
        return MISSING
    for scale, unit in _SIZE_STEPS:
        if abs(f) >= scale:
            return num(f / scale, digits, unit)
    return num(f, 0, "bytes")


def mb_per_s(value, digits: int = 1) -> str:
    """A bandwidth already in MB/s (10^6 bytes per second)."""
    return num(value, digits, "MB/s")


def seconds(value, digits: int | None = None) -> str:
    """Seconds, with precision that fits the size: 0.0123 s, 1.23 s, 12.3 s, 123 s."""
    f = as_number(value)
    if f is None:
        return MISSING
    if digits is None:
        a = abs(f)
        digits = 4 if a < 0.1 else 2 if a < 10 else 1 if a < 100 else 0
    return num(f, digits, "s")


def ratio(value, digits: int = 2) -> str:
    """A speed-up or fraction: 1.85×."""
    f = as_number(value)
    return MISSING if f is None else num(f, digits) + "×"


def sig(value, digits: int = 4) -> str:
    """A measured value of any size to ``digits`` significant figures: 0.01235; whole
    numbers are never rounded: 12,345."""
    f = as_number(value)
    if f is None:
        return MISSING
    if f == 0 or not math.isfinite(f):
        return num(f, 0)
    places = max(0, digits - 1 - math.floor(math.log10(abs(f))))
    return num(round(f, places), places)


def gib_setting(gib) -> str:
    """A ``*_gb`` config setting (GiB, 2^30 bytes) converted to decimal units, the setting
    after it: 2.1 GB (2 GiB)."""
    f = as_number(gib)
    if f is None:
        return MISSING
    return f"{size(f * (1 << 30))} ({f:g} GiB)"  # the setting as it was written
