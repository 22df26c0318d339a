# lmvsmt: the two commands a researcher needs are `make demo` and `make test`.
# Both create/refresh the virtual environment first (a no-op when it is current).

PYTHON   ?= python3
VENV     ?= .venv
BIN      := $(VENV)/bin
PIP      := $(BIN)/python -m pip
REQS     := requirements/constraints.txt requirements/requirements.txt pyproject.toml
# The stamp is keyed on the requirement files: editing them triggers a reinstall.
REQ_HASH := $(shell cat $(REQS) | sha256sum | cut -c1-16)
STAMP    := $(VENV)/.installed-$(REQ_HASH)
CORES    ?= $(shell nproc)
PYTEST_ARGS ?=

.PHONY: setup sysdeps demo test test-fast status lint reference clean-venv

setup: $(STAMP)

# Order matters: torch first (the CPU wheel here; keep it), then numpy<2 and the
# build tools, then fairseq without build isolation (otherwise pip builds it
# against a freshly downloaded CUDA torch), then everything else, all under the
# same constraints so no step can move torch or numpy.
$(STAMP):
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c requirements/constraints.txt torch==2.13.0
	$(PIP) install -q -c requirements/constraints.txt "numpy<2" cython setuptools wheel
	$(PIP) install -q -c requirements/constraints.txt --no-build-isolation fairseq-fixed==0.12.3.1
	$(PIP) install -q -c requirements/constraints.txt -r requirements/requirements.txt
	$(PIP) install -q -c requirements/constraints.txt --no-build-isolation --no-deps -e .
	rm -f $(VENV)/.installed-*
	touch $@

# The whole demo DAG, then the HTML report (results/report.html) in the same run.
demo: setup sysdeps
	$(BIN)/snakemake --cores $(CORES) --report results/report.html --report-after-run

test: setup sysdeps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The unit tier: everything but the tests marked slow (those that start Snakemake,
# train with fairseq or need Slurm); under 2 minutes on 2 cores.
test-fast: setup
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

# Where a run stands (read-only, safe while Snakemake runs). Not tied to `setup`: a
# reinstall must not happen under a running workflow. Other runs:
#   make status STATUS_ARGS="--configfile config/paper.yaml"   (add --json for scripts)
STATUS_ARGS ?=
status:
	$(BIN)/python -m lmvsmt.status $(STATUS_ARGS)

# pdflatex compiles results/tables/tables.pdf (and its test). Debian's texlive is
# installed only when pdflatex is missing and we are root (CI: about 45 s);
# otherwise this says what to install and the PDF test is skipped.
TEX_PKGS := texlive-latex-base texlive-latex-recommended
sysdeps:
	@if command -v pdflatex >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing $(TEX_PKGS) for pdflatex"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(TEX_PKGS) >/dev/null; \
	else \
		echo "pdflatex is missing: install $(TEX_PKGS) (apt-get install --no-install-recommends ...)" >&2; \
	fi

# Regenerate config/REFERENCE.md after changing a schema (a test checks it is current).
reference: setup
	$(BIN)/python -m lmvsmt.config --reference

lint: setup
	$(BIN)/snakemake --lint

clean-venv:
	rm -rf $(VENV)
