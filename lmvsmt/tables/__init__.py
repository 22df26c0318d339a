"""The paper's tables, rendered from the result files only.

Result tables (PROTOCOL.md, "The tables to generate"): Table 1/2 (double-stack
2-LM, 2-MT), Table 3/4 (single-stack CLM, MLM, TLM), both as accuracy x100, and
Table 8/9 (macro-F1 x100 of all five models); odd numbers probing, even numbers
fine-tuning (8 probing, 9 fine-tuning). Each cell is mean ± s.d. over seeds.
Statistics tables: Table 6 (pretraining corpora) and Table 7 (downstream data).

Every table comes out as LaTeX (booktabs; languages as columns, task blocks as
rows), CSV and Markdown. Missing cells are shown as a dash, never dropped; only
the configured objectives, tasks, languages and evaluation modes appear.
"""
from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from lmvsmt.pretrain import external
from lmvsmt.downstream.common import SHARED_COLUMNS, TABLE7_COLUMNS
from lmvsmt.io import atomic_write, open_text
from lmvsmt.evaluate.results import read_result

log = logging.getLogger(__name__)

DOUBLE_STACK = ("2-LM", "2-MT")
SINGLE_STACK = ("CLM", "MLM", "TLM")
ALL_OBJECTIVES = DOUBLE_STACK + SINGLE_STACK
MODES = ("probe", "finetune")
MODE_WORDS = {"probe": "probing (pretrained model frozen, only the head trained)",
              "finetune": "fine-tuning (all weights trained)"}
METRIC_WORDS = {"accuracy": "Accuracy", "macro_f1": "Macro-F1"}
CORPUS_NAMES = {"unpc": "UNPC", "opensubtitles": "OpenSubtitles"}
RESULT_KEYS = ("mode", "objective", "task", "language", "seed", "accuracy", "macro_f1")
DASH_TEX = "--"
DASH_TEXT = "–"  # en dash in Markdown


class TableError(ValueError):
    """Bad input to a table, described in one line naming the file."""


@dataclass(frozen=True)
class ResultTableSpec:
    number: int
    metric: str
    mode: str
    # Bolding compares models within one group only (the paper compares
    # objectives within an architecture).
    groups: tuple[tuple[str, ...], ...]
    models: str  # words for the caption

    @property
    def name(self) -> str:
        return f"table{self.number}"

    @property
    def objectives(self) -> tuple[str, ...]:
        return tuple(o for g in self.groups for o in g)


RESULT_TABLES = {
    spec.name: spec
    for spec in (
        ResultTableSpec(1, "accuracy", "probe", (DOUBLE_STACK,), "double-stack models"),
        ResultTableSpec(2, "accuracy", "finetune", (DOUBLE_STACK,), "double-stack models"),
        ResultTableSpec(3, "accuracy", "probe", (SINGLE_STACK,), "single-stack models"),
        ResultTableSpec(4, "accuracy", "finetune", (SINGLE_STACK,), "single-stack models"),
        ResultTableSpec(8, "macro_f1", "probe", (DOUBLE_STACK, SINGLE_STACK), "double- and single-stack models"),
        ResultTableSpec(9, "macro_f1", "finetune", (DOUBLE_STACK, SINGLE_STACK), "double- and single-stack models"),
    )
}
STATS_TABLES = ("table6", "table7")


# --------------------------------------------------------------------------- config


def table_groups(spec: ResultTableSpec, objectives: Sequence[str], bold_scope: str = "architecture") -> list[list[str]]:
    """The table's objective groups restricted to the configured objectives (in the
    table's order); `bold_scope: table` merges the groups so bolding spans all rows."""
    return architecture_groups(objectives, bold_scope, spec.groups)


def architecture_groups(objectives: Sequence[str], bold_scope: str = "architecture",
                        groups: Sequence[Sequence[str]] = (DOUBLE_STACK, SINGLE_STACK)) -> list[list[str]]:
    """`groups` (by default: double-stack, single-stack) restricted to `objectives`, or
    merged into one group with `bold_scope: table`."""
    groups = [[o for o in g if o in objectives] for g in groups]
    groups = [g for g in groups if g]
    if bold_scope == "table" and groups:
        groups = [[o for g in groups for o in g]]
    return groups


