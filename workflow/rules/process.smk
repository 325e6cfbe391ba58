rule process:
    input:
        unpack(process_inputs),
    output:
        run="results/phases/{phase}/run.json",
        files="results/phases/{phase}/files.parquet",
        batches="results/phases/{phase}/batches.parquet",
        resources="results/phases/{phase}/resources.parquet",
    log:
        "logs/process/{phase}.log",
    conda:
        # the GPU env only where the phase may use a GPU
        lambda w: CPU_ENV if PHASES[w.phase]["backend"] == "cpu" else GPU_ENV
    # all cores: nothing else may run while a phase is timed
    threads: workflow.cores
    params:
        filerate=FILERATE,
        settings=phase_settings,
        staging=staging_arg,
        data=data_dir,
    shell:
        "{params.filerate} process --settings {params.settings:q} --manifest {input.manifest} "
        "--data-dir {params.data:q} {params.staging} --out results/phases/{wildcards.phase} "
        # a line per repeat, in the log and on the terminal: progress while a phase runs
        "2>&1 | tee {log}"


rule validate:
    input:
        manifest=lambda w: f"{corpus_dir(w)}/manifest.parquet",
        run="results/phases/{phase}/run.json",
        files="results/phases/{phase}/files.parquet",
    output:
        "results/phases/{phase}/validation.json",
    log:
        "logs/validate/{phase}.log",
    conda:
        CPU_ENV
    params:
        filerate=FILERATE,
    shell:
        "{params.filerate} validate --manifest {input.manifest} "
        "--phase-dir results/phases/{wildcards.phase} --out {output} > {log} 2>&1"
