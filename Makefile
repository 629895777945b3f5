# Quickstart: `make demo` (materialize every entity against the embedded emulator) and `make test`.
VENV ?= .venv
BIN := $(VENV)/bin
export DAGSTER_HOME ?= $(CURDIR)

# Python 3.11 or 3.12: the first of python3.12, python3.11 and python3 that is one, unless named
# (make PYTHON=/path/to/python3.12). Each candidate is asked its version, not trusted by its name.
PYTHON_VERSIONS := 3.11 3.12
version_of = $(shell $(1) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
ifeq ($(origin PYTHON),undefined)
PYTHON := $(firstword $(foreach p,python3.12 python3.11 python3,$(if $(filter $(PYTHON_VERSIONS),$(call version_of,$(p))),$(p))))
endif
PYTHON_VERSION := $(if $(PYTHON),$(call version_of,$(PYTHON)))
# What built the virtual environment (version and path), kept in $(VENV)/.installed: another
# interpreter (or a broken earlier install) rebuilds it from scratch.
PYTHON_ID := $(if $(filter $(PYTHON_VERSIONS),$(PYTHON_VERSION)),$(shell $(PYTHON) -c 'import sys; print(sys.version.split()[0], sys.executable)' 2>/dev/null))
ifneq ($(PYTHON_ID),$(shell cat $(VENV)/.installed 2>/dev/null))
.PHONY: $(VENV)/.installed
endif

.PHONY: install demo test dev lint format clean clean-data azurite

$(VENV)/.installed: pyproject.toml constraints.txt
	@test -n "$(PYTHON_ID)" || { \
	  echo "d365-assets needs Python 3.11 or 3.12. $(if $(PYTHON),$(PYTHON) is Python $(or $(PYTHON_VERSION),unknown: it did not run),None of python3.12, python3.11, python3 on PATH is one)." >&2; \
	  echo "Install one (apt-get install python3.11, brew install python@3.12, pyenv install 3.12), or name it: make $(or $(MAKECMDGOALS),install) PYTHON=/path/to/python3.12" >&2; \
	  exit 1; }
	@echo "Installing into $(VENV) with Python $(PYTHON_ID)"
	rm -f $@
	$(PYTHON) -m venv --clear $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	echo '$(PYTHON_ID)' > $@

install: $(VENV)/.installed

demo: install
	$(BIN)/d365-assets demo

# Two workers: the tests that start processes or servers (marked e2e) run one after the other on one of
# them (tests/conftest.py), the rest on the other; most of the suite waits on I/O, not the CPU.
test: install
	$(BIN)/python -m pytest -n 2 --dist loadgroup

# Azurite, the Azure Storage emulator the Delta Lake tests start (tests/lake/; they skip without it).
azurite: tests/azurite/node_modules/.bin/azurite-blob

tests/azurite/node_modules/.bin/azurite-blob: tests/azurite/package.json tests/azurite/package-lock.json
	npm ci --prefix tests/azurite --no-audit --no-fund --loglevel=error
	touch $@

dev: install
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

# Style, then the code location as `dg` loads it: every component's defs.yaml and every definition.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/dg check defs
	$(BIN)/dg list defs --json > /dev/null

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Removes the virtual environment and caches; keeps the warehouse, packages and run history.
clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info test-artifacts tests/azurite/node_modules
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

# Removes what the demo and the UI made here: the warehouse, waiting packages and the emulator's state
# (data/), and the Dagster instance's runs, schedules, logs and storage.
clean-data:
	rm -rf data history schedules storage logs .nux .logs_queue .telemetry .tmp_dagster_home_* .d365-assets.lock
