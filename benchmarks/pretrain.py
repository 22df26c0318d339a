"""Benchmark of pretraining: tokens/s, model FLOPs utilisation (MFU), peak GPU memory
and the per-GPU batch of each objective, at the demo's tiny size and at the paper's
size, on the CPU or a GPU.

Each objective trains in this process (lmvsmt.pretrain.job.run_fairseq) with the command
the pipeline builds from its config (config/config.yaml for `demo`, config/paper.yaml
for `paper`), launcher aside, with the pipeline's own defaults: on a GPU that is
batch_size auto (its memory trial; candidates divide global_batch by the GPUs of the
config's allocation, 4096 / 8 for the paper's node), precision auto, num_workers auto
and the plugin's kernels. Options change one setting at a time (--batch, --precision,
--attention, --adam, --workers), or restore the settings as committed before these
existed (--as-committed: fp16, memory-efficient fp16 for CLM/TLM/MLM, the authors'
per-GPU batches with BART's 8,192-token cap, no loader worker, fairseq's attention and
Adam). Timing: update_freq 1 (one per-GPU batch per update; the optimizer step is
then not shared by several batches as with the paper's update_freq), no checkpoints,
no validation; WARMUP updates, then --updates timed ones. Tokens are fairseq's
(target tokens).

FLOPs per token (training = 3 x forward, a multiply-add = 2 FLOPs; d hidden size,
f FFN size, V vocabulary, L layers, T mean tokens per sequence of the update):
  decoder-only (CLM, TLM)  6 (L (4d^2 + 2df) + dV) + 12 L d T
  encoder-only (MLM)       6 (L (4d^2 + 2df) + p (d^2 + dV)) + 12 L d T, p = mask_prob
                           (fairseq's masked_lm runs its output layer on masked tokens only)
  encoder-decoder (2-LM, 2-MT), per target token, taking the source as long as the target
                           6 (Le (4d^2 + 2df) + Ld (8d^2 + 2df) + dV) + 12 d T (Le + 2 Ld)
Attention counts full T x T score matrices, causal or not (the PaLM paper's convention);
embeddings and layer norms are left out. MFU = tokens/s x FLOPs per token / peak, the
GPU's dense bf16/fp16 tensor peak (PEAK_TFLOPS, by name) or --peak-tflops.

Data: the demo pipeline's data-bin when --results points at a finished demo run, else
synthetic token ids: 15-50-token sentences in 20-40-sentence documents, a ~100k-entry
dictionary at paper size (so the output layer has the paper's size), enough of each
for the timed updates at the largest batch.

    .venv/bin/python benchmarks/pretrain.py [--sizes demo paper] [--objectives CLM ...]
        [--device auto|cpu|cuda] [--updates 30] [--as-committed] [--batch auto|N]
        [--precision ...] [--attention ...] [--adam ...] [--workers auto|N]
        [--out rows.jsonl] [--save benchmarks/pretrain_throughput.json] [--time-cap 120]
"""
from __future__ import annotations

import argparse
import datetime
import gc
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from lmvsmt.pretrain import autotune  # noqa: E402
from lmvsmt import config as lmvsmt_config  # noqa: E402
from lmvsmt import vocabulary  # noqa: E402
from lmvsmt.pretrain import job, launch, objectives, plan  # noqa: E402

WARMUP = 3  # updates left out of the timing (allocation, loader start, first-batch costs)
# Dense bf16/fp16 tensor-core peak in TFLOP/s, by a part of the device name (first match).
PEAK_TFLOPS = [("GH200", 989.0), ("H200", 989.0), ("H100 PCIe", 756.0), ("H100", 989.0), ("B200", 2250.0),
               ("A100", 312.0), ("L40S", 362.0), ("A10", 125.0), ("V100", 125.0), ("T4", 65.0)]
# The settings as committed before batch_size auto, bf16, loader workers and the plugin.
AUTHORS_BATCH = {"2-LM": 64, "2-MT": 64, "CLM": 32, "MLM": 64, "TLM": 32}
AUTHORS_MAX_TOKENS = {"2-LM": 8192, "2-MT": 8192}
MEMORY_EFFICIENT = ("CLM", "MLM", "TLM")


