"""The pretrained models as evaluation sees them: `load_model(objective, model_dir)`
returns a torch module with `.dictionary`, `.hidden_size` and `.encode(tokens, lang)`.
(Separate from lmvsmt.pretrain.training so that planning a training run needs no torch.)

`import_model` brings a model trained elsewhere (config `pretrain.external`) into the
same layout: it reads the checkpoint with a restricted unpickler, checks that its
architecture and task are ones evaluation can read as the objective, that the
dictionary matches the embedding and the SentencePiece model matches the dictionary,
and writes the weights (optimizer state dropped), dictionary, SentencePiece model and
a source.json describing the model.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import pickle
import re
import shutil
import tempfile
from pathlib import Path

import torch
from torch import nn

from lmvsmt import fairseq_compat
from lmvsmt.pretrain.external import ModelError
from lmvsmt.io import atomic_write
from lmvsmt.layout import MODEL_CHECKPOINT, MODEL_DICT, MODEL_SPM
from lmvsmt.vocabulary import DOUBLE_STACK



# --------------------------------------------------------------------------- loading


def load_model(objective: str, model_dir) -> "PretrainedModel":
    """The pretrained model of `objective` in `model_dir` (checkpoint_best.pt + dict.txt),
    in eval mode. A dictionary that does not fit the checkpoint's embedding raises ModelError."""
    fairseq_compat.check_numpy()
    from fairseq import checkpoint_utils, tasks
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf

    model_dir = Path(model_dir)
    checkpoint = model_dir / MODEL_CHECKPOINT
    # The dictionary comes from model_dir (the training data directory may be gone);
    # 2-MT reads one dictionary per language unless given a fixed one.
    overrides = {"data": str(model_dir)}
    if objective == "2-MT":
        overrides["fixed_dictionary"] = str(model_dir / MODEL_DICT)
    quiet = logging.getLogger("fairseq.models.masked_lm")  # it logs its whole config at INFO
    level = quiet.level
    quiet.setLevel(logging.WARNING)
    try:
        with fairseq_compat.full_checkpoint_loading():
            state = checkpoint_utils.load_checkpoint_to_cpu(str(checkpoint), overrides)
            cfg = convert_namespace_to_omegaconf(state["args"]) if state.get("args") is not None else state["cfg"]
            task = tasks.setup_task(cfg.task, from_checkpoint=True)
            _check_vocabulary(task.source_dictionary, state["model"], model_dir / MODEL_DICT, checkpoint)
            models, _cfg, task = checkpoint_utils.load_model_ensemble_and_task(
                [str(checkpoint)], arg_overrides=overrides, task=task, state=state)
    finally:
        quiet.setLevel(level)
    return PretrainedModel(objective, models[0], task.source_dictionary).eval()


def _embedding_rows(weights: dict, checkpoint: Path) -> int:
    for name in sorted(weights):
        if name.endswith("embed_tokens.weight"):
            return int(weights[name].shape[0])
    raise ModelError(f"{checkpoint}: no token embedding (*embed_tokens.weight) among the model weights")


def _check_vocabulary(dictionary, weights: dict, dict_path: Path, checkpoint: Path) -> None:
    """The task's dictionary (the file's entries, fairseq's 4 special symbols, and what
    the task appends) must have exactly one row per token of the checkpoint's embedding."""
    from fairseq.data import Dictionary

    rows = _embedding_rows(weights, checkpoint)
    if len(dictionary) == rows:
        return
    entries = len(Dictionary.load(str(dict_path))) - dictionary.nspecial
    added = dictionary.symbols[dictionary.nspecial + entries:]
    what = f" and the task's {', '.join(added)}" if added else ""
    raise ModelError(f"{dict_path}: {entries} entries make {len(dictionary)} tokens with fairseq's "
                     f"{dictionary.nspecial} special symbols{what}, but {checkpoint} embeds {rows}: "
                     "not the dictionary this model was trained with")


