"""The five pretraining objectives as fairseq-train command lines.

One builder per objective turns the validated `pretrain` config (the authors'
values are the schema defaults) into the exact argv of `fairseq-train`:

  2-LM  denoising                        on BART (mask spans, reconstruct)
  2-MT  translation_multi_simple_epoch   on BART (source language token on the
        encoder, target language token on the decoder, all directions)
  CLM   language_modeling + transformer_lm over documents
  TLM   language_modeling + transformer_lm over "sentence __tgt__ translation"
  MLM   masked_lm (RoBERTa-style dynamic masking; the authors' arch masked_lm)

"Batch" is counted in sequences per optimizer update (token blocks for the LM
objectives and 2-LM, sentence pairs for 2-MT):
  global_batch = batch_size (per GPU) x processes x update_freq
and update_freq is derived from the processes actually allocated.

Some values are chosen by the training job on the hardware it lands on
(lmvsmt.pretrain.autotune): `batch_size: auto` (a memory trial; update_freq follows),
`num_workers: auto` and `precision: auto`. A planned command holds AUTO (or
PRECISION_AUTO) in their place; `fill` puts the chosen values in.

Faster kernels come from lmvsmt's fairseq plugin (lmvsmt/pretrain/fairseq_plugin, loaded
with --user-dir): `<arch>_sdpa` architectures and the `torch_adamw` optimizer
(`pretrain.kernels`).

This module imports neither torch nor fairseq, so the Snakefile can print the
planned commands in a dry run.
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from lmvsmt import fairseq_compat, monitoring
from lmvsmt.config import ConfigError
from lmvsmt.vocabulary import DOUBLE_STACK, OBJECTIVES

# Fixed plumbing, not hyper-parameters: checkpoints and validations happen every
# save_interval_updates only (epochs are short at demo size and uneven across
# objectives), and epoch checkpoints would pile up over 600k updates.
_NEVER = "1000000000"

# Values the training job chooses (lmvsmt.pretrain.autotune); `fill` replaces them.
AUTO = "<auto>"
PRECISION_AUTO = "<--bf16 or --fp16>"
_AUTO_FLAGS = ("--batch-size", "--update-freq", "--num-workers")

# lmvsmt's fairseq plugin (--user-dir): architectures with an `_sdpa` variant (same
# parameters, attention through torch's scaled_dot_product_attention) and its optimizer.
PLUGIN_DIR = Path(__file__).resolve().parent / "fairseq_plugin"
SDPA_ARCHS = ("transformer_lm", "transformer_lm_gpt", "transformer_lm_gpt2_small", "masked_lm", "bert_base",
              "roberta", "roberta_base", "bart_base", "bart_large")
_SDPA_SUFFIX = "_sdpa"
TORCH_ADAMW = "torch_adamw"


def sdpa_arch(name: str) -> str:
    """The plugin's name for fairseq architecture (or model) `name`."""
    return name + _SDPA_SUFFIX


def plain_arch(name: str) -> str:
    """fairseq's own name for one of the plugin's architectures (or models)."""
    return name[: -len(_SDPA_SUFFIX)] if name.endswith(_SDPA_SUFFIX) else name


@dataclass
class Command:
    """A planned fairseq-train invocation (`update_freq` None: follows the batch the job chooses)."""

    objective: str
    argv: list[str]
    world_size: int
    update_freq: int | None
    gpu: bool
    global_batch: int = 0
    notes: list[str] = field(default_factory=list)

    def shell(self) -> str:
        return shlex.join(self.argv)


def unresolved(argv: list[str]) -> list[str]:
    """What the job still has to choose in `argv` (flags, and `precision`)."""
    names = [argv[i - 1] for i, token in enumerate(argv) if token == AUTO]
    return names + (["precision"] if PRECISION_AUTO in argv else [])


