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
    # all cores: nothing else may run while a phase is timed
    threads: workflow.cores
    params:
        settings=phase_settings,
        staging=staging_arg,
    shell:
        "filerate process --settings {params.settings:q} --manifest {input.manifest} "
        "--data-dir {input.data} {params.staging} --out results/phases/{wildcards.phase} "
        "> {log} 2>&1"


rule validate:
    input:
        manifest=lambda w: f"{corpus_dir(w)}/manifest.parquet",
        run="results/phases/{phase}/run.json",
        files="results/phases/{phase}/files.parquet",
    output:
        "results/phases/{phase}/validation.json",
    log:
        "logs/validate/{phase}.log",
    shell:
        "filerate validate --manifest {input.manifest} "
        "--phase-dir results/phases/{wildcards.phase} --out {output} > {log} 2>&1"