class TimeCap(Exception):
    pass


def peak_tflops(device_name: str, given: float | None) -> float | None:
    if given:
        return given
    return next((tf for part, tf in PEAK_TFLOPS if part in device_name), None)


def flops_per_token(objective: str, size: dict, hp: dict, vocab: int, seq_len: float) -> float:
    """The formulas of the module docstring."""
    d, f = size["embed_dim"], size["ffn_dim"]
    if objective in vocabulary.DOUBLE_STACK:
        le, ld = size["encoder_layers"], size["decoder_layers"]
        return 6 * (le * (4 * d * d + 2 * d * f) + ld * (8 * d * d + 2 * d * f) + d * vocab) + \
            12 * d * seq_len * (le + 2 * ld)
    layers = size["layers"]
    body = layers * (4 * d * d + 2 * d * f)
    head = hp["mask_prob"] * (d * d + d * vocab) if objective == "MLM" else d * vocab
    return 6 * (body + head) + 12 * layers * d * seq_len


# --------------------------------------------------------------------------- data


def _builder(path: Path, vocab_size: int):
    from fairseq.data import indexed_dataset

    return indexed_dataset.make_builder(str(path) + ".bin", impl="mmap", vocab_size=vocab_size)


def _sentences(rng, count: int, first: int, last: int):
    """`count` sentences of 15-50 word ids in [first, last), each ending in </s> (2)."""
    import numpy as np

    lengths = rng.integers(15, 51, size=count)
    ids = rng.integers(first, last, size=int(lengths.sum()), dtype=np.int32)
    out, at = [], 0
    for n in lengths:
        out.append(np.append(ids[at:at + n], np.int32(2)))
        at += n
    return out