def fill(argv: list[str], batch_size: int | None = None, update_freq: int | None = None,
         num_workers: int | None = None, precision: str | None = None) -> list[str]:
    """`argv` with the chosen values in place of AUTO / PRECISION_AUTO (those given)."""
    values = {"--batch-size": batch_size, "--update-freq": update_freq, "--num-workers": num_workers}
    out = []
    for i, token in enumerate(argv):
        if token == AUTO and values.get(argv[i - 1]) is not None:
            token = str(values[argv[i - 1]])
        elif token == PRECISION_AUTO and precision is not None:
            if precision not in ("bf16", "fp16"):
                raise ValueError(f"precision {precision!r}: bf16 or fp16 expected")
            token = f"--{precision}"
        out.append(token)
    return out


class PlannedCommand:
    """A command line for display (Snakemake's message in a dry run). Not a str on
    purpose: Snakemake leaves params of non-builtin types out of its rerun trigger,
    and the planned command changes with the launcher (GPUs, update_freq), which
    must not retrain a model whose training settings did not change."""

    def __init__(self, text: str):
        self.text = text

    def __str__(self) -> str:
        return self.text


def hyperparameters(pcfg: dict, objective: str) -> dict:
    return dict(pcfg["objectives"][objective])


def model_size(pcfg: dict, objective: str) -> dict:
    """The preset's size for `objective`, with the per-objective `sizes` overrides."""
    size = dict(pcfg["presets"][pcfg["preset"]][objective])
    size.update(pcfg["sizes"].get(objective, {}))
    where = f"pretrain.presets.{pcfg['preset']}.{objective} / pretrain.sizes.{objective}"
    needed = ("encoder_layers", "decoder_layers") if objective in DOUBLE_STACK else ("layers",)
    for key in needed + ("embed_dim", "ffn_dim", "attention_heads"):
        if key not in size:
            raise ConfigError(f"config error: {where}: missing {key!r}")
    if size["embed_dim"] % size["attention_heads"]:
        raise ConfigError(
            f"config error: {where}: embed_dim {size['embed_dim']} is not divisible by "
            f"attention_heads {size['attention_heads']}"
        )
    return size


def update_freq(global_batch: int, batch_size: int, world_size: int, objective: str = "") -> int:
    """Gradient-accumulation steps so that batch_size x world_size x update_freq = global_batch."""
    per_step = batch_size * world_size
    if global_batch % per_step:
        raise ConfigError(
            f"config error: pretrain.global_batch {global_batch} is not a multiple of "
            f"pretrain.objectives.{objective}.batch_size {batch_size} x {world_size} processes; "
            "change one of them (or the GPUs allocated)"
        )
    return global_batch // per_step


def kernels(pcfg: dict, gpu: bool) -> dict:
    """The attention and Adam implementations of a run (`auto`: the plugin's on GPUs,
    fairseq's on the CPU, where the demo keeps training exactly as before)."""
    chosen = dict(pcfg["kernels"])
    if chosen["attention"] == "auto":
        chosen["attention"] = "sdpa" if gpu else "fairseq"
    if chosen["adam"] == "auto":
        chosen["adam"] = "torch" if gpu else "fairseq"
    return chosen


def lang_pairs(languages: list[str], hp: dict) -> list[str]:
    """Translation directions: every ordered pair of the languages, or the configured list."""
    if hp["lang_pairs"] == "all":
        return [f"{a}-{b}" for a in languages for b in languages if a != b]
    for pair in hp["lang_pairs"]:
        src, tgt = pair.split("-")
        if src not in languages or tgt not in languages or src == tgt:
            raise ConfigError(
                f"config error: pretrain.objectives.2-MT.lang_pairs: {pair!r} is not a pair of two "
                f"different configured languages ({', '.join(languages)})"
            )
    return list(hp["lang_pairs"])


def _flag(name: str, value) -> list[str]:
    return [f"--{name}", str(value)]


