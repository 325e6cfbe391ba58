rule stage:
    input:
        unpack(source_inputs),
    output:
        record="results/staging/{phase}.json",
        # on the RAM disk; removed as soon as the phase's processing no longer needs it
        staged=temp(directory(f"{RAMDISK}/{{phase}}")),
    log:
        "logs/stage/{phase}.log",
    conda:
        CPU_ENV
    # a cold phase's staging evicts and times the copy from storage: nothing else may run
    threads: lambda w: workflow.cores if PHASES[w.phase]["cache"] == "cold" else 1
    params:
        filerate=FILERATE,
        source=source_files,
        evict=evict_arg,
        corpus=lambda w: PHASES[w.phase]["corpus"],
        budget=lambda w: (
            f"--budget-gb {PHASES[w.phase]['ramdisk_budget_gb']}"
            if PHASES[w.phase]["ramdisk_budget_gb"]
            else ""
        ),
        min_free=CONFIG["ramdisk"]["min_free_memory_gb"],
    shell:
        "{params.filerate} stage --phase {wildcards.phase} --corpus {params.corpus} "
        "--manifest {input.manifest} --source {params.source:q} --dest {output.staged} "
        "--record {output.record} {params.budget} {params.evict} "
        "--min-free-memory-gb {params.min_free} > {log} 2>&1"
