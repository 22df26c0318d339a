"""lmvsmt's fairseq plugin (lmvsmt/pretrain/fairseq_plugin, --user-dir) and bf16 on CUDA:
scaled_dot_product_attention gives fairseq's attention (outputs and gradients), the
`_sdpa` architectures train like fairseq's own, torch's AdamW steps like fairseq's
adam, exported checkpoints load with plain fairseq and with our evaluation, and
--bf16 trains off fairseq's TPU path. Tests named *cuda* run where a GPU is (the GPU
check runs them there)."""
from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import pretrain_toydata
from lmvsmt import config as lmvsmt_config
from lmvsmt import fairseq_compat, vocabulary
from lmvsmt.pretrain import checkpoints, job, launch, objectives, plan, training

fairseq_compat.prepare()
from fairseq import utils as fairseq_utils  # noqa: E402
from fairseq.modules import MultiheadAttention  # noqa: E402

from lmvsmt.pretrain.fairseq_plugin.attention import SDPAMultiheadAttention  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not CUDA, reason="needs a CUDA GPU")


# --------------------------------------------------------------------------- the attention module


def _attention_pair(kind: str, device: str, dtype: torch.dtype, dim: int = 64, heads: int = 4):
    torch.manual_seed(0)
    if kind == "cross":
        fairseq_mha = MultiheadAttention(dim, heads, kdim=dim, vdim=dim, encoder_decoder_attention=True)
    else:
        fairseq_mha = MultiheadAttention(dim, heads, self_attention=True)
    fairseq_mha = fairseq_mha.to(device=device, dtype=dtype)
    sdpa = SDPAMultiheadAttention.from_fairseq(copy.deepcopy(fairseq_mha), causal=kind.startswith("causal"))
    return fairseq_mha, sdpa


def _padding(lengths: list[int], total: int, left: bool, device: str) -> torch.Tensor:
    mask = torch.zeros(len(lengths), total, dtype=torch.bool, device=device)
    for row, n in enumerate(lengths):
        if left:
            mask[row, : total - n] = True
        else:
            mask[row, n:] = True
    return mask


CASES = {
    # kind, padded on the left
    "encoder self-attention": ("self", False),
    "decoder self-attention, padded right": ("causal", False),
    "decoder self-attention, padded left": ("causal", True),
    "encoder-decoder attention": ("cross", True),
}


def _compare_attention(case: str, device: str, dtype: torch.dtype, atol: float) -> None:
    kind, left = CASES[case]
    fairseq_mha, sdpa = _attention_pair(kind, device, dtype)
    tgt_len, src_len, batch = 11, 7 if kind == "cross" else 11, 3
    torch.manual_seed(1)
    query = torch.randn(tgt_len, batch, 64, device=device, dtype=dtype)
    memory = torch.randn(src_len, batch, 64, device=device, dtype=dtype)
    lengths = [src_len, src_len - 3, src_len - 5]
    key_padding = _padding(lengths, src_len, left, device)
    future = (fairseq_utils.fill_with_neg_inf(torch.zeros(tgt_len, tgt_len, device=device))
              .triu(1).to(dtype) if kind == "causal" else None)
    # positions whose outputs count: all queries, except padded ones of self-attention
    real = torch.ones(tgt_len, batch, dtype=torch.bool, device=device) if kind == "cross" else ~key_padding.t()
    weights = torch.randn(tgt_len, batch, 64, device=device, dtype=dtype)
    outputs, grads = [], []
    for module in (fairseq_mha, sdpa):
        q = query.clone().requires_grad_()
        kv = q if kind != "cross" else memory.clone().requires_grad_()
        out, attn = module(q, kv, kv, key_padding_mask=key_padding, need_weights=False,
                           static_kv=kind == "cross", attn_mask=future)
        assert attn is None
        loss = (out * weights)[real].float().sum()
        loss.backward()
        outputs.append(out[real].float())
        grads.append([q.grad.float(), *[p.grad.float() for p in module.parameters()]])
    torch.testing.assert_close(outputs[1], outputs[0], atol=atol, rtol=atol)
    for g_sdpa, g_fairseq in zip(grads[1], grads[0]):
        torch.testing.assert_close(g_sdpa, g_fairseq, atol=atol * 10, rtol=atol * 10)