class PretrainedModel(nn.Module):
    """A pretrained encoder for evaluation.

    `encode(tokens, lang)` takes sub-word ids [B, T] (no special tokens, right-padded
    with `dictionary.pad()`), frames them as in pretraining, and returns the hidden
    states of exactly those positions [B, T, H]:
      2-LM     <s> x </s>        -> encoder output
      2-MT     __lang__ x </s>   -> encoder output (source language token, as trained)
      MLM      <s> x </s>        -> last encoder layer
      CLM/TLM  </s> x            -> last decoder layer before the vocabulary projection
                                    (in training every line follows a </s>)
    """

    def __init__(self, objective: str, model, dictionary):
        super().__init__()
        self.objective, self.model, self.dictionary = objective, model, dictionary
        self.causal = objective in ("CLM", "TLM")
        stack = model.decoder if self.causal else model.encoder
        embed = getattr(stack, "embed_tokens", None) or stack.sentence_encoder.embed_tokens
        # A transformer_lm projects its last layer to decoder_output_dim when that differs.
        self.hidden_size = getattr(stack, "output_embed_dim", None) or embed.embedding_dim

    @property
    def layers(self) -> int:
        """Transformer layers of the evaluated stack."""
        stack = self.model.decoder if self.causal else self.model.encoder
        return len(getattr(stack, "layers", None) or stack.sentence_encoder.layers)

    @property
    def _masked_lm_arch(self) -> bool:
        """fairseq's masked_lm architecture (not roberta)."""
        encoder = self.model.encoder
        return hasattr(encoder, "sentence_encoder") and hasattr(encoder, "lm_head_transform_weight")

    def _prefix(self, lang: str) -> int:
        if self.objective == "2-MT":
            index = self.dictionary.index(language_token(lang))
            if index == self.dictionary.unk():
                raise ValueError(f"2-MT model has no language token {language_token(lang)}")
            return index
        return self.dictionary.eos() if self.causal else self.dictionary.bos()

    def _frame(self, tokens: torch.Tensor, lang: str) -> tuple[torch.Tensor, torch.Tensor]:
        """`tokens` framed as in pretraining, and the framed lengths."""
        pad, eos = self.dictionary.pad(), self.dictionary.eos()
        batch, length = tokens.shape
        lengths = tokens.ne(pad).sum(dim=1)
        framed = tokens.new_full((batch, length + 2), pad)
        framed[:, 0] = self._prefix(lang)
        framed[:, 1:length + 1] = tokens
        if not self.causal:
            framed[torch.arange(batch, device=tokens.device), lengths + 1] = eos
        return framed, lengths + 2

    def encode(self, tokens: torch.Tensor, lang: str) -> torch.Tensor:
        framed, lengths = self._frame(tokens, lang)
        states = self._forward(framed, lengths)
        return states[:, 1:tokens.shape[1] + 1]

    def hidden_layers(self, tokens: torch.Tensor, lang: str, decoder: bool = False) -> list[torch.Tensor]:
        """The states [B, T, H] of the positions of `tokens` after the embeddings (index 0)
        and after each layer of the stack that `encode` reads; the last one is what
        `encode` returns. With `decoder`, a double-stack model's decoder layers follow,
        the decoder reading the same sentence as its pretraining target (teacher forcing)."""
        framed, lengths = self._frame(tokens, lang)
        length = tokens.shape[1]
        if self.objective in DOUBLE_STACK:
            out = self.model.encoder(framed, src_lengths=lengths, return_all_hiddens=True)
            inner = out["encoder_states"][:-1] + out["encoder_out"]
        elif self.causal:
            last, extra = self.model.decoder(framed, features_only=True)
            inner = extra["inner_states"][:-1] + [last.transpose(0, 1)]
        elif self._masked_lm_arch:
            inner, _ = self.model.encoder.sentence_encoder(framed)
        else:
            _, extra = self.model(framed, features_only=True, return_all_hiddens=True)  # roberta
            inner = extra["inner_states"]
        layers = [state.transpose(0, 1)[:, 1:length + 1] for state in inner]
        if decoder and self.objective in DOUBLE_STACK:
            layers += self._decoder_layers(tokens, lang, out)
        return layers

    def _decoder_layers(self, tokens: torch.Tensor, lang: str, encoder_out: dict) -> list[torch.Tensor]:
        # The decoder input is the target shifted right, as fairseq trains it: 2-LM
        # reconstructs "<s> x </s>" (input "</s> <s> x"); 2-MT starts from the target
        # language token (input "__lang__ x"). States are read where each token of x is input.
        pad = self.dictionary.pad()
        batch, length = tokens.shape
        prefix = ([self._prefix(lang)] if self.objective == "2-MT"
                  else [self.dictionary.eos(), self.dictionary.bos()])
        previous = tokens.new_full((batch, length + len(prefix)), pad)
        previous[:, :len(prefix)] = torch.tensor(prefix, dtype=tokens.dtype, device=tokens.device)
        previous[:, len(prefix):] = tokens
        last, extra = self.model.decoder(previous, encoder_out=encoder_out, features_only=True)
        inner = extra["inner_states"][1:-1] + [last.transpose(0, 1)]
        return [state.transpose(0, 1)[:, len(prefix):] for state in inner]

    def _forward(self, framed: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        if self.objective in DOUBLE_STACK:
            out = self.model.encoder(framed, src_lengths=lengths)
            return out["encoder_out"][0].transpose(0, 1)
        if self.causal:
            return self.model.decoder(framed, features_only=True)[0]
        if self._masked_lm_arch:
            inner, _ = self.model.encoder.sentence_encoder(framed)
            return inner[-1].transpose(0, 1)
        return self.model(framed, features_only=True)[0]  # roberta

    def forward(self, tokens: torch.Tensor, lang: str) -> torch.Tensor:
        return self.encode(tokens, lang)


def language_token(lang: str) -> str:
    """The language token fairseq's multilingual translation task adds (`__en__`)."""
    from lmvsmt.bpe.subword import language_token as token

    return token(lang)


# --------------------------------------------------------------------------- models trained elsewhere


def _families() -> dict:
    """Per objective: the fairseq model classes evaluation reads as it (the authors'
    bart_base/bart_large, transformer_lm*, legacy masked_lm; our MLM may be roberta),
    the tasks whose framing PretrainedModel reproduces, and both in words."""
    from fairseq.models.bart import BARTModel
    from fairseq.models.masked_lm import MaskedLMModel
    from fairseq.models.roberta import RobertaModel
    from fairseq.models.transformer_lm import TransformerLanguageModel

    causal = ((TransformerLanguageModel,), ("language_modeling",), "transformer_lm* on the language_modeling task")
    return {
        "2-LM": ((BARTModel,), ("denoising",), "BART (bart_base, bart_large) on the denoising task"),
        "2-MT": ((BARTModel,), ("translation_multi_simple_epoch",),
                 "BART (bart_base, bart_large) on the translation_multi_simple_epoch task"),
        "CLM": causal,
        "TLM": causal,
        "MLM": ((MaskedLMModel, RobertaModel), ("masked_lm",), "masked_lm (legacy, BERT-like) or roberta on the "
                                                               "masked_lm task"),
    }


# What a fairseq checkpoint holds besides tensors and plain Python values (fairseq 0.12
# stores configs as dicts, and the model and task configs of legacy architectures such
# as bart_base and masked_lm as argparse.Namespace); numpy scalars appear in older ones.
def _safe_globals() -> list:
    import numpy

    return [argparse.Namespace, numpy.core.multiarray.scalar, numpy.dtype]


def read_checkpoint(path: Path, trust_pickle: bool = False, key: str = "") -> dict:
    """A checkpoint's contents, memory-mapped; unless `trust_pickle`, through torch's
    restricted unpickler, which builds no object a fairseq checkpoint does not need.
    `key`: the config entry of the model (named in errors)."""
    path = Path(path)
    where = f" ({key})" if key else ""

    def load(mmap: bool) -> dict:
        if trust_pickle:
            return torch.load(path, map_location="cpu", weights_only=False, mmap=mmap)
        with torch.serialization.safe_globals(_safe_globals()):
            return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)

    try:
        try:
            state = load(mmap=True)
        except RuntimeError as err:
            if "mmap" not in str(err):
                raise
            state = load(mmap=False)  # the pre-zip serialization cannot be memory-mapped
    except pickle.UnpicklingError as err:
        refused = re.search(r"GLOBAL (\S+)", str(err))
        if refused is None:
            detail = str(err).split("WeightsUnpickler error:", 1)[-1].strip()
            raise ModelError(f"{path}{where}: not a readable torch checkpoint: {detail.splitlines()[0]}") from None
        raise ModelError(f"{path}{where}: refused to unpickle {refused.group(1)}: a fairseq checkpoint needs only "
                         "tensors, plain values and argparse.Namespace (if you trust this file, set "
                         f"{key or 'pretrain.external.<objective>'}.trust_pickle: true)") from None
    except (RuntimeError, EOFError, OSError) as err:
        raise ModelError(f"{path}{where}: not a readable torch checkpoint: {_first_line(err)}") from None
    if not isinstance(state, dict) or not isinstance(state.get("model"), dict):
        raise ModelError(f"{path}{where}: not a fairseq checkpoint (no 'model' weights)")
    return state


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _field(node, name: str):
    """A field of a checkpoint config section, stored as a dict or an argparse.Namespace."""
    if node is None:
        return None
    return node.get(name) if isinstance(node, dict) else getattr(node, name, None)


