"""Every workaround lmvsmt needs to run fairseq 0.12 with today's numpy and torch.

fairseq 0.12 is unmaintained; keeping its quirks here means the rest of the code
calls fairseq as documented and a future fairseq only needs this module changed.

- numpy >= 2 breaks fairseq's data code (removed aliases, changed casting): checked.
- torch >= 2.6 loads checkpoints with weights_only=True by default, which refuses
  fairseq checkpoints (they pickle argparse/omegaconf objects). Our checkpoints are our
  own files, so loading them in full is safe: TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1.
- transformer_lm's --decoder-input-dim/--decoder-output-dim default to 512 whatever
  --decoder-embed-dim says, which breaks any other hidden size: pass them explicitly.
- fairseq drops the last batch of an epoch whose size is not a multiple of
  --required-batch-size-multiple (default 8): a small validation set becomes empty
  and training fails. We ask for multiples of 1.
- fairseq cannot open an empty binarized split (it memory-maps the empty .bin file):
  a language pair without validation sentences, possible in a small corpus, would
  stop 2-MT. Empty files are read as empty datasets.
- fairseq keeps the best validation loss in attributes of its functions
  (save_checkpoint.best, should_stop_early.best): a second run in the same process
  would compare against the first run's loss and may never write checkpoint_best.pt.
  They are reset before each run (a resumed run reloads its own from the checkpoint).
- --bf16 switches on fairseq's TPU code path: options.parse_args_and_arch sets
  args.tpu whenever bf16 is asked for (and then refuses --fp16 beside it), and with
  common.tpu the trainer looks for an XLA device instead of CUDA. Everything else
  fairseq 0.12 does for bf16 is device-neutral: bf16 weights, fp32 master weights in
  its FP16Optimizer without loss scaling, bf16 batches. `bf16_on_cuda` turns the TPU
  flag off again after parsing, so --bf16 trains on CUDA (or the CPU). --bf16 beside
  --fp16/--amp, --memory-efficient-bf16 and --tpu stay refused.
- With data-loader workers, fairseq's loaders keep their worker processes (persistent
  workers) and training stops mid-epoch, so the loaders' iterators end as garbage in
  reference cycles. When the garbage collector frees such a cycle it first runs the
  weakref callbacks that close the iterator's queues, then the iterator's __del__,
  whose stop signal to the workers can then no longer be sent: it waits 5 s for each
  worker before killing it. With 15 workers for training and 15 for validation a
  finished job took minutes to end (seen on an H200; 4 workers cost 40 s on a CPU).
  `shut_down_data_loaders` stops the workers of the loaders a run created while they
  are intact, right after training. fairseq's BufferedIterator thread
  (--data-buffer-size) would hold the training loader where it cannot be reached; with
  workers the loader prefetches by itself, so `loader_flags` turns that buffer off.
- The denoising task (2-LM) draws its noise (span lengths, masked positions, random
  tokens) from torch's global generator, which the threads of a process share, while
  its numpy_seed only seeds numpy. Without loader workers, fairseq's BufferedIterator
  threads (one for training, one for validation) build batches while the main thread
  reseeds that generator every update and draws dropout masks from it: which thread
  draws which numbers depends on thread scheduling, and two runs with the same seed
  differed from the first update. `loader_flags` turns the buffer off for such tasks,
  so the noise is drawn in the main thread between updates, always in the same order
  (loader workers draw it from their own generators, seeded from the main one).
- fairseq-train has no callbacks. To stop at an update boundary when the job is asked
  to (and save a checkpoint there), to learn the update it resumed from, and to copy its
  training and validation log lines, `train` wraps four of its functions
  (fairseq_cli.train.validate_and_save, checkpoint_utils.load_checkpoint and the JSON
  progress bar's log and print) for the duration of one run, calling the caller's
  `TrainHooks`. The other fairseq calls a training job needs are here too
  (`parse_train_args`, `save_checkpoint`, `global_rank`, `any_rank`).
- fairseq imports a --user-dir plugin by its directory name after putting the
  directory's parent first on sys.path. lmvsmt's plugin is a subpackage, whose parent
  lmvsmt/pretrain/ holds modules (training, launch, models, ...) that would then shadow
  top-level modules of those names imported later. `import_user_dir` imports it as the
  subpackage it is, under the name fairseq looks for, and fairseq leaves sys.path alone.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
from typing import Callable, Iterator, Sequence

from lmvsmt.errors import LmvsmtError

_NO_WEIGHTS_ONLY = "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"


class FairseqCompatError(LmvsmtError, RuntimeError):
    """The environment or a command line cannot work with fairseq 0.12."""


def check_numpy() -> None:
    import numpy

    major = int(numpy.__version__.split(".")[0])
    if major >= 2:
        raise FairseqCompatError(
            f"fairseq 0.12 needs numpy<2 but numpy {numpy.__version__} is installed: "
            "pip install -c requirements/constraints.txt 'numpy<2'"
        )


def allow_full_checkpoint_loading() -> None:
    """Let torch.load read fairseq checkpoints in full for the rest of this process
    (training processes: fairseq itself calls torch.load when it resumes)."""
    os.environ[_NO_WEIGHTS_ONLY] = "1"


@contextlib.contextmanager
def full_checkpoint_loading() -> Iterator[None]:
    """The same for the duration of a block (loading a model for evaluation)."""
    old = os.environ.get(_NO_WEIGHTS_ONLY)
    os.environ[_NO_WEIGHTS_ONLY] = "1"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(_NO_WEIGHTS_ONLY, None)
        else:
            os.environ[_NO_WEIGHTS_ONLY] = old


def prepare() -> None:
    """Call before importing fairseq in a process that trains or loads models."""
    check_numpy()
    allow_full_checkpoint_loading()


class _NoBuffer:
    """Stands in for the memory map of an empty .bin file (fairseq closes it on delete)."""

    class _mmap:  # noqa: N801 (the attribute name fairseq uses)
        @staticmethod
        def close() -> None:
            pass


def allow_empty_splits() -> None:
    """Read an empty binarized split as an empty dataset (idempotent, process-wide)."""
    from fairseq.data import indexed_dataset

    cls = indexed_dataset.MMapIndexedDataset
    if getattr(cls, "_lmvsmt_allows_empty", False):
        return
    original = cls._do_init

    def _do_init(self, path):
        if os.path.getsize(indexed_dataset.data_file_path(path)) == 0:
            self._path = path
            self._index = self.Index(indexed_dataset.index_file_path(path))
            self._bin_buffer_mmap = _NoBuffer()
            self._bin_buffer = memoryview(b"")
            return
        original(self, path)

    cls._do_init = _do_init
    cls._lmvsmt_allows_empty = True


def reset_process_state() -> None:
    """Forget what an earlier fairseq run in this process left in module state."""
    from fairseq import checkpoint_utils
    import fairseq_cli.train as fairseq_train

    for fn in (checkpoint_utils.save_checkpoint, fairseq_train.should_stop_early):
        for attr in ("best", "num_runs"):
            if hasattr(fn, attr):
                delattr(fn, attr)


def transformer_lm_dims(embed_dim: int) -> list[str]:
    """Flags that make transformer_lm's input/output projections match the hidden size."""
    return ["--decoder-input-dim", str(embed_dim), "--decoder-output-dim", str(embed_dim)]


