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

# Another Python for a smoke run: pyenv's (as on these machines), else one on PATH.
python = $(shell for p in $$(pyenv root 2>/dev/null)/versions/$(1)*/bin/python$(1) \
	$$(command -v python$(1)); do [ -x "$$p" ] && "$$p" -c "" 2>/dev/null && echo "$$p" && break; done)
#: The full suite runs on 3.11; a short train, convert and verify on each of these
#: (`make smoke SMOKE_PYTHONS="3.12 3.13"` adds 3.13, which `make test` leaves out for time).
SMOKE_PYTHONS := 3.12
SMOKE := test_cli_converts_and_verifies_the_recipes_own_saved_model or \
	test_cli_trains_and_predicts_on_a_table_with_other_columns or test_verify_cli_passes_and_records_parity

.PHONY: setup uv python-deps npm-deps system-deps demo test smoke lint bench

setup: python-deps npm-deps system-deps

uv:
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet "uv==$(UV_VERSION)"

python-deps: uv
	$(UV) sync --locked --quiet

# The browser runtimes (TF.js and its wasm and webgpu backends, LiteRT.js) come from the
# pinned npm packages and are vendored into the Python package, so the page, `mlbridge
# site` and a built wheel all carry them (scripts/vendor.mjs; src/mlbridge/vendor/*/README.md).
npm-deps:
	@[ -d node_modules/@litertjs/core ] && [ -d node_modules/esbuild ] || \
		npm ci --no-audit --no-fund --loglevel=error
	@node scripts/vendor.mjs

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
	$(MAKE) --no-print-directory smoke

smoke: $(addprefix smoke-,$(SMOKE_PYTHONS))

smoke-%: uv npm-deps system-deps
	@[ -n "$(call python,$*)" ] || { echo "Python $* not found: install it (pyenv install $*)"; exit 1; }
	UV_PROJECT_ENVIRONMENT=.venv-$* $(UV) sync --locked --quiet --python $(call python,$*)
	.venv-$*/bin/pytest -q -p no:cacheprovider -k "$(SMOKE)" tests/test_convert_cli.py \
		tests/test_pipeline.py tests/test_browser.py

bench: setup
	.venv/bin/python bench/run.py
