"""The page itself: CSS, the order of the sections, the inlined plots."""

from __future__ import annotations

import base64

import pandas as pd

from filerate import __version__
from filerate.reports.html.analysis import section_bottlenecks, section_predictions
from filerate.reports.html.dask import section_dask
from filerate.reports.html.environment import section_config, section_machine
from filerate.reports.html.headline import section_answer
from filerate.reports.html.history import section_history
from filerate.reports.html.markup import as_bool, esc, when
from filerate.reports.html.results import section_summary, section_throughput, section_validation
from filerate.reports.html.tuned import section_tuned
from filerate.reports.load import Phase, as_float
from filerate.reports.storage import headline

CSS = """
*,*::before,*::after{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
 margin:0;color:#1d1d1f;background:#fafafa;line-height:1.45;overflow-wrap:anywhere}
main{max-width:1400px;margin:0 auto;padding:1.5rem 2rem 3rem}
h1{font-size:1.7rem;margin:.2rem 0 .3rem}h2{font-size:1.3rem;margin-top:2.2rem;
 border-bottom:2px solid #ddd;padding-bottom:.2rem}h3{font-size:1.05rem;margin:1.4rem 0 .4rem}
p.lead{color:#555;margin-top:0}
p.verdict{font-size:1.2rem;font-weight:600;margin:.8rem 0}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,26rem),1fr));gap:.8rem}
.phase-card h3{margin:.2rem 0}.settings{color:#555;margin:.2rem 0 .5rem;font-size:.9rem}
.figs{display:grid;grid-template-columns:1fr 1fr;gap:.6rem}
.fig{border-left:4px solid #0072b2;padding:.1rem .6rem;font-size:.85rem}
.fig .big{font-size:1.5rem;font-weight:700;font-variant-numeric:tabular-nums}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.88rem;background:#fff}
th,td{border:1px solid #ddd;padding:.3rem .55rem;vertical-align:top;text-align:left}
th{background:#f0f0f3;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
.wrap{overflow-x:auto;max-width:100%;
 background:linear-gradient(to right,#fafafa 30%,transparent),
 linear-gradient(to left,#fafafa 30%,transparent) 100% 0,
 linear-gradient(to right,rgba(0,0,0,.18),transparent 1rem),
 linear-gradient(to left,rgba(0,0,0,.18),transparent 1rem) 100% 0;
 background-repeat:no-repeat;background-size:2.5rem 100%,2.5rem 100%,1rem 100%,1rem 100%;
 background-attachment:local,local,scroll,scroll}
.wrap table{margin:0}
.ok{color:#1a7f37;font-weight:600}.bad{color:#c0392b;font-weight:600}
.warn{color:#b26b00;font-weight:600}.muted{color:#666}
.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.6rem 1rem;margin:.8rem 0}
.card h3{margin-top:.2rem}
figure{margin:1rem 0;background:#fff;border:1px solid #ddd;border-radius:6px;padding:.5rem}
img{max-width:100%;height:auto}
figure img{display:block;margin:0 auto}
figcaption{color:#555;font-size:.85rem;margin-top:.3rem}
code{background:#f0f0f3;padding:0 .2rem;border-radius:3px}
pre{white-space:pre-wrap;overflow-x:auto}
details{margin:.4rem 0}summary{cursor:pointer;color:#333}
nav{display:flex;flex-wrap:wrap;gap:.3rem 1rem}
@media (max-width:700px){
 main{padding:1rem .8rem 2rem}h1{font-size:1.35rem}.figs{grid-template-columns:1fr}
 table{font-size:.8rem}p.verdict{font-size:1.05rem}
 table.stack thead{display:none}
 table.stack,table.stack tbody,table.stack tr,table.stack td{display:block;width:100%}
 table.stack tr{border:1px solid #ddd;margin:.5rem 0;background:#fff}
 table.stack td{border:0;border-top:1px solid #eee;text-align:left}
 table.stack td::before{content:attr(data-label) ": ";font-weight:600;color:#555}
}
"""

CAPTIONS = {
    "throughput": "Files/s per phase on a linear axis: bar the median of the timed repeats, "
    "error bar its 95 % confidence interval (slowest to fastest repeat for runs without "
    "one); black dash: the floor (bare open/read/close, same files and threads); red "
    "ticks: each phase's target (dashed: gate). Hatched, labelled bars are unstable: the "
    "interval missed its target.",
    "breakdown": "Left: set-up, then one timed repeat per phase, in wall seconds (staging, "
    "cluster start-up, kernel warm-up, the repeat). Right: inside one timed repeat, the "
    "shares of the time spent inside tasks (reading, computing, in-task overhead), with "
    "how busy the CPUs were.",
    "timeline": "Each task of the median timed repeat on its worker thread, coloured by "
    "where its time went. Empty rows or gaps are thread slots without a task (scheduling "
    "overhead or too few tasks).",
    "resources": "CPU, memory, RAM-disk footprint and (when sampled) GPU utilisation and "
    "temperature over each phase; timed repeats shaded blue, warm-ups grey.",
}
ALT = {
    "throughput": "Bar chart of files per second per phase with confidence intervals",
    "breakdown": "Stacked bars of set-up and repeat time per phase",
    "timeline": "Gantt chart of the tasks of one timed repeat per phase",
    "resources": "CPU, memory and RAM-disk use over time per phase",
}


