"""Zero-shot cross-lingual transfer: a head (probing) or a whole model (fine-tuning)
trained on a source language is scored on the test set of every language of the task.

Nothing is trained or encoded again for it: every probing and fine-tuning run scores
the test sets of all languages of its task with the weights it selected (fit's
extra_tests), probing from the other languages' cached features, fine-tuning before
its weights are discarded.

One result file per (mode, objective, task, train language, test language, seed), in
the ordinary format plus `train_language` and `test_language` (`language` is the test
language). The file with train = test language holds the ordinary result.

Label sets: a test language is scored with the source's label ids; a test set with a
label the source head does not know (e.g. RuReviews' three classes against Amazon's
five stars) is not scored: its file says why and the tables show a dash.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Mapping, Sequence

from lmvsmt.evaluate import taskdata
from lmvsmt.tables import render, specs
from lmvsmt.tables.cells import collect_cells, entry_fields, missing_notes, score_blocks
from lmvsmt.evaluate import results
from lmvsmt.analysis.outputs import transfer_table_name
from lmvsmt.downstream.common import DataError, read_split, split_path
from lmvsmt.errors import LmvsmtError

if TYPE_CHECKING:  # torch is imported where it is used: the transfer tables do without it
    import torch

log = logging.getLogger(__name__)


class LabelMismatch(LmvsmtError, ValueError):
    """A test set with labels the source's head cannot predict."""


def relabel(ids: torch.Tensor, labels: Sequence[str], to: Sequence[str], where: str = "") -> torch.Tensor:
    """Label ids over `labels` as ids over `to`, the source's label list."""
    import torch

    index = {label: i for i, label in enumerate(to)}
    used = sorted({labels[i] for i in ids.tolist()})
    unknown = [label for label in used if label not in index]
    if unknown:
        raise LabelMismatch(f"{where}: test label(s) {', '.join(map(repr, unknown))} unknown to the source's head "
                            f"(its labels: {', '.join(to)})")
    mapping = torch.tensor([index.get(label, -1) for label in labels], dtype=torch.long)
    return mapping[ids]


def skipped_metrics(reason: str) -> dict:
    return {"accuracy": None, "macro_f1": None, "micro_f1": None, "skipped": reason}


def write_results(mode: str, objective: str, task: str, train: str, seed: int, in_language: dict,
                  scored: Mapping[str, dict], skipped: Mapping[str, str], files: Mapping[str, Mapping[int, str]],
                  config: dict) -> None:
    """The transfer result files of one source language and seed: the in-language
    metrics for train = test, the scored and the skipped test languages."""
    from lmvsmt.evaluate.jobs import record  # here: lmvsmt.evaluate.jobs imports this module

    for test, seeds in files.items():
        metrics = (in_language if test == train else scored[test] if test in scored
                   else skipped_metrics(skipped[test]))
        results.write_result(seeds[seed], {**record(mode, objective, task, test, seed, metrics, config),
                                           "train_language": train, "test_language": test})


def probe_tests(lang: str, features: str, test_features: Mapping[str, str]) -> tuple[dict, dict[str, str]]:
    """The test splits of the other languages' feature caches, labelled with the ids of
    `lang`'s cache (for probe.probe's transfer_tests), and the reasons for those left
    out. The caches are memory-mapped: only their test splits are read."""
    from lmvsmt import integrity
    from lmvsmt.evaluate.probe import FEATURES_REMEDY

    labels = integrity.load_torch(features, FEATURES_REMEDY, weights_only=True, mmap=True)["labels"]
    tests, skipped = {}, {}
    for test, path in test_features.items():
        if test == lang:
            continue
        cache = integrity.load_torch(path, FEATURES_REMEDY, weights_only=True, mmap=True)
        split = dict(cache["test"])
        try:
            split["y"] = relabel(split["y"], cache["labels"], labels, path)
        except LabelMismatch as exc:
            skipped[test] = f"{exc}: not scored"
            log.warning("%s", skipped[test])
            continue
        tests[test] = split
    return tests, skipped