def synthetic_data(root: Path, words_per_language: int, doc_tokens: int, tlm_tokens: int, pairs: int,
                   seed: int = 1) -> Path:
    """Binarized documents, TLM lines and bitext of random word ids in the layout of the
    path contract (tests/pretrain_toydata.py writes the same layout from text)."""
    import numpy as np
    import torch

    import pretrain_toydata

    if (root / "data-bin" / "done").exists():
        return root
    rng = np.random.default_rng(seed)
    langs = pretrain_toydata.LANGS
    dictionary = pretrain_toydata.write_dictionary(root, langs, words_per_language)
    vocab, first, last = len(dictionary), dictionary.nspecial, dictionary.nspecial + len(langs) * words_per_language
    lang_token = {lang: dictionary.index(f"__{lang}__") for lang in langs}

    def write(path: Path, items) -> None:
        builder = _builder(path, vocab)
        for item in items:
            builder.add_item(torch.from_numpy(item))
        builder.finalize(str(path) + ".idx")

    for split, share in (("train", 1.0), ("valid", 0.01)):
        sentences, documents, at = _sentences(rng, max(int(doc_tokens * share / 33.5), 40), first, last), [], 0
        while at < len(sentences):
            cut = int(rng.integers(20, 41))
            documents += sentences[at:at + cut] + [np.array([2], np.int32)]  # an empty line ends a document
            at += cut
        (root / "data-bin" / "documents").mkdir(parents=True, exist_ok=True)
        write(root / "data-bin" / "documents" / split, documents)
        sentences = _sentences(rng, max(int(tlm_tokens * share / 65), 2) * 2, first, last)
        targets = rng.integers(len(langs), size=len(sentences) // 2)
        lines = [np.concatenate([a[:-1], [lang_token[langs[t]]], b]).astype(np.int32)
                 for a, b, t in zip(sentences[::2], sentences[1::2], targets)]
        (root / "data-bin" / "tlm").mkdir(parents=True, exist_ok=True)
        write(root / "data-bin" / "tlm" / split, lines)
        (root / "data-bin" / "bitext").mkdir(parents=True, exist_ok=True)
        for i, a in enumerate(langs):
            for b in langs[i + 1:]:
                n = max(int(pairs * share), 2)
                write(root / "data-bin" / "bitext" / f"{split}.{a}-{b}.{a}", _sentences(rng, n, first, last))
                write(root / "data-bin" / "bitext" / f"{split}.{a}-{b}.{b}", _sentences(rng, n, first, last))
    for name in ("documents", "tlm"):
        (root / "data-bin" / name / "dict.txt").write_text((root / "bpe" / "dict.txt").read_text())
    for lang in langs:
        (root / "data-bin" / "bitext" / f"dict.{lang}.txt").write_text((root / "bpe" / "dict.txt").read_text())
    (root / "data-bin" / "done").write_text("")
    return root


# --------------------------------------------------------------------------- one measurement


# --one-at-a-time: each changes one setting from the defaults (the batch: the one the
# defaults chose, from --batch-from, unless the setting is the batch).
ONE_AT_A_TIME = {"fp16": ("fp16", {"precision": "fp16"}),
                 "attention": ("fairseq attention", {"attention": "fairseq"}),
                 "adam": ("fairseq Adam", {"adam": "fairseq"}),
                 "batch": ("authors' batch", {"batch": "authors"})}


def bench_config(size: str, updates: int, setting: dict, processes: int | None) -> dict:
    cfg = lmvsmt_config.load(ROOT / "config" / ("config.yaml" if size == "demo" else "paper.yaml"))
    pcfg = cfg["pretrain"]
    processes = processes or launch.allocation(pcfg, "CLM").world_size
    pcfg.update(launcher="local", max_update=WARMUP + 1 + updates, log_interval=1)
    if setting.get("as_committed"):
        pcfg.update(precision="fp16", num_workers=0, kernels={"attention": "fairseq", "adam": "fairseq"})
        for objective, hp in pcfg["objectives"].items():
            hp.update(batch_size=AUTHORS_BATCH[objective], max_tokens=AUTHORS_MAX_TOKENS.get(objective),
                      memory_efficient_fp16=objective in MEMORY_EFFICIENT)
    if setting.get("precision"):
        pcfg["precision"] = setting["precision"]
    if setting.get("workers") is not None:
        pcfg["num_workers"] = setting["workers"] if setting["workers"] == "auto" else int(setting["workers"])
    for key in ("attention", "adam"):
        if setting.get(key):
            pcfg["kernels"][key] = setting[key]
    cfg["_processes"] = processes
    return cfg


def _batch_from(path: str | None, size: str, objective: str) -> int | None:
    if not path or not Path(path).exists():
        return None
    rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    found = [r["batch"] for r in rows if r.get("size") == size and r.get("objective") == objective and "batch" in r]
    return found[-1] if found else None


def _profiled(run, path: str, gpu: bool, title: str):
    """`run()` under cProfile (the Python side) and torch.profiler (the kernels); the
    heaviest of each, and how busy the GPU was, appended to `path`."""
    import cProfile
    import io
    import pstats

    import torch
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if gpu else [])
    python = cProfile.Profile()
    started = time.time()
    with profile(activities=activities) as prof:
        python.enable()
        result = run()
        python.disable()
    wall = time.time() - started
    text = io.StringIO()
    events = prof.key_averages()
    device_us = sum(e.self_device_time_total for e in events) if gpu else 0
    text.write(f"\n===== {title}: {wall:.1f} s wall, {device_us / 1e6:.1f} s of GPU kernels "
               f"(the GPU busy {device_us / 1e6 / wall:.0%} of the time, start-up included)\n")
    if gpu:
        text.write(events.table(sort_by="self_device_time_total", row_limit=25, max_name_column_width=60))
    text.write(events.table(sort_by="self_cpu_time_total", row_limit=15, max_name_column_width=60))
    stats = pstats.Stats(python, stream=text)
    stats.sort_stats("tottime").print_stats(30)
    stats.sort_stats("cumtime").print_stats(30)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(text.getvalue())
    return result


