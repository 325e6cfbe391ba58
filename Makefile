# Two commands for a new user: `make run` (the full workflow on config/config.yaml) and
# `make test`. Both create .venv and install what they need on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
STAMP := $(VENV)/.installed
CORES ?= all
export PATH := $(BIN):$(PATH)

.PHONY: run tree test browser lint gpu bench bench-cold report scaling soak clean slurm-demo

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,hpc]'
	touch $@

run: $(STAMP)  ## the whole workflow on the default config
	snakemake --cores $(CORES)

tree: $(STAMP)  ## measure your own tree in place: make tree TREE=/data/project
	@test -n "$(TREE)" || { echo "make tree: give the tree, e.g. make tree TREE=/data/project"; exit 2; }
	snakemake --cores $(CORES) --config tree="$(TREE)"

test: $(STAMP) browser  ## lint + the test suite (GPU tests skip without a GPU)
	ruff check src tests bench tools
	snakefmt --check Snakefile workflow/rules
	pytest

# the headless Chromium of tests/test_report_browser.py: installed where this runs as root
# with apt (CI), quick when already there; elsewhere that test skips and says why
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "make: installing chromium and chromium-driver for the report's browser test"; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq chromium chromium-driver >/dev/null; } \
	  || echo "make: chromium could not be installed: the report's browser test will skip"; \
	else echo "make: no chromium (not root with apt): the report's browser test will skip"; fi

lint: $(STAMP)
	ruff check src tests bench tools
	snakefmt --check Snakefile workflow/rules
	snakemake --lint

gpu: $(STAMP)  ## add the CUDA 12 stack (dask-cuda, CuPy)
	$(BIN)/python -m pip install -q -e '.[gpu,test]'

bench: $(STAMP)  ## filerate against C tools on the 10,000-file corpus
	$(BIN)/python bench/bench_cpu.py

bench-cold: $(STAMP)  ## cold-cache reads: C reference vs filerate at 1-64 threads, staging
	$(BIN)/python bench/bench_cold.py

scaling: $(STAMP)  ## files/s against cores used, filerate and the floor (bench/out/scaling.*)
	python bench/scaling.py --out bench/out --max-seconds 170

soak: $(STAMP)  ## 10 minutes of the baseline's settings; drift of files/s, memory, fds, threads
	snakemake --cores $(CORES) results/corpus/small/manifest.parquet
	filerate process --config config/soak.yaml --phase soak \
	  --manifest results/corpus/small/manifest.parquet \
	  --data-dir results/corpus/small/files --out results/soak
	python -c "import json; s = json.load(open('results/soak/run.json'))['soak']; \
	  print('soak:', s['verdict'], 'drifting:', s['drifting'] or 'nothing')"

report: $(STAMP)  ## regenerate only the tables, bottleneck report and HTML report
	snakemake --cores $(CORES) --forcerun tables bottlenecks report

slurm-demo: $(STAMP)  ## local one-node Slurm (root + apt): default plan via the executor and backend: slurm
	bash tools/slurm/demo.sh

clean:
	rm -rf results logs .snakemake report.html