def finetune_tests(unit_lang: str, task: str, test_dirs: Mapping[str, str], subwords, dictionary,
                   labels: Sequence[str], max_length: int) -> tuple[dict, dict[str, str]]:
    """The other languages' test sets encoded for the source's fine-tuned model (its
    label ids; each text in its own language), for finetune.finetune's transfer_tests."""
    tests, skipped = {}, {}
    for test, data_dir in test_dirs.items():
        if test == unit_lang:
            continue
        path = split_path(data_dir, task, "test")
        examples = read_split(path, task)
        try:
            tests[test] = (test, taskdata.encode(examples, task, test, subwords, dictionary, labels, max_length,
                                                 where=str(path)))
        except DataError as exc:  # a label the source's head does not know
            skipped[test] = f"{exc}: not scored"
            log.warning("%s", skipped[test])
    return tests, skipped


# --------------------------------------------------------------------------- tables


def build_table(records: Sequence[dict], in_language: Sequence[dict], *, mode: str, source: str,
                objectives: Sequence[str], tasks: Sequence[str], languages: Sequence[str], seeds: Sequence[int],
                metric: str = "accuracy", decimals: int = 2, ddof: int = 1,
                bold_scope: str = "architecture") -> render.Table:
    """The transfer table of `mode` from `source`: task blocks, objective rows (grouped
    by architecture, as Tables 8/9), one column per test language (mean ± s.d. over
    seeds, x100) and the gap: the mean over the other test languages of the zero-shot
    score minus the score of a model trained on that language (`in_language`, the
    ordinary results)."""
    records = [r for r in records if r["mode"] == mode and r["train_language"] == source]
    groups = specs.architecture_groups(objectives, bold_scope)
    cells = collect_cells(records, metric, mode, seeds, ddof)
    reference = collect_cells(in_language, metric, mode, seeds, ddof)
    blocks = score_blocks(cells, groups, tasks, languages, len(seeds), decimals)
    name = transfer_table_name(mode, source)
    csv_rows = []
    for block in blocks:
        for row in block.rows:
            gaps = []
            for lang, entry in zip(languages, row.entries):
                ref = reference.get((block.name, row.label, lang))
                gap = entry.mean - ref.mean if entry.mean is not None and ref is not None else None
                if lang != source and gap is not None:
                    gaps.append(gap)
                csv_rows.append({"table": name, "metric": metric, "mode": mode, "train_language": source,
                                 "task": block.name, "objective": row.label, **entry_fields(lang, entry),
                                 "in_language_mean": "" if ref is None else f"{ref.mean:.6f}",
                                 "gap": "" if gap is None else f"{gap:.6f}"})
            row.entries.append(render.Entry(sum(gaps) / len(gaps) if gaps else None))
    skipped = any(r.get("skipped") for r in records)
    sd_word = "sample" if ddof == 1 else "population"
    caption = (f"Zero-shot cross-lingual transfer, {specs.MODE_WORDS[mode]}, trained on {source.upper()}: "
               f"{specs.METRIC_WORDS[metric]} ($\\times$100) on the test set of each language, mean $\\pm$ "
               f"{sd_word} standard deviation over {len(seeds)} seed{'s' * (len(seeds) != 1)}; the {source.upper()} "
               f"column is the in-language result. Gap: mean over the other languages of the zero-shot score "
               f"minus the score of the model trained on that language. Bold: best model per task and test "
               f"language{' within each architecture' if len(groups) > 1 else ''}. " + missing_notes(blocks))
    if skipped:
        caption = caption[:-1] + ", or a test set with labels the source's head does not know."
    fields = ["table", "metric", "mode", "train_language", "task", "objective", "language", "n_seeds", "mean", "sd",
              "best", "in_language_mean", "gap"]
    return render.Table(name, caption, ["Task", "Model"] + [lang.upper() for lang in languages] + ["Gap"], blocks,
                        "result", "ll" + "c" * (len(languages) + 1), True, decimals, csv_rows, fields,
                        title=f"Zero-shot transfer ({specs.MODE_WORDS[mode].split(' (')[0]} on {source.upper()})")