def _optimisation(hp: dict, pcfg: dict, optimizer: str) -> list[str]:
    betas = f"({hp['adam_betas'][0]}, {hp['adam_betas'][1]})"
    args = ["--optimizer", optimizer, *_flag("adam-betas", betas), *_flag("adam-eps", hp["adam_eps"]),
            *_flag("weight-decay", hp["weight_decay"]), *_flag("clip-norm", hp["clip_norm"]),
            *_flag("lr", hp["lr"]), *_flag("lr-scheduler", hp["lr_scheduler"]),
            *_flag("warmup-updates", hp["warmup_updates"])]
    if hp["lr_scheduler"] == "polynomial_decay":
        args += _flag("total-num-update", pcfg["max_update"])
    args += _flag("dropout", hp["dropout"])
    if hp.get("attention_dropout") is not None:
        args += _flag("attention-dropout", hp["attention_dropout"])
    if hp.get("criterion"):
        args += _flag("criterion", hp["criterion"])
    if hp.get("label_smoothing") is not None and hp["criterion"] == "label_smoothed_cross_entropy":
        args += _flag("label-smoothing", hp["label_smoothing"])
    return args


def _bart_size(size: dict) -> list[str]:
    args = []
    for side in ("encoder", "decoder"):
        args += [*_flag(f"{side}-layers", size[f"{side}_layers"]), *_flag(f"{side}-embed-dim", size["embed_dim"]),
                 *_flag(f"{side}-ffn-embed-dim", size["ffn_dim"]),
                 *_flag(f"{side}-attention-heads", size["attention_heads"])]
    return args


def _bart_common(hp: dict, ctx: dict) -> list[str]:
    args = _flag("arch", ctx["arch"])
    if hp["layernorm_embedding"]:
        args.append("--layernorm-embedding")
    if hp["normalize_before"]:
        args += ["--encoder-normalize-before", "--decoder-normalize-before"]
    return args


def _denoising(hp: dict, size: dict, ctx: dict) -> list[str]:
    return ["--task", "denoising", *_bart_common(hp, ctx), *_bart_size(size),
            *_flag("tokens-per-sample", hp["tokens_per_sample"]),
            *_flag("sample-break-mode", hp["sample_break_mode"]),
            *_flag("mask", hp["mask"]), *_flag("mask-random", hp["mask_random"]),
            *_flag("mask-length", hp["mask_length"]), *_flag("poisson-lambda", hp["poisson_lambda"]),
            *_flag("replace-length", hp["replace_length"]), *_flag("rotate", hp["rotate"]),
            *_flag("insert", hp["insert"])]


def _translation(hp: dict, size: dict, ctx: dict) -> list[str]:
    args = ["--task", "translation_multi_simple_epoch", *_bart_common(hp, ctx), *_bart_size(size),
            "--encoder-langtok", "src", "--decoder-langtok",
            *_flag("lang-pairs", ",".join(ctx["lang_pairs"])),
            *_flag("sampling-method", hp["sampling_method"]),
            *_flag("max-source-positions", hp["max_positions"]),
            *_flag("max-target-positions", hp["max_positions"])]
    if hp["sampling_method"] == "temperature":
        args += _flag("sampling-temperature", hp["sampling_temperature"])
    return args


def _language_model(hp: dict, size: dict, ctx: dict) -> list[str]:
    return ["--task", "language_modeling", *_flag("arch", ctx["arch"]),
            *_flag("decoder-layers", size["layers"]), *_flag("decoder-embed-dim", size["embed_dim"]),
            *fairseq_compat.transformer_lm_dims(size["embed_dim"]),
            *_flag("decoder-ffn-embed-dim", size["ffn_dim"]),
            *_flag("decoder-attention-heads", size["attention_heads"]),
            *_flag("tokens-per-sample", hp["tokens_per_sample"]),
            *_flag("sample-break-mode", hp["sample_break_mode"])]


