# embodied-mm: the two commands a new user needs.
#   make demo   # set up .venv if needed, then run the main job
#   make test   # set up .venv if needed, then run the whole test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.embodied-mm-installed

.PHONY: demo test lint install clean

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
	$(VENV)/bin/embodied-mm demo

test: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check embodied_mm sim tests

clean:
	rm -rf $(VENV) outputs .pytest_cache