#: no external file, font, script or network access: the page stands alone
CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'"
)
NAV = (
    "<nav><a href='#answer'>Answer</a><a href='#summary'>Verdicts</a>"
    "<a href='#throughput'>Throughput</a>"
    "<a href='#bottlenecks'>Bottlenecks</a><a href='#predictions'>Predictions</a>"
    "<a href='#plots'>Plots</a><a href='#validation'>Validation</a>"
    "<a href='#machine'>Machine</a><a href='#config'>Configuration</a>"
    "<a href='#dask'>Dask</a></nav>"
)


def figure(name: str, png: bytes, plots_href: str | None = None) -> str:
    """A plot inlined as a base64 ``data:`` URI, with its caption; where the PNG was also
    written beside the page (``plots_href``, relative), a tap opens it at full size."""
    data = base64.b64encode(png).decode("ascii")
    img = f"<img alt='{esc(ALT.get(name, name + ' plot'))}' src='data:image/png;base64,{data}'>"
    if plots_href is not None:
        img = f"<a href='{esc(plots_href)}/{esc(name)}.png' title='open full size'>{img}</a>"
    return (
        f"<figure id='plot-{esc(name)}'>{img}<figcaption>{esc(CAPTIONS.get(name, ''))}"
        + (" Tap or click the plot for full size." if plots_href is not None else "")
        + "</figcaption></figure>"
    )


def _table_rows(table: pd.DataFrame) -> list[dict]:
    """throughput.tsv rows with NaN as None and the booleans parsed back."""
    rows = []
    for rec in table.to_dict("records"):
        r = {k: (None if (isinstance(v, float) and v != v) else v) for k, v in rec.items()}
        r["staged"] = as_bool(r.get("staged"))
        r["ramdisk_within_budget"] = as_bool(r.get("ramdisk_within_budget"))
        rows.append(r)
    return rows


def _measured_span(phases: list[Phase]) -> tuple[float | None, float | None]:
    """When the first phase started and the last finished."""
    started = [as_float(p.run.get("started_at")) for p in phases]
    finished = [as_float(p.run.get("finished_at")) for p in phases]
    return (
        min((t for t in started if t is not None), default=None),
        max((t for t in finished if t is not None), default=None),
    )


def _break_even(report: dict) -> str:
    """Whether the RAM disk helps on this machine, and from which pass on: near the top."""
    lines = [
        f"<p><strong>{esc(headline(rec))}</strong></p>" for rec in report.get("break_even") or []
    ]
    return f"<div class='card' id='ramdisk'>{''.join(lines)}</div>" if lines else ""


def render(
    phases: list[Phase],
    table: pd.DataFrame,
    report: dict,
    pngs: dict[str, bytes],
    out_path: str | None = None,
    plots_href: str | None = None,
    tune_dir: str | None = None,
) -> str:
    """The whole page as one self-contained HTML document (``out_path``, where it will be
    written, makes the links to each phase's dask-report.html relative to it;
    ``plots_href``, the plots' folder relative to it, makes each plot open full size)."""
    rows = _table_rows(table)
    started, finished = _measured_span(phases)
    names = ", ".join(p.name for p in phases)
    head = [
        "<h1>filerate: how many files per second, and what limits it</h1>",
        f"<p class='lead'>Phases {esc(names)}; measured {esc(when(started))} to "
        f"{esc(when(finished))}; report by filerate {esc(__version__)}.</p>",
        NAV,
    ]
    # one entry per section, in page order: a new section is one more line here
    sections = [
        section_answer(rows, phases, report),
        _break_even(report),
        section_summary(rows, report),
        figure("throughput", pngs["throughput"], plots_href),
        section_throughput(rows),
        section_history(phases),
        section_bottlenecks(report),
        figure("breakdown", pngs["breakdown"], plots_href),
        section_predictions(report),
        section_tuned(tune_dir),  # "" unless a `filerate tune` result is there
        "<h2 id='plots'>Timelines</h2>",
        figure("timeline", pngs["timeline"], plots_href),
        figure("resources", pngs["resources"], plots_href),
        section_validation(phases),
        section_machine(phases),
        section_config(phases),
        section_dask(phases, out_path),
    ]
    body = ["<main>", *head, *sections, "</main>"]
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<meta http-equiv='Content-Security-Policy' content=\"{CSP}\">"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>filerate report: {esc(names)}</title><style>{CSS}</style></head>"
        "<body>" + "\n".join(body) + "</body></html>\n"
    )
