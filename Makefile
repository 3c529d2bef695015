# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
TORCH  := torch==2.13.0

.PHONY: run test browser bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch first, pinned: with it in place the project's torch range installs nothing more.
$(VENV)/.torch: | $(BIN)/python
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install -q "$(TORCH)"
	touch $@

# everything the README uses at run time: the core and the datasets, web and many extras; then
# the compiled engine is compiled once into numba's cache (rnnlab compile): no command compiles later
$(VENV)/.installed: pyproject.toml $(VENV)/.torch
	$(BIN)/pip install -q -e ".[datasets,web,many]"
	$(BIN)/rnnlab compile
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.torch
	$(BIN)/pip install -q -e ".[dev]"
	$(BIN)/rnnlab compile
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/rnnlab seed --seed 7
	@echo "charts and value table of that run:"
	@$(BIN)/rnnlab plot latest
	@echo "report:"
	@$(BIN)/rnnlab report latest

# The browser tests drive Debian's Chromium; Playwright never downloads a browser of its own.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1
CHROMIUM := /usr/bin/chromium

test: $(VENV)/.installed-dev browser
	$(BIN)/python -m pytest -rs

# Install Chromium with apt when it is missing (as root); otherwise say loudly that the browser
# tests will be skipped (pytest -rs repeats it in the summary).
browser:
	@if [ ! -x $(CHROMIUM) ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium for the browser tests (apt-get)"; \
	    (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium) || true; \
	  fi; \
	  if [ ! -x $(CHROMIUM) ]; then \
	    echo "****************************************************************"; \
	    echo "** NOTICE: $(CHROMIUM) is missing and apt-get could not install it"; \
	    echo "** (not root, no apt-get, or no network): the browser tests will be"; \
	    echo "** SKIPPED. Install Debian's chromium package to run them."; \
	    echo "****************************************************************"; \
	  fi; \
	fi

$(VENV)/.installed-bench: pyproject.toml $(VENV)/.installed-dev
	$(BIN)/pip install -q -e ".[dev,bench]"
	touch $@

# the engines' benchmark, then the forecasting panel against seasonal naive, AutoETS and AutoARIMA
bench: $(VENV)/.installed-bench
	$(BIN)/python bench/run.py
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/forecast_panel.py

clean:
	rm -rf $(VENV) runs build src/*.egg-info
