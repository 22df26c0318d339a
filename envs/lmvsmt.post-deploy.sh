#!/usr/bin/env bash
# Run by Snakemake inside the freshly created conda env (see lmvsmt.yaml), from the
# working directory of the workflow (the repository root).
set -euo pipefail
# fairseq's C++/Cython extensions must be built against the env's torch: no isolation.
python -m pip install --no-build-isolation "fairseq-fixed==0.12.3.1" "numpy<2" "torch==2.13.0"
# The workflow's own package (rules import lmvsmt).
if [ -f pyproject.toml ] && grep -q '^name = "lmvsmt"' pyproject.toml; then
  python -m pip install --no-deps --no-build-isolation -e .
fi
