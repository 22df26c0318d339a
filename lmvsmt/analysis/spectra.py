"""Weight spectra: the singular values of each layer's attention projections (K, Q, V,
output) and feed-forward projections (up, down), their norm ||sigma|| and the
difference between two models of the same architecture, as in the companion paper's
Table 2 (Ji et al., LREC-COLING 2024).

||sigma|| is the Euclidean norm of a matrix's singular values (its Frobenius norm); the
difference of two models is reported both as the difference of the norms
(||sigma_A|| - ||sigma_B||: which model's maps are larger) and as the norm of the
difference of the sorted singular values (||sigma_A - sigma_B||: how far the spectra
lie apart), per layer, and averaged over layers in the table.
"""
from __future__ import annotations

import csv
import io
import logging
import math
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

from lmvsmt.errors import LmvsmtError
from lmvsmt.io import atomic_write
from lmvsmt.vocabulary import DOUBLE_STACK

if TYPE_CHECKING:  # torch is imported where it is used: the table and plot do without it
    import torch

log = logging.getLogger(__name__)

# Matrix kinds in the table's column order, with their words.
MATRICES = {"k": "K", "q": "Q", "v": "V", "o": "O", "up": "FFN up", "down": "FFN down"}
# Parts of a layer: its self-attention with the feed-forward block, and (double-stack
# decoders) the attention over the encoder output.
PARTS = {"self": "self-attention and FFN", "cross": "cross-attention"}
# fairseq parameter names: {encoder,decoder}.[sentence_encoder.]layers.{i}.{module}.
_PARAM = re.compile(r"^(?:.*\.)?(?P<stack>encoder|decoder)\.(?:sentence_encoder\.)?layers\.(?P<layer>\d+)\."
                    r"(?:(?P<attn>self_attn|encoder_attn)\.(?P<proj>[kqv]|out)_proj|(?P<fc>fc1|fc2))\.weight$")
SPECTRA_COLUMNS = ("objective", "stack", "part", "layer", "matrix", "rows", "cols", "norm", "sigma_max",
                   "singular_values")
DIFFERENCE_COLUMNS = ("objective_a", "objective_b", "stack", "part", "layer", "matrix", "norm_a", "norm_b",
                      "norm_difference", "spectral_distance")


class SpectraError(LmvsmtError, ValueError):
    """Bad input to the spectra analysis, in one line."""


@dataclass(frozen=True)
class Spectrum:
    """The singular values (descending) of one weight matrix of one model."""

    objective: str
    stack: str
    part: str
    layer: int  # 1-based, as the layers of the similarity analysis
    matrix: str
    shape: tuple[int, int]
    values: tuple[float, ...]

    @property
    def norm(self) -> float:
        return math.sqrt(sum(v * v for v in self.values))

    @property
    def key(self) -> tuple[str, str, int, str]:
        return self.stack, self.part, self.layer, self.matrix


def singular_values(matrix: torch.Tensor) -> tuple[float, ...]:
    """Singular values of a 2-D matrix, descending, computed in float64."""
    import torch

    if matrix.dim() != 2:
        raise SpectraError(f"expected a matrix, got a tensor of shape {tuple(matrix.shape)}")
    return tuple(torch.linalg.svdvals(matrix.detach().to(torch.float64).cpu()).tolist())


def classify(name: str) -> tuple[str, str, int, str] | None:
    """(stack, part, layer, matrix) of a fairseq parameter name, or None for a
    parameter outside the analysed matrices."""
    m = _PARAM.match(name)
    if m is None:
        return None
    layer = int(m["layer"]) + 1
    if m["fc"]:
        return m["stack"], "self", layer, "up" if m["fc"] == "fc1" else "down"
    proj = "o" if m["proj"] == "out" else m["proj"]
    return m["stack"], "self" if m["attn"] == "self_attn" else "cross", layer, proj


def model_spectra(objective: str, parameters: Iterable[tuple[str, torch.Tensor]]) -> list[Spectrum]:
    """The spectra of every analysed matrix among a model's named parameters, in
    (stack, part, layer, matrix) order. A model with none of them is an error: its
    parameter names are not fairseq's."""
    out = []
    for name, weight in parameters:
        key = classify(name)
        if key is not None:
            out.append(Spectrum(objective, *key, tuple(weight.shape), singular_values(weight)))
    if not out:
        raise SpectraError(f"{objective}: no attention or feed-forward weight matrices found among its parameters")
    order = {m: i for i, m in enumerate(MATRICES)}
    return sorted(out, key=lambda s: (s.stack, s.part, s.layer, order[s.matrix]))


