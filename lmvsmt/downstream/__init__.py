"""Downstream datasets (SA, NER, POS, NLI) in six languages: real sources and the demo.

Modules: `common` (the common on-disk format: its one reader and writer), `formats` (readers/writers of each
source's raw format), `splits` (seeded splits, duplicate removal, POS token budget),
`sources` (config entries, download, archive extraction, manifest), `demo` (demo
datasets from the synthetic world), `prepare` (raw -> common format, Table 7).
"""
from lmvsmt.downstream.common import DataError, read_split, split_path

__all__ = ["DataError", "read_split", "split_path"]
