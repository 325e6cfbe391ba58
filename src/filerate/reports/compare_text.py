"""The comparison of two runs (``filerate.reports.compare``) as text for people: a
terminal table, Markdown, and the rows the HTML report's "since the last run" shares."""

from __future__ import annotations

from filerate.fmt import MISSING, pct, rate_ci, ratio

HEADERS = ["phase", "A files/s [95 % CI]", "B files/s [95 % CI]", "change B/A [95 % CI]", "verdict"]
FLOOR_HEADERS = ["of floor A → B", "floor verdict"]


def change_text(ch: dict) -> str:
    """+12.0 % [+3.1 % … +20.4 %]: the change B/A − 1 with its CI."""
    if ch["ratio"] is None:
        return MISSING
    text = pct((ch["ratio"] - 1) * 100, 1, signed=True)
    if ch["low"] is not None and ch["high"] is not None:
        lo, hi = (pct((x - 1) * 100, 1, signed=True) for x in (ch["low"], ch["high"]))
        text += f" [{lo} … {hi}]"
    return text


def side_rate(side: dict) -> str:
    return rate_ci(side["median"], side["low"], side["high"])


def fraction_text(frac: dict) -> str:
    text = ratio(frac["value"])
    if frac["low"] is not None and frac["high"] is not None:
        text += f" [{ratio(frac['low'])}–{ratio(frac['high'])}]"
    return text


def verdict_text(ch: dict, threshold_pct: float | None = None) -> str:
    """'faster (real)', 'slower (real)', 'machine drift (the floor moved too)', 'below
    threshold (< 10 %)', 'within noise', ..."""
    v = ch["verdict"]
    if v in ("faster", "slower"):
        return f"{v} (real)"
    if v == "machine drift":
        return "machine drift (the floor moved too)"
    if v == "below threshold" and threshold_pct is not None:
        return f"below threshold (< {threshold_pct:g} %)"
    return v


def rows(result: dict) -> tuple[list[str], list[list[str]]]:
    """The headers and one row of cells per phase (floor columns only where measured)."""
    with_floor = any(p["floor"] for p in result["phases"])
    headers = HEADERS + (FLOOR_HEADERS if with_floor else [])
    out = []
    for p in result["phases"]:
        cells = [
            p["phase"],
            side_rate(p["a"]),
            side_rate(p["b"]),
            change_text(p["change"]),
            verdict_text(p["change"], result.get("threshold_pct")),
        ]
        if with_floor:
            fl = p["floor"]
            cells += (
                [f"{fraction_text(fl['a'])} → {fraction_text(fl['b'])}", fl["verdict"]]
                if fl
                else [MISSING, MISSING]
            )
        out.append(cells)
    return headers, out


def notes(result: dict) -> list[str]:
    """What the table cannot say: settings that differ, phases on one side only, the rule."""
    lines = [
        f"{p['phase']}: settings differ: {'; '.join(p['settings_differ'])}"
        for p in result["phases"]
        if p["settings_differ"]
    ]
    for side in ("a", "b"):
        if result[f"only_in_{side}"]:
            lines.append(
                f"only in {side.upper()} ({result[side]['label']}): "
                + ", ".join(result[f"only_in_{side}"])
            )
    methods = {p["change"]["method"] for p in result["phases"] if p["change"]["method"]}
    pct = f"{result.get('threshold_pct', 0):g} %"
    lines.append(
        "real = the 95 % CI of the change excludes 0 "
        f"({' / '.join(sorted(methods)) or 'no data'}) and the change is at least {pct} "
        "(--threshold); below threshold = the CI excludes 0 but the change is smaller; "
        "otherwise within noise"
    )
    if any(p["floor"] for p in result["phases"]):
        lines.append(
            "machine drift = files/s changed for real but the fraction of the floor (measured "
            "in both runs, the same rule, intervals must not overlap) did not: the machine "
            "moved, not filerate"
        )
    return lines


def summary_line(result: dict) -> str:
    """'turbo faster, baseline within noise': one line for the terminal summary."""
    pct = result.get("threshold_pct")
    parts = [f"{p['phase']} {verdict_text(p['change'], pct)}" for p in result["phases"]]
    return ", ".join(parts) or "no phase in common"


def terminal(result: dict) -> str:
    headers, body = rows(result)
    widths = [max(len(r[i]) for r in [headers, *body]) for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    out = [f"A: {result['a']['label']}", f"B: {result['b']['label']}", ""]
    out += [line(headers), line(["-" * w for w in widths])]
    out += [line(r) for r in body]
    return "\n".join(out + [""] + notes(result))


def markdown(result: dict) -> str:
    headers, body = rows(result)

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    out = [f"A: `{result['a']['label']}`, B: `{result['b']['label']}`", ""]
    out += [line(headers), line(["---"] * len(headers))] + [line(r) for r in body]
    return "\n".join(out + [""] + [f"- {n}" for n in notes(result)]) + "\n"
