"""`filerate interleave`: measure a group of phases together, in rounds A, B, C, A, B, C ...

Each member is prepared like a phase of its own (engine.process.prepare), members that
can share a cluster share one (engine.interleave.clusters), the other clusters start
beside the first when the first one's measured worker memory says they fit, else each
cluster runs its members in a block of its own. Every member then writes exactly the
outputs ``filerate process`` writes (run.json last), with an ``interleave`` record added:
the group, the pair's mode and the paired gain over its base. The group's record and its
comparison table are written last. Which pair used which mode is in both.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from filerate import atomic, fmt
from filerate.engine import (
    cluster,
    disk,
    interleave,
    measurement,
    monitor,
    process,
    repeats,
    scheduler_log,
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "interleave",
        help="measure several phases in interleaved rounds (an ablation's variants)",
        description=(
            "Run a group of phases together: one warm cluster for the members that can "
            "share it (others side by side, or in blocks when memory is short), their "
            "timed repeats in rounds A, B, C, A, B, C ..., each member's outputs as "
            "`filerate process` writes them, and the paired gain of each variant over "
            "its base."
        ),
    )
    p.add_argument(
        "--members",
        required=True,
        help="JSON list of {settings, manifest, data_dir, staging_json, out}, base first",
    )
    p.add_argument("--group", default=interleave.GROUP, help="the group's name")
    p.add_argument("--record", required=True, help="the group's JSON record to write")
    p.add_argument("--tsv", required=True, help="the comparison table (TSV) to write")
    p.add_argument("--md", required=True, help="the comparison table (Markdown) to write")
    p.set_defaults(func=run)


def run(args) -> int:
    members = json.loads(args.members)
    previous = signal.signal(signal.SIGTERM, process._terminate)
    try:
        record = run_group(args.group, members)
    finally:
        signal.signal(signal.SIGTERM, previous)
    write_table(record, Path(args.tsv), Path(args.md))
    atomic.write_json(Path(args.record), record)  # last: the group finished
    for pair in record["pairs"]:
        g = pair["gain"]
        gain = _ratio_text(g) if g else "no pair"
        print(f"  {pair['variant']} / {pair['base']}: {gain} ({pair['mode']})", file=sys.stderr)
    return 0 if record["status"] == "ok" else 1


def _ratio_text(g: dict) -> str:
    return f"{fmt.ratio(g['ratio'], 3)} {fmt.interval(g['low'], g['high'], 3)}"


#: the comparison table's columns (results/tables/interleave-{group}.tsv)
TABLE_COLUMNS = ("variant", "base", "knob", "mode", "pairs", "ratio", "ci_low", "ci_high", "method")


def write_table(record: dict, tsv: Path, md: Path) -> None:
    """Each variant's gain over its base, as TSV and Markdown (with the mode of each)."""
    rows = []
    for p in record["pairs"]:
        g = p["gain"] or {}
        rows.append(
            (
                p["variant"],
                p["base"],
                p["knob"],
                p["mode"],
                g.get("n"),
                g.get("ratio"),
                g.get("low"),
                g.get("high"),
                g.get("method"),
            )
        )
    lines = ["\t".join(TABLE_COLUMNS)]
    lines += ["\t".join("" if v is None else str(v) for v in row) for row in rows]
    atomic.write_text(tsv, "\n".join(lines) + "\n")
    out = [
        f"# Interleaved comparisons: {record['group']}",
        "",
        "| variant | vs | knob | mode | pairs | gain [95 % CI] |",
        "|---|---|---|---|--:|--:|",
    ]
    for p in record["pairs"]:
        g = p["gain"]
        out.append(
            f"| {p['variant']} | {p['base']} | {p['knob']} | {p['mode']} | "
            f"{fmt.num(g['n']) if g else fmt.MISSING} | {_ratio_text(g) if g else fmt.MISSING} |"
        )
    atomic.write_text(md, "\n".join(out) + "\n")


@dataclass
class Member:
    """One member on its cluster: its prepared job, context, repeats and series."""

    job: process.PhaseJob
    info: cluster.ClusterInfo | None = None
    ctx: repeats.RepeatContext | None = None
    done: repeats.PhaseRepeats = field(default_factory=repeats.PhaseRepeats)
    series: list = field(default_factory=list)
    intervals: list | None = None
    floor_plan: tuple = (None, "")
    order: list = field(default_factory=list)
    dedup: dict | None = None
    searched: bool = False  # the duplicate search ran (once: blocks run _rounds again)
    #: this member's warm-up of the (maybe shared) cluster, and who shared it
    warm: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.job.settings["name"]


