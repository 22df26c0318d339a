"""Representation similarity: linear CKA (Kornblith et al., 2019) between mean-pooled
sentence representations, layer by layer, on the parallel sentences of
lmvsmt.analysis.sentences. Two questions are answered:

(a) languages: per model and layer, CKA between the representations of the two sides
    of each pair's sentences (how language-neutral is the layer?);
(b) models: per language, CKA between every layer of every model on the same
    sentences (do two objectives learn the same representations, and where?).
"""
from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from typing import Sequence

import torch
from tqdm import tqdm

from lmvsmt import integrity
from lmvsmt.analysis.ckadata import LANGUAGE_COLUMNS, MODEL_COLUMNS, write_csv
from lmvsmt.analysis.sentences import SimilarityError
from lmvsmt.vocabulary import DOUBLE_STACK

log = logging.getLogger(__name__)



# --------------------------------------------------------------------------- CKA


def _centered(x: torch.Tensor) -> torch.Tensor:
    x = x.to(torch.float64)
    return x - x.mean(0, keepdim=True)


def linear_cka(x: torch.Tensor, y: torch.Tensor) -> float:
    """Linear CKA of two representations [n, d1] and [n, d2] of the same n items:
    ||Y'X||_F^2 / (||X'X||_F ||Y'Y||_F) on column-centred X, Y; NaN when one of them
    is constant (the index is undefined)."""
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"CKA needs the same items on both sides ({x.shape[0]} vs {y.shape[0]})")
    x, y = _centered(x), _centered(y)
    if x.shape[0] < min(x.shape[1], y.shape[1]):  # fewer items than features: the n x n Gram form is cheaper
        kx, ky = x @ x.T, y @ y.T
        cross, norm_x, norm_y = (kx * ky).sum(), kx.norm(), ky.norm()
    else:
        cross, norm_x, norm_y = (y.T @ x).pow(2).sum(), (x.T @ x).norm(), (y.T @ y).norm()
    denominator = norm_x * norm_y
    return float(cross / denominator) if denominator > 0 else math.nan


def cka_matrix(representations: Sequence[torch.Tensor]) -> torch.Tensor:
    """Linear CKA between every two of several representations of the same n items,
    [m, m]: each centred Gram matrix is normalised once, then one product gives all
    pairs (cheap for many layers of many models)."""
    grams = []
    for rep in representations:
        x = _centered(rep)
        gram = (x @ x.T).flatten()
        norm = gram.norm()
        grams.append(gram / norm if norm > 0 else torch.full_like(gram, math.nan))
    stacked = torch.stack(grams)
    return (stacked @ stacked.T).clamp(max=1.0)


# --------------------------------------------------------------------------- representations


@dataclass(frozen=True)
class Layer:
    """One layer of a model: its stack (encoder or decoder, as fairseq names it) and
    its index in that stack (0 = the embeddings)."""

    stack: str
    index: int

    @property
    def label(self) -> str:
        return f"{self.stack[:3]}{self.index}"


def model_layers(model, decoder: bool = False) -> list[Layer]:
    """The layers `PretrainedModel.hidden_layers` returns, in its order."""
    inner = model.model
    if model.objective in DOUBLE_STACK:
        layers = [Layer("encoder", i) for i in range(len(inner.encoder.layers) + 1)]
        if decoder:
            layers += [Layer("decoder", i) for i in range(1, len(inner.decoder.layers) + 1)]
        return layers
    if model.causal:
        return [Layer("decoder", i) for i in range(len(inner.decoder.layers) + 1)]
    return [Layer("encoder", i) for i in range(len(inner.encoder.sentence_encoder.layers) + 1)]


def pooled_layers(model, subwords, texts: Sequence[str], lang: str, *, batch_size: int, max_length: int,
                  decoder: bool = False, device="cpu") -> torch.Tensor:
    """Mean-pooled states of every layer for `texts` in `lang`: [layers, n, H] (float32)."""
    from lmvsmt.evaluate.head import pad_batch, pool

    pad, out = model.dictionary.pad(), []
    with torch.no_grad():
        for start in tqdm(range(0, len(texts), batch_size), desc=f"encode {lang}", mininterval=10):
            ids = [[model.dictionary.index(p) for p in subwords.encode(t)[:max_length]] or [model.dictionary.unk()]
                   for t in texts[start:start + batch_size]]
            tokens, mask = pad_batch(ids, pad)
            tokens, mask = tokens.to(device), mask.to(device)
            states = model.hidden_layers(tokens, lang, decoder=decoder)
            out.append(torch.stack([pool(s, mask, "mean") for s in states]).float().cpu())
    return torch.cat(out, dim=1)


