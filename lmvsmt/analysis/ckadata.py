"""The CKA data files (results/analysis/similarity/cka_*.csv): their columns, writing
and reading. No torch here: the figures read these files."""
from __future__ import annotations

import csv
import io
import math
import os
from typing import Sequence

from lmvsmt.analysis.sentences import SimilarityError
from lmvsmt.io import atomic_write

LANGUAGE_COLUMNS = ("objective", "stack", "layer", "lang1", "lang2", "n_sentences", "cka")
MODEL_COLUMNS = ("language", "objective1", "stack1", "layer1", "objective2", "stack2", "layer2", "n_sentences",
                 "cka")


def write_csv(path: str | os.PathLike, rows: Sequence[dict], columns: Sequence[str]) -> None:
    """CKA rows as CSV (an undefined CKA is an empty field)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        value = row["cka"]
        writer.writerow({**row, "cka": "" if math.isnan(value) else f"{value:.6f}"})
    with atomic_write(path) as fh:
        fh.write(buf.getvalue())


def read_csv(path: str | os.PathLike, columns: Sequence[str]) -> list[dict]:
    """Rows of a CKA CSV (cka as float, NaN when empty; integer columns as int)."""
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames != list(columns):
            raise SimilarityError(f"{path}: line 1: header {reader.fieldnames} should be {list(columns)}")
        rows = []
        for row in reader:
            row["cka"] = float(row["cka"]) if row["cka"] else math.nan
            for key in row:
                if key.startswith(("layer", "n_")):
                    row[key] = int(row[key])
            rows.append(row)
    return rows