def result_tables_for(config: dict) -> list[str]:
    """Result tables the configuration calls for: those whose evaluation mode is
    configured and which show at least one configured objective."""
    modes = config["evaluation"]["modes"]
    return [name for name, spec in RESULT_TABLES.items()
            if spec.mode in modes and table_groups(spec, config["objectives"])]


def stats_tables_for(config: dict) -> list[str]:
    """Statistics tables of the configuration: Table 6 describes our pretraining corpora,
    which only objectives this workflow trains use."""
    return [n for n in STATS_TABLES if n != "table6" or external.trained_objectives(config)]


def tables_for(config: dict) -> list[str]:
    """Every table of the configuration, in the paper's numbering order."""
    return sorted(result_tables_for(config) + stats_tables_for(config), key=lambda n: int(n[5:]))


def check_result_table(name: str, config: dict) -> ResultTableSpec:
    """The spec of result table `name`, or one line saying why the config has none."""
    spec = RESULT_TABLES.get(name)
    if spec is None:
        raise TableError(f"{name}: not a result table (result tables: {', '.join(RESULT_TABLES)})")
    if spec.mode not in config["evaluation"]["modes"]:
        raise TableError(f"{name} reports evaluation mode {spec.mode!r}, which config key evaluation.modes "
                         f"does not list ({', '.join(config['evaluation']['modes'])})")
    if not table_groups(spec, config["objectives"]):
        raise TableError(f"{name} shows objectives {', '.join(spec.objectives)}, none of which config key "
                         f"objectives lists ({', '.join(config['objectives'])})")
    return spec


def table_objectives(name: str, config: dict) -> list[str]:
    """Objectives shown in result table `name`, in the table's order."""
    spec = check_result_table(name, config)
    return [o for g in table_groups(spec, config["objectives"]) for o in g]


# Path patterns shared with the other stages (see the team's path contract).
EVAL_RESULT = "{results}/eval/{mode}/{objective}/{task}/{lang}/seed{seed}.json"
TRAIN_LOG = "{results}/pretrain/{objective}/train_log.jsonl"
TABLES_DIR = "{results}/tables"
PLOTS_DIR = "{results}/plots"
# The record keys a result file's directories name, last directory first (EVAL_RESULT).
RESULT_PATH_KEYS = ("mode", "objective", "task", "language")


def eval_results(config: dict, mode: str, objectives: Sequence[str], tasks: Sequence[str] | None = None) -> list[str]:
    """Result files of `mode` x objectives x tasks (default: configured) x configured languages and seeds."""
    return [EVAL_RESULT.format(results=config["results_dir"], mode=mode, objective=o, task=t, lang=lang, seed=seed)
            for o in objectives for t in (tasks or config["tasks"])
            for lang in config["languages"] for seed in config["evaluation"]["seeds"]]


def result_table_inputs(name: str, config: dict) -> list[str]:
    return eval_results(config, RESULT_TABLES[name].mode, table_objectives(name, config))


def stage_targets(config: dict) -> list[str]:
    """Every final output of the tables stage for this configuration."""
    tables_dir = TABLES_DIR.format(results=config["results_dir"])
    plots_dir = PLOTS_DIR.format(results=config["results_dir"])
    names = tables_for(config)
    return ([f"{tables_dir}/{n}.{ext}" for ext in ("tex", "csv", "md") for n in names]
            + [f"{tables_dir}/tables.{ext}" for ext in ("tex", "md", "pdf")]
            + [f"{plots_dir}/{mode}/{task}.png" for mode in config["evaluation"]["modes"] for task in config["tasks"]]
            + ([f"{plots_dir}/pretraining_loss.png"] if external.trained_objectives(config) else []))


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
    root = Path(results_dir) / "eval"
    found = []
    for mode in config["evaluation"]["modes"]:
        for objective in config["objectives"]:
            for task in config["tasks"]:
                for lang in config["languages"]:
                    for seed in config["evaluation"]["seeds"]:
                        path = root / mode / objective / task / lang / f"seed{seed}.json"
                        if path.exists():
                            found.append(path)
    return found


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


