"""Table contents from the result files: reading and checking them, the cells (mean and
s.d. over seeds), bolding, and the result and statistics tables as a `Table`."""
from __future__ import annotations

import json
import logging
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from lmvsmt import layout
from lmvsmt.downstream.common import SHARED_COLUMNS, TABLE7_COLUMNS
from lmvsmt.evaluate.results import read_result
from lmvsmt.io import open_text
from lmvsmt.pretrain import external
from lmvsmt.tables.render import Block, Entry, Row, Table, tex_escape
from lmvsmt.tables.specs import (METRIC_WORDS, MODE_WORDS, RESULT_KEYS, RESULT_PATH_KEYS, RESULT_TABLES,
                                 TableError, table_groups)
from lmvsmt.vocabulary import CORPORA, SPLITS

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- result files


def load_result(path: str | os.PathLike, path_keys: Sequence[str] = RESULT_PATH_KEYS) -> dict:
    """Read one evaluation result file and check the keys the tables use, and that
    the directories above it (`path_keys`, then seed<N>.json) name its content."""
    path = Path(path)
    try:
        record = read_result(path)
    except json.JSONDecodeError as exc:
        raise TableError(f"{path}: line {exc.lineno}: not valid JSON: {exc.msg}") from None
    if not isinstance(record, dict):
        raise TableError(f"{path}: expected a JSON object")
    missing = [k for k in RESULT_KEYS if k not in record]
    if missing:
        raise TableError(f"{path}: missing key(s) {', '.join(missing)}")
    for metric in METRIC_WORDS:
        value = record[metric]
        # null/NaN = the run produced no score: the cell shows a dash.
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
            raise TableError(f"{path}: key {metric} = {value!r} is not a fraction in [0, 1]")
    # A result filed under the wrong path would land in the wrong cell.
    parts = path.parts
    if len(parts) > len(path_keys) and re.fullmatch(r"seed\d+\.json", parts[-1]):
        expected = {**dict(zip(path_keys, parts[-1 - len(path_keys):-1])), "seed": int(parts[-1][4:-5])}
        for key, value in expected.items():
            if record[key] != value:
                raise TableError(f"{path}: key {key} = {record[key]!r} does not match its path ({value!r})")
    return record


def load_results(paths: Iterable[str | os.PathLike], path_keys: Sequence[str] = RESULT_PATH_KEYS) -> list[dict]:
    records = [load_result(p, path_keys) for p in paths]
    hashes = {r["provenance"].get("config_hash") for r in records
              if isinstance(r.get("provenance"), dict)} - {None}
    if len(hashes) > 1:
        # Not an error: a researcher may mean to combine runs; but it must be visible.
        log.warning("results come from %d different configurations (config_hash %s)", len(hashes),
                    ", ".join(sorted(hashes)))
    return records


def find_result_files(results_dir: str | os.PathLike, config: dict) -> list[Path]:
    """Result files that exist for the configured grid (partial runs render with dashes)."""
    ev = config["evaluation"]
    paths = [Path(layout.eval_result(results_dir, mode, objective, task, lang, seed))
             for mode in ev["modes"] for objective in config["objectives"] for task in config["tasks"]
             for lang in config["languages"] for seed in ev["seeds"]]
    return [path for path in paths if path.exists()]


# --------------------------------------------------------------------------- cells


@dataclass(frozen=True)
class Cell:
    """Scores (x100) of one model x task x language over seeds."""
    values: tuple[float, ...]
    ddof: int = 1

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float | None:
        return sum(self.values) / self.n if self.values else None

    @property
    def sd(self) -> float | None:
        """Standard deviation over seeds (ddof 1: sample; 0: population); None when
        there are too few seeds to define it."""
        if self.n - self.ddof < 1:
            return None
        mean = self.mean
        return math.sqrt(sum((v - mean) ** 2 for v in self.values) / (self.n - self.ddof))


def collect_cells(records: Iterable[dict], metric: str, mode: str, seeds: Sequence[int] | None = None,
                  ddof: int = 1) -> dict[tuple[str, str, str], Cell]:
    """Group the records of one mode by (task, objective, language); scores x100.
    Records with a null score are left out of the cell (it counts fewer seeds)."""
    scores: dict[tuple[str, str, str], dict[int, float]] = {}
    for r in records:
        if r["mode"] != mode or (seeds is not None and r["seed"] not in seeds):
            continue
        value = r[metric]
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        key = (r["task"], r["objective"], r["language"])
        per_seed = scores.setdefault(key, {})
        if r["seed"] in per_seed:
            raise TableError(f"two results for {mode} {key[1]} {key[0]} {key[2]} seed {r['seed']}")
        per_seed[r["seed"]] = 100.0 * value
    return {k: Cell(tuple(v[s] for s in sorted(v)), ddof) for k, v in scores.items()}


