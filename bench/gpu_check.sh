#!/usr/bin/env bash
# GPU check for a machine with an NVIDIA GPU and no network (well under 8 minutes):
#   1. installs the missing Python packages from wheels carried in .whl/ (if any),
#   2. runs the GPU tests (pytest -m gpu),
#   3. prints a CPU-vs-GPU table for the three phases of config/config.yaml.
# Outputs go to $OUT (or bench/out). Usage: bash bench/gpu_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-bench/out}
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
echo "## GPU tests"
$PY -m pytest -p no:cacheprovider -m gpu tests/test_gpu.py -q -x 2>&1 | tee "$OUT/gpu_tests.txt"
tests_rc=${PIPESTATUS[0]}
echo "## CPU vs GPU"
timeout 360 $PY bench/compare_backends.py --config config/config.yaml --out "$OUT" --backends cpu,cpu1,gpu \
  --work /tmp/filerate-bench 2>&1 | tee "$OUT/compare_log.txt"
bench_rc=${PIPESTATUS[0]}
echo "gpu tests rc=$tests_rc, compare rc=$bench_rc"
exit $(( tests_rc || bench_rc ))
