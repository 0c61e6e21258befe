# Everything the project needs is installed by these targets; nothing by hand.
#   make run         create .venv if needed, install, start the dashboard on port 8501
#                    at once; the first time, the demo workspace (SYNTHETIC data, small
#                    models, their audit; minutes) builds in the background meanwhile
#   make demo-reset  rebuild the demo workspace from scratch
#   make test        create .venv if needed, install, lint, run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8501
PIP := $(BIN)/python -m pip --disable-pip-version-check -q
CHROMIUM ?= /usr/bin/chromium

.PHONY: install browser run demo demo-reset test test-slow test-all lint clean

install: $(STAMP)

# Browser tests drive Debian's Chromium through Playwright (never `playwright install`,
# which downloads a browser of its own). Installed when missing and we may use apt;
# otherwise the browser tests are skipped and say why.
browser:
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "note: $(CHROMIUM) missing and apt-get unavailable: browser tests will be skipped"; fi; }

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -r requirements-dev.txt
	# facenet-pytorch 2.6.0 declares torch<2.3 and numpy<2: resolving its dependencies
	# would replace the pinned torch 2.14.1. With --no-deps it runs on the torch above,
	# and its MTCNN weights ship inside the wheel (no download at run time).
	$(PIP) install --no-deps facenet-pytorch==2.6.0
	$(PIP) install --no-deps -e .
	touch $(STAMP)

run: install
	$(BIN)/fer-audit demo --background
	$(BIN)/streamlit run app.py --server.port $(PORT)

# the demo in the foreground, printing each step
demo: install
	$(BIN)/fer-audit demo --if-missing

demo-reset: install
	$(BIN)/fer-audit demo --reset

lint: install
	$(BIN)/ruff check fer_audit tests app_pages benchmarks app.py
	$(BIN)/ruff format --check fer_audit tests app_pages benchmarks app.py

# Bytecode caching on for the tests even where the environment turns it off
# (PYTHONDONTWRITEBYTECODE): pytest then keeps its rewritten test modules, and each
# fer-audit process a test starts reads compiled modules (seconds per suite).
#
# Two workers (pytest-xdist): one builds the session demo and runs the tests that need
# it, the other takes whole modules meanwhile. One torch thread per process, since the
# workers already fill both cores (oversubscribed, they spin).
test: lint browser
	env -u PYTHONDONTWRITEBYTECODE OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n 2 --dist loadgroup --no-loadscope-reorder

# Tests marked slow (kept out of `make test` for its 15-minute budget).
test-slow: install browser
	$(BIN)/python -m pytest -m slow

test-all: install browser
	$(BIN)/python -m pytest -m "slow or not slow"

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
