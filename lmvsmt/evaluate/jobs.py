"""Evaluation jobs as the workflow runs them: feature extraction, probing and
fine-tuning for one objective and task over one or several languages."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import torch

from lmvsmt import integrity, monitoring
from lmvsmt.evaluate import finetune, probe, results
from lmvsmt.analysis import transfer
from lmvsmt.layout import MODEL_CHECKPOINT

log = logging.getLogger(__name__)


@dataclass
class Unit:
    """One task and language of a job: its data directory, features cache and result files."""

    task: str
    lang: str
    data_dir: str
    features: str
    results: dict[int, str]  # seed -> result file
    # Zero-shot transfer: test language -> {"data_dir", "features", "results": {seed: file}}.
    transfer: dict[str, dict] = field(default_factory=dict)


def device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


# How a damaged model comes back (it is moved aside when found damaged).
MODEL_REMEDY = ("rerun the same command: rule pretrain exports the trained model again (no retraining), or rule "
                "external_model imports a model trained elsewhere again")


def load_pretrained(objective: str, model_dir, spm_model):
    """The pretrained model (on this job's device) and its sub-word model."""
    # Imported here: these stages' modules pull in fairseq, which the tables do not need.
    from lmvsmt.bpe.subword import SubwordModel
    from lmvsmt.pretrain.models import load_model

    integrity.check_archive(Path(model_dir) / MODEL_CHECKPOINT, MODEL_REMEDY)
    model = load_model(objective, model_dir).to(device())
    return model, SubwordModel(spm_model)


def record(mode, objective, task, lang, seed, metrics, config) -> dict:
    """The content of a result file."""
    return {"mode": mode, "objective": objective, "task": task, "language": lang, "seed": seed,
            **metrics, "provenance": results.provenance(config)}


def _log_metrics(mode, objective, unit: Unit, seed, metrics) -> None:
    cut = (f"; {metrics['n_truncated']} of {metrics['n_test']} test words beyond the input window, scored as errors"
           if metrics["n_truncated"] else "")
    log.info("%s %s %s %s seed %d: accuracy %.4f (best epoch %d of %d%s)", mode, objective, unit.task, unit.lang,
             seed, metrics["accuracy"], metrics["best_epoch"], metrics["epochs_run"], cut)


def _with_data(objective, model_dir, spm_model, units: list[Unit], ev: dict):
    """Load the pretrained model once, then yield (unit, model, sub-word model, labels,
    encoded splits)."""
    torch.set_num_threads(ev["threads"])
    model, subwords = load_pretrained(objective, model_dir, spm_model)
    for unit in units:
        labels, encoded = probe.load_task(unit.data_dir, unit.task, unit.lang, subwords, model.dictionary,
                                          ev["max_length"])
        yield unit, model, subwords, labels, encoded


def features_job(objective, model_dir, spm_model, units: list[Unit], config: dict) -> None:
    ev = config["evaluation"]
    for unit, model, _, labels, encoded in _with_data(objective, model_dir, spm_model, units, ev):
        probe.extract_features(model, labels, encoded, unit.lang, unit.task, ev["head"]["pooling"],
                               ev["probe"]["batch_size"], unit.features, device())
        log.info("cached features of %s %s %s", objective, unit.task, unit.lang)


def _write(mode, objective, unit: Unit, seed, metrics, skipped, config) -> None:
    """The result file of one run, and its transfer result files (the other languages'
    test sets it scored, under metrics["transfer"])."""
    scored = metrics.pop("transfer", {})
    results.write_result(unit.results[seed], record(mode, objective, unit.task, unit.lang, seed, metrics, config))
    if unit.transfer:
        transfer.write_results(mode, objective, unit.task, unit.lang, seed, metrics, scored, skipped,
                               {test: spec["results"] for test, spec in unit.transfer.items()}, config)
    _log_metrics(mode, objective, unit, seed, metrics)


def probe_job(objective, units: list[Unit], config: dict) -> None:
    ev = config["evaluation"]
    torch.set_num_threads(ev["threads"])
    for unit in units:
        # Each head also scores the other languages' cached test features (zero-shot transfer).
        test_features = {test: spec["features"] for test, spec in unit.transfer.items()}
        tests, skipped = transfer.probe_tests(unit.lang, unit.features, test_features)
        for seed in unit.results:
            with monitoring.epoch_curves(config, "probe", objective, unit.task, unit.lang, seed) as curves:
                metrics = probe.probe(unit.features, seed, ev["head"], ev["probe"], progress=curves,
                                      transfer_tests=tests)
            _write("probe", objective, unit, seed, metrics, skipped, config)


def finetune_job(objective, model_dir, spm_model, units: list[Unit], config: dict) -> None:
    ev = config["evaluation"]
    for unit, model, subwords, labels, encoded in _with_data(objective, model_dir, spm_model, units, ev):
        curves = {}

        def open_curves(seed, unit=unit):
            curves[seed] = monitoring.epoch_curves(config, "finetune", objective, unit.task, unit.lang, seed)
            return curves[seed]

        # Each seed's weights also score the other languages' test sets (zero-shot transfer).
        test_dirs = {test: spec["data_dir"] for test, spec in unit.transfer.items()}
        tests, skipped = transfer.finetune_tests(unit.lang, unit.task, test_dirs, subwords, model.dictionary, labels,
                                                 ev["max_length"])
        for seed, metrics in finetune.finetune_seeds(model, labels, encoded, unit.lang, unit.task,
                                                     list(unit.results), ev["head"], ev["finetune"], device(),
                                                     progress=open_curves, transfer_tests=tests):
            curves.pop(seed).close()
            _write("finetune", objective, unit, seed, metrics, skipped, config)
