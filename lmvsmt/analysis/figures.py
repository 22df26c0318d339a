"""Report figures of the analyses: CKA heatmaps (between languages per model and
layer, between all layers of all models per language), cross-language CKA by layer,
and the per-layer norms of the weight spectra."""
from __future__ import annotations

import math
import os
from typing import Sequence

from matplotlib.ticker import MaxNLocator

from lmvsmt.analysis.spectra import MATRICES, SECTION_WORDS, Spectrum
from lmvsmt.tables.plots import COLOURS, plt, save_figure

CMAP = "viridis"
SECTION_STYLES = {("encoder", "self"): "-", ("decoder", "self"): "--", ("decoder", "cross"): ":"}


def _layer_key(row: dict, suffix: str = "") -> tuple[str, int]:
    return row["stack" + suffix], row["layer" + suffix]


def _layer_label(stack: str, index: int, single_stack: bool) -> str:
    return str(index) if single_stack else f"{stack[:3]} {index}"


def _heatmap(ax, matrix: list[list[float]], labels: Sequence[str], annotate: bool):
    image = ax.imshow([[v if not math.isnan(v) else float("nan") for v in row] for row in matrix], cmap=CMAP,
                      vmin=0.0, vmax=1.0)
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    if annotate:
        for i, row in enumerate(matrix):
            for j, v in enumerate(row):
                if not math.isnan(v):
                    ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=6,
                            color="white" if v < 0.5 else "black")
    return image


def plot_language_cka(rows: Sequence[dict], objective: str, languages: Sequence[str], out: str | os.PathLike,
                      dpi: int = 150) -> None:
    """One panel per layer of `objective`: CKA between every two languages on their
    parallel sentences (1 on the diagonal; blank where undefined)."""
    rows = [r for r in rows if r["objective"] == objective]
    layers = sorted({_layer_key(r) for r in rows}, key=lambda k: (k[0] != "encoder", k[1]))
    single = len({stack for stack, _ in layers}) == 1
    cols = min(4, max(1, len(layers)))
    n_rows = max(1, math.ceil(len(layers) / cols))
    fig, axes = plt.subplots(n_rows, cols, figsize=(2.6 * cols + 0.8, 2.6 * n_rows + 0.6), squeeze=False)
    image = None
    for ax, layer in zip(axes.flat, layers):
        value = {(r["lang1"], r["lang2"]): r["cka"] for r in rows if _layer_key(r) == layer}
        matrix = [[1.0 if a == b else value.get((a, b), value.get((b, a), math.nan)) for b in languages]
                  for a in languages]
        image = _heatmap(ax, matrix, [lang.upper() for lang in languages], annotate=len(languages) <= 8)
        ax.set_title(("layer " if single else "") + _layer_label(*layer, single) + (" (embeddings)" if layer[1] == 0
                                                                                     else ""), fontsize=9)
    for ax in list(axes.flat)[len(layers):]:
        ax.set_visible(False)
    if image is not None:
        fig.colorbar(image, ax=axes, shrink=0.8, label="linear CKA")
    fig.suptitle(f"{objective}: CKA between languages on parallel sentences, per layer")
    save_figure(fig, out, dpi)


def plot_language_cka_by_layer(rows: Sequence[dict], objectives: Sequence[str], out: str | os.PathLike,
                               dpi: int = 150) -> None:
    """Mean CKA over all language pairs against relative depth (0 = embeddings, 1 = the
    top layer of the stack), one line per model and stack: where are languages aligned?"""
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for objective in objectives:
        own = [r for r in rows if r["objective"] == objective and not math.isnan(r["cka"])]
        for stack in sorted({r["stack"] for r in own}):
            per_layer: dict[int, list[float]] = {}
            for r in own:
                if r["stack"] == stack:
                    per_layer.setdefault(r["layer"], []).append(r["cka"])
            if not per_layer:
                continue
            top = max(per_layer) or 1
            xs = sorted(per_layer)
            ax.plot([x / top for x in xs], [sum(per_layer[x]) / len(per_layer[x]) for x in xs], marker="o",
                    markersize=3, color=COLOURS.get(objective), linestyle=SECTION_STYLES.get((stack, "self"), "-"),
                    label=f"{objective} {stack}")
    ax.set_xlabel("relative depth (0 = embeddings, 1 = top layer)")
    ax.set_ylabel("mean CKA over language pairs")
    ax.set_ylim(0, 1.02)
    ax.grid(linewidth=0.3)
    ax.legend(fontsize=7, ncol=2)
    ax.set_title("Cross-language similarity by layer")
    fig.tight_layout()
    save_figure(fig, out, dpi)


