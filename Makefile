PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test test-quick test-pg lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

demo: $(VENV)/.installed
	rm -rf demo && mkdir -p demo
	$(BIN)/allywatch --config examples/demo.yaml subscribers add analyst@example.org --cadence immediate
	$(BIN)/allywatch --config examples/demo.yaml run --verbose
	@echo
	$(BIN)/allywatch --config examples/demo.yaml status
	@echo
	@echo "digests written to demo/outbox/:" && ls demo/outbox
	@echo
	@echo "report written; open it in a browser:"
	@$(BIN)/allywatch --config examples/demo.yaml report --out demo/report
	@if command -v chromium >/dev/null; then \
	  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
	    --disable-background-networking --disable-component-update --disable-sync \
	    --user-data-dir="$$(mktemp -d)" --window-size=1280,1600 \
	    --screenshot=demo/report-1280.png "file://$(CURDIR)/demo/report/index.html" 2>/dev/null \
	  && echo "a screenshot of it: demo/report-1280.png"; fi

# Everything, slow tests included; test-quick leaves out the tests marked slow.
test: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest -q

test-quick: $(VENV)/.installed-test
	$(BIN)/pytest -q -m "not slow"

# The suite again on PostgreSQL: on the server ALLYWATCH_TEST_DATABASE_URL names,
# else on a local one that .ci/start-postgres installs and starts (needs root).
test-pg: $(VENV)/.installed-test
	url="$${ALLYWATCH_TEST_DATABASE_URL:-$$(bash .ci/start-postgres)}" && \
	ALLYWATCH_TEST_DATABASE_URL="$$url" $(BIN)/pytest -q

# Style, types (mypy: pyproject.toml's [tool.mypy]), and the direction of imports
# between the packages (tests/test_layers.py).
lint: $(VENV)/.installed-test
	$(BIN)/ruff check . && $(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest -q tests/test_layers.py

# Timing benchmarks; one that needs the evaluation data outside the repository
# says so and is skipped (bench/outside_data.py).
bench: $(VENV)/.installed-test
	for f in bench/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) demo build dist *.egg-info
