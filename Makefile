# einigc: `make demo` and `make test` work on a fresh machine with only Python.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
EINIGC := $(VENV)/bin/einigc
STAMP := $(VENV)/.installed
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: venv demo test test-fast generate bench bench-targets bench-gpu fuzz lint clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,bench]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	cd examples && ../$(EINIGC) && ../$(PY) demo.py

test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider tests

# The tests that need no framework but numpy and are not slow, with TensorFlow,
# PyTorch and JAX made unimportable (tests/frameworks.py): the stages' feedback in seconds.
test-fast: $(STAMP)
	EINIG_BLOCK_FRAMEWORKS=tensorflow,torch,jax $(PY) -m pytest -q -p no:cacheprovider -m "not slow" tests

# Regenerates every checked-in generated module: the examples (examples/pyproject.toml) and golden files.
generate: $(STAMP)
	cd examples && ../$(EINIGC)
	$(PY) -m tests.golden --update

bench: $(STAMP)
	$(PY) bench/run.py
	$(PY) bench/planning.py
	$(PY) bench/run.py --target all
	$(PY) bench/eingrad_pairs.py --target all

# The per-target benchmark alone (numpy, torch, jax on the CPU; ~5 min each at most):
# bench/results/targets.md. `--target torch --quick` for a smoke run.
bench-targets: $(STAMP)
	$(PY) bench/run.py --target all

# torch and jax on an NVIDIA GPU (< 5 min; installs nothing): bench/results/gpu.md.
bench-gpu: $(STAMP)
	PYTHON=$(PY) bash bench/gpu.sh

fuzz: $(STAMP)
	EINIG_FUZZ_EXAMPLES=10000 $(PY) -m pytest -q -p no:cacheprovider tests/test_fuzz.py
	EINIG_WRONG_OPERAND_EXAMPLES=2000 $(PY) -m pytest -q -p no:cacheprovider tests/test_wrong_operands.py

lint: $(STAMP)
	cd examples && ../$(EINIGC) --check

clean:
	rm -rf $(VENV) build dist *.egg-info
