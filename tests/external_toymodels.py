"""Tiny models "trained elsewhere", made the way the authors of the paper made theirs
(GitHub Helsinki-NLP/lm-vs-mt, pretrain/train-*.sh and model_weights/), for the tests of
`pretrain.external`:

  spm/mt-vs-lm.spm.model   a SentencePiece model with SentencePiece's default settings
                           (nmt_nfkc normalization, <unk> <s> </s>, no <pad>), as their
                           evaluation scripts load it (processed/spm/mt-vs-lm.spm.model)
  bart-lm/, bart-mt/       dict.txt = the SentencePiece pieces with count 100 (their BART
                           dictionaries: no <mask>, no language tokens; the tasks add them)
  clm/, mlm/, tlm/         dict.txt = fairseq-preprocess's dictionary of the encoded text
                           (real counts, padded with madeupword entries); the TLM text is
                           "sentence <lang> translation" with the bare language code as
                           control token, as in their tlm/dict.txt
  */checkpoint_best.pt     fairseq-train with their scripts' flags at tiny sizes: weights,
                           Adam's state and the config as fairseq writes them (it saves
                           fp16 weights as fp32, so a CPU run writes what their --fp16
                           runs wrote: the released CLM's 1,682,655,095 bytes are its
                           140.2M parameters and Adam's two moments in fp32)

Their flags are kept except what a CPU cannot run or a tiny model must change: sizes
(bart_base overridden to 1+1 layers of width 32, transformer_lm and masked_lm to 2
layers), --max-update and the checkpoint interval, --fp16/--memory-efficient-fp16
(-> --cpu), the Slurm/NCCL distributed flags, log and TensorBoard files, and the CLM
script's --validate-interval 0 (fairseq 0.12 divides by it at an epoch's end; their MLM
script's 1000000 is used instead). Every run keeps batches of any size
(--required-batch-size-multiple 1): a toy validation set is smaller than fairseq's
default multiple of 8 and would otherwise be empty.

Run as a script (`python tests/external_toymodels.py OUT`) so that fairseq's process
state stays out of the test process; `build(out)` does that and returns the paths.
"""
from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

LANGS = ("en", "fr")
SENTENCES = 600  # per language
MAX_UPDATE = "4"
MODELS = ("bart-lm", "bart-mt", "clm", "mlm", "tlm")

# The flags of the authors' scripts (pretrain/train-*.sh at commit c1f48c9), minus the
# data directory and --save-dir, which every run gets from here.
_OPTIM_BART = ["--criterion", "label_smoothed_cross_entropy", "--label-smoothing", "0.2",
               "--optimizer", "adam", "--adam-eps", "1e-06", "--adam-betas", "(0.9, 0.98)",
               "--lr-scheduler", "inverse_sqrt", "--lr", "3e-05", "--warmup-updates", "2500",
               "--dropout", "0.3", "--attention-dropout", "0.1", "--weight-decay", "0.1",
               "--batch-size", "64", "--max-tokens", "8192", "--update-freq", "1",
               "--max-update", "600_000", "--fp16",
               "--save-interval", "1", "--save-interval-updates", "5_000", "--keep-interval-updates", "10",
               "--no-progress-bar", "--log-format", "json", "--log-interval", "5_000",
               "--distributed-backend", "nccl", "--distributed-world-size", "8", "--ddp-backend", "pytorch_ddp"]
_OPTIM_LM = ["--dropout", "0.1", "--tokens-per-sample", "512", "--skip-invalid-size-inputs-valid-test",
             "--optimizer", "adam", "--adam-betas", "(0.9, 0.98)", "--weight-decay", "0.01", "--clip-norm", "0.0",
             "--adam-eps", "1e-06", "--lr", "0.0005", "--lr-scheduler", "polynomial_decay", "--warmup-updates", "8000",
             "--sample-break-mode", "complete", "--max-update", "600_000", "--update-freq", "1", "--fp16",
             "--memory-efficient-fp16", "--save-interval-updates", "5_000", "--keep-interval-updates", "10",
             "--validate-interval-updates", "25000", "--no-progress-bar", "--log-format", "json",
             "--log-interval", "1000", "--total-num-update", "600_000", "--distributed-backend", "nccl",
             "--distributed-world-size", "8", "--ddp-backend", "no_c10d"]
