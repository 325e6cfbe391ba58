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
    # a phase of an interleaved group is made by its group's rule below
    wildcard_constraints:
        phase="|".join(SOLO_PHASES) or "(?!)",
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


for group, members in INTERLEAVE["groups"].items():

    rule:
        name:
            f"interleave_{group}"
        input:
            unpack(lambda w, members=members: group_inputs(members)),
        output:
            group_outputs(members),
            record=f"results/interleave/{group}.json",
            tsv=f"results/tables/interleave-{group}.tsv",
            md=f"results/tables/interleave-{group}.md",
        log:
            f"logs/interleave/{group}.log",
        conda:
            CPU_ENV if all(PHASES[p]["backend"] == "cpu" for p in members) else GPU_ENV
        # all cores: nothing else may run while the group is timed
        threads: workflow.cores
        params:
            filerate=FILERATE,
            group=group,
            members=group_members(members),
        shell:
            "{params.filerate} interleave --group {params.group} "
            "--members {params.members:q} --record {output.record} --tsv {output.tsv} "
            "--md {output.md} > {log} 2>&1"


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
