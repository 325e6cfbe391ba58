"""Bottleneck report: where each phase's time went, what limits it, what to change next,
and whether the plan's predicted gains held.

``filerate bottlenecks --phase-dir DIR [...] --predicted-gains JSON --md OUT.md --json OUT.json``

For people: docs/BOTTLENECKS.md says all of this without the source (one story per phase:
what limits files/s, the next change for it, set-up apart; the rules; the units). The
definitions below are the same, for whoever changes the code.

Time breakdown (per timed repeat, then averaged over the timed repeats)
------------------------------------------------------------------------
For one timed repeat with wall time ``W`` (run.json ``repeats[].wall_s``) on a cluster
with ``S`` task slots (``cluster.total_threads``), the capacity is ``S × W``
slot-seconds. From batches.parquet (the repeat's task attempts, d = stop − start):

* ``busy = Σ d`` over the repeat's tasks;
* component ``c`` in read, hash, h2d (host→device), analyse (compute), d2h (device→host),
  pack, and any further ``*_s`` column the engine records (e.g. ``setup_s``):
  ``Σ c_s`` over the tasks;
* per-task overhead inside tasks: ``busy − Σ components`` (Python, allocation, bookkeeping);
* longest-path estimate ``L``: the makespan the same task durations would have on ``S``
  slots with zero dispatch cost (greedy list scheduling in start order; the tasks are
  independent, so this is the critical path with perfect packing), capped at ``W``;
* scheduling/transfer overhead: ``S × (W − L)``: dispatch gaps, scheduler round trips,
  result transfer and gathering — time the repeat took beyond the ideal schedule;
* idle: ``S × L − busy``: slots that had no task even in the ideal schedule (fewer tasks
  than slots, uneven last wave).

These add up to ``S × W`` exactly. Dividing each by ``S`` expresses it in seconds of the
repeat's wall time (so "read 1.2 s" means read kept the slots busy for 1.2 s of wall on
average). If tasks overlap more than ``S`` allows (clock skew), the busy parts are scaled
to fit. The phase's breakdown is the mean over its timed repeats, preceded by the two
one-off costs of a run: staging (run.json ``staging.seconds``, 0 when not staged),
cluster start-up (``cluster.startup_s``) and kernel warm-up (``cluster.kernel_warmup_s``).
Their sum with one repeat is the **end-to-end time** (set-up + one timed repeat); every
share is a percentage of it, so the shares sum to 100 %. The reports show the set-up in
wall seconds and the repeat as shares of time inside tasks (module ``story``).

Utilisation is read from resources.parquet for the timed repeat windows: CPU mean and
peak of ``cpu_pct`` over the samples whose interval (the sampling period before each
sample) overlaps a repeat, context switches per second (increase of the cumulative counter
from the last sample at or before each repeat's start to the first at or after its stop),
peak memory, and per GPU utilisation, memory, temperature and power when those columns
exist. *Concurrency* = Σ busy / Σ W: tasks running at once on average; when
it exceeds the CPU count, each task got ``cpu_count / concurrency`` of a core (its time
inflated by ``concurrency / cpu_count``).

Verdict rules (first match names the processing limit; every match is listed as evidence)
-----------------------------------------------------------------------------------------
CPU saturated means mean ``cpu_pct`` >= 80 % in the timed repeats.

a. **CPU (oversubscribed)**: total threads or processes > cpu_count, CPU saturated, and
   tasks inflated (concurrency >= 1.5 × cpu_count) or context switches >= 5,000/s per CPU.
b. **Dask scheduler overhead**: median task shorter than 20 ms or than 5 × the slot time
   lost per task (scheduling overhead in slot-seconds / tasks), and scheduling overhead
   >= 30 % of the slots' time and larger than the busy time (the gaps dominate).
b2. **CPU outside the tasks (scheduler, client, other processes)**: CPU saturated while the
   tasks keep at most half the CPUs busy (concurrency <= 0.5 × cpu_count).
c. **parallelism (batches too large)**: idle >= 30 % of the repeat wall while the CPU is
   not saturated (fewer tasks than slots, or an uneven last wave).
d. **host↔device transfer** (GPU backend): h2d + d2h >= 30 % of busy time and more than
   analyse.
e. **file open/read (CPU in syscalls)**: read >= 50 % of busy time with the CPU saturated;
   **storage I/O** with it not saturated; **file open/read (CPU use not sampled)** when
   resources.parquet has no samples in the repeats.
f. **GPU compute**: mean GPU utilisation >= 80 %.
g. **CPU (analysis compute)**: CPU saturated and none of the above.
   Otherwise **GPU idle (host-side overhead)** when the GPU is < 30 % busy, else
   **no saturated resource** (the largest share is named).

End to end, **staging (RAM-disk copy)** or **cluster start-up** is the phase's limit when it
takes >= 50 % of the end-to-end time; the processing limit is still reported. Across
phases, **RAM disk no faster than in place** is reported when two phases (or a staging
ablation and its base) differ only in staging and the staged one is < 5 % faster or their
files/s ranges overlap. A mostly idle GPU (< 30 %), files in error and a phase that did
not finish are listed as evidence.

Each phase gets one recommended next change for its limit, with the expected effect
computed from its own measurements (``recommendation``); when the end-to-end limit is a
one-off cost, ``processing_recommendation`` addresses what limits files/s itself.

The plan's predictions, tested
------------------------------
For an ablation phase (run.json ``settings.ablation = {base, knob, from, to, value_of}``),
the measured change is ``median / base median − 1`` (%), its range ``min / base max − 1`` to
``max / base min − 1``. Verdict against the predicted ``[low, high]`` (%): **confirmed** when
the median change lies in it; **inconclusive** when only the range overlaps it;
**refuted** otherwise; **not testable here** when the knob has no effect on this backend
(GPU memory per worker without a GPU), moved against the plan's direction (fewer workers,
smaller batches, more GPU memory, heavier analysis) or the base phase is absent;
**no prediction** when the plan predicted nothing for the knob (staging). Without
ablation phases, consecutive phases are compared; when several knobs changed at once the
combined prediction (∏(1 + gain) − 1) is shown and the verdict is **not testable here**.

Modules, one concern each
-------------------------
``accounting`` (the time breakdown), ``utilisation`` (resources.parquet in the repeats),
``rules`` (the verdicts, each with a rule id), ``recommend`` (the next change, chosen by
rule id), ``predictions`` (the plan's predictions and the RAM disk, tested), ``report``
(all of it as one dict), ``markdown`` (for people) and ``command`` (the sub-command).
"""

from __future__ import annotations

from filerate.reports.bottlenecks.command import add_parser, parse_gains, run
from filerate.reports.bottlenecks.markdown import to_markdown
from filerate.reports.bottlenecks.report import analyse

__all__ = ["add_parser", "analyse", "parse_gains", "run", "to_markdown"]
