# cikgwb: two commands do all the set-up on a fresh machine: `make demo` (what the demo needs) and
# `make test` (everything, the local LLM server included).
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# what the demo needs (the `demo` extra): not the local LLM server, whose llama.cpp pip compiles
DEMO_STAMP := $(VENV)/.installed-demo
DATASET ?= book-crossing
export CIKGWB_DATA_DIR ?= $(CURDIR)/data
# Figure 5's sweep: the training and --collect calls must name the same sweep
FIGURE5 := --dataset book-crossing --preset figure5 --set min_epochs=30

.PHONY: install demo test test-slow bench bench-authors bench-baselines bench-gpu gpu-campaign campaign reproduce sweep notebooks readme-results reports clean

# the venv with torch and the package with the extras $(1); --no-compile: Python compiles a module's
# bytecode when it is first imported, instead of pip compiling all 17,000 files of the demo's set-up
# up front (about 57 of its 97 CPU seconds, docs/speed.md#make-demo-from-a-fresh-clone)
define venv_install
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --no-compile torch==2.13.0
	$(BIN)/pip install --quiet --no-compile -e '.[$(1)]'
endef

# everything (every extra): `make test` and the other targets
$(STAMP): pyproject.toml
	$(call venv_install,all)
	touch $(STAMP) $(DEMO_STAMP)

$(DEMO_STAMP): pyproject.toml
	$(call venv_install,demo)
	touch $(DEMO_STAMP)

install: $(STAMP)

demo: $(DEMO_STAMP)
	$(BIN)/cikgwb demo

test: $(STAMP)
	$(BIN)/ruff check
	$(BIN)/ruff format --check
	$(BIN)/python -m pytest -m "not slow" -q --durations=30

test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow -q

# BASELINE: the commit a CIKGRec epoch is timed against, back to back at one thread (53603b1: the
# tree before issue 34's speed work); then each sparse product in the step against alone, the
# profile, and ML-1M's CIKGRec and LightGCN epochs at one thread (extrapolated from 15 batches)
BASELINE ?= 53603b1
bench: $(STAMP)
	$(BIN)/python bench/bench_eval.py
	$(BIN)/python bench/bench_train.py --datasets book-crossing dbbook2014
	$(BIN)/python bench/bench_commits.py --baseline $(BASELINE) --threads 1 --datasets book-crossing dbbook2014 \
	    --out reports/bench/commits-back-to-back.txt
	OMP_NUM_THREADS=1 $(BIN)/python bench/bench_products.py --datasets book-crossing dbbook2014
	OMP_NUM_THREADS=1 $(BIN)/python bench/bench_train.py --profile 20 --datasets book-crossing dbbook2014
	OMP_NUM_THREADS=1 $(BIN)/python bench/bench_epoch.py --dataset ml1m --protocol users --models cikgrec lightgcn \
	    --threads 1 --out reports/bench/ml1m-epoch.md
	$(BIN)/python bench/bench_memory.py --dataset ml1m

# seconds per training epoch (and per valid evaluation) of every baseline, one epoch each on
# $(DATASET) (default book-crossing); THREADS=2 on a quiet 2-core machine, MODELS="kgat kgin" for a few
bench-baselines: $(STAMP)
	mkdir -p reports/bench
	DATASETS=$(DATASET) THREADS=$${THREADS:-2} bash scripts/run_baselines.sh time | tee reports/bench/baselines-epoch-time-$(DATASET).txt

# Figure 5 on book-crossing, valid protocol, seed 0, to early stop: alpha, omega, lambda2, lambda3
# one at a time around the authors' values (0.05, 0.65, 0.03, 0.01). alpha spans the paper's
# searched 0.05-0.15 plus one step each side (the paper: ~0.1 is best); omega the paper's 0.35-0.95;
# lambda2 and lambda3 decades around the authors' values (the paper: extremes hurt, a large lambda3
# sharply). 16 runs; EXECUTOR=ray [ADDRESS=host:port] for a cluster, JOBS runs at a time here. Then
# lambda3 0.1 and 1 continue to min_epochs=100 (scripts/campaign/figure5-plateau.txt says why).
figure5: $(STAMP)
	$(BIN)/cikgwb sweep $(FIGURE5) --keep-checkpoints \
	    --jobs $${JOBS:-2} --threads $${THREADS:-1} --executor $${EXECUTOR:-local} $${ADDRESS:+--address $$ADDRESS}
	$(BIN)/python scripts/campaign.py \
	    scripts/campaign/figure5-plateau.txt --reports-dir reports/sweeps/book-crossing-figure5 --slots $${JOBS:-2}
	$(BIN)/cikgwb sweep $(FIGURE5) --collect

