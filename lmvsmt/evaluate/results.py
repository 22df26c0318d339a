"""Result files of the evaluation: one JSON object per (mode, objective, task,
language, seed), with the metrics and the provenance needed to trust them."""
from __future__ import annotations

import functools
import json
import platform
import subprocess
from importlib import metadata
from pathlib import Path

from lmvsmt.config import REPO_ROOT, section_hash
from lmvsmt.io import atomic_write, open_text

# The config sections an evaluation result depends on.
RESULT_SECTIONS = ("languages", "corpus", "demo", "bpe", "pretrain", "downstream", "evaluation")


@functools.lru_cache(maxsize=1)
def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


@functools.lru_cache(maxsize=1)
def versions() -> dict:
    out = {"python": platform.python_version()}
    for dist in ("lmvsmt", "torch", "fairseq-fixed", "numpy", "sentencepiece", "scikit-learn"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


def provenance(config: dict) -> dict:
    return {"config_hash": section_hash(config, *RESULT_SECTIONS), "git_commit": git_commit(), "versions": versions()}


def write_result(path: str | Path, record: dict) -> None:
    with atomic_write(path) as fh:
        json.dump(record, fh, indent=2, sort_keys=True)
        fh.write("\n")


def read_result(path: str | Path) -> dict:
    with open_text(path) as fh:  # JSON errors are the caller's to describe (lmvsmt.tables)
        return json.load(fh)
