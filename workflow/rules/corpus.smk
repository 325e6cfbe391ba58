rule corpus:
    output:
        manifest="results/corpus/{corpus}/manifest.parquet",
        record="results/corpus/{corpus}/corpus.json",
        files=directory("results/corpus/{corpus}/files"),
    log:
        "logs/corpus/{corpus}.log",
    conda:
        CPU_ENV
    threads: 2
    params:
        filerate=FILERATE,
        settings=corpus_settings,
    shell:
        "{params.filerate} corpus --name {wildcards.corpus} --settings {params.settings:q} "
        "--processes {threads} --out results/corpus/{wildcards.corpus} > {log} 2>&1"
