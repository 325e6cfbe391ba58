#!/usr/bin/env bash
# `make slurm-demo`: start the local Slurm cluster, run the default plan through the Slurm
# executor (profiles/slurm) and config/slurm.yaml through `backend: slurm`, check that
# every file of every phase validated, and stop the cluster again (if this script started
# it), leaving no daemon. Needs root and apt (Debian); docs/HPC.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
BIN=${BIN:-$ROOT/.venv/bin}
export PATH="$BIN:$PATH"
LOCALSLURM=(python3 "$ROOT/tools/slurm/localslurm.py")

rc=0
info=$("${LOCALSLURM[@]}" start) || rc=$?
if [ "$rc" -ne 0 ]; then
    echo "slurm-demo: the local Slurm cluster did not start (exit $rc)" >&2
    exit "$rc"
fi
echo "slurm-demo: cluster: $info"
started=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["started"])' "$info")
stop_cluster() {
    if [ "$started" = "True" ]; then
        "${LOCALSLURM[@]}" stop
        if "${LOCALSLURM[@]}" status > /dev/null; then
            echo "slurm-demo: a daemon is still running after stop" >&2
            exit 1
        fi
        echo "slurm-demo: no daemon of the local cluster is left"
    else
        echo "slurm-demo: the cluster was running before; left running"
    fi
}
trap stop_cluster EXIT

echo "slurm-demo: 1/2 the default plan, every rule a Slurm job (profiles/slurm)"
t0=$(date +%s)
snakemake --workflow-profile profiles/slurm
echo "slurm-demo: executor run took $(( $(date +%s) - t0 )) s"
python3 tools/slurm/check_results.py results

echo "slurm-demo: 2/2 config/slurm.yaml: Dask workers as Slurm jobs (backend: slurm)"
work=results/slurm-backend
mkdir -p "$work"
t0=$(date +%s)
snakemake --cores 2 --snakefile "$ROOT/Snakefile" --directory "$work" \
    --configfile "$ROOT/config/slurm.yaml"
echo "slurm-demo: backend: slurm run took $(( $(date +%s) - t0 )) s"
python3 tools/slurm/check_results.py "$work/results"