def describe_checkpoint(state: dict) -> tuple[str | None, str | None]:
    """(architecture, task) named in a checkpoint's config (`cfg`, or `args` of older ones)."""
    cfg = state.get("cfg")
    if cfg is not None:
        model, task = _field(cfg, "model"), _field(cfg, "task")
        return (_field(model, "_name") or _field(model, "arch"), _field(task, "_name") or _field(task, "task"))
    args = state.get("args")
    return _field(args, "arch"), _field(args, "task")


def check_architecture(objective: str, state: dict, path: Path) -> tuple[str, str]:
    """The checkpoint's (architecture, task), if evaluation can read it as `objective`."""
    from fairseq.models import ARCH_MODEL_REGISTRY

    arch, task = describe_checkpoint(state)
    classes, task_names, words = _families()[objective]
    if arch is None or task is None:
        raise ModelError(f"{path}: no architecture or task in its config: not a fairseq checkpoint")
    model_class = ARCH_MODEL_REGISTRY.get(arch)
    if model_class is None or not issubclass(model_class, classes):
        kind = "not a fairseq 0.12 architecture" if model_class is None else model_class.__name__
        raise ModelError(f"{path}: architecture {arch} ({kind}) cannot be evaluated as {objective}, "
                         f"which needs {words}")
    if task not in task_names:
        raise ModelError(f"{path}: task {task} cannot be evaluated as {objective}, which needs {words}")
    return arch, task


