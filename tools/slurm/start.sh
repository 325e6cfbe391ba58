#!/usr/bin/env bash
# Start the local one-node Slurm test cluster (installs what is missing; needs root + apt).
# Prints the cluster as JSON; exit 3 says Slurm cannot run here (and why).
exec python3 "$(dirname "$0")/localslurm.py" start "$@"
