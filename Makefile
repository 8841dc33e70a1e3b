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

.PHONY: install browser demo test assets bench clean constraints

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch FIRST: this machine has a local CPU wheel of 2.13.0; installed afterwards by a dependency, pip would
# resolve the newest CUDA build (several GB). The project pins torch==2.13.0 so nothing replaces it.
# constraints.txt holds the versions the suite last passed with (pyproject keeps open ranges for users who install
# the package): a fresh machine gets what was tested, not whatever was released since. Refresh with
# `make constraints` in a venv that has just passed `make test`, and commit it saying so.
CONSTRAINTS := constraints.txt
# llama-cpp-python builds llama.cpp from source with -march=native. On Sapphire Rapids and later Xeons that turns
# on its AMX kernels, which segfault on the first inference (ggml-org/llama.cpp#20824; seen here on a 2-core
# Xeon with AMX, 2026-12-02): on x86-64, with a compiler that knows the flags, the build keeps every other native
# instruction and leaves AMX out. A venv built before this keeps its library: README "Set up" says how to rebuild.
NO_AMX := -mno-amx-tile -mno-amx-int8 -mno-amx-bf16
ifeq ($(shell uname -m),x86_64)
ifeq ($(shell echo 'int main(void){return 0;}' | $(CC) $(NO_AMX) -x c -o /dev/null - 2>/dev/null && echo ok),ok)
export CMAKE_ARGS ?= -DCMAKE_C_FLAGS='$(NO_AMX)' -DCMAKE_CXX_FLAGS='$(NO_AMX)'
endif
endif
$(VENV)/.installed: pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	$(BIN)/pip install --quiet -c $(CONSTRAINTS) torch==2.13.0
	# pip's wheel cache keys a built wheel on the sdist, not on CMAKE_ARGS: a wheel built earlier on this machine
	# with AMX on would be reused as is, so llama-cpp-python is always built here, from its sdist.
	$(BIN)/pip install --quiet --no-cache-dir --no-deps -c $(CONSTRAINTS) llama-cpp-python
	$(BIN)/pip install --quiet -c $(CONSTRAINTS) -e ".[embedded,finetune,dev]"
	@$(BIN)/python -c "import torch; assert torch.__version__.startswith('2.13.0'), torch.__version__"
	touch $@

install: $(VENV)/.installed

assets: install
	$(BIN)/iloop --home $(HOME_DIR) assets fetch

demo: install
	$(BIN)/iloop --home $(HOME_DIR) init
	$(BIN)/iloop --home $(HOME_DIR) assets fetch
	# M_FT on 2 CPU cores: the demo shrinks the balanced subset to 4 conversations per domain with 256-token
	# windows (one epoch over all of it), not the coverage of it; real runs keep the defaults (docs/seeds.md).
	# The 1.5B generates at ~9 tok/s and reads prompts at ~20 tok/s on the current 2-core machine, so the demo
	# evolves 4 seeds with 512-token answers, and the pool's leakage check compares the first two user turns
	# (README "Timings" has the measured steps). Diagnosis: 6 held-out items answered by M_FT in at most 256 tokens,
	# and at most 4 targeted items a round, answered in up to 1024 tokens, the default (matrix proofs ran past 512
	# and an image-classifier task past 768 in earlier demos: a cut first answer rejects the item). 32 conversations are tagged (35 s each on the 1.5B), half the default.
	# The measure step's judge rates 4 items of each set (default 16), the rest of its figures need no LLM.
	$(BIN)/iloop --home $(HOME_DIR) --set tagging.max_per_round=32 --set finetune.per_domain=4 --set finetune.max_tokens=256 \
		--set evolution.max_per_round=4 --set evolution.answer_max_tokens=512 --set leakage.max_turns=2 \
		--set diagnosis.sample_size=6 --set diagnosis.answer_max_tokens=256 --set synthesis.max_per_round=4 \
		--set synthesis.answer_max_tokens=1024 --set measure.difficulty_sample=4 \
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
	$(BIN)/python bench/bench_embedder.py
	$(BIN)/python bench/bench_llama_logits.py
	$(BIN)/python bench/bench_semantic_map.py

constraints: install
	$(BIN)/python .ci/freeze_constraints.py $(CONSTRAINTS)

clean:
	rm -rf $(VENV) $(HOME_DIR) .pytest_cache
