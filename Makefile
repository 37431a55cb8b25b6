# embodied-mm: the two commands a new user needs.
#   make demo   # set up .venv if needed, then run the main job (PaLM-E planner, ROS 2 graph)
#   make test   # set up .venv and the test tools if needed, then run the whole test suite
# `make demo planner=oracle` runs the demo with the scripted expert instead.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.embodied-mm-installed
planner ?=

.PHONY: demo test test-deps browser lint install clean

# Re-install when the dependency declarations change. torch comes first with its exact pin:
# a looser request would pull a multi-GB CUDA build.
$(STAMP): setup.py package.xml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[ros,dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/embodied-mm demo $(if $(planner),planner=$(planner))

# The teleop console's browser test drives Debian's chromium + chromium-driver (no browser
# downloads): installed with apt-get when missing, through sudo only when not root.
browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
	  if ! command -v apt-get >/dev/null; then \
	    echo "make: no apt-get here; install chromium and chromedriver for the browser test" >&2; \
	    exit 1; \
	  fi; \
	  if [ "$$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  echo "make: installing Debian's chromium + chromium-driver for the browser test"; \
	  $$SUDO apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    chromium chromium-driver >/dev/null; \
	fi

test-deps: $(STAMP) browser

test: test-deps
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check embodied_mm sim tests

clean:
	rm -rf $(VENV) outputs .pytest_cache