def _seed_words(seeds: Sequence[int]) -> str:
    n = len(seeds)
    return f"{n} seed{'s' if n != 1 else ''} ({', '.join(str(s) for s in seeds)})"


def score_blocks(cells: dict[tuple[str, str, str], Cell], groups: Sequence[Sequence[str]], tasks: Sequence[str],
                 columns: Sequence[str], n_seeds: int, decimals: int) -> list[Block]:
    """One block per task, one row per objective (in `groups`), one entry per column
    (language) from `cells` keyed (task, objective, column). Bold: the best mean
    (compared as displayed, ties all bold) per task x column within each objective
    group; a group with fewer than two scored models has no bold."""
    blocks = []
    for task in tasks:
        rows: list[Row] = []
        group_ends = []
        for group in groups:
            group_rows = []
            for objective in group:
                entries = []
                for column in columns:
                    cell = cells.get((task, objective, column))
                    entries.append(Entry() if cell is None else
                                   Entry(cell.mean, cell.sd, cell.n, short=cell.n < n_seeds))
                group_rows.append(Row(objective, [], entries))
            for j, _ in enumerate(columns):
                scores = [round(r.entries[j].mean, decimals) for r in group_rows if r.entries[j].mean is not None]
                if len(scores) >= 2:
                    best = max(scores)
                    for r in group_rows:
                        e = r.entries[j]
                        e.bold = e.mean is not None and round(e.mean, decimals) == best
            rows.extend(group_rows)
            group_ends.append(len(rows) - 1)
        blocks.append(Block(task, rows, group_ends[:-1]))
    return blocks


def entry_fields(language: str, e: Entry) -> dict:
    """The CSV fields of one displayed cell."""
    return {"language": language, "n_seeds": e.n, "mean": "" if e.mean is None else f"{e.mean:.6f}",
            "sd": "" if e.sd is None else f"{e.sd:.6f}", "best": int(e.bold)}


def missing_notes(blocks: Sequence[Block]) -> str:
    """The caption's sentence on dashes, daggers and single seeds."""
    entries = [e for b in blocks for r in b.rows for e in r.entries if e.mean is not None]
    notes = "A dash marks a missing result"
    if any(e.short for e in entries):
        notes += "; $^\\dagger$ marks a mean over fewer seeds"
    if any(e.sd is None and e.n for e in entries):
        notes += "; no standard deviation is shown where a single seed is available"
    return notes + "."


def build_result_table(name: str, records: Iterable[dict], *, objectives: Sequence[str], tasks: Sequence[str],
                       languages: Sequence[str], seeds: Sequence[int], decimals: int = 2, ddof: int = 1,
                       bold_scope: str = "architecture", sources: Sequence[tuple[Sequence[str], str]] = ()) -> Table:
    """Result table `name` (table1..4, 8, 9) from result records.

    Bold: the best mean (compared as displayed, ties all bold) per task x language
    within each objective group; a group with fewer than two scored models has no bold.
    `sources`: (objectives, where their models come from) for the caption
    (lmvsmt.pretrain.external.caption_sources), when some were trained elsewhere.
    """
    spec = RESULT_TABLES[name]
    groups = table_groups(spec, objectives, bold_scope)
    cells = collect_cells(records, spec.metric, spec.mode, seeds, ddof)
    seeds = list(seeds)
    blocks = score_blocks(cells, groups, tasks, languages, len(seeds), decimals)
    csv_rows = [{"table": name, "metric": spec.metric, "mode": spec.mode, "task": block.name, "objective": r.label,
                 **entry_fields(lang, e)}
                for block in blocks for r in block.rows for lang, e in zip(languages, r.entries)]
    sd_word = "sample" if ddof == 1 else "population"
    shown = ", ".join(o for g in groups for o in g)
    caption = (f"{METRIC_WORDS[spec.metric]} ($\\times$100) of the {spec.models} ({shown}) on the test sets, "
               f"{MODE_WORDS[spec.mode]}: mean $\\pm$ {sd_word} standard deviation over {_seed_words(seeds)}. "
               f"Bold: best model per task and language")
    if len(groups) > 1:
        caption += " within each architecture (double-stack, single-stack)"
    caption += ". " + missing_notes(blocks)
    if sources:
        origins = [f"{', '.join(names)} " + (text if text == external.TRAINED_HERE else f"from {tex_escape(text)}")
                   for names, text in sources]
        caption += f" Models: {'; '.join(origins)}."
    return Table(name, caption, ["Task", "Model"] + [lang.upper() for lang in languages], blocks, "result",
                 "ll" + "c" * len(languages), True, decimals, csv_rows,
                 ["table", "metric", "mode", "task", "objective", "language", "n_seeds", "mean", "sd", "best"])


