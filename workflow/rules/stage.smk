rule stage:
    input:
        manifest=lambda w: f"{corpus_dir(w)}/manifest.parquet",
        files=lambda w: f"{corpus_dir(w)}/files",
    output:
        record="results/staging/{phase}.json",
        # on the RAM disk; removed as soon as the phase's processing no longer needs it
        staged=temp(directory(f"{RAMDISK}/{{phase}}")),
    log:
        "logs/stage/{phase}.log",
    conda:
        CPU_ENV
    params:
        filerate=FILERATE,
        corpus=lambda w: PHASES[w.phase]["corpus"],
        budget=lambda w: (
            f"--budget-gb {PHASES[w.phase]['ramdisk_budget_gb']}"
            if PHASES[w.phase]["ramdisk_budget_gb"]
            else ""
        ),
        min_free=CONFIG["ramdisk"]["min_free_memory_gb"],
    shell:
        "{params.filerate} stage --phase {wildcards.phase} --corpus {params.corpus} "
        "--manifest {input.manifest} --source {input.files} --dest {output.staged} "
        "--record {output.record} {params.budget} "
        "--min-free-memory-gb {params.min_free} > {log} 2>&1"