def _masked_lm(hp: dict, size: dict, ctx: dict) -> list[str]:
    args = ["--task", "masked_lm", *_flag("arch", ctx["arch"]),
            *_flag("encoder-layers", size["layers"]), *_flag("encoder-embed-dim", size["embed_dim"]),
            *_flag("encoder-ffn-embed-dim", size["ffn_dim"]),
            *_flag("encoder-attention-heads", size["attention_heads"]),
            *_flag("tokens-per-sample", hp["tokens_per_sample"]),
            *_flag("sample-break-mode", hp["sample_break_mode"]),
            *_flag("mask-prob", hp["mask_prob"]), *_flag("leave-unmasked-prob", hp["leave_unmasked_prob"]),
            *_flag("random-token-prob", hp["random_token_prob"])]
    if hp["arch"] == "roberta":
        args += _flag("max-positions", hp["tokens_per_sample"])
    return args


BUILDERS: dict[str, Callable[[dict, dict, dict], list[str]]] = {
    "2-LM": _denoising,
    "2-MT": _translation,
    "CLM": _language_model,
    "TLM": _language_model,
    "MLM": _masked_lm,
}


def _batch(objective: str, hp: dict, pcfg: dict, world_size: int, gpu: bool, notes: list[str]) -> tuple:
    """(batch_size, update_freq) for the command: numbers, or AUTO for the job to choose."""
    where = f"pretrain.objectives.{objective}"
    batch = hp["batch_size"]
    if batch == "auto":
        if hp.get("max_tokens"):
            raise ConfigError(f"config error: {where}: max_tokens {hp['max_tokens']} caps a fixed batch_size; "
                              "with batch_size auto the memory trial on the longest batches decides: "
                              "set max_tokens to null (or batch_size to a number)")
        if gpu:
            if pcfg["global_batch"] % world_size:
                raise ConfigError(f"config error: pretrain.global_batch {pcfg['global_batch']} is not a multiple "
                                  f"of the {world_size} processes; change it (or the GPUs allocated)")
            return AUTO, AUTO
        batch = hp["batch_size_cpu"]
        notes.append(f"batch_size auto needs a GPU for its memory trial: this CPU run uses "
                     f"{where}.batch_size_cpu {batch}")
    return batch, update_freq(pcfg["global_batch"], batch, world_size, objective)


def _precision(objective: str, hp: dict, pcfg: dict, gpu: bool, chosen: dict, notes: list[str]) -> list[str]:
    precision = pcfg["precision"]
    where = f"pretrain.objectives.{objective}.memory_efficient_fp16"
    if hp["memory_efficient_fp16"]:
        if precision != "fp16":
            raise ConfigError(f"config error: {where} needs pretrain.precision fp16 (it is {precision})")
        if gpu and chosen["adam"] == "torch":
            raise ConfigError(f"config error: {where} needs fairseq's Adam: set pretrain.kernels.adam to "
                              "fairseq (or auto)")
    if not gpu:
        if precision not in ("fp32", "auto"):
            notes.append(f"precision {precision} needs a GPU: this CPU run trains in fp32")
        return ["--cpu"]
    if precision == "auto":
        return [PRECISION_AUTO]
    if precision == "fp32":
        return []
    flags = [f"--{precision}"]
    if precision == "fp16" and hp["memory_efficient_fp16"]:
        flags.append("--memory-efficient-fp16")
    return flags


