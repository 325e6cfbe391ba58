"""Resource sampler: CPU, iowait, memory, process-tree RSS, context switches, RAM disk,
the block device holding the corpus (reads/s, MB/s, busy %, queue depth) and GPUs.

A background thread samples at ``hz`` (default 5) until stopped; NVML supplies per-GPU
utilisation, memory, temperature, power and SM clock where it is available, and the
reason it is not is kept in ``gpu_status``. Cumulative CPU seconds (the machine's busy
time, its steal time, and this process tree's time) let ``interference`` say how much
of the CPU something else used during a window.
"""

from __future__ import annotations

import os
import shutil
import threading
import time

import pandas as pd
import psutil

from filerate.engine import disk


class NvmlReader:
    """Per-GPU readings through NVML (the nvidia-ml-py package's ``pynvml`` module)."""

    def __init__(self):
        self.handles = []
        self.nvml = None
        self.status = "not tried"
        try:
            import pynvml

            pynvml.nvmlInit()
            self.nvml = pynvml
            self.handles = [
                pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())
            ]
            self.status = f"NVML ok, {len(self.handles)} GPU(s)"
        except Exception as exc:  # no library, no driver, no device
            self.status = f"NVML unavailable: {type(exc).__name__}: {exc}"

    def devices(self) -> list[dict]:
        out = []
        for h in self.handles:
            nv = self.nvml
            mem = nv.nvmlDeviceGetMemoryInfo(h)
            name = nv.nvmlDeviceGetName(h)
            out.append(
                {
                    "name": name.decode() if isinstance(name, bytes) else name,
                    "memory_bytes": int(mem.total),
                }
            )
        return out

    def driver(self) -> str | None:
        if not self.handles:
            return None
        v = self.nvml.nvmlSystemGetDriverVersion()
        return v.decode() if isinstance(v, bytes) else v

    def sample(self, row: dict) -> None:
        nv = self.nvml
        for i, h in enumerate(self.handles):
            p = f"gpu{i}_"
            row[p + "util_pct"] = _try(lambda h=h: nv.nvmlDeviceGetUtilizationRates(h).gpu)
            row[p + "mem_used_bytes"] = _try(lambda h=h: nv.nvmlDeviceGetMemoryInfo(h).used)
            row[p + "temp_c"] = _try(lambda h=h: nv.nvmlDeviceGetTemperature(h, 0))
            row[p + "power_w"] = _try(lambda h=h: nv.nvmlDeviceGetPowerUsage(h) / 1000)
            row[p + "sm_clock_mhz"] = _try(lambda h=h: nv.nvmlDeviceGetClockInfo(h, 1))


def cpu_seconds(tree_cpu_s: float) -> dict:
    """Cumulative CPU seconds over all CPUs: busy (not idle, iowait or steal), steal, and
    this process tree's (user + system; a child that exits takes its seconds with it)."""
    t = psutil.cpu_times()
    steal = getattr(t, "steal", 0.0)
    idle = t.idle + getattr(t, "iowait", 0.0)
    busy = sum(t) - idle - steal - getattr(t, "guest", 0.0) - getattr(t, "guest_nice", 0.0)
    return {"busy_cpu_s": busy, "steal_cpu_s": steal, "tree_cpu_s": tree_cpu_s}


def interference(frame: pd.DataFrame, start: float, stop: float, cpus: int) -> dict:
    """What else used the CPU between epoch ``start`` and ``stop``, in % of all CPUs:
    other processes (busy time not spent by this process tree) and steal time (a
    hypervisor running other guests). None where fewer than two samples fall inside."""
    cols = ("t", "busy_cpu_s", "steal_cpu_s", "tree_cpu_s")
    if frame.empty or any(c not in frame for c in cols):
        return {"others_cpu_pct": None, "steal_pct": None, "samples": 0}
    w = frame.loc[(frame["t"] >= start) & (frame["t"] <= stop), list(cols)].dropna()
    if len(w) < 2:
        return {"others_cpu_pct": None, "steal_pct": None, "samples": len(w)}
    d = w.iloc[-1] - w.iloc[0]
    capacity = d["t"] * max(1, cpus)
    others = max(0.0, d["busy_cpu_s"] - d["tree_cpu_s"]) / capacity * 100
    return {
        "others_cpu_pct": min(100.0, others),
        "steal_pct": d["steal_cpu_s"] / capacity * 100,
        "samples": len(w),
    }


def _try(read):
    try:
        return read()
    except Exception:
        return None


class DiskReader:
    """Per-interval rates of one block device and the machine's iowait share."""

    def __init__(self, device: str | None):
        self.device = device
        self.last = disk.read_counters(device)
        self.last_cpu = psutil.cpu_times()
        self.last_t = time.monotonic()

    def sample(self, row: dict) -> None:
        now, cpu, t = disk.read_counters(self.device), psutil.cpu_times(), time.monotonic()
        total = sum(cpu) - sum(self.last_cpu)
        iowait = getattr(cpu, "iowait", 0.0) - getattr(self.last_cpu, "iowait", 0.0)
        row["iowait_pct"] = iowait / total * 100 if total > 0 else 0.0
        if now is not None and self.last is not None:
            row.update(disk.rates(self.last, now, t - self.last_t))
        self.last, self.last_cpu, self.last_t = now, cpu, t


class Sampler:
    def __init__(self, ramdisk: str | None, hz: float = 5.0, device: str | None = None):
        """``device``: the block device (``vda``) to sample; None samples none."""
        self.period = 1.0 / hz
        self.ramdisk = ramdisk if ramdisk and os.path.isdir(ramdisk) else None
        self.disk = DiskReader(device)
        self.rows: list[dict] = []
        self.nvml = NvmlReader()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="filerate-sampler", daemon=True)
        self._me = psutil.Process()
        psutil.cpu_percent(percpu=True)  # prime the counters

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _tree(self):
        try:
            return [self._me, *self._me.children(recursive=True)]
        except psutil.Error:
            return [self._me]

    def _run(self) -> None:
        while not self._stop.is_set():
            t_next = time.monotonic() + self.period
            self.rows.append(self.sample())
            self._stop.wait(max(0.0, t_next - time.monotonic()))

    def sample(self) -> dict:
        per_cpu = psutil.cpu_percent(percpu=True)
        vm = psutil.virtual_memory()
        row = {"t": time.time(), "cpu_pct": sum(per_cpu) / max(1, len(per_cpu))}
        for i, v in enumerate(per_cpu):
            row[f"cpu{i}_pct"] = v
        row["mem_used_bytes"] = vm.total - vm.available
        row["mem_available_bytes"] = vm.available
        rss = ctx = 0
        tree_cpu = 0.0
        for proc in self._tree():
            try:
                with proc.oneshot():
                    rss += proc.memory_info().rss
                    c = proc.num_ctx_switches()
                    ctx += c.voluntary + c.involuntary
                    t = proc.cpu_times()
                    tree_cpu += t.user + t.system
            except psutil.Error:
                continue  # a worker that just exited
        row["tree_rss_bytes"] = rss
        row["ctx_switches"] = ctx
        row.update(cpu_seconds(tree_cpu))
        if self.ramdisk:
            row["ramdisk_used_bytes"] = shutil.disk_usage(self.ramdisk).used
        self.disk.sample(row)
        self.nvml.sample(row)
        return row

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows)