def batching_flags() -> list[str]:
    """Keep every batch, whatever its size (see the module docstring)."""
    return ["--required-batch-size-multiple", "1"]


def _has(argv: Sequence[str], flag: str) -> bool:
    return any(a == flag or a.startswith(flag + "=") for a in argv)


def data_loader_iterators() -> list:
    """The live (or not yet collected) multi-process data-loader iterators of this process."""
    import gc

    from torch.utils.data import dataloader

    return [o for o in gc.get_objects() if isinstance(o, dataloader._MultiProcessingDataLoaderIter)]


def shut_down_data_loaders(keep=()) -> int:
    """Stop the worker processes of every multi-process data-loader iterator but those in
    `keep` (see the module docstring); returns how many were stopped."""
    kept = {id(it) for it in keep}
    stopped = 0
    for it in data_loader_iterators():
        if id(it) not in kept:
            it._shutdown_workers()
            stopped += 1
    return stopped


# fairseq tasks whose datasets draw random numbers from torch's global generator
GLOBAL_RNG_TASKS = ("denoising",)


def loader_flags(num_workers, task: str) -> list[str]:
    """Flags for `num_workers` data-loader workers (an int, or a value the job chooses)
    of fairseq task `task`: no background buffer thread beside worker processes, nor
    for a task whose batches draw from torch's global generator (see the module docstring)."""
    return [] if num_workers == 0 and task not in GLOBAL_RNG_TASKS else ["--data-buffer-size", "0"]


def check_argv(argv: Sequence[str]) -> None:
    """Refuse fairseq flags known not to work with fairseq 0.12 here."""
    for flag in ("--tpu", "--memory-efficient-bf16"):
        if _has(argv, flag):
            raise FairseqCompatError(f"{flag} is not supported here (lmvsmt.fairseq_compat): "
                                     "set pretrain.precision (auto, bf16, fp16, amp, fp32)")
    if _has(argv, "--bf16") and (_has(argv, "--fp16") or _has(argv, "--amp") or _has(argv, "--memory-efficient-fp16")):
        raise FairseqCompatError("--bf16 cannot be combined with --fp16 or --amp: set one pretrain.precision")


def bf16_on_cuda(args) -> None:
    """After options.parse_args_and_arch: --bf16 trains on the device fairseq would use
    without it (CUDA, or the CPU with --cpu), not on a TPU (see the module docstring)."""
    if getattr(args, "bf16", False) and not getattr(args, "memory_efficient_bf16", False):
        args.tpu = False


