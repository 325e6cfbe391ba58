rule corpus:
    output:
        manifest="results/corpus/{corpus}/manifest.parquet",
        record="results/corpus/{corpus}/corpus.json",
        files=directory("results/corpus/{corpus}/files"),
    log:
        "logs/corpus/{corpus}.log",
    threads: 2
    params:
        settings=corpus_settings,
    shell:
        "filerate corpus --name {wildcards.corpus} --settings {params.settings:q} "
        "--processes {threads} --out results/corpus/{wildcards.corpus} > {log} 2>&1"
