"""Units, said once. Sizes in reports are MB = 10^6 bytes; memory settings in the config
(``*_gb``) are GiB = 2^30 bytes, as memory is sold and as the kernel counts it."""

from __future__ import annotations

MB = 1_000_000  # reports: MB/s, corpus sizes
GIB = 1 << 30  # config settings named *_gb (RAM-disk budget, free memory, GPU memory)
NS = 1e-9  # seconds per nanosecond


def gib_to_bytes(gib: float) -> int:
    """A config value in GiB (keys ending ``_gb``) as bytes."""
    return int(gib * GIB)
