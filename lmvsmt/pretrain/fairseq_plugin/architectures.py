"""`<arch>_sdpa`: fairseq's architectures with scaled_dot_product_attention.

For every architecture in lmvsmt.pretrain.objectives.SDPA_ARCHS this registers a model
`<model>_sdpa` (a subclass of fairseq's model whose build_model converts the attention
modules, lmvsmt.pretrain.fairseq_plugin.attention.convert) and the architecture
`<arch>_sdpa`, which sets the same defaults as fairseq's `<arch>`. Parameters and
state dict are fairseq's own.
"""
from __future__ import annotations

from fairseq import models as fairseq_models

from lmvsmt.pretrain import objectives
from lmvsmt.pretrain.fairseq_plugin.attention import convert


def _sdpa_model(base: type) -> type:
    class Model(base):
        @classmethod
        def build_model(cls, args, task):
            return convert(super().build_model(args, task))

    Model.__name__ = Model.__qualname__ = f"{base.__name__}SDPA"
    Model.__doc__ = f"{base.__name__} with scaled_dot_product_attention (lmvsmt.pretrain.fairseq_plugin)."
    return Model


def _register(arch: str) -> None:
    sdpa_arch = objectives.sdpa_arch(arch)
    if sdpa_arch in fairseq_models.ARCH_MODEL_REGISTRY:
        return
    model_name = fairseq_models.ARCH_MODEL_NAME_REGISTRY[arch]
    sdpa_model = objectives.sdpa_arch(model_name)
    if sdpa_model not in fairseq_models.MODEL_REGISTRY:
        dataclass = fairseq_models.MODEL_DATACLASS_REGISTRY.get(model_name)
        # with a dataclass, this also registers the architecture named like the model
        fairseq_models.register_model(sdpa_model, dataclass=dataclass)(
            _sdpa_model(fairseq_models.MODEL_REGISTRY[model_name]))
    if sdpa_arch not in fairseq_models.ARCH_MODEL_REGISTRY:
        fairseq_models.register_model_architecture(sdpa_model, sdpa_arch)(
            fairseq_models.ARCH_CONFIG_REGISTRY[arch])


for _arch in objectives.SDPA_ARCHS:
    _register(_arch)


def _plain(name):
    return objectives.plain_arch(name) if isinstance(name, str) else name


def plain_checkpoint(state: dict) -> dict:
    """A checkpoint state of a model trained with this plugin, under fairseq's own names
    (architecture, optimizer; no --user-dir), so plain fairseq loads it. In place."""
    cfg = state.get("cfg")
    if cfg is not None:
        model = cfg.get("model")
        if isinstance(model, dict):
            for key in ("_name", "arch"):
                if key in model:
                    model[key] = _plain(model[key])
        elif model is not None:  # an argparse namespace (fairseq's legacy models)
            for key in ("_name", "arch"):
                if hasattr(model, key):
                    setattr(model, key, _plain(getattr(model, key)))
        if cfg.get("optimizer") and cfg["optimizer"].get("_name") == objectives.TORCH_ADAMW:
            cfg["optimizer"]["_name"] = "adam"
        if cfg.get("common"):
            cfg["common"]["user_dir"] = None
    args = state.get("args")
    if args is not None:
        args.arch = _plain(getattr(args, "arch", None))
        if getattr(args, "optimizer", None) == objectives.TORCH_ADAMW:
            args.optimizer = "adam"
        args.user_dir = None
    for entry in state.get("optimizer_history") or []:
        if entry.get("optimizer_name") == "TorchAdamW":
            entry["optimizer_name"] = "FairseqAdam"
    return state
