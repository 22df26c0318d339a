"""The paper's names, in one place: languages, pretraining corpora, objectives and
their stacks, the binarized dataset each objective reads, downstream tasks and their
kinds, splits and evaluation modes (PROTOCOL.md). Every module takes them from here;
the config schema's enums list the same names (a test keeps them equal).
"""
from __future__ import annotations

import itertools
from typing import Iterable

#: The six official UN languages.
LANGUAGES = ("ar", "en", "es", "fr", "ru", "zh")

#: The pretraining corpora (UNPC v1.0, OpenSubtitles v2018), with their names in tables.
CORPORA = {"unpc": "UNPC", "opensubtitles": "OpenSubtitles"}

#: The five pretraining objectives, in the paper's table order.
OBJECTIVES = ("2-LM", "2-MT", "CLM", "MLM", "TLM")
#: Encoder-decoder models (BART architecture) and decoder- or encoder-only models.
DOUBLE_STACK = ("2-LM", "2-MT")
SINGLE_STACK = ("CLM", "MLM", "TLM")

#: The binarized dataset (data-bin/<dataset>) each objective trains on.
DATASET = {"2-LM": "documents", "2-MT": "bitext", "CLM": "documents", "MLM": "documents", "TLM": "tlm"}

#: The four downstream tasks.
TASKS = ("SA", "NER", "POS", "NLI")
#: Texts per example of each task: 1 (sentence), 2 (sentence pair), 0 (token task).
TASK_TEXTS = {"SA": 1, "NLI": 2, "NER": 0, "POS": 0}

#: Splits of the pretraining corpora and of the downstream data.
SPLITS = ("train", "valid", "test")

#: Evaluation modes: a head on the frozen model, or the whole model trained.
MODES = ("probe", "finetune")


def is_token_task(task: str) -> bool:
    """A task labelled per word (NER, POS) rather than per example."""
    return TASK_TEXTS[task] == 0


def language_pairs(languages: Iterable[str]) -> list[tuple[str, str]]:
    """Unordered language pairs, alphabetically ordered inside (as the corpus files
    name them: bitext.{l1}-{l2}.*)."""
    return list(itertools.combinations(sorted(languages), 2))