def import_user_dir(path) -> None:
    """Import the --user-dir package at `path`, a subpackage of lmvsmt, so that fairseq's
    own import of it finds it done (see the module docstring)."""
    import importlib
    import sys

    path = os.path.abspath(path)
    name = os.path.basename(path)
    here = os.path.dirname(os.path.abspath(__file__))
    inside = os.path.relpath(path, here)
    if inside.startswith(os.pardir) or not os.path.isfile(os.path.join(path, "__init__.py")):
        raise FairseqCompatError(f"{path}: not a package of lmvsmt")
    module = importlib.import_module(".".join([__package__, *inside.split(os.sep)]))
    sys.modules.setdefault(name, module)


# --------------------------------------------------------------------------- fairseq-train's hooks


def parse_train_args(argv: Sequence[str]):
    """fairseq-train's config (omegaconf) from `argv` ([program, *flags]), with --bf16 on
    the device fairseq would use without it (`bf16_on_cuda`)."""
    from fairseq import options
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf

    args = options.parse_args_and_arch(options.get_training_parser(), input_args=list(argv[1:]))
    bf16_on_cuda(args)
    return convert_namespace_to_omegaconf(args)


def global_rank() -> int:
    """This process's rank in a distributed run (0 without one)."""
    from fairseq.distributed import utils as distributed_utils

    return distributed_utils.get_global_rank()


def any_rank(trainer, flag: bool) -> bool:
    """True on every rank when `flag` is true on any (an all-reduce across the trainer's
    data-parallel group; the flag itself when there is one process)."""
    if trainer.data_parallel_world_size <= 1:
        return flag
    import torch
    from fairseq.distributed import utils as distributed_utils

    tensor = torch.tensor([float(flag)], device=trainer.device)
    tensor = distributed_utils.all_reduce(tensor, group=trainer.data_parallel_process_group)
    return bool(tensor.item() > 0)


def save_checkpoint(cfg, trainer, epoch_itr, loss) -> None:
    """Save checkpoint_last.pt (and what else fairseq's settings ask for) now."""
    from fairseq import checkpoint_utils

    checkpoint_utils.save_checkpoint(cfg.checkpoint, trainer, epoch_itr, loss)


@dataclasses.dataclass
class TrainHooks:
    """What a caller of `train` runs at four points of fairseq-train that fairseq 0.12
    offers no extension point for (each optional):

    after_validate(cfg, trainer, epoch_itr, valid_losses, should_stop) -> should_stop:
        after each validate_and_save, i.e. at an update boundary; may ask to stop;
    after_load(cfg, trainer): after the checkpoint is loaded (or none found), before the
        first update;
    train_log(stats): each training log line (the JSON progress bar's), before fairseq
        logs it; may raise to end training;
    valid_log(stats, tag, step): each validation summary, before fairseq prints it.
    """

    after_validate: Callable | None = None
    after_load: Callable | None = None
    train_log: Callable | None = None
    valid_log: Callable | None = None


@contextlib.contextmanager
def _replaced(owner, name: str, replacement) -> Iterator[None]:
    original = getattr(owner, name)
    setattr(owner, name, replacement)
    try:
        yield
    finally:
        setattr(owner, name, original)


def train(cfg, hooks: TrainHooks) -> None:
    """Run fairseq-train with `cfg` (`parse_train_args`) in this process, `hooks`
    installed for the duration of the run only."""
    from fairseq import checkpoint_utils
    from fairseq.distributed import utils as distributed_utils
    from fairseq.logging import progress_bar
    import fairseq_cli.train as fairseq_train

    validate_and_save, load_checkpoint = fairseq_train.validate_and_save, checkpoint_utils.load_checkpoint
    bar = progress_bar.JsonProgressBar
    log, print_ = bar.log, bar.print
    with contextlib.ExitStack() as installed:
        if hooks.after_validate is not None:
            def after_validate(cfg_, trainer, task, epoch_itr, valid_subsets, end_of_epoch):
                valid_losses, should_stop = validate_and_save(cfg_, trainer, task, epoch_itr, valid_subsets,
                                                              end_of_epoch)
                return valid_losses, hooks.after_validate(cfg_, trainer, epoch_itr, valid_losses, should_stop)

            installed.enter_context(_replaced(fairseq_train, "validate_and_save", after_validate))
        if hooks.after_load is not None:
            def after_load(cfg_, trainer, **kwargs):
                out = load_checkpoint(cfg_, trainer, **kwargs)
                hooks.after_load(cfg_, trainer)
                return out

            installed.enter_context(_replaced(checkpoint_utils, "load_checkpoint", after_load))
        if hooks.train_log is not None:
            def train_log(self, stats, tag=None, step=None):
                hooks.train_log(stats)
                return log(self, stats, tag=tag, step=step)

            installed.enter_context(_replaced(bar, "log", train_log))
        if hooks.valid_log is not None:
            def valid_log(self, stats, tag=None, step=None):
                hooks.valid_log(stats, tag, step)
                return print_(self, stats, tag=tag, step=step)

            installed.enter_context(_replaced(bar, "print", valid_log))
        distributed_utils.call_main(cfg, fairseq_train.main)
