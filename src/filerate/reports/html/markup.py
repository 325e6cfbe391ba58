"""HTML building blocks: escaping, tables, and values shown for people."""

from __future__ import annotations

import datetime as _dt
import html

from filerate import fmt
from filerate.reports.load import as_float

#: byte counts above this are also shown in decimal units
_SHOW_SIZE_ABOVE = 10**6


def esc(value) -> str:
    """``value`` as escaped text ('—' for None)."""
    return html.escape("—" if value is None else str(value), quote=True)


def raw(markup: str) -> tuple[str, str]:
    """A table cell given as markup, not to be escaped."""
    return ("raw", markup)


def ok_class(ok: bool | None) -> str:
    return "ok" if ok is True else ("bad" if ok is False else "muted")


def table(
    headers: list[str], rows: list[list], num_cols: set[int] | None = None, stack: bool = False
) -> str:
    """An HTML table; cells are escaped unless given as :func:`raw`. It scrolls sideways in
    its wrapper on a narrow screen (a shadow shows there is more), or with ``stack`` each
    row becomes a block of "header: value" lines there."""
    num_cols = num_cols or set()
    cls = ' class="stack"' if stack else ""
    out = [f'<div class="wrap"><table{cls}><thead><tr>']
    out += [f"<th>{esc(h)}</th>" for h in headers]
    out.append("</tr></thead><tbody>")
    for row in rows:
        out.append("<tr>")
        for i, cell in enumerate(row):
            attr = ' class="num"' if i in num_cols else ""
            if stack and i < len(headers):
                attr += f' data-label="{esc(headers[i])}"'
            if isinstance(cell, tuple) and cell and cell[0] == "raw":
                out.append(f"<td{attr}>{cell[1]}</td>")
            else:
                out.append(f"<td{attr}>{esc(cell)}</td>")
        out.append("</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def flatten(data, prefix: str = "") -> list[tuple[str, str]]:
    """Nested run.json data as (dotted key, value for people) pairs."""
    out: list[tuple[str, str]] = []
    if isinstance(data, dict):
        for k, v in data.items():
            out += flatten(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(data, list) and data and all(isinstance(x, dict) for x in data):
        for i, v in enumerate(data):
            out += flatten(v, f"{prefix}[{i}]")
    elif isinstance(data, list):
        out.append((prefix, ", ".join(str(x) for x in data) if data else "—"))
    else:
        out.append((prefix, human(prefix, data)))
    return out


def human(key: str, value) -> str:
    """A value for people; byte counts (keys ending in ``bytes``) also in MB/GB (10^6, 10^9),
    ``*_gb`` settings (GiB) converted to GB."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)) and key.endswith("bytes") and value > _SHOW_SIZE_ABOVE:
        return f"{fmt.size(value)} ({fmt.num(value)} bytes)"
    if isinstance(value, (int, float)) and key.endswith("_gb"):
        return fmt.gib_setting(value)
    if isinstance(value, float):
        return fmt.sig(value)
    if isinstance(value, int):
        return fmt.num(value)
    return str(value)


def when(ts) -> str:
    """A Unix time as UTC date and time."""
    f = as_float(ts)
    if f is None:
        return str(ts) if ts else "—"
    return _dt.datetime.fromtimestamp(f, _dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def as_bool(value) -> bool | None:
    """A boolean read back from throughput.tsv ('true'/'false', empty: None)."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "1"):
        return True
    if text in ("false", "no", "0"):
        return False
    return None
