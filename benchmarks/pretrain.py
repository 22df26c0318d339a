"""Benchmark of pretraining: updates/s and tokens/s per objective, at the demo's
tiny size and at the paper's size (a few updates), on the CPU or a GPU.

Training runs in this process through lmvsmt.pretrain.run_fairseq with the exact
command the pipeline builds (config/config.yaml for `demo`, config/paper.yaml for
`paper`, launcher settings aside), without checkpoints or validation. Each run
uses update_freq 1: one per-device batch per update (the demo's batch; at paper
size the paper's per-GPU batch on a GPU, --paper-batch sequences on the CPU, where
the paper's 32-64 sequences x 512 tokens x 100k-way softmax need > 20 GB). For
paper sizes the table also gives what one paper update (global batch 4,096
sequences) costs on one such device at that speed, and the hours 600k updates would
take on 8 of them (perfect scaling).

Data: the demo pipeline's data-bin when --results points at a finished demo run,
otherwise a synthetic data set (tests/pretrain_toydata.py); paper sizes always use a
synthetic one with a ~100k-entry dictionary, so the output layer has the paper's size.
Tokens are target tokens (fairseq's ntokens).

    .venv/bin/python benchmarks/pretrain.py [--sizes demo paper] [--objectives CLM ...]
        [--device auto|cpu|cuda] [--demo-updates 30] [--paper-updates 3] [--results results]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from lmvsmt import config as lmvsmt_config  # noqa: E402
from lmvsmt import launch, objectives, pretrain  # noqa: E402

WARMUP = 2  # updates left out of the timing (allocation, first-batch costs)
PAPER_DEVICES = 8  # the authors' node


def synthetic_data(root: Path, vocab_per_language: int, docs_per_lang: int) -> Path:
    import pretrain_toydata

    if not (root / "data-bin" / "tlm" / "train.bin").exists():
        pretrain_toydata.build(root, docs_per_lang=docs_per_lang, sentences_per_doc=(20, 40),
                               vocab=vocab_per_language)
    return root


def bench_config(size: str, updates: int) -> dict:
    cfg = lmvsmt_config.load(ROOT / "config" / ("config.yaml" if size == "demo" else "paper.yaml"))
    pcfg = cfg["pretrain"]
    pcfg.update(launcher="local", max_update=updates + WARMUP, log_interval=1, num_workers=0)
    return cfg


def measure(objective: str, cfg: dict, data_root: Path, work: Path, gpu: bool, batch: int | None,
            paper: bool) -> dict:
    run_cfg = json.loads(json.dumps(cfg))
    hp = run_cfg["pretrain"]["objectives"][objective]
    if batch:
        hp["batch_size"] = batch
    run_cfg["pretrain"]["global_batch"] = hp["batch_size"]  # update_freq 1 on one device
    alloc = launch.Allocation("local", 1, 1, gpu)
    run_dir = work / objective
    command = pretrain.plan(objective, run_cfg, pretrain.data_dir_of(data_root, objective), run_dir, alloc,
                            check_data=True)
    argv = command.argv + ["--no-save", "--disable-validation"]
    raw = run_dir / "bench.jsonl"
    raw.parent.mkdir(parents=True, exist_ok=True)
    raw.unlink(missing_ok=True)
    state = pretrain.run_fairseq(argv, raw_log=raw)
    records = [json.loads(line) for line in raw.read_text().splitlines()]
    timed = [r for r in records if "train_loss" in r and r["update"] > WARMUP]
    first, last = timed[0], timed[-1]
    seconds = last["time"] - first["time"]
    updates = last["update"] - first["update"]
    tokens = sum(r["wpb"] for r in timed[1:])
    ups = updates / seconds
    row = {"objective": objective, "params_M": state["parameters"] / 1e6, "batch": hp["batch_size"],
           "tokens_per_update": tokens / updates, "updates_s": ups, "tokens_s": tokens / seconds}
    if paper:
        steps = cfg["pretrain"]["global_batch"] / hp["batch_size"]  # device batches per paper update
        row["s_per_paper_update"] = steps / ups
        row["hours_600k_on_8"] = 600_000 * steps / ups / PAPER_DEVICES / 3600
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["demo", "paper"], choices=["demo", "paper"])
    parser.add_argument("--objectives", nargs="+", default=list(objectives.OBJECTIVES))
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--demo-updates", type=int, default=30)
    parser.add_argument("--paper-updates", type=int, default=3)
    parser.add_argument("--paper-batch", type=int, default=2,
                        help="sequences per step at paper size on the CPU (a GPU uses the paper's per-GPU batch)")
    parser.add_argument("--results", default=str(ROOT / "results"), help="a finished demo run (its data-bin)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    gpu = torch.cuda.is_available() if args.device == "auto" else args.device == "cuda"
    device = torch.cuda.get_device_name(0) if gpu else f"CPU, {args.threads} thread(s)"
    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench-pretrain-"))
    rows = []
    for size in args.sizes:
        cfg = bench_config(size, args.demo_updates if size == "demo" else args.paper_updates)
        demo_data = Path(args.results)
        if size == "demo" and (demo_data / "data-bin" / "tlm" / "train.bin").exists():
            data, origin = demo_data, f"demo pipeline data ({demo_data})"
        elif size == "demo":
            data, origin = synthetic_data(work / "data-demo", 170, 60), "synthetic, 1k dictionary"
        else:
            data, origin = synthetic_data(work / "data-paper", 16_667, 80), "synthetic, 100k dictionary"
        print(f"# {size} size on {device}; data: {origin}", flush=True)
        for objective in args.objectives:
            batch = args.paper_batch if size == "paper" and not gpu else None
            row = measure(objective, cfg, data, work / size, gpu, batch, size == "paper")
            rows.append((size, row))
            print(json.dumps({"size": size, **{k: round(v, 3) if isinstance(v, float) else v
                                               for k, v in row.items()}}), flush=True)
    print(f"\n{'size':6} {'objective':9} {'params(M)':>9} {'batch':>5} {'tok/upd':>8} {'updates/s':>10} "
          f"{'tokens/s':>10} {'s/paper upd':>11} {'h 600k x8':>10}   ({device})")
    for size, r in rows:
        extra = (f"{r['s_per_paper_update']:11.2f} {r['hours_600k_on_8']:10.0f}" if "s_per_paper_update" in r
                 else f"{'':11} {'':10}")
        print(f"{size:6} {r['objective']:9} {r['params_M']:9.1f} {r['batch']:5d} {r['tokens_per_update']:8.0f} "
              f"{r['updates_s']:10.3f} {r['tokens_s']:10.0f} {extra}")


if __name__ == "__main__":
    main()
