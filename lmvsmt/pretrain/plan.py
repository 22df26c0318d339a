"""Pretraining runs as the rule plans them: the files of a run, its fingerprint, the
binarized data it reads, and the fairseq command (lmvsmt.pretrain.objectives) for the
allocation it gets (lmvsmt.pretrain.launch).

Layout ({R} = results_dir):
  {R}/work/pretrain/{objective}/run-<fingerprint>/   checkpoints, raw training log,
      submitit files; never deleted by Snakemake, so a rerun continues from the last
      checkpoint. The fingerprint covers everything a resumed run must share with the
      run it continues (hyper-parameters, size, schedule, seed, data files): a changed
      setting starts a fresh run directory and leaves the old one untouched.
      Also resolved.json: what the run's first job chose for the `auto` settings
      (batch size, update_freq, precision; lmvsmt.pretrain.autotune), kept for its later jobs.
  {R}/pretrain/{objective}/  checkpoint_best.pt (model weights, optimizer state
      dropped, under fairseq's own names: loads without lmvsmt's plugin), dict.txt,
      command.txt (as run), config.yaml (with the values chosen for `auto`),
      train_log.jsonl, loss.png.

Losses in the training log are fairseq's: cross-entropy in bits (base 2) per token.
"""
from __future__ import annotations

import hashlib
import json
import logging
import struct
from pathlib import Path

from lmvsmt import layout
from lmvsmt.errors import LmvsmtError
from lmvsmt.io import read_text
from lmvsmt.pretrain import launch, objectives
from lmvsmt.vocabulary import DATASET

log = logging.getLogger(__name__)


RAW_LOG = "train_log.raw.jsonl"
DONE = "done.json"
FINAL = "final"
LOCK = "train.lock"
# The rule's outputs in {R}/pretrain/{objective}/, by the names the rule gives them.
OUTPUTS = {"model": layout.MODEL_CHECKPOINT, "dict": layout.MODEL_DICT, "command": "command.txt",
           "config": "config.yaml", "log": "train_log.jsonl", "plot": "loss.png"}


def named_outputs(model_dir: str) -> dict[str, str]:
    """The rule's named outputs in `model_dir` (a path or a pattern)."""
    return {key: f"{model_dir}/{name}" for key, name in OUTPUTS.items()}


def output_files(results, objective: str) -> list[str]:
    return list(named_outputs(layout.model_dir(results, objective)).values())


class PretrainError(LmvsmtError, RuntimeError):
    """A pretraining run cannot start or did not finish; the message says why."""


def data_identity(data_dir: Path) -> list:
    """Names and sizes of the binarized files and the hash of the dictionary: cheap to
    compute at paper scale, and changes whenever the data is rebuilt differently."""
    files = sorted(p for p in Path(data_dir).iterdir() if p.is_file())
    ident = [[p.name, p.stat().st_size] for p in files]
    dicts = [p for p in files if p.name.startswith("dict")]
    if dicts:
        ident.append(hashlib.sha256(dicts[0].read_bytes()).hexdigest())
    return ident


