PHASE_OUTPUTS = {
    "runs": expand("results/phases/{phase}/run.json", phase=PHASES),
    "validations": expand("results/phases/{phase}/validation.json", phase=PHASES),
    "batches": expand("results/phases/{phase}/batches.parquet", phase=PHASES),
    "resources": expand("results/phases/{phase}/resources.parquet", phase=PHASES),
}


rule tables:
    input:
        **PHASE_OUTPUTS,
    output:
        tsv=report(
            "results/tables/throughput.tsv",
            caption="../report/throughput.rst",
            category="Throughput",
        ),
        md="results/tables/throughput.md",
    log:
        "logs/tables.log",
    conda:
        CPU_ENV
    params:
        filerate=FILERATE,
        dirs=phase_dirs(),
        unstable=CONFIG["unstable_cv_pct"],
    shell:
        "{params.filerate} tables {params.dirs} --unstable-cv-pct {params.unstable} "
        "--tsv {output.tsv} --md {output.md} > {log} 2>&1"


rule bottlenecks:
    input:
        **PHASE_OUTPUTS,
    output:
        md=report(
            "results/reports/bottlenecks.md",
            caption="../report/bottlenecks.rst",
            category="Bottlenecks",
        ),
        json="results/reports/bottlenecks.json",
    log:
        "logs/bottlenecks.log",
    conda:
        CPU_ENV
    params:
        filerate=FILERATE,
        dirs=phase_dirs(),
        gains=json.dumps(CONFIG["predicted_gains_pct"]),
    shell:
        "{params.filerate} bottlenecks {params.dirs} --predicted-gains {params.gains:q} "
        "--md {output.md} --json {output.json} > {log} 2>&1"


rule report:
    input:
        **PHASE_OUTPUTS,
        tables="results/tables/throughput.tsv",
        bottlenecks="results/reports/bottlenecks.json",
    output:
        html=report(
            "results/report/index.html",
            caption="../report/index.rst",
            category="Report",
        ),
        plots=report(
            directory("results/report/plots"),
            patterns=["{name}.png"],
            caption="../report/plots.rst",
            category="Plots",
        ),
    log:
        "logs/report.log",
    conda:
        CPU_ENV
    params:
        filerate=FILERATE,
        dirs=phase_dirs(),
        # results/tune (read by the report when there) as a digest: rebuilt after a tune
        tune=tune_digest,
    shell:
        "{params.filerate} report {params.dirs} --tables {input.tables} "
        "--bottlenecks {input.bottlenecks} --plots-dir {output.plots} "
        "--tune-dir results/tune --out {output.html} > {log} 2>&1"