# the prepared job for a lent GPU: ML-1M, then the paper's campaign runs packed on the card,
# inside BUDGET_S seconds (scripts/gpu_campaign.sh says more), e.g. make gpu-campaign OUT=/tmp/out
gpu-campaign:
	bash scripts/gpu_campaign.sh $${OUT:?OUT=folder} $${BUDGET_S:-480}

# the paper's campaign queues on this machine, two single-thread lanes (scripts/campaign.py)
campaign: $(STAMP)
	$(BIN)/python scripts/campaign.py \
	    $${QUEUE:-scripts/campaign/table3.txt} --slots $${SLOTS:-2} --threads 1

# one epoch of the authors' code (a checkout of laowangzi/CIKGRec at the pinned commit, changed at
# run time in a temporary copy: CPU, one epoch timed) and two of ours, back to back, THREADS=2, on
# $(DATASET) (default book-crossing); MAX_BATCHES=20 times the authors' first 20 batches and extrapolates
bench-authors: $(STAMP)
	@test -n "$(AUTHORS)" || { echo "usage: make bench-authors AUTHORS=PATH-to-a-CIKGRec-checkout [THREADS=2] [AUTHORS_PY=python]"; exit 2; }
	mkdir -p reports/bench
	set -o pipefail; $(BIN)/python bench/bench_authors.py --authors "$(AUTHORS)" --threads $${THREADS:-2} --dataset $(DATASET) \
	    $(if $(AUTHORS_PY),--authors-python "$(AUTHORS_PY)") $${MAX_BATCHES:+--max-batches $$MAX_BATCHES} \
	    | tee reports/bench/authors-back-to-back-$(DATASET).txt

bench-gpu:  # on a GPU machine whose python3 has torch + torch-geometric (no .venv needed)
	bash bench/gpu.sh

# docs/results.md (every run's results and the claims' verdicts) and reports/claims.md from reports/runs
readme-results: $(STAMP)
	$(BIN)/python scripts/readme_results.py

# everything the committed runs feed, after runs land: Figure 5's results.csv, the paper's notebooks
# 06-09 on both datasets in full mode (each records what it read in reports/figures/<dataset>/MADE_BY.json),
# docs/results.md, reports/claims.md and every dataset's interest-graph comparison and graph screen
# (--screen: `cikgwb graph screen` again where a graph's edge file changed, seconds per graph);
# then `git status reports docs` shows what changed (tests/test_made_by.py fails while a committed
# figure is older than a committed run it reads, tests/test_claims.py while a report disagrees with them)
reports: $(STAMP)
	$(BIN)/cikgwb sweep $(FIGURE5) --collect && \
	$(BIN)/cikgwb notebooks --dataset book-crossing --only 06,07,08,09 --full && \
	$(BIN)/cikgwb notebooks --dataset dbbook2014 --only 06,07,08,09 --full && \
	$(BIN)/python scripts/interest_comparison.py --dataset all --screen && \
	$(BIN)/python scripts/readme_results.py

clean:
	rm -rf $(VENV) .pytest_cache

# ---- the workbench's notebooks and sweeps (cikgwb/notebooks.py, cikgwb/sweep.py)
SWEEP_DATASET ?= synthetic

# execute notebooks 01..09 (papermill) in quick mode on the synthetic data: executed notebooks and
# HTML in reports/notebooks/synthetic/, figures (HTML + PNG) in reports/figures/synthetic/
notebooks: $(STAMP)
	$(BIN)/cikgwb notebooks --dataset synthetic

# the same in full mode on a real dataset (reuses finished runs of reports/runs; figures in
# reports/figures/$(DATASET)/), e.g. make reproduce DATASET=book-crossing
reproduce: $(STAMP)
	$(BIN)/cikgwb notebooks --dataset $(DATASET) --full

# Figure 5's sweep (alpha and lambda3, quick schedule) into reports/sweeps/<dataset>-sensitivity-quick/,
# the folder 09_sensitivity reads
sweep: $(STAMP)
	$(BIN)/cikgwb sweep --dataset $(SWEEP_DATASET) --grid alpha=0.01,0.05,0.2 --grid lambda3=0.001,0.01,0.1,1 \
	    --set max_epochs=15 --set patience=5 --jobs 2 --name $(SWEEP_DATASET)-sensitivity-quick