@pytest.mark.parametrize("case", list(CASES))
def test_sdpa_attention_gives_fairseqs_outputs_and_gradients(case):
    _compare_attention(case, "cpu", torch.float32, atol=1e-5)


@needs_cuda
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16], ids=str)
@pytest.mark.parametrize("case", list(CASES))
def test_cuda_sdpa_attention_gives_fairseqs_outputs_and_gradients(case, dtype):
    tolerance = {torch.float32: 1e-4, torch.bfloat16: 3e-2, torch.float16: 5e-3}[dtype]
    _compare_attention(case, "cuda", dtype, atol=tolerance)


@needs_cuda
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=str)
def test_cuda_causal_self_attention_runs_the_flash_kernel(dtype):
    """Right-padded causal self-attention needs no mask tensor: it runs with only the
    flash kernel allowed (torch raises if no allowed kernel can take the call)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    _, sdpa = _attention_pair("causal", "cuda", dtype)
    x = torch.randn(512, 4, 64, device="cuda", dtype=dtype)
    future = fairseq_utils.fill_with_neg_inf(torch.zeros(512, 512, device="cuda")).triu(1).to(dtype)
    with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
        out, _ = sdpa(x, x, x, key_padding_mask=_padding([512, 400, 300, 8], 512, False, "cuda"),
                      need_weights=False, attn_mask=future)
    assert torch.isfinite(out).all()


def test_other_calls_go_to_fairseqs_own_forward():
    """Attention weights asked for (the last decoder layer's alignment), incremental
    decoding: fairseq's code path, same result."""
    fairseq_mha, sdpa = _attention_pair("cross", "cpu", torch.float32)
    query, memory = torch.randn(5, 2, 64), torch.randn(6, 2, 64)
    expected = fairseq_mha(query, memory, memory, static_kv=True, need_weights=True)
    got = sdpa(query, memory, memory, static_kv=True, need_weights=True)
    torch.testing.assert_close(got[0], expected[0])
    torch.testing.assert_close(got[1], expected[1])


# --------------------------------------------------------------------------- whole training runs


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> Path:
    return pretrain_toydata.build(tmp_path_factory.mktemp("toy") / "results", docs_per_lang=10)


def tiny_config(results: Path, kernels: dict, max_update: int = 4, dropout: float = 0.0, **pretrain_keys) -> dict:
    per_objective = {o: {"batch_size": 8, "lr": 0.002, "warmup_updates": 2, "dropout": dropout}
                     for o in vocabulary.OBJECTIVES}
    for o in ("2-LM", "CLM", "MLM", "TLM"):
        per_objective[o]["tokens_per_sample"] = 64
        per_objective[o]["attention_dropout"] = dropout
    for o in vocabulary.DOUBLE_STACK:
        per_objective[o].update(max_tokens=None, attention_dropout=dropout)
    pcfg = {"launcher": "local", "preset": "tiny", "max_update": max_update, "save_interval_updates": max_update,
            "log_interval": 1, "global_batch": 8, "precision": "fp32", "num_workers": 0, "threads": 1,
            "objectives": per_objective, "local": {"gpus": 0}, "kernels": kernels, **pretrain_keys}
    return lmvsmt_config.validate({"results_dir": str(results), "pretrain": pcfg})


def train(objective: str, config: dict, toy: Path, run_dir: Path, extra: list[str] = ()) -> list[dict]:
    cpu = launch.Allocation("local", 1, 1, False)
    command = plan.plan(objective, config, toy / "data-bin" / vocabulary.DATASET[objective], run_dir, cpu,
                            check_data=True)
    state = job.run_fairseq([*command.argv, *extra], raw_log=run_dir / plan.RAW_LOG)
    (run_dir / "command.txt").write_text(command.shell() + "\n")
    checkpoints.finish_run(run_dir, state)
    return [r for r in plan.read_train_log(run_dir / plan.RAW_LOG) if "train_loss" in r]


@pytest.mark.slow
@pytest.mark.parametrize("objective", vocabulary.OBJECTIVES)
def test_sdpa_architectures_train_like_fairseqs(objective, toy, tmp_path):
    """Dropout off (its random masks are drawn differently): the same losses and
    gradient norms, update after update."""
    fairseq_run = train(objective, tiny_config(toy, {"attention": "fairseq", "adam": "fairseq"}), toy,
                        tmp_path / "fairseq")
    sdpa_run = train(objective, tiny_config(toy, {"attention": "sdpa", "adam": "fairseq"}), toy, tmp_path / "sdpa")
    assert "_sdpa" in (tmp_path / "sdpa" / "command.txt").read_text()
    assert len(sdpa_run) == len(fairseq_run) == 4
    for a, b in zip(sdpa_run, fairseq_run):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4), objective
        assert a["gnorm"] == pytest.approx(b["gnorm"], rel=1e-3), objective