def run_group(group: str, specs: list[dict]) -> dict:
    """Prepare, measure and write every member; returns the group's record."""
    started = time.time()
    members = {}
    for spec in specs:
        staging = (
            json.loads(Path(spec["staging_json"]).read_text()) if spec.get("staging_json") else None
        )
        job = process.prepare(
            spec["settings"], spec["manifest"], spec["data_dir"], staging, Path(spec["out"])
        )
        # the group's members share the clock: each may run for its own timeout_s
        job.deadline += job.settings["timeout_s"] * (len(specs) - 1)
        members[job.settings["name"]] = Member(job)
    layout = interleave.clusters(
        {n: m.job.settings for n, m in members.items()},
        lambda s: members[s["name"]].job.backend["device"],
    )
    first = members[layout[0][0]].job
    ramdisk = process._ramdisk_root(_staging(members))
    with monitor.Sampler(ramdisk, device=disk.block_device(first.data_dir)) as sampler:
        side_by_side, memory = _measure(members, layout)
    # after the sampler stopped: its frame is read once per member
    record = _record(group, members, layout, side_by_side, memory, started)
    pairs = {p["variant"]: p for p in record["pairs"]}
    for m in members.values():
        mine = {"group": group, "order": _order_text(m.order), "pair": pairs.get(m.name)}
        process.finish(
            m.job,
            {**m.info.record, **m.warm},
            m.done,
            _measured_tuple(m),
            sampler,
            None,
            m.dedup,
            extra={"interleave": mine},
        )
    record["finished_at"] = time.time()
    return record


def _staging(members: dict[str, Member]) -> dict | None:
    """The first staged member's staging record (its RAM disk is the one sampled), or
    None when no member staged its corpus."""
    return next((m.job.staging for m in members.values() if m.job.staging), None)


def _measure(members: dict[str, Member], layout: list[list[str]]) -> tuple[bool, dict]:
    """Start the clusters and run the rounds: side by side when memory allows, else in
    alternating blocks. Returns (side_by_side, the memory estimate)."""
    t0 = time.monotonic()
    with ExitStack() as stack:
        _start(stack, members, layout[0])  # closed last: clusters close in reverse order
        memory = _memory_estimate(members, layout)
        side = memory["fits"]
        if side:
            for names in layout[1:]:
                _start(stack, members, names)
            _rounds(stack, members, [n for names in layout for n in names])
            return True, memory
        _rounds(stack, members, layout[0], interleave.BLOCK_ROUNDS)
    _blocks(members, layout, t0)
    return False, memory


def _blocks(members: dict[str, Member], layout: list[list[str]], t0: float) -> None:
    """Clusters that may not run at once take turns in blocks of BLOCK_ROUNDS rounds (the
    first cluster's first block has run), each started and warmed up again, until every
    member's rule agrees after a full turn, or a repeat timed out (``t0``: when the
    first block began; max_phase_s counts from there, per member)."""
    turn = 1
    while True:
        for i, names in enumerate(layout):
            if turn == 1 and i == 0:
                continue
            with ExitStack() as stack:
                _start(stack, members, names)
                _rounds(
                    stack, members, names, interleave.BLOCK_ROUNDS, _rounds_done(members, names)
                )
        turn += 1
        series = [s for m in members.values() for s in m.series]
        if not series or any(m.done.status != "ok" for m in members.values()):
            return
        elapsed = (time.monotonic() - t0) / len(members)
        decisions = [s.rule.decide(s.values(), elapsed) for s in series]
        if all(stop for stop, _ in decisions):
            for s, (_, reason) in zip(series, decisions, strict=True):
                s.stop_reason = reason
            return


def _rounds_done(members: dict[str, Member], names: list[str]) -> int:
    """Rounds the cluster of ``names`` has run in earlier blocks."""
    return max((len(members[n].series[0].records) for n in names if members[n].series), default=0)


def _start(stack: ExitStack, members: dict[str, Member], names: list[str]) -> None:
    """One cluster for ``names`` (the first member's settings), warmed for each member,
    closed when ``stack`` unwinds; each member gets its context and warm-up."""
    lead = members[names[0]].job
    info = cluster.start(lead.settings, lead.backend, lead.out)
    stack.callback(info.close)
    log = scheduler_log.SchedulerLog(info.client)
    for n in names:
        m = members[n]
        m.info = info
        m.job.spec_base["device"] = info.device
        process._warm_workers(info, m.job.spec_base["manifest"])
        warm_keys = ("kernel_warmup_s", "kernel_compile_s_per_worker", "worker_cpus")
        m.warm = {k: info.record.get(k) for k in warm_keys} | {"shared_by": list(names)}
        latency = m.ctx.latency if m.ctx else None  # an earlier block's, carried on
        m.ctx = repeats.RepeatContext(
            info.client,
            m.job.spec_base,
            m.job.batches,
            len(m.job.manifest),
            m.job.settings,
            m.job.deadline,
            log,
            storage=m.job.storage,
        )
        if latency is not None:
            m.ctx.latency = latency
        repeats.run_warmup(m.ctx, m.done)
        m.floor_plan = measurement.floor_plan(m.job.settings, m.job.backend, info.record)


