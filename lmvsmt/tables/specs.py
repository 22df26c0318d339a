"""What the paper's tables are (PROTOCOL.md, "The tables to generate") and which of
them, and which result files, a configuration calls for.

Result tables: Table 1/2 (double-stack 2-LM, 2-MT), Table 3/4 (single-stack CLM, MLM,
TLM), both as accuracy x100, and Table 8/9 (macro-F1 x100 of all five models); odd
numbers probing, even numbers fine-tuning (8 probing, 9 fine-tuning). Statistics
tables: Table 6 (pretraining corpora) and Table 7 (downstream data).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from lmvsmt import layout
from lmvsmt.errors import LmvsmtError
from lmvsmt.pretrain import external
from lmvsmt.vocabulary import DOUBLE_STACK, SINGLE_STACK

MODE_WORDS = {"probe": "probing (pretrained model frozen, only the head trained)",
              "finetune": "fine-tuning (all weights trained)"}
METRIC_WORDS = {"accuracy": "Accuracy", "macro_f1": "Macro-F1"}
RESULT_KEYS = ("mode", "objective", "task", "language", "seed", "accuracy", "macro_f1")


class TableError(LmvsmtError, ValueError):
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


# The record keys a result file's directories name, last directory first (layout.EVAL_RESULT).
RESULT_PATH_KEYS = ("mode", "objective", "task", "language")


def eval_results(config: dict, mode: str, objectives: Sequence[str], tasks: Sequence[str] | None = None) -> list[str]:
    """Result files of `mode` x objectives x tasks (default: configured) x configured languages and seeds."""
    return [layout.eval_result(config["results_dir"], mode, o, t, lang, seed)
            for o in objectives for t in (tasks or config["tasks"])
            for lang in config["languages"] for seed in config["evaluation"]["seeds"]]


def result_table_inputs(name: str, config: dict) -> list[str]:
    return eval_results(config, RESULT_TABLES[name].mode, table_objectives(name, config))


def stage_targets(config: dict) -> list[str]:
    """Every final output of the tables stage for this configuration."""
    tables_dir = layout.fill(layout.TABLES, results=config["results_dir"])
    plots_dir = layout.fill(layout.PLOTS, results=config["results_dir"])
    names = tables_for(config)
    return ([f"{tables_dir}/{n}.{ext}" for ext in ("tex", "csv", "md") for n in names]
            + [f"{tables_dir}/tables.{ext}" for ext in ("tex", "md", "pdf")]
            + [f"{plots_dir}/{mode}/{task}.png" for mode in config["evaluation"]["modes"] for task in config["tasks"]]
            + ([f"{plots_dir}/pretraining_loss.png"] if external.trained_objectives(config) else []))
