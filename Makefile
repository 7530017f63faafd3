# harvestd — `make run` starts the daemon on ./config.toml, `make test` runs the test suite.
# Both create .venv and install the package (with its test tools) on first use.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench chaos model clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "harvestd needs Python 3.11+")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/harvestd run --config config.toml

test: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy daemon

bench: $(STAMP)
	$(PY) bench/bench_pipeline.py
	$(PY) bench/bench_downloads.py
	$(PY) bench/bench_page_parse.py
	$(PY) bench/bench_slooh.py
	$(PY) bench/bench_scrape.py
	$(PY) bench/bench_store.py

chaos: $(STAMP)
	$(PY) bench/chaos.py --kills 20

model: $(STAMP)
	$(PY) scripts/build_octas_model.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
