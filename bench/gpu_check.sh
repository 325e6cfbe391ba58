#!/usr/bin/env bash
# GPU checks for a 16-core machine with an NVIDIA GPU and no network. Each step has its own
# time limit; pick steps with STEPS (default: all, ~10 minutes; split them over two calls
# where one command may run at most 10 minutes):
#   tests    pytest -m gpu (CuPy kernels, OOM split, LocalCUDACluster, full-analysis identity)
#   compare  CPU vs GPU table for the phases of config/config.yaml (bench/compare_backends.py)
#   full     `full` analysis CPU (all cores) vs GPU, results identical (bench/full_cpu_vs_gpu.py)
#   scaling  files/s against cores used, filerate and the floor (bench/scaling.py)
#   scaling_procs  the same with filerate on n processes x 1 thread (one fd table each)
#   floor    filerate's fraction of the C open/read/close floor at 1, 4, 16 threads, and
#            the floor on as many processes (threads of one process share the fd-table lock)
# Outputs go to $OUT (or bench/out).   Usage: STEPS="tests full" bash bench/gpu_check.sh
#
# Python packages the GPU image lacks travel as wheels in .whl/ (git-ignored), fetched on a
# machine with network for Python 3.12:
#   pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
#     --platform manylinux2014_x86_64 --platform any -d .whl \
#     dask==2026.7.1 distributed==2026.7.1 'dask-cuda==26.10.*' 'rapids-dask-dependency==26.10.*' \
#     partd locket tblib zict tornado 'bokeh<3.10' xyzservices \
#     jsonschema jsonschema-specifications referencing rpds-py cryptography cffi pycparser
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-bench/out}
STEPS=${STEPS:-tests compare full scaling scaling_procs floor}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
if compgen -G ".whl/*.whl" >/dev/null; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH}
export PYTHONUNBUFFERED=1
{
  echo "## nvidia-smi"; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  echo "## python"; $PY -c "import sys, cupy, dask, distributed, dask_cuda, numba; print(sys.version.split()[0], 'cupy', cupy.__version__, 'dask', dask.__version__, 'dask-cuda', dask_cuda.__version__, 'numba', numba.__version__)"
  echo "## cpus: $(nproc)"
} 2>&1 | tee "$OUT/gpu_env.txt"
rc=0
step() {  # step NAME SECONDS COMMAND...: run it if selected, log to $OUT/NAME.txt
  local name=$1 limit=$2; shift 2
  [[ " $STEPS " == *" $name "* ]] || return 0
  echo "## $name"
  timeout "$limit" "$@" 2>&1 | tee "$OUT/$name.txt"
  local r=${PIPESTATUS[0]}
  echo "$name rc=$r"
  [ "$r" -eq 0 ] || rc=1
}
step tests 120 $PY -m pytest -p no:cacheprovider -m gpu -q -x \
  tests/test_gpu.py tests/test_full_gpu.py tests/test_cluster_security.py
step compare 300 $PY bench/compare_backends.py --config config/config.yaml --out "$OUT" \
  --backends cpu,cpu1,gpu --work /tmp/filerate-bench
step full 170 $PY bench/full_cpu_vs_gpu.py --out "$OUT"
step scaling 160 $PY bench/scaling.py --out "$OUT" --max-seconds 140
step scaling_procs 160 $PY bench/scaling.py --out "$OUT/procs" --max-seconds 140 \
  --processes per-core
step floor 150 $PY bench/floor_fraction.py --threads 1,4,16 --rounds 3 --layouts per_thread \
  --out "$OUT"
exit $rc
