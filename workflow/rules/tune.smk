# `snakemake --cores all tune`: the best settings for this machine (filerate tune,
# docs/TUNE.md). Not part of the default run; its result is cached per hardware.
rule tune:
    input:
        unpack(tune_inputs),
    output:
        best="results/tune/best.yaml",
        points="results/tune/points.tsv",
        summary="results/tune/tune.json",
        plot="results/tune/tune.png",
    log:
        "logs/tune.log",
    conda:
        GPU_ENV if TUNE and TUNE["base"]["backend"] != "cpu" else CPU_ENV
    # all cores: nothing else may run while points are timed
    threads: workflow.cores
    params:
        filerate=FILERATE,
        request=json.dumps(TUNE),
        data=tune_data,
    shell:
        "{params.filerate} tune --request {params.request:q} --manifest {input.manifest} "
        "--data-dir {params.data:q} --out results/tune > {log} 2>&1"