# --------------------------------------------------------------------------- table model


@dataclass
class Entry:
    """One displayed cell."""
    mean: float | None = None
    sd: float | None = None
    n: int = 0
    bold: bool = False
    short: bool = False  # fewer seeds than configured


@dataclass
class Row:
    label: str
    values: list
    entries: list[Entry] = field(default_factory=list)


@dataclass
class Block:
    name: str
    rows: list[Row]
    group_ends: list[int] = field(default_factory=list)  # row indices after which a group ends


@dataclass
class Table:
    name: str
    caption: str
    columns: list[str]  # header of all columns, row labels included
    blocks: list[Block]
    kind: str  # "result" or "stats"
    align: str  # LaTeX column alignment, one letter per column
    block_column: bool = True  # first column names the block (task)
    decimals: int = 2
    csv_rows: list[dict] = field(default_factory=list)
    csv_fields: list[str] = field(default_factory=list)
    title: str = ""  # Markdown heading; default "Table N" from the name

    @property
    def heading(self) -> str:
        return self.title or f"Table {self.name[5:]}"


def _fmt(x: float, decimals: int) -> str:
    return f"{x:.{decimals}f}"


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


SPLIT_COLUMNS = ("train", "valid", "test", "total")


def build_table6(path: str | os.PathLike, corpora: Sequence[str] | None = None) -> Table:
    """Table 6: sentences per split of each pretraining corpus (configured corpora; a
    configured corpus without a row shows dashes)."""
    rows = read_tsv(path, ("corpus",) + SPLIT_COLUMNS, SPLIT_COLUMNS)
    by_corpus = {r["corpus"]: r for r in rows}
    corpora = list(corpora) if corpora else [r["corpus"] for r in rows]
    out = [Row(CORPUS_NAMES.get(c, c), [by_corpus.get(c, {}).get(k) for k in SPLIT_COLUMNS]) for c in corpora]
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


# --------------------------------------------------------------------------- rendering

_TEX_SPECIAL = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
                "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}"}


def tex_escape(text: str) -> str:
    return "".join(_TEX_SPECIAL.get(ch, ch) for ch in str(text))


def _stat_text(value, tex: bool) -> str:
    if value is None or value == "":
        return DASH_TEX if tex else DASH_TEXT
    if isinstance(value, int):
        return f"{value:,}"
    return tex_escape(value) if tex else str(value).replace("|", r"\|")


def _entry_tex(e: Entry, decimals: int) -> str:
    if e.mean is None:
        return DASH_TEX
    body = _fmt(e.mean, decimals) + ("" if e.sd is None else f" \\pm {_fmt(e.sd, decimals)}")
    body += "^{\\dagger}" if e.short else ""
    return f"{{\\boldmath${body}$}}" if e.bold else f"${body}$"


def _entry_md(e: Entry, decimals: int) -> str:
    if e.mean is None:
        return DASH_TEXT
    body = _fmt(e.mean, decimals) + ("" if e.sd is None else f" ± {_fmt(e.sd, decimals)}")
    body = f"**{body}**" if e.bold else body
    return body + ("†" if e.short else "")


def _row_cells(table: Table, row: Row, tex: bool) -> list[str]:
    if table.kind == "result":
        return [(_entry_tex if tex else _entry_md)(e, table.decimals) for e in row.entries]
    return [_stat_text(v, tex) for v in row.values]


def render_latex(table: Table) -> str:
    """A `table` float with a booktabs tabular; \\input-able into a paper."""
    out = ["% Generated by lmvsmt.tables from the result files; do not edit.",
           "\\begin{table}[htbp]", "\\centering", "\\small", "\\setlength{\\tabcolsep}{4pt}",
           f"\\caption{{{table.caption}}}", f"\\label{{tab:{table.name}}}",
           f"\\begin{{tabular}}{{{table.align}}}", "\\toprule",
           " & ".join(tex_escape(c) for c in table.columns) + " \\\\", "\\midrule"]
    for b, block in enumerate(table.blocks):
        if b:
            out.append("\\midrule")
        for i, row in enumerate(block.rows):
            label = [tex_escape(block.name) if i == 0 else ""] if table.block_column else []
            out.append(" & ".join(label + [tex_escape(row.label)] + _row_cells(table, row, True)) + " \\\\")
            if i in block.group_ends:
                out.append(f"\\cmidrule(l){{2-{len(table.columns)}}}")
    out += ["\\bottomrule", "\\end{tabular}", "\\end{table}", ""]
    return "\n".join(out)


