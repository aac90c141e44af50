# The two commands a newcomer runs: `make demo` and `make test`. Both install what they need.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
UV_VERSION := 0.9.30
UV := python3 -m uv
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := python3.11
# Write bytecode at install time: where PYTHONDONTWRITEBYTECODE is set (as on these
# machines), Python would otherwise recompile TensorFlow on every import (~20 s, not ~9 s).
export UV_COMPILE_BYTECODE := 1
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup uv python-deps npm-deps system-deps demo test lint bench

setup: python-deps npm-deps system-deps

uv:
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet "uv==$(UV_VERSION)"

python-deps: uv
	$(UV) sync --locked --quiet

npm-deps:
	@[ -d node_modules/@tensorflow/tfjs ] || npm ci --no-audit --no-fund --loglevel=error

# Debian's Chromium for the browser tests, and wrk for the benchmarks' load test.
system-deps:
	@command -v chromium >/dev/null && command -v wrk >/dev/null || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium wrk >/dev/null; }

demo: setup
	.venv/bin/mlbridge demo

lint: python-deps
	.venv/bin/ruff check

test: setup lint
	.venv/bin/pytest

bench: setup
	.venv/bin/python bench/run.py
