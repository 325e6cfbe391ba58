# `snakemake --cores all tune`: the best settings for this machine (filerate tune,
# docs/TUNE.md). Not part of the default run; its result is cached per hardware.
from filerate.tune import request as tune_request

try:
    TUNE = tune_request.build(CONFIG)
except filerate_config.ConfigError as exc:
    sys.exit(f"filerate: {exc}")
if TUNE["corpus"] not in CORPORA:
    sys.exit(
        f"filerate: config: tune.corpus = {TUNE['corpus']!r}: no phase reads it; "
        f"choose one of {', '.join(CORPORA)}"
    )


# the tune corpus: a made one's files are an input; a user's tree is read where it is
TUNE_CORPUS = f"results/corpus/{TUNE['corpus']}"
TUNE_IS_TREE = TUNE["corpus"] in TREE_CORPORA
TUNE_DATA = (
    CONFIG["corpora"][TUNE["corpus"]]["path"]
    if TUNE_IS_TREE
    else f"{TUNE_CORPUS}/files"
)
TUNE_INPUTS = {"manifest": f"{TUNE_CORPUS}/manifest.parquet"}
if not TUNE_IS_TREE:
    TUNE_INPUTS["files"] = TUNE_DATA


rule tune:
    input:
        **TUNE_INPUTS,
    output:
        best="results/tune/best.yaml",
        points="results/tune/points.tsv",
        summary="results/tune/tune.json",
        plot="results/tune/tune.png",
    log:
        "logs/tune.log",
    conda:
        CPU_ENV if TUNE["base"]["backend"] == "cpu" else GPU_ENV
    # all cores: nothing else may run while points are timed
    threads: workflow.cores
    params:
        filerate=FILERATE,
        request=json.dumps(TUNE),
        data=lambda w, input: input.files if "files" in input.keys() else TUNE_DATA,
    shell:
        "{params.filerate} tune --request {params.request:q} --manifest {input.manifest} "
        "--data-dir {params.data:q} --out results/tune > {log} 2>&1"
