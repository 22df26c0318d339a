"""Evaluation jobs as the workflow runs them: feature extraction, probing and
fine-tuning for one objective and task over one or several languages."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from lmvsmt import finetune, integrity, monitoring, probe, results

log = logging.getLogger(__name__)


@dataclass
class Unit:
    """One task and language of a job: its data directory, features cache and result files."""

    task: str
    lang: str
    data_dir: str
    features: str
    results: dict[int, str]  # seed -> result file


def device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


# How a damaged model comes back (it is moved aside when found damaged).
MODEL_REMEDY = ("rerun the same command: rule pretrain exports the trained model again (no retraining), or rule "
                "external_model imports a model trained elsewhere again")


def _load(objective: str, model_dir, spm_model):
    # Imported here: these stages' modules pull in fairseq, which the tables do not need.
    from lmvsmt.bpe import SubwordModel
    from lmvsmt.pretrained import load_model

    integrity.check_archive(Path(model_dir) / "checkpoint_best.pt", MODEL_REMEDY)
    model = load_model(objective, model_dir).to(device())
    return model, SubwordModel(spm_model)


def _record(mode, objective, task, lang, seed, metrics, config) -> dict:
    return {"mode": mode, "objective": objective, "task": task, "language": lang, "seed": seed,
            **metrics, "provenance": results.provenance(config)}


def _with_data(objective, model_dir, spm_model, units: list[Unit], ev: dict):
    """Load the pretrained model once, then yield (unit, model, labels, encoded splits)."""
    torch.set_num_threads(ev["threads"])
    model, subwords = _load(objective, model_dir, spm_model)
    for unit in units:
        labels, encoded = probe.load_task(unit.data_dir, unit.task, unit.lang, subwords, model.dictionary,
                                          ev["max_length"])
        yield unit, model, labels, encoded


def features_job(objective, model_dir, spm_model, units: list[Unit], config: dict) -> None:
    ev = config["evaluation"]
    for unit, model, labels, encoded in _with_data(objective, model_dir, spm_model, units, ev):
        probe.extract_features(model, labels, encoded, unit.lang, unit.task, ev["head"]["pooling"],
                               ev["probe"]["batch_size"], unit.features, device())
        log.info("cached features of %s %s %s", objective, unit.task, unit.lang)


def probe_job(objective, units: list[Unit], config: dict) -> None:
    ev = config["evaluation"]
    torch.set_num_threads(ev["threads"])
    for unit in units:
        for seed, path in unit.results.items():
            with monitoring.epoch_curves(config, "probe", objective, unit.task, unit.lang, seed) as curves:
                metrics = probe.probe(unit.features, seed, ev["head"], ev["probe"], progress=curves)
            results.write_result(path, _record("probe", objective, unit.task, unit.lang, seed, metrics, config))
            log.info("probe %s %s %s seed %d: accuracy %.4f", objective, unit.task, unit.lang, seed,
                     metrics["accuracy"])


def finetune_job(objective, model_dir, spm_model, units: list[Unit], config: dict) -> None:
    ev = config["evaluation"]
    for unit, model, labels, encoded in _with_data(objective, model_dir, spm_model, units, ev):
        curves = {}

        def open_curves(seed, unit=unit):
            curves[seed] = monitoring.epoch_curves(config, "finetune", objective, unit.task, unit.lang, seed)
            return curves[seed]

        for seed, metrics in finetune.finetune_seeds(model, labels, encoded, unit.lang, unit.task,
                                                     list(unit.results), ev["head"], ev["finetune"], device(),
                                                     progress=open_curves):
            curves.pop(seed).close()
            results.write_result(unit.results[seed],
                                 _record("finetune", objective, unit.task, unit.lang, seed, metrics, config))
            log.info("finetune %s %s %s seed %d: accuracy %.4f", objective, unit.task, unit.lang, seed,
                     metrics["accuracy"])
