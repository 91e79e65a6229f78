# Hearth: the two commands of the README are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Debian packages the service and its tests need (servers, browser for the dashboard checks).
APT_PACKAGES := influxdb mosquitto mosquitto-clients chromium openssl postgresql

.PHONY: setup system venv demo test lint bench stop clean

setup: system venv

system:
	@missing=""; \
	for pkg in $(APT_PACKAGES); do dpkg -s $$pkg >/dev/null 2>&1 || missing="$$missing $$pkg"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

# The benchmarks also compare against statsforecast, which the service does not need.
$(VENV)/.bench-installed: $(VENV)/.installed
	$(BIN)/pip install -q -e '.[dev,bench]'
	touch $@

# One command: servers, simulated homes, collectors, forecasts, advice and the dashboard.
demo: setup
	$(BIN)/hearth demo

# One command: set up, lint, and run every test against real servers.
test: setup
	$(BIN)/ruff check .
	@$(BIN)/pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; \
	exit $$rc

lint: venv
	$(BIN)/ruff check .

bench: setup $(VENV)/.bench-installed
	$(BIN)/python -m benchmarks

stop:
	-$(BIN)/hearth stack down

clean: stop
	rm -rf $(VENV) var
