# Two commands: `make demo` (the main job) and `make test` (every test).
# Each bootstraps .venv from pyproject.toml with the pinned versions in constraints.txt.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
EXTRAS ?= dev,spark,lake,transformers

.PHONY: demo test venv lint bench clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[$(EXTRAS)]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/empatia demo

test: $(STAMP)
	bash scripts/install-system-deps.sh
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	OPENBLAS_NUM_THREADS=1 EMPATIA_SPARK_TESTS=1 $(BIN)/pytest -q -n auto --dist loadgroup --no-loadscope-reorder --durations=30

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

clean:
	rm -rf $(VENV) *.duckdb *.duckdb.wal
