# Two entry points on a fresh machine: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOME_DIR ?= iloop-home
# One offline-assets cache per checkout, shared by the demo and the tests.
export ILOOP_ASSETS ?= $(CURDIR)/.iloop-assets
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False

.PHONY: install browser demo test assets bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch FIRST: this machine has a local CPU wheel of 2.13.0; installed afterwards by a dependency, pip would
# resolve the newest CUDA build (several GB). The project pins torch==2.13.0 so nothing replaces it.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[embedded,finetune,dev]"
	@$(BIN)/python -c "import torch; assert torch.__version__.startswith('2.13.0'), torch.__version__"
	touch $@

install: $(VENV)/.installed

assets: install
	$(BIN)/iloop --home $(HOME_DIR) assets fetch

demo: install
	$(BIN)/iloop --home $(HOME_DIR) init
	$(BIN)/iloop --home $(HOME_DIR) assets fetch
	# M_FT on 2 CPU cores: the default 30 steps of 512 tokens took 29 s a step on the 0.5B (15 min), so the demo
	# trains 8 steps of 256 tokens; real runs keep the defaults (docs/seeds.md). The 1.5B answers at ~14 tok/s, so
	# the demo evolves 4 seeds with 512-token answers, and the pool's leakage check compares the first two user
	# turns (all 8 took 11 min on the demo pool; docs/leakage.md).
	$(BIN)/iloop --home $(HOME_DIR) --set finetune.steps=8 --set finetune.max_tokens=256 \
		--set evolution.max_per_round=4 --set evolution.answer_max_tokens=512 --set leakage.max_turns=2 \
		run --max-rounds 1
	$(BIN)/iloop --home $(HOME_DIR) stats

# The console's browser test drives Debian's Chromium (a browser download at test time would fail offline).
browser:
	@command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver)

test: install browser
	$(BIN)/python -m pytest -q -rs --durations=15

bench: install
	$(BIN)/python bench/bench_ingest.py
	$(BIN)/python bench/bench_taxonomy.py
	$(BIN)/python bench/bench_scoring.py
	$(BIN)/python bench/bench_selection.py

clean:
	rm -rf $(VENV) $(HOME_DIR) .pytest_cache
