# Nova's set-up and everyday targets. The README names two: `make start` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: install chromium lexicon start test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch first, pinned to the CPU build: an unpinned torch pulls gigabytes of CUDA packages.
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[dev]"
	# The durable server's runtime pins older langgraph-api packages: it lives in an overlay.
	$(BIN)/nova serve --install-runtime
	rm -f $(VENV)/.installed-* && touch $(STAMP)

# The HTML trace report is checked in headless Chromium (tests/test_trace_cli_report.py fails
# without it). Debian's package installs in ~20 s from the distribution's own registry.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { command -v apt-get >/dev/null 2>&1 && $(SUDO) apt-get update -qq && \
	    $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; } || \
	  echo "Chromium not installed: the report test needs it (Debian: apt-get install -y chromium)"

# Memory recall glosses German words in English (memory/lexicon.py) from Debian's
# German-English dictionary (trans-de-en, 8 MB); without it recall works, English words only.
lexicon:
	@test -f /usr/share/trans/de-en || \
	  { command -v apt-get >/dev/null 2>&1 && $(SUDO) apt-get update -qq && \
	    $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq trans-de-en; } || \
	  echo "trans-de-en not installed: memory recall will not gloss German words (apt-get install -y trans-de-en)"

install: $(STAMP) chromium lexicon

## Install everything, seed the sample data once, and serve Nova (embedded stores) for Studio/SDK.
start: install
	$(BIN)/nova setup
	$(BIN)/nova serve --dev

## Install everything and run the whole test suite.
test: install
	LANGSMITH_TRACING=false LANGSMITH_TEST_TRACKING=false HF_HUB_OFFLINE=1 \
		$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check nova graphs nodes tools memory evals tests
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .nova .langgraph_api .pytest_cache .mypy_cache .ruff_cache