def measure(objective: str, cfg: dict, data_root: Path, work: Path, gpu: bool, batch, headroom: float,
            profile_to: str | None = None) -> dict:
    import torch

    run_cfg = json.loads(json.dumps(cfg))
    pcfg = run_cfg["pretrain"]
    hp = pcfg["objectives"][objective]
    if batch is not None:
        hp["batch_size"] = batch if batch == "auto" else int(batch)
    if hp["batch_size"] == "auto" and hp.get("max_tokens"):
        hp["max_tokens"] = None
    run_dir = work / objective
    run_dir.mkdir(parents=True, exist_ok=True)
    data_dir = plan.data_dir_of(data_root, objective)
    row: dict = {"objective": objective}
    processes = cfg["_processes"]
    chosen = None
    if hp["batch_size"] == "auto" or pcfg["precision"] == "auto":
        # What the pipeline would choose on one of the allocation's GPUs.
        if hp["batch_size"] != "auto":
            pcfg["global_batch"] = hp["batch_size"] * processes
        planned = plan.plan(objective, run_cfg, data_dir, run_dir,
                                launch.Allocation("local", 1, processes, gpu), check_data=True)
        (run_dir / autotune.RESOLVED).unlink(missing_ok=True)
        _, chosen = job.resolve_auto(planned.argv, run_dir, pcfg["global_batch"], processes, headroom)
    if chosen and "batch_size" in chosen:
        hp["batch_size"] = chosen["batch_size"]
        row["batch_reason"] = chosen["batch_reason"]
    elif hp["batch_size"] == "auto":
        hp["batch_size"] = hp["batch_size_cpu"]
    if chosen and "precision" in chosen:
        pcfg["precision"] = chosen["precision"]
    pcfg["global_batch"] = hp["batch_size"]  # update_freq 1 on this one device
    command = plan.plan(objective, run_cfg, data_dir, run_dir, launch.Allocation("local", 1, 1, gpu),
                            check_data=True)
    argv, _ = job.resolve_auto(command.argv, run_dir, pcfg["global_batch"], 1, headroom)
    flags = dict(zip(argv, argv[1:]))
    raw = run_dir / "bench.jsonl"
    raw.unlink(missing_ok=True)
    if gpu:
        torch.cuda.empty_cache()
    if profile_to:
        state = _profiled(lambda: job.run_fairseq(argv + ["--no-save", "--disable-validation"], raw_log=raw),
                          profile_to, gpu, f"{objective}, {flags['--batch-size']} sequences per step")
    else:
        state = job.run_fairseq(argv + ["--no-save", "--disable-validation"], raw_log=raw)
    records = [json.loads(line) for line in raw.read_text().splitlines()]
    timed = [r for r in records if "train_loss" in r and r["update"] > WARMUP]  # the first one starts the clock
    first, last = timed[0], timed[-1]
    seconds = last["time"] - first["time"]
    updates = last["update"] - first["update"]
    tokens = sum(r["wpb"] for r in timed[1:])
    sequences = sum(r["bsz"] for r in timed[1:])
    vocab = len(Path(plan.dictionary_file(objective, data_dir, cfg["languages"])).read_text().splitlines()) + 4
    size = objectives.model_size(pcfg, objective)
    precision = next((p for p in ("bf16", "fp16", "amp") if f"--{p}" in argv), "fp32")
    row.update(params_M=state["parameters"] / 1e6, batch=hp["batch_size"], precision=precision,
               memory_efficient_fp16="--memory-efficient-fp16" in argv,
               attention="sdpa" if objectives.plain_arch(flags["--arch"]) != flags["--arch"] else "fairseq",
               adam="torch" if flags["--optimizer"] == objectives.TORCH_ADAMW else "fairseq",
               workers=int(flags["--num-workers"]), max_tokens=hp.get("max_tokens"),
               updates=updates, tokens_per_update=tokens / updates, updates_s=updates / seconds,
               tokens_s=tokens / seconds,
               flops_per_token=flops_per_token(objective, size, hp, vocab, tokens / sequences))
    if gpu and any("gb_free" in r for r in timed):
        # fairseq logs the free memory left by each update's peak (it resets the peak every update)
        total = torch.cuda.get_device_properties(torch.cuda.current_device()).total_memory / autotune.GIB
        row["peak_memory_gib"] = total - min(r["gb_free"] for r in timed if "gb_free" in r)
    return row