# --------------------------------------------------------------------------- statistics tables


def read_tsv(path: str | os.PathLike, columns: Sequence[str], int_columns: Sequence[str]) -> list[dict]:
    """Read a statistics TSV with exactly `columns` as header; integers checked, and
    total = train + valid + test on every row (a table must add up)."""
    path = Path(path)
    with open_text(path, newline="") as fh:
        lines = fh.read().splitlines()
    if not lines or lines[0].split("\t") != list(columns):
        got = lines[0].split("\t") if lines else []
        raise TableError(f"{path}: line 1: header {got} should be {list(columns)}")
    rows = []
    for lineno, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != len(columns):
            raise TableError(f"{path}: line {lineno}: {len(fields)} fields, expected {len(columns)}")
        row = dict(zip(columns, fields))
        for col in int_columns:
            if not re.fullmatch(r"\d+", row[col]):
                raise TableError(f"{path}: line {lineno}: {col} = {row[col]!r} is not a non-negative integer")
            row[col] = int(row[col])
        if row["train"] + row["valid"] + row["test"] != row["total"]:
            raise TableError(f"{path}: line {lineno}: total {row['total']} != train + valid + test "
                             f"({row['train'] + row['valid'] + row['test']})")
        rows.append(row)
    return rows


SPLIT_COLUMNS = (*SPLITS, "total")


def build_table6(path: str | os.PathLike, corpora: Sequence[str] | None = None) -> Table:
    """Table 6: sentences per split of each pretraining corpus (configured corpora; a
    configured corpus without a row shows dashes)."""
    rows = read_tsv(path, ("corpus",) + SPLIT_COLUMNS, SPLIT_COLUMNS)
    by_corpus = {r["corpus"]: r for r in rows}
    corpora = list(corpora) if corpora else [r["corpus"] for r in rows]
    out = [Row(CORPORA.get(c, c), [by_corpus.get(c, {}).get(k) for k in SPLIT_COLUMNS]) for c in corpora]
    caption = ("Pretraining corpus statistics: number of sentences in the train, validation and test "
               "splits of each corpus (all languages together).")
    csv_rows = [{"corpus": c, **{k: by_corpus.get(c, {}).get(k, "") for k in SPLIT_COLUMNS}} for c in corpora]
    return Table("table6", caption, ["Corpus", "Train", "Valid", "Test", "Total"], [Block("", out)], "stats",
                 "lrrrr", False, csv_rows=csv_rows, csv_fields=["corpus", *SPLIT_COLUMNS])


def build_table7(path: str | os.PathLike, tasks: Sequence[str], languages: Sequence[str]) -> Table:
    """Table 7: downstream dataset sizes per task and language (configured pairs; a
    missing pair shows dashes). The inputs that splits share are in the CSV only; the
    rendered table keeps the paper's columns."""
    rows = read_tsv(path, TABLE7_COLUMNS, SPLIT_COLUMNS + SHARED_COLUMNS)
    by_key = {(r["task"], r["language"]): r for r in rows}
    blocks, csv_rows = [], []
    for task in tasks:
        block_rows = []
        for lang in languages:
            r = by_key.get((task, lang), {})
            block_rows.append(Row(lang.upper(), [r.get("dataset")] + [r.get(k) for k in SPLIT_COLUMNS]))
            csv_rows.append({key: r.get(key, "") for key in TABLE7_COLUMNS} | {"task": task, "language": lang})
        blocks.append(Block(task, block_rows))
    caption = ("Downstream dataset statistics: dataset and number of examples in the train, validation "
               "and test splits per task and language (sentences for NER and POS).")
    return Table("table7", caption, ["Task", "Language", "Dataset", "Train", "Valid", "Test", "Total"], blocks,
                 "stats", "lllrrrr", True, csv_rows=csv_rows, csv_fields=list(TABLE7_COLUMNS))
