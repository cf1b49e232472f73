# The two commands of the README: `make run` and `make test`. Each creates
# .venv and installs what it needs; nothing has to be installed by hand.
VENV   ?= .venv
PYTHON ?= python3
PY     := $(VENV)/bin/python
STAMP_RUN  := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test
HOST   ?= 127.0.0.1
PORT   ?= 8080
PYTEST_ARGS ?=

.PHONY: help run test test-images images bench bench-ab bench-tools clean libmagic

help:
	@echo "make run     serve the example service on http://$(HOST):$(PORT) (local storage, no server needed)"
	@echo "make test    run the test suite (unit + real processes on loopback)"
	@echo "make bench   run the benchmarks and print their tables"
	@echo "make bench-ab OLD=<rev>  the fork server's req/s at c=4, this checkout against <rev>, in turns"
	@echo "make images  build the kit, base and example images (podman or docker)"
	@echo "make clean   remove .venv and run data"

# python-magic needs Debian's libmagic1: install it when we can (root with apt), else say how.
libmagic:
	@$(PYTHON) -c "import ctypes.util, sys; sys.exit(0 if ctypes.util.find_library('magic') else 1)" \
	|| { if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	       echo "installing libmagic1 (needed by python-magic)"; \
	       (apt-get install -y -qq libmagic1 >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq libmagic1 >/dev/null; }); \
	     else echo "error: libmagic is missing: run 'sudo apt-get install libmagic1' (Debian/Ubuntu)" >&2; exit 1; fi; }

# `make run` installs what running needs; `make test` adds the test tools on top.
$(STAMP_RUN): setup.cfg pyproject.toml | libmagic
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	@touch $(STAMP_RUN)

$(STAMP_TEST): $(STAMP_RUN)
	$(PY) -m pip install -q -e '.[test]'
	@touch $(STAMP_TEST)

run: $(STAMP_RUN)
	HOST=$(HOST) PORT=$(PORT) $(PY) examples/serve.py

test: $(STAMP_TEST)
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# Container images (docker/): podman when installed, else docker.
ENGINE ?= $(shell command -v podman || command -v docker)
BUILD  := $(ENGINE) build $(if $(findstring podman,$(ENGINE)),--format docker)

images:
	$(BUILD) -f docker/kit/Dockerfile -t faas-supervisor-kit .
	$(BUILD) -f docker/base/Dockerfile -t faas-supervisor-base .
	for name in cowsay grayscale text-to-speech; do \
	  $(BUILD) -t faas-supervisor-example-$$name docker/examples/$$name || exit 1; done

test-images: $(STAMP_TEST)
	$(VENV)/bin/pytest -m images $(PYTEST_ARGS)

# GNU time reports a child's own peak RSS (bench_supervisor); install it when we can.
bench-tools:
	@command -v /usr/bin/time >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && (apt-get install -y -qq time >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }); } \
	  || { echo "error: /usr/bin/time is missing: run 'sudo apt-get install time'" >&2; exit 1; }

bench: $(STAMP_TEST) bench-tools
	env -u PYTHONDONTWRITEBYTECODE $(PY) bench/run.py $(BENCH)

PAIRS ?= 6
bench-ab: $(STAMP_TEST)
	@test -n "$(OLD)" || { echo "usage: make bench-ab OLD=<revision> [PAIRS=6]" >&2; exit 2; }
	env -u PYTHONDONTWRITEBYTECODE $(PY) bench/ab_watchdog.py $(OLD) $(PAIRS)

clean:
	rm -rf $(VENV) .run