def plot_model_cka(rows: Sequence[dict], languages: Sequence[str], objectives: Sequence[str],
                   out: str | os.PathLike, dpi: int = 150) -> None:
    """One panel per language: CKA between every layer of every model on the same
    sentences of that language; white lines separate the models."""
    keys = []
    for objective in objectives:
        own = sorted({_layer_key(r, "1") for r in rows if r["objective1"] == objective},
                     key=lambda k: (k[0] != "encoder", k[1]))
        keys += [(objective, *k) for k in own]
    index = {k: i for i, k in enumerate(keys)}
    stacks = {o: {k[1] for k in keys if k[0] == o} for o in objectives}
    labels = [f"{o} {_layer_label(stack, i, len(stacks[o]) == 1)}" for o, stack, i in keys]
    edges = [i for i in range(1, len(keys)) if keys[i][0] != keys[i - 1][0]]
    cols = min(3, max(1, len(languages)))
    n_rows = max(1, math.ceil(len(languages) / cols))
    size = max(3.5, 0.2 * len(keys) + 1.6)
    fig, axes = plt.subplots(n_rows, cols, figsize=(size * cols + 1.0, size * n_rows), squeeze=False)
    image = None
    for ax, language in zip(axes.flat, languages):
        matrix = [[math.nan] * len(keys) for _ in keys]
        for r in rows:
            if r["language"] != language:
                continue
            i = index.get((r["objective1"], *_layer_key(r, "1")))
            j = index.get((r["objective2"], *_layer_key(r, "2")))
            if i is not None and j is not None:
                matrix[i][j] = r["cka"]
        image = _heatmap(ax, matrix, labels, annotate=False)
        for e in edges:
            ax.axhline(e - 0.5, color="white", linewidth=1.2)
            ax.axvline(e - 0.5, color="white", linewidth=1.2)
        ax.set_title(f"{language.upper()} sentences", fontsize=9)
    for ax in list(axes.flat)[len(languages):]:
        ax.set_visible(False)
    if image is not None:
        fig.colorbar(image, ax=axes, shrink=0.6, label="linear CKA")
    fig.suptitle("CKA between the layers of the models, per language")
    save_figure(fig, out, dpi)


def plot_spectra(spectra: Sequence[Spectrum], objectives: Sequence[str], out: str | os.PathLike,
                 dpi: int = 150) -> None:
    """One panel per matrix kind: ||sigma|| per layer, one line per model and section."""
    fig, axes = plt.subplots(2, 3, figsize=(12.0, 6.4), squeeze=False)
    for ax, (matrix, word) in zip(axes.flat, MATRICES.items()):
        for objective in objectives:
            for section in SECTION_STYLES:
                points = sorted((s.layer, s.norm) for s in spectra if s.objective == objective
                                and (s.stack, s.part) == section and s.matrix == matrix)
                if points:
                    ax.plot([p[0] for p in points], [p[1] for p in points], SECTION_STYLES[section], marker="o",
                            markersize=3, color=COLOURS.get(objective),
                            label=f"{objective} {SECTION_WORDS[section]}")
        ax.set_title(word)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("layer")
        ax.set_ylabel("‖σ‖")
        ax.grid(linewidth=0.3)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(5, max(1, len(labels))), fontsize=7, frameon=False)
    fig.suptitle("Norm of the singular values of each weight matrix, per layer")
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    save_figure(fig, out, dpi)