def comparable(a: Spectrum, b: Spectrum, same_stack: bool) -> bool:
    return a.shape == b.shape and a.part == b.part and a.layer == b.layer and a.matrix == b.matrix and (
        a.stack == b.stack or not same_stack)


def compare(spectra_a: Sequence[Spectrum], spectra_b: Sequence[Spectrum], same_stack: bool) -> list[dict]:
    """Per matrix matched in both models (same part, layer, kind and shape; the same
    stack when `same_stack`, i.e. for two double-stack models; a decoder-only and an
    encoder-only model are matched layer by layer), the two norms, their difference
    and the distance of the spectra. Unmatched matrices are left out (logged)."""
    rows, skipped = [], 0
    by_key = {}
    for b in spectra_b:
        by_key.setdefault((b.part, b.layer, b.matrix), []).append(b)
    for a in spectra_a:
        match = next((b for b in by_key.get((a.part, a.layer, a.matrix), []) if comparable(a, b, same_stack)), None)
        if match is None:
            skipped += 1
            continue
        distance = math.sqrt(sum((x - y) ** 2 for x, y in zip(a.values, match.values)))
        rows.append({"objective_a": a.objective, "objective_b": match.objective, "stack": a.stack, "part": a.part,
                     "layer": a.layer, "matrix": a.matrix, "norm_a": a.norm, "norm_b": match.norm,
                     "norm_difference": a.norm - match.norm, "spectral_distance": distance})
    if skipped:
        log.info("%s vs %s: %d matrices without a counterpart of the same shape left out",
                 spectra_a[0].objective if spectra_a else "?", spectra_b[0].objective if spectra_b else "?", skipped)
    return rows


# --------------------------------------------------------------------------- files


