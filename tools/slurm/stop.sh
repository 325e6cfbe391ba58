#!/usr/bin/env bash
# Stop the daemons tools/slurm/start.sh started (by recorded pid), nothing else.
exec python3 "$(dirname "$0")/localslurm.py" stop "$@"
