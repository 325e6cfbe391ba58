"""Which storage holds a path, and how busy its block device is.

- :func:`mount_of`: mount point, filesystem type and device number of the filesystem
  holding a path (from /proc/self/mountinfo; tmpfs, ramfs and other memory filesystems
  are flagged, since nothing on them can be evicted from the page cache).
- :func:`block_device`: the whole-disk block device (``vda``, ``nvme0n1``) behind a path,
  through /sys/dev/block; ``None`` for network, overlay and memory filesystems.
- :class:`DiskCounters`: /proc/diskstats counters of one device; :func:`rates` turns two
  samples into reads/s, MB/s, busy % and the average queue depth (as ``iostat -x``).
- :func:`storage_verdict`: the rule "CPUs idle while the device is busy → storage".
"""

from __future__ import annotations

import os
from dataclasses import dataclass

#: filesystems whose files live in memory: nothing can be evicted, reads are never cold
MEMORY_FS = frozenset({"tmpfs", "ramfs", "devtmpfs", "hugetlbfs"})
SECTOR = 512  # /proc/diskstats counts 512-byte sectors whatever the device's sector size


@dataclass(frozen=True)
class Mount:
    mount_point: str
    fs_type: str
    source: str
    dev: str  # "major:minor" of the filesystem (st_dev)

    @property
    def in_memory(self) -> bool:
        return self.fs_type in MEMORY_FS


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal (\\040 ...)."""
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and i + 3 < len(field) and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def parse_mountinfo(text: str) -> list[Mount]:
    mounts = []
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        parts, tail = left.split(), right.split()
        if not sep or len(parts) < 5 or len(tail) < 2:
            continue
        mounts.append(Mount(_unescape(parts[4]), tail[0], _unescape(tail[1]), parts[2]))
    return mounts


def mount_of(path: str | os.PathLike, mountinfo: str | None = None) -> Mount:
    """The mount holding ``path`` (the longest mount point that is a prefix of it)."""
    real = os.path.realpath(path)
    if mountinfo is None:
        try:
            with open("/proc/self/mountinfo") as fh:
                mountinfo = fh.read()
        except OSError:
            mountinfo = ""
    best = Mount("/", "unknown", "unknown", "0:0")
    for m in parse_mountinfo(mountinfo):
        mp = m.mount_point
        if (real == mp or real.startswith(mp.rstrip("/") + "/")) and len(mp) >= len(
            best.mount_point
        ):
            best = m
    return best


def block_device(path: str | os.PathLike) -> str | None:
    """Name of the whole disk holding ``path`` (a partition maps to its disk), or None."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    major, minor = os.major(st.st_dev), os.minor(st.st_dev)
    if major == 0:  # anonymous device: tmpfs, overlay, NFS, FUSE ...
        return None
    sys_dir = f"/sys/dev/block/{major}:{minor}"
    try:
        real = os.path.realpath(sys_dir)
    except OSError:
        return None
    if not os.path.isdir(real):
        return None
    if os.path.exists(os.path.join(real, "partition")):
        real = os.path.dirname(real)
    return os.path.basename(real)


@dataclass(frozen=True)
class DiskCounters:
    """Cumulative counters of one block device (Documentation/admin-guide/iostats.rst)."""

    reads: int
    sectors_read: int
    read_ms: int
    writes: int
    in_flight: int
    busy_ms: int  # time the device had at least one request in flight
    weighted_ms: int  # sum over requests of their time in flight (queue depth x time)


def parse_diskstats(text: str, device: str) -> DiskCounters | None:
    for line in text.splitlines():
        f = line.split()
        if len(f) >= 14 and f[2] == device:
            v = [int(x) for x in f[3:14]]
            return DiskCounters(v[0], v[2], v[3], v[4], v[8], v[9], v[10])
    return None


def read_counters(device: str | None) -> DiskCounters | None:
    if not device:
        return None
    try:
        with open("/proc/diskstats") as fh:
            return parse_diskstats(fh.read(), device)
    except OSError:
        return None


def rates(a: DiskCounters, b: DiskCounters, seconds: float) -> dict:
    """Per-second figures between two samples ``seconds`` apart."""
    if seconds <= 0:
        return {}
    ms = seconds * 1000.0
    return {
        "disk_reads_per_s": (b.reads - a.reads) / seconds,
        "disk_read_mb_per_s": (b.sectors_read - a.sectors_read) * SECTOR / 1e6 / seconds,
        "disk_busy_pct": min(100.0, (b.busy_ms - a.busy_ms) / ms * 100.0),
        "disk_queue": (b.weighted_ms - a.weighted_ms) / ms,  # iostat's aqu-sz
        "disk_in_flight": b.in_flight,
    }


#: thresholds of the storage rule: the device is busy and the CPUs are not
DEVICE_BUSY_PCT = 60.0
CPU_IDLE_BELOW_PCT = 60.0


def storage_verdict(window: dict) -> dict | None:
    """Is the block device the limit? ``window`` holds medians over a timed window:
    ``cpu_pct`` (all CPUs), ``iowait_pct``, ``disk_busy_pct``, ``disk_queue``,
    ``disk_reads_per_s``, ``disk_read_mb_per_s`` and ``threads`` (reader threads).
    Returns None without disk samples; otherwise the verdict with its evidence."""
    busy = window.get("disk_busy_pct")
    if busy is None or busy != busy:  # missing or NaN: no block device sampled
        return None
    cpu = window.get("cpu_pct", 0.0)
    limited = busy >= DEVICE_BUSY_PCT and cpu < CPU_IDLE_BELOW_PCT
    evidence = (
        f"device busy {busy:.0f} % of the time, queue {window.get('disk_queue', 0):.1f}, "
        f"{window.get('disk_reads_per_s', 0):,.0f} reads/s, "
        f"{window.get('disk_read_mb_per_s', 0):,.0f} MB/s; CPUs {cpu:.0f} % busy, "
        f"iowait {window.get('iowait_pct', 0):.0f} %"
    )
    out = {"storage_limited": limited, "evidence": evidence}
    if limited:
        threads = int(window.get("threads") or 0)
        more = max(2 * threads, 16)
        out["resource"] = "storage device"
        out["next_change"] = (
            f"more reader threads as queue depth (e.g. workers: {more}, not fewer): the CPUs "
            "wait on the device, and a deeper queue lets it serve requests in parallel"
        )
    return out
