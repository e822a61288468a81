# The two commands a newcomer needs: `make run` and `make test`. Both do their own set-up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CHROMIUM ?= /usr/bin/chromium

.PHONY: run test fuzz lint typecheck check-chromium bench check-wrk soak clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/punchout-sim serve $(ARGS)

# Chromium comes from Debian's package (Playwright's own browser download does not work offline).
check-chromium:
	@if [ -x "$(CHROMIUM)" ]; then exit 0; fi; \
	if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian's chromium package for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "Browser tests need Chromium at $(CHROMIUM): run 'sudo apt-get install chromium' (Debian/Ubuntu)"; \
		echo "or set CHROMIUM=/path/to/chromium. Without it the browser tests are skipped."; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

test: $(STAMP) check-chromium check-wrk lint typecheck
	$(BIN)/pytest bench -q -p no:cacheprovider --benchmark-disable
	PUNCHOUT_SIM_CHROMIUM=$(CHROMIUM) $(BIN)/pytest $(PYTEST_ARGS)

# The property-based tests of the inbound endpoints with many examples (make test runs a few).
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=fuzz $(BIN)/pytest tests/security/test_fuzz.py -q -p no:cacheprovider --timeout 3600 $(PYTEST_ARGS)

# wrk drives the load benchmark (Debian's package).
check-wrk:
	@command -v wrk >/dev/null && exit 0; \
	if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; \
	else echo "The load benchmark needs wrk: run 'sudo apt-get install wrk' (without it, its smoke test is skipped)"; fi

bench: $(STAMP) check-wrk
	$(BIN)/pytest bench -q -p no:cacheprovider --benchmark-columns=mean,median,ops,rounds
	$(BIN)/python -m bench.load --rounds 3 --bare $(BENCH_ARGS)
	$(BIN)/python -m bench.decompose
	$(BIN)/python -m bench.catalog $(CATALOG_BENCH_ARGS)
	$(BIN)/python -m bench.tables $(TABLES_BENCH_ARGS)

# A bounded soak of the real server on loopback: 4 workers, shoppers, setup requests and orders,
# deliveries to a flaky buyer; 10 minutes unless SOAK_ARGS says otherwise (e.g. "--minutes 2").
soak: $(STAMP)
	$(BIN)/python -m bench.soak $(SOAK_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
