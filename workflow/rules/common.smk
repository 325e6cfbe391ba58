# Shared helpers: config validation (one-line errors), the resolved phase plan and paths.
import hashlib
import json
import os
import sys
from types import SimpleNamespace

from snakemake.utils import validate

from filerate import config as filerate_config
from filerate.engine import interleave as filerate_interleave
from filerate.stage import ramdisk_run_dir, remove_run_dir
from filerate.tune import request as tune_request

# filerate's own validation fills every default and stops with one line naming the key,
# the bad value and what is allowed; Snakemake's validate then checks the same schema.
try:
    CONFIG = filerate_config.validate(config)
except filerate_config.ConfigError as exc:
    sys.exit(f"filerate: {exc}")
validate(CONFIG, "../schemas/config.schema.yaml")

PHASES = filerate_config.phases(CONFIG)


def filerate_command():
    """How rules call filerate: this checkout's source with the running Python, or with
    the rule's conda env's Python under --software-deployment-method conda."""
    from snakemake.settings.types import DeploymentMethod

    src = os.path.join(workflow.basedir, "src")
    if DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method:
        python = "python"
    else:
        python = sys.executable
    return f'PYTHONPATH="{src}${{PYTHONPATH:+:$PYTHONPATH}}" {python} -m filerate'


FILERATE = filerate_command()
# the files `filerate process` (or a group's `filerate interleave`) writes for a phase
PHASE_FILES = ("run.json", "files.parquet", "batches.parquet", "resources.parquet")
CPU_ENV = "../../envs/cpu.yaml"
GPU_ENV = "../../envs/gpu.yaml"
CORPORA = sorted({p["corpus"] for p in PHASES.values()})
# corpora read in place from a user's tree (`--config tree=DIR`): no copy in results/
TREE_CORPORA = [c for c in CORPORA if CONFIG["corpora"][c]["source"] == "tree"]
MADE_CORPORA = [c for c in CORPORA if c not in TREE_CORPORA]
RAMDISK = str(ramdisk_run_dir(CONFIG["ramdisk"]["root"]))
# with interleave: true, an ablation's variants and bases run as one group (filerate
# interleave, rule interleave_<group>); every other phase runs alone (rule process)
INTERLEAVE = filerate_interleave.plan(PHASES, CONFIG["interleave"])
GROUPED = [p for members in INTERLEAVE["groups"].values() for p in members]
SOLO_PHASES = [p for p in PHASES if p not in GROUPED]


wildcard_constraints:
    phase="|".join(PHASES),
    corpus="|".join(CORPORA),


def phase_settings(wildcards):
    return json.dumps(PHASES[wildcards.phase])


def corpus_settings(wildcards):
    return json.dumps(CONFIG["corpora"][wildcards.corpus])


def corpus_dir(wildcards):
    return f"results/corpus/{PHASES[wildcards.phase]['corpus']}"


def source_files(wildcards):
    """Where the phase's corpus files are: the user's tree itself, or results/corpus/."""
    corpus = PHASES[wildcards.phase]["corpus"]
    if corpus in TREE_CORPORA:
        return CONFIG["corpora"][corpus]["path"]
    return f"{corpus_dir(wildcards)}/files"


def source_inputs(wildcards):
    """A made corpus's files are an input; a user's tree is read where it is (a param)."""
    inputs = {"manifest": f"{corpus_dir(wildcards)}/manifest.parquet"}
    if PHASES[wildcards.phase]["corpus"] not in TREE_CORPORA:
        inputs["files"] = source_files(wildcards)
    return inputs


def process_inputs(wildcards):
    """The staged copy (and its record) when the phase stages, else the corpus in place."""
    inputs = source_inputs(wildcards)
    if PHASES[wildcards.phase]["staging"]:
        inputs.pop("files", None)
        inputs["data"] = f"{RAMDISK}/{wildcards.phase}"
        inputs["staging"] = f"results/staging/{wildcards.phase}.json"
    return inputs


def data_dir(wildcards, input):
    return input.data if "data" in input.keys() else source_files(wildcards)


def staging_arg(wildcards, input):
    return f"--staging-json {input.staging}" if "staging" in input.keys() else ""


def evict_arg(wildcards):
    """A cold phase evicts its source before staging, so the copy starts from storage."""
    phase = PHASES[wildcards.phase]
    return f"--evict-source {phase['eviction']}" if phase["cache"] == "cold" else ""


def phase_dirs(prefix="--phase-dir "):
    return " ".join(f"{prefix}results/phases/{p}" for p in PHASES)


def group_inputs(members):
    """Every member's process inputs, named "<input>_<phase>"."""
    return {
        f"{key}_{p}": path
        for p in members
        for key, path in process_inputs(SimpleNamespace(phase=p)).items()
    }


def group_outputs(members):
    return [f"results/phases/{p}/{name}" for p in members for name in PHASE_FILES]


def group_members(members):
    """`filerate interleave --members`: each member's settings, inputs and folder."""
    out = []
    for p in members:
        w = SimpleNamespace(phase=p)
        inputs = process_inputs(w)
        out.append(
            {
                "settings": PHASES[p],
                "manifest": inputs["manifest"],
                "data_dir": inputs.get("data") or source_files(w),
                "staging_json": inputs.get("staging"),
                "out": f"results/phases/{p}",
            }
        )
    return json.dumps(out)


def remove_staged_copies():
    remove_run_dir(CONFIG["ramdisk"]["root"])


# A tune request the plan cannot serve (a compare_phase or corpus the phases lack, as in
# the tree mode, whose phases replace the configured ones) stops only a run that asks for
# the tune: the error is kept here and raised by tune_inputs when the tune job is built.
TUNE_ERROR = None
try:
    TUNE = tune_request.build(CONFIG)
except filerate_config.ConfigError as exc:
    TUNE, TUNE_ERROR = None, f"filerate: {exc}"
else:
    if TUNE["corpus"] not in CORPORA:
        TUNE_ERROR = (
            f"filerate: config: tune.corpus = {TUNE['corpus']!r}: no phase reads it; "
            f"choose one of {', '.join(CORPORA)}"
        )


def tune_inputs(wildcards):
    """The tune corpus's manifest, and a made corpus's files (a user's tree is read where
    it is); a request the plan cannot serve stops the run here with one line."""
    if TUNE_ERROR:
        sys.exit(TUNE_ERROR)
    corpus = f"results/corpus/{TUNE['corpus']}"
    inputs = {"manifest": f"{corpus}/manifest.parquet"}
    if TUNE["corpus"] not in TREE_CORPORA:
        inputs["files"] = f"{corpus}/files"
    return inputs


def tune_data(wildcards, input):
    if "files" in input.keys():
        return input.files
    return CONFIG["corpora"][TUNE["corpus"]]["path"]


def tune_digest(wildcards):
    """The report's param that names the last tune's result (its tune.json's digest), so a
    tune run after the report makes the report out of date (Snakemake's params trigger).
    Not an input: that would put the tune itself in every run, rerun whenever its request
    or its corpus changed."""
    try:
        with open("results/tune/tune.json", "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except OSError:
        return "no tune"