def render_markdown(table: Table) -> str:
    """The same table in GitHub Markdown, caption first."""
    rule = ["---:" if a in "cr" else ":---" for a in table.align]
    out = [f"**{table.heading}.** " + _tex_to_text(table.caption), "",
           "| " + " | ".join(table.columns) + " |", "|" + "|".join(rule) + "|"]
    for block in table.blocks:
        for i, row in enumerate(block.rows):
            label = [block.name if i == 0 else ""] if table.block_column else []
            out.append("| " + " | ".join(label + [row.label] + _row_cells(table, row, False)) + " |")
    return "\n".join(out) + "\n"


def _tex_to_text(caption: str) -> str:
    return (caption.replace("$\\times$", "×").replace("$\\pm$", "±").replace("$^\\dagger$", "†")
            .replace("$\\|\\sigma\\|$", "‖σ‖").replace("$\\|\\sigma_A - \\sigma_B\\|$", "‖σ_A − σ_B‖")
            .replace("\\", ""))


def render_csv(table: Table) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=table.csv_fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(table.csv_rows)
    return buf.getvalue()


def write_table(table: Table, tex: str | os.PathLike, csv_path: str | os.PathLike, md: str | os.PathLike) -> None:
    for path, text in ((tex, render_latex(table)), (csv_path, render_csv(table)), (md, render_markdown(table))):
        with atomic_write(path) as fh:
            fh.write(text)


# --------------------------------------------------------------------------- document


def render_document(table_files: Sequence[str | os.PathLike]) -> str:
    """A standalone LaTeX document that \\input's each table (by file name, so it
    compiles in the directory holding the tables), numbered as in the paper."""
    inputs = []
    for f in table_files:
        stem = Path(f).stem
        number = re.fullmatch(r"table(\d+)", stem)
        if number:  # keep the paper's numbers: table8.tex is Table 8 though Table 5 is not ours
            inputs.append(f"\\setcounter{{table}}{{{int(number.group(1)) - 1}}}")
        inputs.append(f"\\input{{{stem}}}")
    inputs = "\n".join(inputs)
    return ("% Generated by lmvsmt.tables; compile with pdflatex in this directory.\n"
            "\\documentclass[a4paper,10pt]{article}\n"
            "\\usepackage[margin=2cm]{geometry}\n"
            "\\usepackage{booktabs}\n"
            "\\begin{document}\n"
            f"{inputs}\n"
            "\\end{document}\n")


def write_document(table_tex: Sequence[str | os.PathLike], table_md: Sequence[str | os.PathLike],
                   tex_out: str | os.PathLike, md_out: str | os.PathLike) -> None:
    for tex in table_tex:
        if Path(tex).parent.resolve() != Path(tex_out).parent.resolve():
            raise TableError(f"{tex}: tables must sit beside {tex_out} to be \\input")
    with atomic_write(tex_out) as fh:
        fh.write(render_document(table_tex))
    with atomic_write(md_out) as fh:
        fh.write("\n".join(Path(m).read_text(encoding="utf-8") for m in table_md))


PDFLATEX_HINT = ("install it with `apt-get install -y --no-install-recommends texlive-latex-base "
                 "texlive-latex-recommended` (Debian/Ubuntu) or run `make sysdeps` as root")


