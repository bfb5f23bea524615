# Two commands matter: `make run` and `make test`. Everything installs into .venv from this repo's own files.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1
export PREFECT_LOGGING_LEVEL ?= WARNING
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS ?= 90

.PHONY: run test lint install dev eval bench faults clean browser soak

$(BIN)/python:
	$(PY) -m venv $(VENV)

# uv is bootstrapped into the venv with pip: 5 s cold installs instead of 67 s.
$(UV): $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv>=0.4"

# uv compiles the dependencies; the project's own modules are compiled here (an editable install leaves them as
# source, and these shells set PYTHONDONTWRITEBYTECODE): `rare-news search` starts in 0.6 s instead of 0.85.
$(STAMP): pyproject.toml $(UV)
	$(UV) pip install --python $(BIN)/python --compile-bytecode --quiet -e .
	$(BIN)/python -m compileall -q flows connectors models transforms web >/dev/null
	touch $@

$(DEV_STAMP): pyproject.toml $(UV) | browser
	$(UV) pip install --python $(BIN)/python --compile-bytecode --quiet -e '.[dev]'
	$(BIN)/python -m compileall -q flows connectors models transforms web >/dev/null
	touch $(STAMP) $@

# Debian's Chromium (and a CJK font) for the report's browser test and `rare-news report --screenshot`.
browser:
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)
	fc-list :lang=zh | grep -q . || (apt-get update -qq && apt-get install -y -qq fonts-wqy-zenhei >/dev/null)

install: $(STAMP)
dev: $(DEV_STAMP)

run: $(STAMP)
	$(BIN)/rare-news run

lint: $(DEV_STAMP)
	$(BIN)/ruff check flows connectors models transforms web tests bench
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -q

faults: $(DEV_STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider -m faults tests/faults

eval: $(DEV_STAMP)
	$(BIN)/python bench/eval.py

bench: $(DEV_STAMP)
	$(BIN)/python bench/run.py

# Not in `make test`: serve on a one-minute cron against a web that keeps publishing (RUNS=60: about an hour).
soak: $(DEV_STAMP)
	$(BIN)/python bench/soak.py --runs $(or $(RUNS),60)

clean:
	rm -rf $(VENV) data/rare_news.db .pytest_cache .mypy_cache .ruff_cache
