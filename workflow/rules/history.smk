# Keep this run's small files (tables, bottleneck report, run.json, validation.json,
# staging records; never corpora) under results/history/<UTC start>-<host>/ for
# `filerate compare`. latest.json names the newest entry; a run already kept adds none.
rule history:
    input:
        **PHASE_OUTPUTS,
        tables="results/tables/throughput.tsv",
        bottlenecks="results/reports/bottlenecks.json",
        report="results/report/index.html",
    output:
        "results/history/latest.json",
    log:
        "logs/history.log",
    conda:
        CPU_ENV
    params:
        filerate=FILERATE,
    shell:
        "{params.filerate} history --results results --out {output} > {log} 2>&1"
