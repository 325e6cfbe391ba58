"""What every plot shares: component colours and labels, PNG output, an empty figure."""

from __future__ import annotations

import io
import re

from matplotlib.figure import Figure

#: the Okabe–Ito palette: eight colours told apart with every common colour-vision
#: deficiency (Okabe & Ito, "Color Universal Design", 2008)
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
}
_O = OKABE_ITO
#: one colour per breakdown component (shared by breakdown and timeline); the set-up
#: costs in greys and browns, the work in the palette, idle in a light grey
COLOURS = {
    "staging": "#8C6D31",
    "startup": "#555555",
    "warmup": "#AAAAAA",
    "read": _O["blue"],
    "hash": _O["yellow"],
    "h2d": _O["purple"],
    "analyse": _O["green"],
    "d2h": "#8E3B6E",  # a darker purple: the other transfer
    "pack": _O["sky_blue"],
    "setup": _O["orange"],
    "task_overhead": _O["vermillion"],
    "scheduling": _O["black"],
    "idle": "#E5E5E5",
}
#: colour of a component not listed in COLOURS
OTHER_COLOUR = "#7F7F7F"
LABELS = {
    "staging": "staging",
    "startup": "start-up",
    "warmup": "kernel warm-up",
    "read": "read",
    "hash": "hash",
    "h2d": "host→device",
    "analyse": "compute (analyse)",
    "d2h": "device→host",
    "pack": "pack",
    "setup": "task setup",
    "task_overhead": "in-task overhead",
    "scheduling": "scheduling overhead",
    "idle": "slot without a task",
}
#: shading of the repeats (resources) and colour of goals (throughput)
TIMED_SHADE = "#CFE2F3"
WARMUP_SHADE = "#EEEEEE"
GOAL_COLOUR = _O["vermillion"]
#: throughput bars: stable, and unstable (also hatched, so colour is not the only cue)
STABLE_COLOUR = _O["blue"]
UNSTABLE_COLOUR = _O["orange"]
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
