# harvestd — `make demo` shows it working offline, `make run` starts the daemon on
# ./config.toml, `make test` runs the test suite. Each creates .venv on first use: demo and
# run install the package only, test/lint/bench/chaos add the test tools. `make test-fast`
# runs the unit layer only (no network, no subprocess: seconds).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-run
DEV    := $(VENV)/.installed-dev

.PHONY: demo run test test-fast lint bench chaos model clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "harvestd needs Python 3.11+")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	@touch $(STAMP)

$(DEV): $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(DEV)

demo: $(STAMP)
	$(PY) scripts/demo.py

run: $(STAMP)
	$(VENV)/bin/harvestd run --config config.toml

test: $(DEV)
	$(PY) -m pytest -q

test-fast: $(DEV)
	$(PY) -m pytest -q tests/unit

lint: $(DEV)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy daemon
	$(VENV)/bin/mypy --strict daemon/config daemon/store daemon/pipeline.py

bench: $(DEV)
	$(PY) bench/bench_pipeline.py
	$(PY) bench/bench_downloads.py
	$(PY) bench/bench_page_parse.py
	$(PY) bench/bench_slooh.py
	$(PY) bench/bench_scrape.py
	$(PY) bench/bench_store.py
	$(PY) bench/bench_store_100k.py
	$(PY) bench/bench_nasa_windows.py
	$(PY) bench/bench_nasa_pipeline.py
	$(PY) bench/bench_geo.py
	$(PY) bench/bench_dashboard.py

chaos: $(DEV)
	$(PY) bench/chaos.py --kills 20

model: $(DEV)
	$(PY) scripts/build_octas_model.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
