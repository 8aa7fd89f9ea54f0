# Two commands on a fresh machine:  `make demo`  and  `make test`  (each creates .venv with pip).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test fuzz bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)  ## install, then run the bundled web-shop scenario (3 replications, outputs in out/webshop)
	$(BIN)/jsim run scenarios/webshop.toml --reps 3 --out out/webshop --plot

test: $(STAMP)  ## install, then lint (ruff), check the import layers (import-linter) and run the test suite
	$(BIN)/ruff check jsim tests benchmarks experiments
	$(BIN)/ruff format --check jsim tests benchmarks experiments
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

fuzz: $(STAMP)  ## mutated scenarios through validate and run: 3000 random examples (make test runs 400 fixed ones)
	JSIM_FUZZ_EXAMPLES=$${JSIM_FUZZ_EXAMPLES:-3000} JSIM_FUZZ_RANDOM=1 $(BIN)/python -m pytest tests/test_fuzz.py -q

bench: $(STAMP)  ## speed and memory figures (see benchmarks/README.md)
	$(BIN)/python benchmarks/bench_engine.py

clean:  ## remove the virtual environment, outputs and numba's caches (numba keys a cache on its own file only)
	rm -rf $(VENV) out build *.egg-info
	find jsim -name '*.nbi' -delete -o -name '*.nbc' -delete