@pytest.mark.slow
@pytest.mark.parametrize("objective", ["CLM", "2-MT"])
def test_torch_adamw_steps_like_fairseqs_adam(objective, toy, tmp_path):
    fairseq_run = train(objective, tiny_config(toy, {"attention": "fairseq", "adam": "fairseq"}, max_update=6),
                        toy, tmp_path / "fairseq")
    torch_run = train(objective, tiny_config(toy, {"attention": "fairseq", "adam": "torch"}, max_update=6),
                      toy, tmp_path / "torch")
    assert "torch_adamw" in (tmp_path / "torch" / "command.txt").read_text()
    for a, b in zip(torch_run, fairseq_run):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=2e-3), objective
    assert torch_run[-1]["train_loss"] < torch_run[0]["train_loss"]


def test_torch_adamw_update_rule():
    """One parameter, gradients well above eps: torch's AdamW and fairseq's Adam
    (decoupled weight decay, bias correction) give the same weights."""
    from fairseq.optim.adam import Adam

    torch.manual_seed(0)
    start = torch.randn(50)
    params = [torch.nn.Parameter(start.clone()) for _ in range(2)]
    opts = [Adam([params[0]], lr=1e-2, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.1),
            torch.optim.AdamW([params[1]], lr=1e-2, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.1, foreach=True)]
    for step in range(20):
        grad = torch.randn(50, generator=torch.Generator().manual_seed(step))
        for p, opt in zip(params, opts):
            p.grad = grad.clone()
            opt.step()
    torch.testing.assert_close(params[1].data, params[0].data, atol=1e-5, rtol=1e-5)