AUTHORS = {
    "bart-lm": ["--arch", "bart_base", "--layernorm-embedding", "--task", "denoising", *_OPTIM_BART],
    "bart-mt": ["--encoder-normalize-before", "--decoder-normalize-before", "--arch", "bart_base",
                "--layernorm-embedding", "--task", "translation_multi_simple_epoch", "--encoder-langtok", "src",
                "--decoder-langtok", "--lang-pairs", "LANG_PAIRS", *_OPTIM_BART],
    "clm": ["--task", "language_modeling", "--arch", "transformer_lm", "--decoder-layers", "12",
            "--decoder-embed-dim", "512", "--decoder-attention-heads", "8", "--decoder-ffn-embed-dim", "2048",
            "--batch-size", "32", "--validate-interval", "0", *_OPTIM_LM],
    "mlm": ["--task", "masked_lm", "--criterion", "masked_lm", "--arch", "masked_lm", "--encoder-layers", "12",
            "--encoder-embed-dim", "512", "--encoder-attention-heads", "8", "--encoder-ffn-embed-dim", "2048",
            "--batch-size", "64", "--validate-interval", "1000000", *_OPTIM_LM],
}
AUTHORS["tlm"] = AUTHORS["clm"]  # "TLM has the same script for training as CLM" (pretrain/readme.md)

_DIST = {"--distributed-backend", "--distributed-world-size"}
_TINY_BART = {"--encoder-layers": "1", "--decoder-layers": "1", "--encoder-embed-dim": "32",
              "--decoder-embed-dim": "32", "--encoder-ffn-embed-dim": "64", "--decoder-ffn-embed-dim": "64",
              "--encoder-attention-heads": "2", "--decoder-attention-heads": "2"}
TINY = {
    "bart-lm": _TINY_BART,
    "bart-mt": _TINY_BART,
    # transformer_lm's input/output dimensions default to 512 (the authors' width)
    "clm": {"--decoder-layers": "2", "--decoder-embed-dim": "32", "--decoder-attention-heads": "2",
            "--decoder-ffn-embed-dim": "64", "--decoder-input-dim": "32", "--decoder-output-dim": "32"},
    "mlm": {"--encoder-layers": "2", "--encoder-embed-dim": "32", "--encoder-attention-heads": "2",
            "--encoder-ffn-embed-dim": "64"},
}
TINY["tlm"] = TINY["clm"]
SCHEDULE = {"--max-update": MAX_UPDATE, "--save-interval-updates": "2", "--validate-interval": "1000000",
            "--total-num-update": MAX_UPDATE}


def tiny_argv(model: str, data_dir: Path, save_dir: Path, changes: dict | None = None) -> list[str]:
    """The authors' fairseq-train command of `model`, changed as the module docstring says
    (`changes`: flags to set instead of the tiny sizes, e.g. for a paper-size model)."""
    changes = {**(TINY[model] if changes is None else changes), **SCHEDULE}
    argv, flags, i = [], AUTHORS[model], 0
    while i < len(flags):
        flag = flags[i]
        takes_value = i + 1 < len(flags) and not flags[i + 1].startswith("--")
        value = flags[i + 1] if takes_value else None
        i += 2 if takes_value else 1
        if flag in ("--fp16", "--memory-efficient-fp16") or flag in _DIST:
            continue
        if flag in changes:
            value = changes.pop(flag)
        if value == "LANG_PAIRS":
            value = ",".join(f"{a}-{b}" for a in LANGS for b in LANGS if a != b)
        argv += [flag] + ([value] if value is not None else [])
    for flag, value in changes.items():
        if flag != "--validate-interval" and flag != "--total-num-update":
            argv += [flag, value]
    return ["fairseq-train", str(data_dir), *argv, "--save-dir", str(save_dir), "--cpu", "--num-workers", "0",
            "--required-batch-size-multiple", "1", "--seed", "1"]


# --------------------------------------------------------------------------- text


def _sentences(seed: int = 1):
    """Parallel sentences in LANGS from the demo world (the downstream demo data share
    its vocabulary, so the models have seen the words they are evaluated on)."""
    from lmvsmt.demo import World

    world = World(seed=1, languages=list(LANGS))
    rng = random.Random(seed)
    out = []
    for _ in range(SENTENCES):
        m = world.random_meaning(rng, polarity=None)
        out.append({lang: world.surface(world.render(m, lang), lang) for lang in LANGS})
    return out