def language_similarity(objective: str, layers: Sequence[Layer], pair_states: dict[str, dict[str, torch.Tensor]],
                        min_sentences: int) -> list[dict]:
    """(a): per layer, CKA between the two sides of each pair's sentences."""
    rows = []
    for pair, sides in sorted(pair_states.items()):
        l1, l2 = pair.split("-")
        n = sides[l1].shape[1]
        for k, layer in enumerate(layers):
            value = linear_cka(sides[l1][k], sides[l2][k]) if n >= min_sentences else math.nan
            rows.append({"objective": objective, "stack": layer.stack, "layer": layer.index, "lang1": l1,
                         "lang2": l2, "n_sentences": n, "cka": value})
    return rows


def model_similarity(states: dict[str, dict], languages: Sequence[str], min_sentences: int) -> list[dict]:
    """(b): per language, CKA between every layer of every model (both orders, so each
    language's rows form the full matrix)."""
    rows = []
    for lang in languages:
        reps, keys = [], []
        for objective, data in states.items():
            for k, layer in enumerate(data["layers"]):
                reps.append(data["languages"][lang][k])
                keys.append((objective, layer))
        n = reps[0].shape[0] if reps else 0
        matrix = cka_matrix(reps) if n >= min_sentences else torch.full((len(reps), len(reps)), math.nan)
        for i, (o1, a) in enumerate(keys):
            for j, (o2, b) in enumerate(keys):
                rows.append({"language": lang, "objective1": o1, "stack1": a.stack, "layer1": a.index,
                             "objective2": o2, "stack2": b.stack, "layer2": b.index, "n_sentences": n,
                             "cka": float(matrix[i, j])})
    return rows


# --------------------------------------------------------------------------- jobs


def states_job(models: Sequence[tuple[str, str, str, str]], sentences_path, *, batch_size: int, max_length: int,
               decoder: bool, min_sentences: int, threads: int) -> None:
    """Each model of `models` (objective, model directory, SentencePiece model, output
    path): the mean-pooled states of every layer on each language's sentences (kept,
    float16, for the comparison between models), and (a), the CKA between the
    languages of each pair, computed here from the pairs' sentences. One process for
    all models: loading torch and fairseq costs more than encoding the sample."""
    from lmvsmt.analysis.sentences import Sentences

    torch.set_num_threads(threads)
    sentences = Sentences.load(sentences_path)
    for objective, model_dir, spm_model, out_path in models:
        model_states(objective, model_dir, spm_model, sentences, out_path, batch_size=batch_size,
                     max_length=max_length, decoder=decoder, min_sentences=min_sentences)


def model_states(objective: str, model_dir, spm_model, sentences, out_path, *, batch_size: int, max_length: int,
                 decoder: bool, min_sentences: int) -> None:
    """One model's state file (see states_job)."""
    from lmvsmt.evaluate.jobs import device, load_pretrained
    from lmvsmt.io import atomic_path

    model, subwords = load_pretrained(objective, model_dir, spm_model)
    model.eval()
    layers = model_layers(model, decoder)

    def encode(texts, lang):
        states = pooled_layers(model, subwords, texts, lang, batch_size=batch_size, max_length=max_length,
                               decoder=decoder, device=device())
        if states.shape[0] != len(layers):
            raise SimilarityError(f"{objective}: {states.shape[0]} layer states for {len(layers)} layers")
        return states

    pair_states = {pair: {lang: encode(texts, lang) for lang, texts in sides.items()}
                   for pair, sides in sentences.pairs.items()}
    rows = language_similarity(objective, layers, pair_states, min_sentences)
    languages = {lang: encode(texts, lang).to(torch.float16) for lang, texts in sentences.languages.items()}
    with atomic_path(out_path) as tmp:
        torch.save({"objective": objective, "layers": [(layer.stack, layer.index) for layer in layers],
                    "languages": languages, "language_rows": rows}, tmp)
    log.info("%s: %d layers, %d pairs, %d languages", objective, len(layers), len(pair_states), len(languages))


# How a damaged state file comes back (it is moved aside when found damaged).
STATES_REMEDY = "rerun the same command to compute the model's states again (rule cka_states)"


def cka_job(states_paths, languages: Sequence[str], min_sentences: int, out_languages, out_models) -> None:
    """(a) gathered from the models' state files, and (b) computed between them."""
    states, language_rows = {}, []
    for path in states_paths:
        data = integrity.load_torch(path, STATES_REMEDY, weights_only=True)
        layers = [Layer(stack, index) for stack, index in data["layers"]]
        states[data["objective"]] = {"layers": layers,
                                     "languages": {lang: data["languages"][lang] for lang in languages
                                                   if lang in data["languages"]}}
        language_rows += data["language_rows"]
    present = [lang for lang in languages if all(lang in s["languages"] for s in states.values())]
    write_csv(out_languages, language_rows, LANGUAGE_COLUMNS)
    write_csv(out_models, model_similarity(states, present, min_sentences), MODEL_COLUMNS)
