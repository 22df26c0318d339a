"""Downstream datasets (SA, NER, POS, NLI) in six languages: real sources and the demo.

Modules: `common` (the common on-disk format), `formats` (readers/writers of each
source's raw format), `splits` (seeded splits, duplicate removal, POS token budget),
`sources` (config entries, download, archive extraction, manifest), `demo` (demo
datasets from the synthetic world), `prepare` (raw -> common format, Table 7).
"""
from lmvsmt.downstream.common import SPLITS, TASKS, DataError, read_split, split_path

__all__ = ["SPLITS", "TASKS", "DataError", "read_split", "split_path"]