def build(objective: str, config: dict, data_dir: str, save_dir: str, world_size: int = 1, gpu: bool = True,
          pairs: list[str] | None = None) -> Command:
    """The fairseq command of `objective` for `world_size` processes.

    `gpu` False plans a CPU run (--cpu, fp32, fairseq's own kernels unless the config
    asks for the plugin's); `pairs` replaces the 2-MT directions (the launcher drops
    directions without training data)."""
    if objective not in BUILDERS:
        raise ConfigError(f"config error: unknown objective {objective!r} (allowed: {', '.join(OBJECTIVES)})")
    pcfg = config["pretrain"]
    hp = hyperparameters(pcfg, objective)
    size = model_size(pcfg, objective)
    notes: list[str] = []
    chosen = kernels(pcfg, gpu)
    if hp["memory_efficient_fp16"] and pcfg["kernels"]["adam"] == "auto":
        chosen["adam"] = "fairseq"  # the plugin's AdamW keeps no fp32 copy of fp16 weights
    batch, freq = _batch(objective, hp, pcfg, world_size, gpu, notes)
    arch = hp["arch"]
    if chosen["attention"] == "sdpa":
        if arch not in SDPA_ARCHS:
            raise ConfigError(f"config error: pretrain.objectives.{objective}.arch: {arch} has no "
                              f"scaled_dot_product_attention variant (those with one: {', '.join(SDPA_ARCHS)}); "
                              "set pretrain.kernels.attention to fairseq")
        arch = sdpa_arch(arch)
    ctx = {"arch": arch, "lang_pairs": pairs if pairs is not None else
           (lang_pairs(config["languages"], hp) if objective == "2-MT" else [])}
    optimizer = TORCH_ADAMW if chosen["adam"] == "torch" else "adam"
    argv = ["fairseq-train", str(data_dir), *BUILDERS[objective](hp, size, ctx), *_optimisation(hp, pcfg, optimizer)]
    if chosen["attention"] == "sdpa" or chosen["adam"] == "torch":
        argv += _flag("user-dir", PLUGIN_DIR)
    argv += [*_flag("batch-size", batch), *_flag("update-freq", freq), *fairseq_compat.batching_flags()]
    if hp.get("max_tokens"):
        argv += _flag("max-tokens", hp["max_tokens"])
    workers = AUTO if pcfg["num_workers"] == "auto" else pcfg["num_workers"]
    task = argv[argv.index("--task") + 1]
    argv += [*_flag("max-update", pcfg["max_update"]), *_flag("seed", pcfg["seed"]),
             *_flag("save-dir", save_dir),
             *_flag("save-interval-updates", pcfg["save_interval_updates"]),
             # also when an interval ends an epoch (fairseq would save without validating)
             *_flag("validate-interval-updates", pcfg["save_interval_updates"]),
             *_flag("keep-interval-updates", pcfg["keep_interval_updates"]),
             "--no-epoch-checkpoints", *_flag("save-interval", _NEVER), *_flag("validate-interval", _NEVER),
             "--skip-invalid-size-inputs-valid-test",
             "--no-progress-bar", "--log-format", "json", *_flag("log-interval", pcfg["log_interval"]),
             *_flag("num-workers", workers), *fairseq_compat.loader_flags(workers, task),
             *_flag("distributed-world-size", world_size), *_flag("ddp-backend", hp["ddp_backend"])]
    argv += _precision(objective, hp, pcfg, gpu, chosen, notes)
    if not gpu and world_size > 1:
        argv += _flag("distributed-backend", "gloo")  # nccl needs GPUs
    argv += monitoring.fairseq_flags(config, objective, save_dir)
    argv += list(hp["extra_args"])
    try:
        fairseq_compat.check_argv(argv)
    except fairseq_compat.FairseqCompatError as exc:
        raise ConfigError(f"config error: pretrain.objectives.{objective}.extra_args: {exc}") from None
    return Command(objective, argv, world_size, None if freq == AUTO else freq, gpu, pcfg["global_batch"], notes)


def training_settings(config: dict, objective: str) -> dict:
    """The settings that define a training run of `objective` (what a resumed run must
    share with the run it continues): hyper-parameters, size, schedule, data languages."""
    pcfg = config["pretrain"]
    hp = hyperparameters(pcfg, objective)
    settings = {
        "objective": objective,
        "hyperparameters": hp,
        "size": model_size(pcfg, objective),
        **{k: pcfg[k] for k in ("max_update", "save_interval_updates", "global_batch", "seed", "precision",
                                "kernels")},
    }
    if objective == "2-MT":
        settings["lang_pairs"] = lang_pairs(config["languages"], hp)
    return settings