def _write(path: Path, lines) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _run(argv: list[str]) -> None:
    """Run a fairseq console script's main in this process, as its entry point does."""
    import importlib

    module = {"fairseq-train": "fairseq_cli.train", "fairseq-preprocess": "fairseq_cli.preprocess"}[argv[0]]
    old = sys.argv
    sys.argv = list(argv)
    try:
        importlib.import_module(module).cli_main()
    finally:
        sys.argv = old


def make(out: Path) -> dict:
    import sentencepiece as spm

    from lmvsmt import fairseq_compat

    fairseq_compat.prepare()
    out = Path(out)
    text = out / "text"
    pairs = _sentences()
    split = {"train": pairs[: int(0.8 * len(pairs))], "valid": pairs[int(0.8 * len(pairs)):]}
    _write(text / "spm-train.txt", [p[lang] for p in pairs for lang in LANGS])
    spm_dir = out / "spm"
    spm_dir.mkdir(parents=True, exist_ok=True)
    spm.SentencePieceTrainer.train(input=str(text / "spm-train.txt"), model_prefix=str(spm_dir / "mt-vs-lm.spm"),
                                   vocab_size=400, model_type="bpe", minloglevel=2)
    processor = spm.SentencePieceProcessor(model_file=str(spm_dir / "mt-vs-lm.spm.model"))

    def encoded(sentence: str) -> str:
        return " ".join(processor.encode(sentence, out_type=str))

    # BART dictionary: the SentencePiece vocabulary without its special pieces, count 100.
    bart_dict = _write(out / "bart-dict.txt", [f"{processor.id_to_piece(i)} 100"
                                               for i in range(processor.get_piece_size())
                                               if not (processor.is_control(i) or processor.is_unknown(i))])
    for name, lines in (("docs", lambda rows: [encoded(p[lang]) for p in rows for lang in LANGS]),
                        ("tlm", lambda rows: [f"{encoded(p[a])} {b} {encoded(p[b])}"
                                              for p in rows for a in LANGS for b in LANGS if a != b])):
        for part, rows in split.items():
            _write(text / name / f"{part}.txt", lines(rows))
    for part, rows in split.items():
        for lang in LANGS:
            _write(text / "bitext" / f"{part}.{'-'.join(LANGS)}.{lang}", [encoded(p[lang]) for p in rows])

    data = out / "data-bin"
    mono = ["--only-source", "--workers", "1"]
    _run(["fairseq-preprocess", *mono, "--srcdict", str(bart_dict), "--trainpref", str(text / "docs/train.txt"),
          "--validpref", str(text / "docs/valid.txt"), "--destdir", str(data / "bart-lm")])
    _run(["fairseq-preprocess", "--source-lang", LANGS[0], "--target-lang", LANGS[1], "--srcdict", str(bart_dict),
          "--tgtdict", str(bart_dict), "--trainpref", str(text / "bitext" / f"train.{'-'.join(LANGS)}"),
          "--validpref", str(text / "bitext" / f"valid.{'-'.join(LANGS)}"), "--destdir", str(data / "bart-mt"),
          "--workers", "1"])
    for name, source in (("clm", "docs"), ("mlm", "docs"), ("tlm", "tlm")):
        _run(["fairseq-preprocess", *mono, "--trainpref", str(text / source / "train.txt"),
              "--validpref", str(text / source / "valid.txt"), "--destdir", str(data / name)])

    paths = {"spm": str(spm_dir / "mt-vs-lm.spm.model")}
    for model in MODELS:
        save = out / "models" / model
        _run(tiny_argv(model, data / model, save))
        fairseq_compat.reset_process_state()
        checkpoint = save / "checkpoint_best.pt"
        dictionary = data / model / ("dict.en.txt" if model == "bart-mt" else "dict.txt")
        paths[model] = {"checkpoint": str(checkpoint), "dictionary": str(dictionary)}
    (out / "paths.json").write_text(json.dumps(paths, indent=1))
    return paths


def build(out: Path, timeout: int = 900) -> dict:
    """Make the models in a separate process; return {model: {checkpoint, dictionary}, spm: path}."""
    out = Path(out)
    proc = subprocess.run([sys.executable, __file__, str(out)], capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"building the authors-style toy models failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return json.loads((out / "paths.json").read_text())


if __name__ == "__main__":
    make(Path(sys.argv[1]))
