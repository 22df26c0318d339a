"""What pretraining costs, before it is launched: per objective the tokens per update,
the training tokens and the GPU-hours at a measured throughput.

  tokens per update = global_batch x tokens per sequence, where a sequence is
      a token block of up to tokens_per_sample (CLM, TLM, MLM, 2-LM; an upper bound:
      `complete` blocks end at a sentence end), or
      a sentence pair (2-MT): the mean target length (with </s>) of the binarized
      bitext, known once the bitext stage has run
  training tokens = max_update x tokens per update
  GPU-hours = training tokens / (tokens per second and GPU) / 3600, assuming the
      throughput of one GPU scales perfectly to all of them

Tokens are fairseq's: target tokens (2-MT's and 2-LM's source side is not counted),
as the benchmark counts them. The throughput comes from pretrain.cost.tokens_per_second
or, for objectives not given there, from the file `benchmarks/pretrain.py --save` writes
(pretrain.cost.benchmark_file).

    python -m lmvsmt.pretrain.cost [--configfile config/paper.yaml]
"""
from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

from lmvsmt.pretrain import external, objectives
from lmvsmt.config import REPO_ROOT


@dataclass
class Estimate:
    objective: str
    tokens_per_update: float | None
    upper_bound: bool  # blocks of up to tokens_per_sample
    total_tokens: float | None
    tokens_per_second: float | None
    gpu_hours: float | None
    sources: list[str]
    max_update: int


def _bitext_target_length(config: dict, data_dir: Path) -> float | None:
    """Mean target length of the 2-MT directions in the binarized bitext (None: not built)."""
    from lmvsmt.pretrain.plan import indexed_sizes

    hp = objectives.hyperparameters(config["pretrain"], "2-MT")
    tokens = items = 0
    for pair in objectives.lang_pairs(config["languages"], hp):
        src, tgt = pair.split("-")
        found = [p for p in (data_dir / f"train.{src}-{tgt}.{tgt}.idx", data_dir / f"train.{tgt}-{src}.{tgt}.idx")
                 if p.exists()]
        if not found:
            continue
        sizes = indexed_sizes(found[0])
        tokens, items = tokens + int(sizes.sum()), items + len(sizes)
    return tokens / items if items else None


def tokens_per_sequence(objective: str, config: dict, data_dir) -> tuple[float | None, bool, str]:
    """(tokens, is an upper bound, where it comes from)."""
    hp = objectives.hyperparameters(config["pretrain"], objective)
    if objective == "2-MT":
        mean = _bitext_target_length(config, Path(data_dir))
        if mean is None:
            return None, False, f"mean pair length unknown until the bitext is binarized ({data_dir})"
        return mean, False, f"mean target length {mean:.1f} in {data_dir}"
    return float(hp["tokens_per_sample"]), True, f"blocks of up to {hp['tokens_per_sample']} tokens"


def throughput(config: dict, objective: str) -> tuple[float | None, str]:
    """(training tokens per second and GPU, where the figure comes from)."""
    ccfg = config["pretrain"]["cost"]
    if objective in ccfg["tokens_per_second"]:
        return float(ccfg["tokens_per_second"][objective]), "pretrain.cost.tokens_per_second"
    path = Path(ccfg["benchmark_file"])
    path = path if path.is_absolute() else REPO_ROOT / path
    if not path.exists():
        return None, f"no throughput figure ({path} is missing; set pretrain.cost.tokens_per_second)"
    saved = json.loads(path.read_text(encoding="utf-8"))
    value = saved.get("tokens_per_second", {}).get(objective)
    if value is None:
        return None, f"no throughput figure for {objective} in {path}"
    return float(value), f"{saved.get('device', 'a GPU')}, {path.name} of {saved.get('date', '?')}"


def estimate(objective: str, config: dict, data_dir) -> Estimate:
    pcfg = config["pretrain"]
    per_sequence, bound, origin = tokens_per_sequence(objective, config, data_dir)
    per_update = None if per_sequence is None else pcfg["global_batch"] * per_sequence
    total = None if per_update is None else per_update * pcfg["max_update"]
    speed, speed_origin = throughput(config, objective)
    hours = None if total is None or speed is None else total / speed / 3600
    return Estimate(objective, per_update, bound, total, speed, hours, [origin, speed_origin], pcfg["max_update"])


def _count(value: float) -> str:
    for unit, size in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= size:
            return f"{value / size:.2f}{unit}"
    return f"{value:.0f}"


def describe(est: Estimate) -> str:
    """One line (no colon: it sits inside the rule's message)."""
    if est.tokens_per_update is None:
        return f"cost unknown: {est.sources[0]}"
    le = "<= " if est.upper_bound else ""
    text = (f"{le}{_count(est.tokens_per_update)} tokens per update, {le}{_count(est.total_tokens)} tokens in "
            f"{est.max_update:,} updates")
    if est.gpu_hours is None:
        return f"{text}, GPU-hours unknown ({est.sources[1]})"
    return (f"{text}, about {est.gpu_hours:,.0f} GPU-hours at {_count(est.tokens_per_second)} tokens/s per GPU "
            f"({est.sources[1]}; perfect scaling assumed)")


def main(argv: list[str] | None = None) -> None:
    from lmvsmt import config as lmvsmt_config
    from lmvsmt.pretrain.plan import data_dir_of

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configfile", default="config/paper.yaml")
    args = parser.parse_args(argv)
    config = lmvsmt_config.load(args.configfile)
    print(f"{'objective':9} {'tokens/update':>14} {'tokens':>10} {'tokens/s/GPU':>13} {'GPU-hours':>10}")
    for objective in external.trained_objectives(config):  # models trained elsewhere cost nothing here
        est = estimate(objective, config, data_dir_of(config["results_dir"], objective))

        def show(value, fmt):
            return "?" if value is None else fmt(value)

        print(f"{objective:9} {show(est.tokens_per_update, _count):>14} {show(est.total_tokens, _count):>10} "
              f"{show(est.tokens_per_second, _count):>13} {show(est.gpu_hours, lambda h: f'{h:,.0f}'):>10}")
        for source in est.sources:
            print(f"{'':9} {source}")


if __name__ == "__main__":
    main()