def _rounds(
    stack: ExitStack,
    members: dict[str, Member],
    names: list[str],
    max_rounds: int | None = None,
    first_round: int = 0,
) -> None:
    """Every member's series (filerate, then its floor) in rounds on the started clusters,
    the records of earlier blocks carried on; then each ``full`` member's duplicate search
    while its cluster is still up, once: in blocks, after the member's first block (every
    repeat reads the same files, so its results give the same duplicates)."""
    ready = [members[n] for n in names if members[n].done.status == "ok"]
    series = []
    for m in ready:
        ramdisk = process._ramdisk_root(m.job.staging)
        earlier = [s.records for s in m.series]
        m.series, intervals = measurement.timed_series(
            m.ctx, m.done, m.job.settings, m.floor_plan[0], ramdisk, stack
        )
        m.intervals = m.intervals or intervals
        for s, records in zip(m.series, earlier, strict=False):
            s.records = records
        m.series[0].name = m.name
        if len(m.series) > 1:
            m.series[1].name = f"{m.name} floor"
        series += m.series
    if series:
        order = interleave.run_group_rounds(
            series, len(ready), max_rounds=max_rounds, first_round=first_round
        )
    else:
        order = []
    for m in members.values():
        if m.name in names:
            m.order += order
            if not m.searched:
                m.searched = True
                m.dedup = process._find_duplicates(
                    m.info.client,
                    m.done.last,
                    m.job.manifest,
                    m.job.settings,
                    m.job.data_dir,
                    m.job.out,
                )


def _memory_estimate(members: dict[str, Member], layout: list[list[str]]) -> dict:
    """The first cluster's worker memory (RSS per process, measured) against what the
    other clusters' processes (each cluster's own count) would need, and the memory
    available now."""
    import psutil

    info = members[layout[0][0]].info
    rss = []
    for w in info.record.get("workers", []):
        try:
            rss.append(psutil.Process(w["pid"]).memory_info().rss)
        except (psutil.Error, TypeError, ValueError):
            continue
    per_process = max(rss) if rss else 0
    extra = sum(_cluster_processes(members[names[0]].job) for names in layout[1:])
    available = psutil.virtual_memory().available
    return {
        "rss_per_worker_process": per_process,
        "extra_processes": extra,
        "available": available,
        "share": interleave.MEMORY_SHARE,
        "fits": interleave.fits_side_by_side(extra, per_process, available),
    }


def _cluster_processes(job: process.PhaseJob) -> int:
    """Worker processes the cluster made from ``job``'s settings will have (engine.cluster:
    one per GPU on the GPU, else the resolved processes)."""
    if job.backend.get("device") == "gpu":
        return max(1, len((job.backend.get("gpu_probe") or {}).get("devices", [])))
    return max(1, job.settings["resolved"]["processes"])


def _measured_tuple(m: Member) -> tuple:
    """What engine.process.finish takes as ``measured``: (context, (filerate's series,
    the floor's record, soak intervals, round order), the floor's plan)."""
    if not m.series:  # the warm-up timed out
        return m.ctx, (None, None, None, []), m.floor_plan
    floor_rec = measurement.floor_record(m.series, m.floor_plan[0])
    return m.ctx, (m.series[0], floor_rec, m.intervals, m.order), m.floor_plan


def _order_text(order: list) -> list[str]:
    return [f"{r}:{name}" for r, name in order]


def _record(group, members, layout, side_by_side, memory, started) -> dict:
    """The group's record: members, clusters, memory, the pairs with their gains."""
    cluster_of = {n: i for i, names in enumerate(layout) for n in names}
    values = {n: m.series[0].values() if m.series else [] for n, m in members.items()}
    pairs = []
    for n, m in members.items():
        ab = m.job.settings.get("ablation") or {}
        base = ab.get("base")
        if base not in members:
            continue
        mode = interleave.pair_mode(n, base, cluster_of, side_by_side)
        pair = {
            "variant": n,
            "knob": ab.get("knob"),
            **interleave.pair_record(n, base, mode, values),
        }
        pairs.append(pair)
    return {
        "group": group,
        "status": "ok" if all(m.done.status == "ok" for m in members.values()) else "timeout",
        "members": list(members),
        "clusters": layout,
        "side_by_side": side_by_side,
        "memory": memory,
        "rounds": {n: len(v) for n, v in values.items()},
        "pairs": pairs,
        "started_at": started,
        "finished_at": time.time(),
    }