def fingerprint(config: dict, objective: str, data_dir: Path) -> str:
    blob = json.dumps([objectives.training_settings(config, objective), data_identity(data_dir)],
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


_IDX_HEADER = 34  # fairseq mmap .idx: magic 9 B, version 8 B, dtype 1 B, items 8 B, documents 8 B


def _indexed_items(idx: Path) -> int:
    """Items in a fairseq mmap .idx file (-1: another format)."""
    with open(idx, "rb") as fh:
        head = fh.read(26)
    if len(head) < 26 or not head.startswith(b"MMIDIDX"):
        return -1  # another format: let fairseq judge
    return struct.unpack("<Q", head[18:26])[0]


def indexed_sizes(idx: Path):
    """Tokens of each item of a fairseq mmap .idx file (int32 array; the sizes follow the header)."""
    import numpy as np

    count = _indexed_items(idx)
    if count < 0:
        raise PretrainError(f"{idx}: not a fairseq mmap index")
    return np.fromfile(idx, dtype=np.int32, count=count, offset=_IDX_HEADER)


def available_pairs(data_dir: Path, pairs: list[str]) -> tuple[list[str], list[str]]:
    """Directions with training data (fairseq reads b-a from the a-b binarization)."""
    keep, dropped = [], []
    for pair in pairs:
        src, tgt = pair.split("-")
        candidates = [Path(data_dir) / f"train.{src}-{tgt}.{src}.idx", Path(data_dir) / f"train.{tgt}-{src}.{src}.idx"]
        found = [c for c in candidates if c.exists()]
        (keep if found and _indexed_items(found[0]) != 0 else dropped).append(pair)
    return keep, dropped


def dictionary_file(objective: str, data_dir: Path, languages: list[str]) -> Path:
    if DATASET[objective] == "bitext":  # one copy per language, all identical
        return Path(data_dir) / f"dict.{sorted(languages)[0]}.txt"
    return Path(data_dir) / "dict.txt"


def data_dir_of(results, objective: str) -> str:
    """The binarized data an objective trains on."""
    return layout.data_bin(results, DATASET[objective])


def input_files(results, objective: str, languages: list[str]) -> list[str]:
    """The data files the rule waits for (train and valid splits, dictionaries)."""
    from lmvsmt.bpe.binarize import output_names

    dataset = DATASET[objective]
    return [f"{layout.data_bin(results, dataset)}/{name}" for name in output_names(dataset, languages)
            if not name.startswith("test.")]


def planned_commands(config: dict, work_root) -> dict[str, objectives.PlannedCommand]:
    """The command each configured objective will run with the configured launcher (shown
    by `snakemake -n`); the job recomputes it for the processes it actually gets."""
    commands = {}
    for objective in config["objectives"]:
        alloc = launch.allocation(config["pretrain"], objective)
        command = objectives.build(objective, config, data_dir_of(config["results_dir"], objective),
                                   f"{work_root}/{objective}/run-<fingerprint>", alloc.world_size, alloc.gpu)
        commands[objective] = objectives.PlannedCommand(command.shell())
    return commands


def check_dictionary(path: Path, languages: list[str]) -> None:
    """The shared dictionary must already hold the tokens fairseq would otherwise append
    per task (<mask> for MLM and 2-LM, __xx__ for 2-MT): token ids then agree across the
    five models (path contract, issue 4)."""
    entries = {line.split(" ", 1)[0] for line in read_text(path).splitlines()}
    missing = [t for t in ["<mask>", *(f"__{lang}__" for lang in languages)] if t not in entries]
    if missing:
        raise PretrainError(f"{path}: the dictionary lacks {', '.join(missing)}; the five models would not "
                            "share token ids (rebuild the bpe stage)")


def plan(objective: str, config: dict, data_dir, run_dir, allocation: launch.Allocation | None = None,
         check_data: bool = False) -> objectives.Command:
    """The fairseq command for the processes of `allocation` (default: the configured one)."""
    alloc = allocation or launch.allocation(config["pretrain"], objective)
    pairs = None
    if objective == "2-MT" and check_data:
        hp = objectives.hyperparameters(config["pretrain"], objective)
        pairs, dropped = available_pairs(Path(data_dir), objectives.lang_pairs(config["languages"], hp))
        if not pairs:
            raise PretrainError(f"2-MT: no translation direction has training data in {data_dir}")
        if dropped:
            log.warning("2-MT: no training data for %s in %s: these directions are left out",
                        ", ".join(dropped), data_dir)
    return objectives.build(objective, config, str(data_dir), str(run_dir), alloc.world_size, alloc.gpu, pairs)


def read_train_log(path: Path) -> list[dict]:
    """Training log records, one per (kind, update): a resumed run logs again the updates
    after its checkpoint, and the later (resumed) line wins. A line cut short by a killed
    job is skipped with a warning."""
    records: dict[tuple, dict] = {}
    if Path(path).exists():
        for number, line in enumerate(read_text(path).splitlines(), 1):
            if line.strip():
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    log.warning("%s:%d: skipped a line cut short by an interrupted job", path, number)
                    continue
                kind = "valid" if "valid_loss" in rec else "train"
                records[(rec["update"], kind)] = rec
    return [records[k] for k in sorted(records, key=lambda k: (k[0], k[1] == "valid"))]
