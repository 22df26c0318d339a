"""Pretraining corpora (PROTOCOL.md, "Pretraining data"): UNPC v1.0 and
OpenSubtitles v2018 in their release formats, exactly-once allocation of
documents to language pairs, train/valid/test splits, document-level text and
line-aligned bitexts, and the Table 6 statistics.

Modules: documents (sentence XML, read and write), links (cesAlign link groups,
read and write), xtargets (which half of a link belongs to which document, decided
from the data), formats (where each release keeps what), pipeline (scan, allocate,
write), synthetic (the demo's sources), real (downloads and unpacking).
"""
from lmvsmt.corpus.pipeline import (
    CorpusError,
    build,
    output_files,
    stage_targets,
    write_table6,
)

__all__ = [
    "CorpusError",
    "build",
    "output_files",
    "stage_targets",
    "write_table6",
]
