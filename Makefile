# Two commands do everything on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8501
# pip on this machine warns about local index folders it does not have; the warnings are noise.
PIP := $(PY) -m pip install --quiet --disable-pip-version-check
QUIET_PIP := 2>&1 | { grep -v "^WARNING: Location" || true; }

.PHONY: install init demo run test test-slow check lint screenshots bench-imports bench-moderation bench-labelstudio bench-reports bench-reward bench-queues bench-active bench-backup bench-load bench-browser clean

$(VENV)/.installed: requirements.txt pyproject.toml
	python3.11 -m venv $(VENV) || python3 -m venv $(VENV)
	$(PIP) -r requirements.txt $(QUIET_PIP)
	$(PIP) --no-deps -e . $(QUIET_PIP)
	touch $@

install: $(VENV)/.installed

init: install
	$(PY) -m core init

demo: init
	$(PY) -m core demo --if-empty

# The worker (background jobs: retraining, reward training, scoring) runs beside the app and stops with it.
run: demo
	$(PY) -m core worker & worker=$$!; \
	trap 'kill -TERM $$worker 2>/dev/null || true; wait $$worker || true' EXIT; \
	$(PY) -m streamlit run app/server.py --server.address 127.0.0.1 --server.port $(PORT) --server.headless true

test: install
	$(PY) -m pytest -m "not slow"

# The long suites (marked slow): collecting none is a failure (pytest's exit 5).
test-slow: install
	$(PY) -m pytest -m slow

check: lint test test-slow

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

screenshots: install
	$(PY) -m tests.screenshots

bench-imports: install
	$(PY) -m benchmarks.imports

bench-moderation: install
	$(PY) -m benchmarks.moderation

bench-labelstudio: install
	$(PY) -m benchmarks.labelstudio

bench-reports: install
	$(PY) -m benchmarks.reports

bench-reward: install
	$(PY) -m benchmarks.reward

bench-queues: install
	$(PY) -m benchmarks.queues

bench-active: install
	$(PY) -m benchmarks.active

bench-backup: install
	$(PY) -m benchmarks.backup

bench-browser: install
	$(PY) -m benchmarks.browser

bench-load: install
	$(PY) -m benchmarks.load

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
