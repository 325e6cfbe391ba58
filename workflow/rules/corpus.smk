rule corpus:
    output:
        manifest="results/corpus/{corpus}/manifest.parquet",
        record="results/corpus/{corpus}/corpus.json",
        files=directory("results/corpus/{corpus}/files"),
    log:
        "logs/corpus/{corpus}.log",
    wildcard_constraints:
        corpus="|".join(MADE_CORPORA) or "(?!)",
    conda:
        CPU_ENV
    threads: 2
    params:
        filerate=FILERATE,
        settings=corpus_settings,
    shell:
        "{params.filerate} corpus --name {wildcards.corpus} --settings {params.settings:q} "
        "--processes {threads} --out results/corpus/{wildcards.corpus} > {log} 2>&1"


# a user's tree, read in place: one reference pass gives its ground truth
rule reference:
    output:
        manifest="results/corpus/{corpus}/manifest.parquet",
        record="results/corpus/{corpus}/corpus.json",
    log:
        "logs/corpus/{corpus}.log",
    wildcard_constraints:
        corpus="|".join(TREE_CORPORA) or "(?!)",
    conda:
        CPU_ENV
    threads: workflow.cores
    params:
        filerate=FILERATE,
        tree=lambda w: CONFIG["corpora"][w.corpus]["path"],
    shell:
        "{params.filerate} reference --tree {params.tree:q} --processes {threads} "
        "--out results/corpus/{wildcards.corpus} > {log} 2>&1"
