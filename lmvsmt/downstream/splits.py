"""Seeded splits for sources without official ones, duplicate removal, inputs that
two splits share, and the token budget of the POS data (several treebanks
concatenated up to ~160k tokens).

Every random choice uses `random.Random` seeded with a string naming the seed, the
task and the language: the same seed gives the same split on every machine and
Python version, and different datasets get independent permutations.
"""
from __future__ import annotations

import random
from typing import Mapping, Sequence, TypeVar

from lmvsmt.downstream.common import DataError, Example
from lmvsmt.vocabulary import SPLITS

E = TypeVar("E", bound=Example)


def rng(seed: int, *names: str) -> random.Random:
    return random.Random("/".join([str(seed), *names]))


def split_sizes(n: int, fractions: Mapping[str, float]) -> dict[str, int]:
    """Sizes of train/valid/test for `n` examples and the valid/test fractions."""
    valid = round(n * fractions["valid"])
    test = round(n * fractions["test"])
    return {"train": n - valid - test, "valid": valid, "test": test}


def own_split(examples: Sequence[E], fractions: Mapping[str, float], seed: int, task: str, lang: str,
              where: str) -> dict[str, list[E]]:
    """A seeded random train/valid/test partition; every split keeps the source order.
    An empty split is an error (too few examples for the fractions)."""
    sizes = split_sizes(len(examples), fractions)
    empty = [name for name in SPLITS if sizes[name] <= 0]
    if empty:
        raise DataError(f"{where}: {len(examples)} examples give an empty {'/'.join(empty)} split "
                        f"(fractions valid={fractions['valid']}, test={fractions['test']})")
    order = list(range(len(examples)))
    rng(seed, task, lang, "split").shuffle(order)
    cut = {"test": order[: sizes["test"]], "valid": order[sizes["test"]: sizes["test"] + sizes["valid"]],
           "train": order[sizes["test"] + sizes["valid"]:]}
    return {name: [examples[i] for i in sorted(cut[name])] for name in SPLITS}


def dedupe(examples: Sequence[E]) -> tuple[list[E], int]:
    """Keep the first example of each input (text(s) or token sequence): a repeated
    input in two splits would leak test data into training."""
    seen: set = set()
    kept: list[E] = []
    for ex in examples:
        if ex.key in seen:
            continue
        seen.add(ex.key)
        kept.append(ex)
    return kept, len(examples) - len(kept)


def shared_inputs(data: Mapping[str, Sequence[Example]]) -> dict[str, int]:
    """How many validation and test examples repeat an input (text(s) or token
    sequence) of an earlier split: valid_in_train, test_in_train, test_in_valid.
    Official splits can share inputs (a review both in train and in test)."""
    train = {ex.key for ex in data["train"]}
    valid = {ex.key for ex in data["valid"]}
    return {"valid_in_train": sum(ex.key in train for ex in data["valid"]),
            "test_in_train": sum(ex.key in train for ex in data["test"]),
            "test_in_valid": sum(ex.key in valid for ex in data["test"])}


def drop_seen_in_train(data: Mapping[str, Sequence[E]]) -> dict[str, list[E]]:
    """The splits without the validation and test examples whose input train holds."""
    train = {ex.key for ex in data["train"]}
    return {name: list(data[name]) if name == "train" else [ex for ex in data[name] if ex.key not in train]
            for name in SPLITS}


def token_budget(groups: Sequence[tuple[str, Sequence[E]]], budget: int, seed: int, task: str,
                 lang: str) -> list[E]:
    """Concatenate groups (treebanks) in order until `budget` tokens are reached.

    A group that fits whole is taken whole; in the group where the budget runs out,
    sentences are taken in a seeded random order until the total reaches the budget
    (so the last sentence may pass it), and later groups are not used.
    """
    chosen: list[E] = []
    total = 0
    for name, sentences in groups:
        if total >= budget:
            break
        size = sum(len(ex.tokens) for ex in sentences)
        if total + size <= budget:
            chosen.extend(sentences)
            total += size
            continue
        order = list(range(len(sentences)))
        rng(seed, task, lang, "budget", name).shuffle(order)
        picked = []
        for i in order:
            if total >= budget:
                break
            picked.append(i)
            total += len(sentences[i].tokens)
        chosen.extend(sentences[i] for i in sorted(picked))
    return chosen