def _write(path, rows: Sequence[dict], columns: Sequence[str]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    with atomic_write(path) as fh:
        fh.write(buf.getvalue())


def write_spectra(path: str | os.PathLike, spectra: Sequence[Spectrum]) -> None:
    """One row per matrix; the singular values as a space-separated list."""
    _write(path, [{"objective": s.objective, "stack": s.stack, "part": s.part, "layer": s.layer, "matrix": s.matrix,
                   "rows": s.shape[0], "cols": s.shape[1], "norm": f"{s.norm:.6g}", "sigma_max": f"{s.values[0]:.6g}",
                   "singular_values": " ".join(f"{v:.6g}" for v in s.values)} for s in spectra], SPECTRA_COLUMNS)


def read_spectra(path: str | os.PathLike) -> list[Spectrum]:
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames != list(SPECTRA_COLUMNS):
            raise SpectraError(f"{path}: line 1: header {reader.fieldnames} should be {list(SPECTRA_COLUMNS)}")
        out = []
        for lineno, row in enumerate(reader, start=2):
            try:
                out.append(Spectrum(row["objective"], row["stack"], row["part"], int(row["layer"]), row["matrix"],
                                    (int(row["rows"]), int(row["cols"])),
                                    tuple(float(v) for v in row["singular_values"].split())))
            except (TypeError, ValueError) as exc:
                raise SpectraError(f"{path}: line {lineno}: {exc}") from None
    return out


def write_differences(path: str | os.PathLike, rows: Sequence[dict]) -> None:
    _write(path, [{k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()} for r in rows],
           DIFFERENCE_COLUMNS)


def layer_means(spectra: Iterable[Spectrum]) -> dict[tuple[str, str, str], float]:
    """(stack, part, matrix) -> ||sigma|| averaged over layers."""
    sums: dict[tuple[str, str, str], list[float]] = {}
    for s in spectra:
        sums.setdefault((s.stack, s.part, s.matrix), []).append(s.norm)
    return {k: sum(v) / len(v) for k, v in sums.items()}


def difference_means(rows: Iterable[Mapping]) -> dict[tuple[str, str, str], tuple[float, float]]:
    """(stack, part, matrix) -> (mean norm difference, mean spectral distance) over layers."""
    sums: dict[tuple[str, str, str], list[tuple[float, float]]] = {}
    for r in rows:
        sums.setdefault((r["stack"], r["part"], r["matrix"]), []).append((r["norm_difference"],
                                                                         r["spectral_distance"]))
    return {k: (sum(d for d, _ in v) / len(v), sum(s for _, s in v) / len(v)) for k, v in sums.items()}


# --------------------------------------------------------------------------- job and table


def spectra_job(model_dirs: Mapping[str, str], pairs: Sequence[Sequence[str]], out_spectra, out_differences,
                threads: int = 1) -> None:
    """The spectra of every model and the differences of the configured pairs."""
    import torch

    from lmvsmt.pretrain.models import load_model

    torch.set_num_threads(threads)
    by_model = {}
    for objective, model_dir in model_dirs.items():
        model = load_model(objective, model_dir)
        by_model[objective] = model_spectra(objective, model.model.named_parameters())
        log.info("%s: %d matrices", objective, len(by_model[objective]))
    rows = []
    for a, b in pairs:
        rows += compare(by_model[a], by_model[b], same_stack=a in DOUBLE_STACK and b in DOUBLE_STACK)
    write_spectra(out_spectra, [s for spectra in by_model.values() for s in spectra])
    write_differences(out_differences, rows)


def read_differences(path: str | os.PathLike) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames != list(DIFFERENCE_COLUMNS):
            raise SpectraError(f"{path}: line 1: header {reader.fieldnames} should be {list(DIFFERENCE_COLUMNS)}")
        rows = list(reader)
    for lineno, row in enumerate(rows, start=2):
        try:
            row["layer"] = int(row["layer"])
            for key in ("norm_a", "norm_b", "norm_difference", "spectral_distance"):
                row[key] = float(row[key])
        except ValueError as exc:
            raise SpectraError(f"{path}: line {lineno}: {exc}") from None
    return rows


SECTION_WORDS = {("encoder", "self"): "encoder", ("decoder", "self"): "decoder",
                 ("decoder", "cross"): "decoder cross-attn."}


def sections(spectra: Iterable[Spectrum]) -> list[tuple[str, str]]:
    """The (stack, part) sections of a model, encoder first."""
    return sorted({(s.stack, s.part) for s in spectra}, key=list(SECTION_WORDS).index)


def build_table(spectra: Sequence[Spectrum], differences: Sequence[dict], pairs: Sequence[Sequence[str]],
                decimals: int = 2):
    """Table 2 of the companion paper, one block per compared pair A vs B: for each
    section of A (encoder, decoder, decoder cross-attention) and its counterpart in B
    (the same section for two double-stack models, otherwise B's layers of the same
    part), ||sigma|| of A and of B and the difference ||sigma_A|| - ||sigma_B||, each
    averaged over layers, per matrix kind (columns K, Q, V, O, FFN up, FFN down)."""
    from lmvsmt.tables import render

    by_model: dict[str, list[Spectrum]] = {}
    for s in spectra:
        by_model.setdefault(s.objective, []).append(s)
    blocks, csv_rows = [], []
    for a, b in pairs:
        means = {o: layer_means(by_model.get(o, [])) for o in (a, b)}
        diffs = difference_means(r for r in differences if r["objective_a"] == a and r["objective_b"] == b)
        same_stack = sections(by_model.get(a, [])) == sections(by_model.get(b, [])) and len(means[a]) > 0
        rows = []
        for stack, part in sections(by_model.get(a, [])):
            counterpart = (stack if same_stack else
                           next((st for st, pt in sections(by_model.get(b, [])) if pt == part), None))
            lines = [(f"{a} {SECTION_WORDS[stack, part]}", {m: means[a].get((stack, part, m)) for m in MATRICES}),
                     (f"{b} {SECTION_WORDS.get((counterpart, part), '')}".rstrip(),
                      {m: means[b].get((counterpart, part, m)) for m in MATRICES}),
                     (f"{a} - {b}", {m: diffs.get((stack, part, m), (None,))[0] for m in MATRICES})]
            for label, values in lines:
                rows.append(render.Row(label, [], [render.Entry(values[m]) for m in MATRICES]))
                csv_rows.append({"pair": f"{a} vs {b}", "row": label, "stack": stack,
                                 "part": part,
                                 **{m: "" if values[m] is None else f"{values[m]:.6f}" for m in MATRICES}})
        blocks.append(render.Block(f"{a} vs {b}", rows))
    caption = ("Weight spectra: $\\|\\sigma\\|$, the norm of the singular values of each attention projection "
               "(K, Q, V, O) and feed-forward projection (up, down), averaged over the layers of a stack, and the "
               "difference between two models (matched layer by layer; matrices of different shapes are not "
               "compared). Per-layer values and the distance $\\|\\sigma_A - \\sigma_B\\|$: "
               "results/analysis/spectra/. A dash: no such matrix.")
    return render.Table("spectra", caption, ["Models", "Row"] + list(MATRICES.values()), blocks, "result",
                        "ll" + "c" * len(MATRICES), True, decimals, csv_rows,
                        ["pair", "row", "stack", "part", *MATRICES], title="Weight spectra")
