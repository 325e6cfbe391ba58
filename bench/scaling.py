"""files/s against the cores used, for filerate and for the floor, with CPU affinity set.

For n = 1, 2, 4, ... up to the CPUs this process may use (and that count itself), each
point runs in a child process pinned to the first n of them (``os.sched_setaffinity``
before exec, so every thread and every Dask worker inherits it; the CPUs are read back
with ``os.sched_getaffinity`` inside the floor's threads and inside the Dask workers and
recorded). filerate runs one phase (``filerate process``, backend cpu, n worker threads
in one process or, with --processes per-core, n processes; warm page cache, files read
in place on a tmpfs); the floor is the bare
compiled open/read/close loop on n threads (filerate.engine.floor). Scaling efficiency
is files/s at n / (n x files/s at 1).

    PYTHONPATH=src python bench/scaling.py --out DIR [--max-seconds 170] [--files 20000]

writes DIR/scaling.md, DIR/scaling.json and DIR/scaling.png. It needs no network and
nothing outside the package's dependencies; the repeats shrink to fit --max-seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()
WORKER_LAYOUT = {"one": "n threads in one process", "per-core": "n processes x 1 thread"}
SRC = HERE.parent.parent / "src"
MIN_POINT_S = 20.0  # seconds for one point (filerate and floor) at the least


def core_counts(available: int) -> list[int]:
    """1, 2, 4, ... below ``available``, then ``available`` itself."""
    out, n = [], 1
    while n < available:
        out.append(n)
        n *= 2
    return [*out, available]


def _pinned(cpus: list[int]):
    def pin():  # runs in the child before exec: everything it starts inherits the mask
        os.sched_setaffinity(0, cpus)

    return pin


def _env() -> dict:
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{path}" if path else str(SRC)}


def _run_child(args: list[str], cpus: list[int], timeout: float) -> subprocess.CompletedProcess:
    """The child's outcome; one that outlives ``timeout`` is killed and reported as an
    error of its point (the other points and the table still come out)."""
    try:
        return subprocess.run(
            [sys.executable, *args],
            preexec_fn=_pinned(cpus),
            env=_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(args, -1, "", f"timed out after {timeout:.0f} s")


def make_corpus(work: Path, files: int) -> tuple[Path, Path, float]:
    from filerate import corpus

    t0 = time.perf_counter()
    corpus.generate("scale", {"files": files, "seed": 7}, work / "corpus")
    return work / "corpus" / "manifest.parquet", work / "corpus" / "files", time.perf_counter() - t0


def repeat_settings(budget_s: float) -> dict:
    """Repeat keys for one measurement that should take about ``budget_s`` seconds."""
    min_repeat_s = min(1.0, max(0.2, budget_s / 8))
    return {
        "min_repeat_s": min_repeat_s,
        "min_repeats": 5,
        "max_repeats": 12,
        "ci_target_pct": 5.0,
        "max_phase_s": max(budget_s - min_repeat_s, 5 * min_repeat_s),
    }


def phase_settings(n: int, args, budget_s: float) -> dict:
    """One phase on n cores: n worker threads in one process (the floor's layout, and the
    faster mapping for this engine: docs/PERFORMANCE.md), or n processes x 1 thread."""
    from filerate import config as cfg

    files, batch_size, analysis = args.files, args.batch_size, args.analysis
    phase = {
        "corpus": "scale",
        "backend": "cpu",
        "workers": n,
        "processes": 1 if args.processes == "one" else n,
        "batch_size": batch_size,
        "analysis": analysis,
        "staging": False,
        "warmup": 1,
        "floor": False,  # measured on its own, below, with the same threads
        "task_layout": args.task_layout,
        **repeat_settings(budget_s),
    }
    config = cfg.validate({"corpora": {"scale": {"files": files}}, "phases": {"scale": phase}}, n)
    return cfg.phases(config, n)["scale"]


def measure_filerate(n, cpus, manifest, data, out, settings, timeout) -> dict:
    args = ["-m", "filerate", "process", "--settings", json.dumps(settings)]
    args += ["--manifest", str(manifest), "--data-dir", str(data), "--out", str(out)]
    proc = _run_child(args, cpus, timeout)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1:] or ["no output"]}
    run = json.loads((out / "run.json").read_text())
    s = run["summary"]
    return {
        "files_per_s_median": s["files_per_s_median"],
        "ci": s.get("files_per_s_ci"),
        "repeats": s["repeats"],
        "files_error": s["files_error"],
        "startup_s": run["cluster"].get("startup_s"),
        "worker_cpus": run["cluster"].get("worker_cpus"),
    }


def measure_floor(n, cpus, manifest, data, budget_s, timeout) -> dict:
    spec = {"manifest": str(manifest), "data_dir": str(data), "threads": n}
    spec.update(repeat_settings(budget_s))
    proc = _run_child([str(HERE), "--child-floor", json.dumps(spec)], cpus, timeout)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1:] or ["no output"]}
    rec = json.loads(proc.stdout)
    return {
        "files_per_s_median": rec["files_per_s_median"],
        "ci": rec["files_per_s_ci"],
        "repeats": len(rec["repeats"]),
        "thread_cpus": rec["cpus"],
        "cpu_per_wall": rec["cpu_per_wall"],
    }


def child_floor(spec: dict) -> None:
    """Inside the pinned child: the floor loop on ``threads`` threads, JSON on stdout."""
    from filerate.confidence import StoppingRule
    from filerate.engine import batchio, floor

    floor.warm_up()
    table = batchio.file_table(spec["manifest"])
    f = floor.Floor(table, spec["data_dir"], spec["threads"], max_file_bytes=1 << 28)
    c0, t0 = os.times(), time.perf_counter()
    rec = f.measure(StoppingRule.from_settings(spec), spec["min_repeat_s"])
    c1, wall = os.times(), time.perf_counter() - t0
    # CPU seconds per wall second: at most n where the kernel enforces the affinity (a
    # sandbox such as gVisor may accept the mask and not enforce it)
    rec["cpu_per_wall"] = (c1.user + c1.system - c0.user - c0.system) / wall
    print(json.dumps(rec))


def efficiency(rows: list[dict], key: str) -> None:
    """Add ``key``_efficiency: files/s at n over n x files/s at one core."""
    one = next((r[key].get("files_per_s_median") for r in rows if r["cores"] == 1), None)
    for r in rows:
        fps = r[key].get("files_per_s_median")
        r[key]["efficiency"] = fps / (r["cores"] * one) if fps and one else None


def _fmt_ci(m: dict) -> str:
    if "error" in m:
        return f"error: {m['error'][0] if m['error'] else ''}"
    ci = m.get("ci") or {}
    text = f"{m['files_per_s_median']:,.0f}"
    if ci.get("low") is not None:
        text += f" [{ci['low']:,.0f}–{ci['high']:,.0f}]"
    return text


def _fmt_eff(m: dict) -> str:
    return f"{m['efficiency'] * 100:.0f} %" if m.get("efficiency") else "–"


def _cpu_per_wall(m: dict) -> str:
    return f"{m['cpu_per_wall']:.2f}" if m.get("cpu_per_wall") is not None else "–"


def _fraction(r: dict) -> str:
    a = r["filerate"].get("files_per_s_median")
    b = r["floor"].get("files_per_s_median")
    return f"{a / b:.2f}" if a and b else "–"


def to_markdown(result: dict) -> str:
    m = result["machine"]
    lines = [
        "# filerate scaling: files/s against cores used",
        "",
        f"Machine: {m['cpus_available']} usable CPUs ({m['model']}), "
        f"{m['memory_gb']:.0f} GB RAM; corpus {result['files']:,} files "
        f"({result['bytes'] / 1e6:,.0f} MB) on {result['filesystem']}, warm page cache, read "
        f"in place; analysis `{result['analysis']}`, batch size {result['batch_size']}; "
        f"filerate workers: {WORKER_LAYOUT[result.get('processes', 'one')]}; tasks: "
        f"{result.get('task_layout', 'per_batch')}.",
        "Each point runs pinned (sched_setaffinity) to the first n CPUs; the CPUs seen "
        "inside the workers are recorded in scaling.json. files/s: median over time-based "
        "repeats [95 % CI of the median]; efficiency = files/s(n) / (n x files/s(1)).",
        "",
        "| cores | filerate files/s [95 % CI] | efficiency | floor files/s [95 % CI] "
        "| efficiency | fraction of floor | CPUs seen by workers | floor CPU s per s |",
        "|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for r in result["points"]:
        seen = r["filerate"].get("worker_cpus_seen") or "not recorded"
        lines.append(
            f"| {r['cores']} | {_fmt_ci(r['filerate'])} | {_fmt_eff(r['filerate'])} "
            f"| {_fmt_ci(r['floor'])} | {_fmt_eff(r['floor'])} | {_fraction(r)} | {seen} "
            f"| {_cpu_per_wall(r['floor'])} |"
        )
    if any(r["floor"].get("affinity_enforced") is False for r in result["points"]):
        lines += [
            "",
            "**Affinity was accepted but not enforced here**: the floor used more CPU "
            "seconds per second than the cores it was pinned to (last column), so the "
            "'n cores' of this table are not n cores.",
        ]
    lines += [
        "",
        f"Total time {result['elapsed_s']:.0f} s (corpus {result['corpus_s']:.1f} s).",
        "",
    ]
    return "\n".join(lines)


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for key, colour in (("filerate", "#1f77b4"), ("floor", "#7f7f7f")):
        pts = [(r["cores"], r[key]) for r in result["points"] if "error" not in r[key]]
        if not pts:
            continue
        x = [c for c, _ in pts]
        y = [m["files_per_s_median"] for _, m in pts]
        lo = [
            m["files_per_s_median"] - (m.get("ci") or {}).get("low", m["files_per_s_median"])
            for _, m in pts
        ]
        hi = [
            (m.get("ci") or {}).get("high", m["files_per_s_median"]) - m["files_per_s_median"]
            for _, m in pts
        ]
        ax.errorbar(x, y, yerr=[lo, hi], marker="o", capsize=3, color=colour, label=key)
        ax.plot(
            x,
            [y[0] * c / x[0] for c in x],
            ls=":",
            color=colour,
            alpha=0.6,
            label=f"{key}: linear from {x[0]} core",
        )
    ax.set_xscale("log", base=2)
    cores = [r["cores"] for r in result["points"]]
    ax.set_xticks(cores, [str(c) for c in cores])
    ax.minorticks_off()
    ax.set_xlabel("cores used (CPU affinity)")
    ax.set_ylabel("files/s (median, 95 % CI)")
    ax.set_title(
        f"Scaling on {result['machine']['cpus_available']} CPUs, warm, {result['files']:,} files"
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120, format="png")
    plt.close(fig)


def machine_info() -> dict:
    import psutil

    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpus_available": len(os.sched_getaffinity(0)),
        "cpu_count": os.cpu_count(),
        "model": model,
        "memory_gb": psutil.virtual_memory().total / 1e9,
    }


def _work_dir() -> Path:
    from filerate import stage

    root = "/dev/shm" if stage.filesystem("/dev/shm")[1] == "tmpfs" else None
    return Path(tempfile.mkdtemp(prefix="filerate-scaling-", dir=root))


def run_points(args, manifest, data, work, deadline) -> list[dict]:
    cpus = sorted(os.sched_getaffinity(0))
    counts = core_counts(len(cpus)) if not args.cores else args.cores
    batch = args.batch_size or max(100, args.files // (8 * max(counts)))
    args.batch_size = batch
    points = []
    for i, n in enumerate(counts):
        # never below MIN_POINT_S: a point after an overrun still gets a fair try
        budget = max(MIN_POINT_S, (deadline - time.monotonic()) / (len(counts) - i))
        use = cpus[:n]
        settings = phase_settings(n, args, 0.55 * budget - 3)
        fr = measure_filerate(n, use, manifest, data, work / f"phase-{n}", settings, 2 * budget)
        seen = fr.get("worker_cpus")
        if seen:
            fr["worker_cpus_seen"] = ",".join(sorted({str(c) for v in seen.values() for c in v}))
            fr["affinity_applied"] = all(set(v) <= set(use) for v in seen.values())
        fl = measure_floor(n, use, manifest, data, 0.35 * budget, 2 * budget)
        if "thread_cpus" in fl:
            fl["affinity_applied"] = set(fl["thread_cpus"]) <= set(use)
            fl["affinity_enforced"] = fl["cpu_per_wall"] <= n * 1.1 + 0.05
        points.append({"cores": n, "cpus": use, "filerate": fr, "floor": fl})
        print(f"scaling: {n} cores: filerate {_fmt_ci(fr)}, floor {_fmt_ci(fl)}", file=sys.stderr)
    return points


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", help="folder for scaling.md, .json and .png (required)")
    p.add_argument("--max-seconds", type=float, default=170, help="time for the whole run")
    p.add_argument("--files", type=int, default=20000, help="files in the generated corpus")
    p.add_argument("--analysis", choices=["minimal", "light"], default="light")
    p.add_argument("--batch-size", type=int, default=None, help="default: files / (8 x cores)")
    p.add_argument(
        "--cores",
        type=lambda s: [int(x) for x in s.split(",")],
        default=None,
        help="comma-separated core counts (default 1, 2, 4, ... all)",
    )
    p.add_argument(
        "--processes",
        choices=["one", "per-core"],
        default="one",
        help="filerate's workers: n threads in one process (default) or n processes",
    )
    p.add_argument(
        "--task-layout",
        choices=["per_thread", "per_batch"],
        default="per_thread",
        help="filerate's Dask tasks: one per worker thread draining a work list (default), "
        "or one per batch",
    )
    p.add_argument("--child-floor", help=argparse.SUPPRESS)
    return p


def measure_all(args, start: float) -> dict:
    """Corpus, then every point, in a scratch folder removed afterwards."""
    import pandas as pd

    from filerate import stage

    work = _work_dir()
    try:
        manifest, data, corpus_s = make_corpus(work, args.files)
        points = run_points(args, manifest, data, work, start + args.max_seconds - 5)
        efficiency(points, "filerate")
        efficiency(points, "floor")
        return {
            "machine": machine_info(),
            "files": args.files,
            "bytes": int(pd.read_parquet(manifest, columns=["bytes"])["bytes"].sum()),
            "filesystem": stage.filesystem(str(data))[1],
            "analysis": args.analysis,
            "batch_size": args.batch_size,
            "processes": args.processes,
            "task_layout": args.task_layout,
            "points": points,
            "corpus_s": corpus_s,
            "elapsed_s": time.monotonic() - start,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv=None) -> int:
    p = _parser()
    args = p.parse_args(argv)
    sys.path.insert(0, str(SRC))
    if args.child_floor:
        child_floor(json.loads(args.child_floor))
        return 0
    if not args.out:
        p.error("--out DIR is required")
    start = time.monotonic()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result = measure_all(args, start)
    from filerate import atomic

    atomic.write_json(out / "scaling.json", result)
    atomic.write_text(out / "scaling.md", to_markdown(result))
    with atomic.atomic_path(out / "scaling.png") as tmp:
        plot(result, tmp)
    print(f"scaling: wrote {out}/scaling.md, scaling.json, scaling.png", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
