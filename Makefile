# loyaltymodels: set-up and everyday commands.
#   make demo   fit the beliefs + experience -> loyalty model on bundled data
#   make test   the fast test suite (what .ci/run runs)
#   make lint   ruff and mypy (also in .ci/run)
#   make notebooks  run notebooks/*.ipynb at full size (executed copies in notebooks/executed/)
#   make paper  regenerate paper/generated/ from the package and build paper/paper.pdf
#               (LOYALTYMODELS_FAST=1 make paper: short chains where anything is sampled)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PAPER_STAMP := $(VENV)/.paper-stamp

.PHONY: install demo test test-all lint bench notebooks paper paper-check clean

install: $(STAMP)

# The venv is rebuilt when pyproject.toml changes; the last step compiles the generic Bayesian log
# density once for this machine (numba keeps it on disk), as blavaan compiles its Stan programs at
# install time. scripts/find-python.sh finds a Python >= 3.12
# (python3.12/3.13, then pyenv versions) or says what to install; PYTHON=... overrides it.
$(STAMP): pyproject.toml
	@py=$$(sh scripts/find-python.sh) || exit 1; \
	echo "Using $$py ($$($$py --version))"; \
	rm -rf $(VENV) && $$py -m venv $(VENV) && \
	$(PY) -m pip install --quiet --upgrade pip && \
	$(PY) -m pip install --quiet -e '.[test]' && \
	$(PY) -c "import loyaltymodels.bayes.density.kernel, loyaltymodels.bayes.density.latent_entry" && \
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m loyaltymodels.demo

# Two test processes by default (TEST_WORKERS=1 for one; a file's tests stay in one process, so
# a module's fitted fixtures are computed once): the suite is single-threaded Python and PyTensor
# graph building (user time ~ wall time on one process), so two processes halve its wall time.
TEST_WORKERS ?= 2

test: $(STAMP)
	$(PY) -m pytest -m "not slow" -q --durations=15 -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

# ruff (lint and format) and mypy, as configured in pyproject.toml
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test-all: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	@for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

# Full size (LOYALTYMODELS_FAST=0); the tests run the same notebooks in fast mode. Notebooks whose
# package functions have not landed are skipped with the reason.
notebooks: $(STAMP)
	$(PY) notebooks/run_notebooks.py --out notebooks/executed

# The paper's extra (markdown, WeasyPrint, pypdf) is installed here only, so make test and CI stay
# lean. WeasyPrint needs pango, which Debian-like systems have (apt-get install libpango-1.0-0).
$(PAPER_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[test,paper]' && touch $(PAPER_STAMP)

paper: $(PAPER_STAMP)
	$(PY) -m paper.build

# After make paper: the built numbers equal a fresh computation, and every placeholder of the text
# resolves (in make test the built-paper check skips, since nothing is built yet).
paper-check: $(PAPER_STAMP)
	$(PY) -m pytest -q -m "not slow" -rs tests/test_paper.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info paper/generated paper/paper.pdf