def _on_alarm(signum, frame):
    raise TimeCap()


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["demo", "paper"], choices=["demo", "paper"])
    parser.add_argument("--objectives", nargs="+", default=list(vocabulary.OBJECTIVES))
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--updates", type=int, default=30, help="timed updates per objective (after the warm-up)")
    parser.add_argument("--as-committed", action="store_true",
                        help="the settings before batch_size auto, bf16, loader workers and the plugin")
    parser.add_argument("--batch", default=None, help="auto or sequences per step (default: the config's)")
    parser.add_argument("--batch-from", default=None,
                        help="take each objective's batch from an earlier --out file (same size)")
    parser.add_argument("--precision", default=None, choices=["auto", "bf16", "fp16", "amp", "fp32"])
    parser.add_argument("--attention", default=None, choices=["auto", "sdpa", "fairseq"])
    parser.add_argument("--adam", default=None, choices=["auto", "torch", "fairseq"])
    parser.add_argument("--workers", default=None, help="auto or loader workers (default: the config's)")
    parser.add_argument("--processes", type=int, default=None,
                        help="GPUs the batch is planned for (default: the config's allocation, 8 for the paper)")
    parser.add_argument("--paper-batch", type=int, default=2,
                        help="sequences per step at paper size on the CPU (where 32 x 512 tokens need > 20 GB)")
    parser.add_argument("--paper-data", default="10e6,10e6,4000",
                        help="synthetic paper data: document tokens, TLM tokens, pairs per language pair")
    parser.add_argument("--peak-tflops", type=float, default=None, help="the device's peak for MFU")
    parser.add_argument("--results", default=str(ROOT / "results"), help="a finished demo run (its data-bin)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--label", default=None, help="a name for this setting in the output rows")
    parser.add_argument("--one-at-a-time", nargs="*", default=None, choices=list(ONE_AT_A_TIME),
                        help="settings changed one at a time from the defaults (all if none named; use --batch-from)")
    parser.add_argument("--out", default=None, help="append one JSON line per measurement to this file")
    parser.add_argument("--save", default=None,
                        help="write the paper-size tokens/s per objective for the cost estimate (lmvsmt.pretrain.cost)")
    parser.add_argument("--time-cap", type=float, default=0, help="seconds per objective (0: none)")
    parser.add_argument("--from-rows", nargs="+", default=None,
                        help="measure nothing: --save from the rows of earlier --out files (the last row of each "
                             "objective at paper size wins)")
    parser.add_argument("--profile", default=None,
                        help="append a profile of each run (Python functions, GPU kernels) to this file")
    args = parser.parse_args()
    if args.from_rows:
        if not args.save:
            parser.error("--from-rows needs --save")
        rows = [json.loads(line) for path in args.from_rows for line in Path(path).read_text().splitlines()
                if line.strip()]
        save_throughput(args.save, [r for r in rows if "tokens_s" in r])
        return

    import torch

    torch.set_num_threads(args.threads)
    gpu = torch.cuda.is_available() if args.device == "auto" else args.device == "cuda"
    device = torch.cuda.get_device_name(0) if gpu else f"CPU, {args.threads} thread(s)"
    peak = peak_tflops(device, args.peak_tflops) if gpu or args.peak_tflops else None
    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench-pretrain-"))
    given = {"as_committed": args.as_committed, "precision": args.precision, "attention": args.attention,
             "adam": args.adam, "workers": args.workers, "batch": args.batch}
    if args.one_at_a_time is not None:
        settings = [ONE_AT_A_TIME[name] for name in args.one_at_a_time or ONE_AT_A_TIME]
    else:
        settings = [(args.label or ("as committed" if args.as_committed else "defaults"), given)]
    rows = []
    signal.signal(signal.SIGALRM, _on_alarm)
    for size in args.sizes:
        demo_data = Path(args.results)
        if size == "demo" and (demo_data / "data-bin" / "tlm" / "train.bin").exists():
            data, origin = demo_data, f"demo pipeline data ({demo_data})"
        elif size == "demo":
            data, origin = synthetic_data(work / "data-demo", 170, 200_000, 200_000, 500), "synthetic, 1k dictionary"
        else:
            doc_tokens, tlm_tokens, pairs = (float(x) for x in args.paper_data.split(","))
            started = time.time()
            data = synthetic_data(work / "data-paper", 16_667, int(doc_tokens), int(tlm_tokens), int(pairs))
            origin = f"synthetic, 100k dictionary ({time.time() - started:.0f} s to make)"
        print(f"# {size} size on {device}; data: {origin}", flush=True)
        for objective in args.objectives:
            for label, setting in settings:
                cfg = bench_config(size, args.updates, setting, args.processes)
                batch = setting.get("batch")
                if batch == "authors":
                    batch = AUTHORS_BATCH[objective]
                batch = batch or _batch_from(args.batch_from, size, objective)
                if size == "paper" and not gpu:
                    batch = args.paper_batch
                rows.append(run_one(size, label, objective, cfg, data, work, gpu, batch, device, peak, args))
    print(f"\n{'size':6} {'objective':9} {'setting':18} {'params':>7} {'batch':>5} {'prec':>5} {'attn':>7} "
          f"{'adam':>7} {'wrk':>3} {'tok/upd':>8} {'upd/s':>7} {'tokens/s':>9} {'MFU':>6} {'peak GiB':>8}   ({device})")
    for r in rows:
        if "error" in r:
            print(f"{r['size']:6} {r['objective']:9} {r['setting']:18} {r['error']}")
            continue
        mfu = f"{r['mfu'] * 100:5.1f}%" if "mfu" in r else f"{'-':>6}"
        mem = f"{r['peak_memory_gib']:8.1f}" if "peak_memory_gib" in r else f"{'-':>8}"
        print(f"{r['size']:6} {r['objective']:9} {r['setting']:18} {r['params_M']:6.1f}M {r['batch']:5d} "
              f"{r['precision']:>5} {r['attention']:>7} {r['adam']:>7} {r['workers']:3d} "
              f"{r['tokens_per_update']:8.0f} {r['updates_s']:7.2f} {r['tokens_s']:9.0f} {mfu} {mem}")
    if args.save:
        save_throughput(args.save, [r for r in rows if "tokens_s" in r])


