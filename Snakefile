# filerate: how many files per second can this machine read and analyse, CPU and GPU,
# and what stops it going faster? See README.md; the phase plan is config/config.yaml.
from snakemake.utils import min_version

from filerate import summary

min_version("9.0")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/corpus.smk"
include: "workflow/rules/stage.smk"
include: "workflow/rules/process.smk"
include: "workflow/rules/reports.smk"
include: "workflow/rules/history.smk"
include: "workflow/rules/tune.smk"


rule all:
    default_target: True
    input:
        expand("results/phases/{phase}/validation.json", phase=PHASES),
        "results/tables/throughput.tsv",
        "results/reports/bottlenecks.md",
        "results/report/index.html",
        "results/history/latest.json",


onsuccess:
    remove_staged_copies()
    # the phases, their verdicts and the report's path; prints one line on any error
    summary.print_summary("results", "results/report/index.html")


onerror:
    remove_staged_copies()
