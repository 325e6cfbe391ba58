"""What every plot shares: component colours and labels, PNG output, an empty figure."""

from __future__ import annotations

import io
import re

from matplotlib.figure import Figure

#: one colour per breakdown component (shared by breakdown and timeline)
COLOURS = {
    "staging": "#8c564b",
    "startup": "#7f7f7f",
    "read": "#1f77b4",
    "hash": "#ff7f0e",
    "h2d": "#9467bd",
    "analyse": "#2ca02c",
    "d2h": "#e377c2",
    "pack": "#bcbd22",
    "setup": "#aec7e8",
    "task_overhead": "#d62728",
    "scheduling": "#17becf",
    "idle": "#dddddd",
}
#: colour of a component not listed in COLOURS
OTHER_COLOUR = "#999999"
LABELS = {
    "staging": "staging",
    "startup": "start-up",
    "read": "read",
    "hash": "hash",
    "h2d": "host→device",
    "analyse": "compute (analyse)",
    "d2h": "device→host",
    "pack": "pack",
    "setup": "task setup",
    "task_overhead": "in-task overhead",
    "scheduling": "scheduling overhead",
    "idle": "idle slots",
}
#: shading of the repeats (resources) and colour of goals (throughput)
TIMED_SHADE = "#cfe2f3"
WARMUP_SHADE = "#eeeeee"
GOAL_COLOUR = "#c0392b"
DPI = 100


def png(fig: Figure) -> bytes:
    """The figure as PNG bytes, without the (version-dependent) Software tag."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def empty(title: str, message: str) -> bytes:
    """A small figure that says why there is nothing to plot."""
    fig = Figure(figsize=(8, 2))
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.set_title(title)
    ax.text(0.5, 0.5, message, ha="center", va="center")
    return png(fig)


def wrap(name: str, width: int = 12) -> str:
    """Break a long phase name at '-' or '_' so tick labels stay horizontal."""
    lines, cur = [], ""
    for part in re.split(r"(?<=[-_])", name):
        if cur and len(cur) + len(part) > width:
            lines.append(cur)
            cur = part
        else:
            cur += part
    lines.append(cur)
    return "\n".join(lines)