def save_throughput(path: str, rows: list[dict]) -> None:
    """The paper-size tokens/s per objective that lmvsmt.pretrain.cost reads (one device, one setting)."""
    paper = {r["objective"]: r for r in rows if r["size"] == "paper"}
    if not paper:
        raise SystemExit("no paper-size measurement to save")
    devices, settings = {r["device"] for r in paper.values()}, {r["setting"] for r in paper.values()}
    if len(devices) > 1 or len(settings) > 1:
        raise SystemExit(f"measurements of several devices or settings ({devices}, {settings}): save one at a time")
    commits = sorted({r.get("commit", "unknown") for r in paper.values()})
    saved = {"device": devices.pop(), "date": datetime.date.today().isoformat(), "commit": ", ".join(commits),
             "setting": settings.pop(), "measured_by": "benchmarks/pretrain.py",
             "tokens_per_second": {o: round(r["tokens_s"]) for o, r in sorted(paper.items())},
             "batch": {o: r["batch"] for o, r in sorted(paper.items())}}
    Path(path).write_text(json.dumps(saved, indent=1) + "\n")
    print(f"wrote {path}")


def run_one(size: str, label: str, objective: str, cfg: dict, data: Path, work: Path, gpu: bool, batch, device: str,
            peak: float | None, args) -> dict:
    """One measurement within its time cap; errors become a row saying what went wrong."""
    import torch

    signal.alarm(int(args.time_cap))
    started = time.time()
    try:
        row = measure(objective, cfg, data, work / size / label.replace(" ", "-").replace("'", ""), gpu, batch,
                      cfg["pretrain"]["batch_headroom"], args.profile)
    except TimeCap:
        row = {"objective": objective, "error": f"stopped at the time cap of {args.time_cap:.0f} s"}
    except (RuntimeError, ValueError, autotune.AutotuneError, plan.PretrainError) as exc:
        row = {"objective": objective, "error": str(exc).splitlines()[0][:300]}
    finally:
        signal.alarm(0)
    row = {"size": size, "setting": label, "device": device, "commit": _commit(), **row,
           "seconds": round(time.time() - started, 1)}
    if "tokens_s" in row and peak:
        row["mfu"] = row["tokens_s"] * row["flops_per_token"] / (peak * 1e12)
    line = json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()})
    print(line, flush=True)
    if args.out:
        with open(args.out, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
    gc.collect()
    if gpu:
        torch.cuda.empty_cache()
    return row


if __name__ == "__main__":
    main()
