"""Figures for the report: per-task grouped bars and pretraining loss curves."""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import matplotlib

matplotlib.use("Agg")  # no display on cluster nodes
import matplotlib.pyplot as plt  # noqa: E402

from lmvsmt.io import atomic_path, open_text  # noqa: E402
from lmvsmt.tables.cells import collect_cells  # noqa: E402
from lmvsmt.tables.specs import METRIC_WORDS, MODE_WORDS, TableError  # noqa: E402
from lmvsmt.vocabulary import OBJECTIVES  # noqa: E402

# One colour per objective in every figure (double-stack blues, single-stack warm).
COLOURS = dict(zip(OBJECTIVES, ("#1f77b4", "#6baed6", "#d62728", "#ff7f0e", "#2ca02c")))


def save_figure(fig, out: str | os.PathLike, dpi: int) -> None:
    out = Path(out)
    with atomic_path(out) as tmp:
        # The temporary name has no image suffix, so the format is given explicitly.
        fig.savefig(tmp, format=out.suffix.lstrip(".") or "png", dpi=dpi, bbox_inches="tight",
                    metadata={"Software": None} if out.suffix == ".png" else None)
    plt.close(fig)


def plot_task(records: Iterable[dict], out: str | os.PathLike, *, mode: str, task: str, objectives: Sequence[str],
              languages: Sequence[str], seeds: Sequence[int], ddof: int = 1, dpi: int = 150) -> None:
    """Grouped bars for one task and mode: languages on the x axis, one bar per
    objective, height = mean over seeds (x100), error bar = s.d.; one panel per
    metric (accuracy, macro-F1). A missing cell has no bar and is marked 'n/a'."""
    records = list(records)
    metrics = list(METRIC_WORDS)
    fig, axes = plt.subplots(len(metrics), 1, figsize=(max(6.0, 0.35 * len(languages) * (len(objectives) + 1)),
                                                        2.8 * len(metrics) + 0.6), squeeze=False)
    width = 0.8 / max(1, len(objectives))
    for ax, metric in zip(axes[:, 0], metrics):
        cells = collect_cells(records, metric, mode, seeds, ddof)
        for k, objective in enumerate(objectives):
            xs = [i - 0.4 + width * (k + 0.5) for i in range(len(languages))]
            for x, lang in zip(xs, languages):
                cell = cells.get((task, objective, lang))
                if cell is None:
                    ax.text(x, 1, "n/a", rotation=90, ha="center", va="bottom", fontsize=7, color="grey")
                    continue
                ax.bar(x, cell.mean, width, color=COLOURS.get(objective), edgecolor="black", linewidth=0.4,
                       yerr=cell.sd if cell.sd is not None else None, capsize=2)
        ax.set_xticks(range(len(languages)), [lang.upper() for lang in languages])
        ax.set_ylabel(f"{METRIC_WORDS[metric]} (×100)")
        ax.set_ylim(0, 105)
        ax.grid(axis="y", linewidth=0.3)
        ax.set_axisbelow(True)
    handles = [plt.Rectangle((0, 0), 1, 1, color=COLOURS.get(o)) for o in objectives]
    axes[0, 0].legend(handles, objectives, ncol=len(objectives), fontsize=8, loc="lower center",
                      bbox_to_anchor=(0.5, 1.0), frameon=False)
    mode_word = MODE_WORDS[mode].split(" (")[0]
    fig.suptitle(f"{task}, {mode_word}: mean ± s.d. over {len(seeds)} seed{'s' * (len(seeds) != 1)}")
    fig.tight_layout()
    save_figure(fig, out, dpi)


def read_train_log(path: str | os.PathLike) -> list[dict]:
    """JSON lines of a pretraining log (update, train_loss, valid_loss, ...)."""
    path = Path(path)
    entries = []
    with open_text(path) as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError as exc:
                raise TableError(f"{path}: line {lineno}: not valid JSON: {exc.msg}") from None
            if not isinstance(entry, dict) or not isinstance(entry.get("update"), (int, float)):
                raise TableError(f"{path}: line {lineno}: expected an object with a numeric 'update'")
            entries.append(entry)
    return entries


def _curve(entries: list[dict], key: str) -> tuple[list[float], list[float]]:
    points = [(e["update"], e[key]) for e in entries
              if isinstance(e.get(key), (int, float)) and math.isfinite(e[key])]
    return [p[0] for p in points], [p[1] for p in points]


def plot_loss_curves(logs: Mapping[str, str | os.PathLike], out: str | os.PathLike, dpi: int = 150) -> None:
    """One panel per objective: training and validation loss against updates.
    Losses of different objectives are different tasks, so panels have their own y axes."""
    objectives = list(logs)
    cols = min(3, len(objectives))
    rows = math.ceil(len(objectives) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
    for ax, objective in zip(axes.flat, objectives):
        entries = read_train_log(logs[objective])
        for key, style in (("train_loss", "-"), ("valid_loss", "--")):
            xs, ys = _curve(entries, key)
            if xs:
                ax.plot(xs, ys, style, color=COLOURS.get(objective), marker="o" if len(xs) < 20 else None,
                        markersize=3, label=key.replace("_", " "))
        if not entries:
            ax.text(0.5, 0.5, "empty log", transform=ax.transAxes, ha="center", color="grey")
        ax.set_title(objective)
        ax.set_xlabel("update")
        ax.set_ylabel("loss")
        ax.grid(linewidth=0.3)
        ax.legend(fontsize=8)
    for ax in list(axes.flat)[len(objectives):]:
        ax.set_visible(False)
    fig.tight_layout()
    save_figure(fig, out, dpi)