def compile_pdf(tex: str | os.PathLike, pdf_out: str | os.PathLike, inputs: Sequence[str | os.PathLike] = (),
                pdflatex: str = "pdflatex", timeout: int = 300) -> None:
    """Compile `tex` (and the files it \\input's) with pdflatex in a scratch directory;
    the PDF replaces `pdf_out` only on success. Dates are pinned so an unchanged
    document gives the same PDF."""
    exe = shutil.which(pdflatex)
    if exe is None:
        raise TableError(f"{pdflatex} not found: {PDFLATEX_HINT}")
    tex = Path(tex)
    with tempfile.TemporaryDirectory(prefix="lmvsmt-latex-") as tmp:
        for f in [tex, *inputs]:
            shutil.copy(f, Path(tmp) / Path(f).name)
        env = dict(os.environ, SOURCE_DATE_EPOCH="0", FORCE_SOURCE_DATE="1")
        proc = subprocess.run([exe, "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", tex.name],
                              cwd=tmp, env=env, capture_output=True, text=True, errors="replace", timeout=timeout)
        log.info("pdflatex output:\n%s", proc.stdout)
        if proc.returncode != 0:
            log_lines = (Path(tmp) / (tex.stem + ".log")).read_text(errors="replace").splitlines() \
                if (Path(tmp) / (tex.stem + ".log")).exists() else proc.stdout.splitlines()
            errors = [ln for ln in log_lines if ln.startswith("!")]
            where = next((ln for ln in log_lines if re.match(r"l\.\d+", ln)), "")
            raise TableError(f"{tex}: pdflatex failed: {errors[0] if errors else 'exit ' + str(proc.returncode)}"
                             f"{' at ' + where.strip() if where else ''}")
        with atomic_write(pdf_out, "wb") as fh:
            fh.write((Path(tmp) / (tex.stem + ".pdf")).read_bytes())


# --------------------------------------------------------------------------- partial results


def render_available(config: dict, out_dir: str | os.PathLike, pdf: bool = True) -> list[Path]:
    """Render every table of `config` from the result files that exist so far (a
    paper run in progress): missing cells show as dashes, a missing statistics
    file leaves its table out. Returns the LaTeX files written."""
    results = Path(config["results_dir"])
    out_dir = Path(out_dir)
    cfg = config["tables"]
    records = load_results(find_result_files(results, config))
    written = []
    for name in tables_for(config):
        if name in RESULT_TABLES:
            table = build_result_table(name, records, objectives=table_objectives(name, config),
                                       tasks=config["tasks"], languages=config["languages"],
                                       seeds=config["evaluation"]["seeds"], decimals=cfg["decimals"],
                                       ddof=cfg["sd_ddof"], bold_scope=cfg["bold_scope"],
                                       sources=external.caption_sources(config, table_objectives(name, config)))
        else:
            stats = results / "stats" / f"{name}.tsv"
            if not stats.exists():
                log.warning("%s: not found, %s left out", stats, name)
                continue
            table = (build_table6(stats, config.get("corpus", {}).get("corpora")) if name == "table6"
                     else build_table7(stats, config["tasks"], config["languages"]))
        tex = out_dir / f"{name}.tex"
        write_table(table, tex, tex.with_suffix(".csv"), tex.with_suffix(".md"))
        written.append(tex)
    write_document(written, [t.with_suffix(".md") for t in written], out_dir / "tables.tex", out_dir / "tables.md")
    if pdf:
        compile_pdf(out_dir / "tables.tex", out_dir / "tables.pdf", written, pdflatex=cfg["pdflatex"])
    log.info("%d result files; tables in %s", len(records), out_dir)
    return written


def main(argv: Sequence[str] | None = None) -> None:
    import argparse

    from lmvsmt.config import ConfigError, load

    parser = argparse.ArgumentParser(
        prog="python -m lmvsmt.tables",
        description="Render the paper tables from the result files present so far (dashes for the rest); "
                    "the workflow's own targets need every result file.")
    parser.add_argument("--configfile", default="config/config.yaml")
    parser.add_argument("--out", help="output directory (default: <results_dir>/tables-partial)")
    parser.add_argument("--no-pdf", action="store_true", help="do not run pdflatex")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        config = load(args.configfile)
        render_available(config, args.out or Path(config["results_dir"]) / "tables-partial", pdf=not args.no_pdf)
    except (ConfigError, TableError) as exc:
        raise SystemExit(str(exc)) from None

