"""Downstream data as the evaluation sees it: the splits (read with the format's one
reader, lmvsmt.downstream.common), labels mapped to ids, and texts encoded with the
pretraining sub-word model. Token tasks are labelled on the first sub-word of each word.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from lmvsmt.downstream.common import DataError, Example, word_joiner
from lmvsmt.io import read_json
from lmvsmt.vocabulary import is_token_task


def label_set(train: Sequence[Example], data_dir: str | Path | None = None) -> list[str]:
    """The label inventory of a dataset: every label observed in any split, as the
    downstream stage records it in meta.json (a rare tag may be missing from train),
    or, without meta.json, the labels of the training split."""
    meta = Path(data_dir) / "meta.json" if data_dir is not None else None
    if meta is not None and meta.exists():
        return sorted(read_json(meta)["labels_observed"])
    return sorted({label for ex in train for label in ex.labels})


@dataclass
class Encoded:
    """One split, encoded: token-id lists per text, and for token tasks the index of
    each labelled word's first sub-word. Words cut off by truncation have no entry;
    `truncated_words` counts them, and the evaluation scores them as errors."""

    ids: list[list[list[int]]]        # example -> text -> sub-word ids
    firsts: list[list[int]]           # example -> first sub-word index of each kept word
    labels: list[list[int]]           # example -> label ids (one, or one per kept word)
    truncated_words: int = 0


def encode(examples: Sequence[Example], task: str, lang: str, subwords, dictionary, labels: Sequence[str],
           max_length: int, where: str = "") -> Encoded:
    """Encode examples with a SubwordModel and a fairseq Dictionary."""
    label_id = {label: i for i, label in enumerate(labels)}
    out = Encoded([], [], [])
    for n, ex in enumerate(examples):
        try:
            ids = [label_id[label] for label in ex.labels]
        except KeyError as exc:
            raise DataError(f"{where}: example {n + 1}: unknown label {exc.args[0]!r} "
                                f"(known: {', '.join(labels)})") from None
        if is_token_task(task):
            # The sentence is encoded as pretraining saw it; each word is labelled on
            # the piece holding its first character. Words past max_length get no
            # prediction; they are counted, and scored as errors (as the authors do).
            all_pieces, all_firsts = subwords.align_words(ex.tokens, word_joiner(lang))
            pieces = all_pieces[:max_length]
            firsts = [f for f in all_firsts if f < max_length]
            out.truncated_words += len(ex.tokens) - len(firsts)
            out.ids.append([[dictionary.index(p) for p in pieces]])
            out.firsts.append(firsts)
            out.labels.append(ids[: len(firsts)])
        else:
            out.ids.append([[dictionary.index(p) for p in subwords.encode(text)[:max_length]] or [dictionary.unk()]
                            for text in ex.texts])
            out.firsts.append([])
            out.labels.append(ids)
    return out