PLAIN_LOAD = """
import sys, json
from lmvsmt import fairseq_compat
fairseq_compat.prepare()
from fairseq import checkpoint_utils
models, cfg, task = checkpoint_utils.load_model_ensemble_and_task([sys.argv[1]], arg_overrides={"data": sys.argv[2]})
print(json.dumps({"class": type(models[0]).__name__, "attention": sorted({type(m).__name__ for m in models[0].modules()
                  if "Attention" in type(m).__name__}), "plugin_loaded": "lmvsmt.pretrain.fairseq_plugin" in sys.modules}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("objective", ["CLM", "MLM", "2-MT"])
def test_exported_checkpoint_loads_with_plain_fairseq_and_our_evaluation(objective, toy, tmp_path):
    run_dir = tmp_path / "run"
    train(objective, tiny_config(toy, {"attention": "sdpa", "adam": "torch"}, max_update=2), toy, run_dir)
    out = tmp_path / "out"
    training.export_outputs(objective, tiny_config(toy, {"attention": "sdpa", "adam": "torch"}),
                            toy / "data-bin" / vocabulary.DATASET[objective], run_dir,
                            {k: str(out / n) for k, n in [("model", "checkpoint_best.pt"), ("dict", "dict.txt"),
                                                          ("command", "command.txt"), ("config", "config.yaml"),
                                                          ("log", "train_log.jsonl"), ("plot", "loss.png")]})
    if objective == "2-MT":
        for lang in pretrain_toydata.LANGS:
            (out / f"dict.{lang}.txt").write_text((out / "dict.txt").read_text())
    proc = subprocess.run([sys.executable, "-c", PLAIN_LOAD, str(out / "checkpoint_best.pt"), str(out)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    assert loaded["attention"] == ["MultiheadAttention"] and not loaded["plugin_loaded"], loaded

    # Our evaluation reads the same weights as the training run's plugin model.
    model = training.load_model(objective, out)
    trained = torch.load(run_dir / "checkpoint_last.pt", map_location="cpu", weights_only=False)["model"]
    exported = model.model.state_dict()
    assert exported.keys() == trained.keys()
    assert all(torch.equal(exported[k], trained[k]) for k in trained)
    d = model.dictionary
    tokens = torch.tensor([[d.index("en1"), d.index("en2"), d.index("en3")]])
    with torch.no_grad():
        assert torch.isfinite(model.encode(tokens, "en")).all()


@pytest.mark.slow
def test_plugin_leaves_sys_path_alone(toy, tmp_path):
    """fairseq would put lmvsmt/pretrain/ itself first on sys.path to import the plugin."""
    train("CLM", tiny_config(toy, {"attention": "sdpa", "adam": "torch"}, max_update=1), toy, tmp_path / "run")
    assert str(objectives.PLUGIN_DIR.parent) not in sys.path


# --------------------------------------------------------------------------- bf16


@pytest.mark.slow
def test_bf16_trains_off_fairseqs_tpu_path(toy, tmp_path):
    """fairseq's --bf16 alone would look for an XLA device (torch_xla); with the fix it
    trains in bf16 where it is (the CPU here, CUDA on a GPU)."""
    records = train("CLM", tiny_config(toy, {"attention": "sdpa", "adam": "torch"}, max_update=3), toy,
                    tmp_path / "run", extra=["--bf16"])
    assert len(records) == 3 and all(r["train_loss"] == r["train_loss"] for r in records)
    state = torch.load(tmp_path / "run" / "checkpoint_last.pt", map_location="cpu", weights_only=False)
    assert state["cfg"]["common"]["bf16"] and not state["cfg"]["common"]["tpu"]


@pytest.mark.parametrize("flags, message", [(["--bf16", "--fp16"], "cannot be combined"),
                                            (["--tpu"], "--tpu"), (["--memory-efficient-bf16"], "bf16")])
def test_unworkable_precision_flags_are_refused(flags, message):
    with pytest.raises(fairseq_compat.FairseqCompatError, match=message):
        fairseq_compat.check_argv(["fairseq-train", "data", *flags])



def test_torch_adamw_takes_fp16s_flat_master_weights():
    """--fp16 hands the optimizer one flat fp32 copy of all weights (fairseq asks
    supports_flat_params first; fp16 itself needs a GPU, a *cuda* benchmark runs it)."""
    from fairseq.optim.adam import FairseqAdamConfig

    from lmvsmt.pretrain.fairseq_plugin.optimizer import TorchAdamW

    flat = torch.nn.Parameter(torch.ones(10))
    opt = TorchAdamW(FairseqAdamConfig(adam_betas="(0.9, 0.98)", adam_eps=1e-6, weight_decay=0.0, lr=[0.1],
                                       tpu=False), [flat])
    assert opt.supports_flat_params and not opt.supports_memory_efficient_fp16
    flat.grad = torch.ones(10)
    opt.step()
    assert torch.all(flat.data < 1)