def _strip(state: dict) -> dict:
    """What evaluation needs of a checkpoint: the optimizer state is dropped."""
    state = dict(state)
    state["last_optimizer_state"] = None
    return state


def check_subwords(spm_path: Path, dictionary, dict_path: Path, min_share: float = 0.9) -> None:
    """The dictionary's entries must be pieces of the SentencePiece model (most of them:
    a dictionary built from encoded text may hold control tokens and padding entries)."""
    import sentencepiece

    try:
        processor = sentencepiece.SentencePieceProcessor(model_file=str(spm_path))
    except (RuntimeError, OSError) as err:
        raise ModelError(f"{spm_path}: not a SentencePiece model ({_first_line(err)})") from None
    entries = [s for s in dictionary.symbols[dictionary.nspecial:]
               if not s.startswith("madeupword") and not (s.startswith("__") and s.endswith("__")) and s != "<mask>"]
    unk = processor.unk_id()
    known = sum(processor.piece_to_id(s) != unk for s in entries)
    if entries and known < min_share * len(entries):
        raise ModelError(f"{spm_path}: only {known} of the {len(entries)} entries of {dict_path} are pieces of this "
                         "SentencePiece model: not the model its dictionary was made with")


def import_model(objective: str, checkpoint, dictionary, spm_model, outputs: dict, *, languages,
                 trust_pickle: bool = False, source: str = "", origins: dict | None = None,
                 key: str = "") -> dict:
    """Check a model trained elsewhere and write `outputs` (model, dict, spm, source:
    paths); return the source.json record. `origins` maps checkpoint/dictionary/spm to
    where each came from (URL or path), recorded with the files' sha256."""
    from lmvsmt.download import sha256_file

    checkpoint, dictionary, spm_model = Path(checkpoint), Path(dictionary), Path(spm_model)
    state = read_checkpoint(checkpoint, trust_pickle, key=key)
    arch, task = check_architecture(objective, state, checkpoint)
    out_dir = Path(outputs["model"]).parent
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".import-", dir=out_dir) as tmp:
        staged = Path(tmp)
        torch.save(_strip(state), staged / MODEL_CHECKPOINT)
        del state
        shutil.copyfile(dictionary, staged / MODEL_DICT)
        shutil.copyfile(spm_model, staged / MODEL_SPM)
        # The evaluation loader itself, on the imported files: whatever evaluation will
        # meet (a dictionary that does not fit, missing weights) is met here.
        try:
            model = load_model(objective, staged)
        except ModelError as err:
            raise ModelError(str(err).replace(str(staged / MODEL_DICT), str(dictionary))
                             .replace(str(staged / MODEL_CHECKPOINT), str(checkpoint))) from None
        except (RuntimeError, KeyError, ValueError) as err:
            raise ModelError(f"{checkpoint}: fairseq cannot build {arch} from it: {_first_line(err)}") from None
        check_subwords(spm_model, model.dictionary, dictionary)
        if objective == "2-MT":
            missing = [language_token(lang) for lang in languages
                       if model.dictionary.index(language_token(lang)) == model.dictionary.unk()]
            if missing:
                raise ModelError(f"{checkpoint}: the 2-MT model has no language token {', '.join(missing)} "
                                 "(its lang_pairs do not cover the configured languages)")
        record = {
            "objective": objective,
            "source": source or str(checkpoint),
            "architecture": arch,
            "task": task,
            "hidden_size": model.hidden_size,
            "layers": model.layers,
            "vocabulary": len(model.dictionary),
            "parameters": sum(p.numel() for p in model.parameters()),
            "files": {},
        }
        for role, path in (("checkpoint", checkpoint), ("dictionary", dictionary), ("spm", spm_model)):
            size, sha = sha256_file(path)
            record["files"][role] = {"from": (origins or {}).get(role, str(path)), "size": size, "sha256": sha}
        for name, staged_name in (("model", MODEL_CHECKPOINT), ("dict", MODEL_DICT), ("spm", MODEL_SPM)):
            os.replace(staged / staged_name, outputs[name])
    with atomic_write(outputs["source"]) as fh:
        json.dump(record, fh, indent=1)
        fh.write("\n")
    return record
