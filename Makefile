# Everything sets itself up: a fresh machine needs only python3 (3.11+).
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
N      ?= 32
SCENARIO ?= scenarios/stress.toml

.PHONY: test test-all stress sim bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

test: $(VENV)/.installed
	$(PY) -m pytest -n auto -q

# Includes the long stress runs marked `stress`.
test-all: $(VENV)/.installed
	$(PY) -m pytest -n auto -q -m ''

# Sweeps 4, 8, 16, ... up to N (LEVELS=4,32 overrides) on the embedded simulator.
stress: $(VENV)/.installed
	$(VENV)/bin/harness sweep $(SCENARIO) $(if $(LEVELS),--levels $(LEVELS),--up-to $(N))

sim: $(VENV)/.installed
	$(VENV)/bin/harness sim --profile aws-default --port 0

# Call-level benchmarks: the simulator against plain moto, and the retry policies.
bench: $(VENV)/.installed
	$(PY) benchmarks/sim_throughput.py
	$(PY) benchmarks/policies.py

clean:
	rm -rf $(VENV) build *.egg-info
