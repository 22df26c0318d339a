"""Small I/O helpers shared by every stage: atomic writes and rule logs."""
from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import IO, Iterator


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _temp_beside(path: Path) -> tuple[int, str]:
    """A temporary file in `path`'s directory, with the permissions a plain open()
    would give (mkstemp's 0600 would hide outputs from colleagues on a cluster)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.fchmod(fd, 0o666 & ~_umask())
    return fd, tmp


@contextlib.contextmanager
def _replace_on_success(tmp: str, path: Path) -> Iterator[None]:
    """Rename `tmp` over `path` if the block succeeds; remove it otherwise."""
    try:
        yield
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Write to a temporary file beside `path`, rename it over `path` on success.

    A crash or an exception leaves any previous `path` untouched and no partial file.
    """
    path = Path(path)
    fd, tmp = _temp_beside(path)
    with _replace_on_success(tmp, path):
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path` for tools that write files themselves;
    it is renamed over `path` when the block succeeds and removed otherwise."""
    path = Path(path)
    fd, tmp = _temp_beside(path)
    os.close(fd)
    with _replace_on_success(tmp, path):
        yield Path(tmp)


@contextlib.contextmanager
def rule_log(path: str | os.PathLike | None) -> Iterator[None]:
    """Send stdout, stderr (file descriptors too, so tqdm and subprocesses follow)
    and the `logging` module to a rule's log file for the duration of the block."""
    if path is None:
        yield
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "a", encoding="utf-8", buffering=1) as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        handler = logging.StreamHandler(log)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root = logging.getLogger()
        root.addHandler(handler)
        old_level = root.level
        root.setLevel(logging.INFO)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            root.removeHandler(handler)
            root.setLevel(old_level)
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


@contextlib.contextmanager
def one_line_errors(*errors: type[BaseException], logger: str = "lmvsmt") -> Iterator[None]:
    """Turn the expected problems `errors` (bad data, a failed download, a bad config or
    model) into one line, in the log and as the job's exit message, instead of a traceback."""
    try:
        yield
    except errors as err:
        logging.getLogger(logger).error("%s", err)
        raise SystemExit(str(err)) from None
