"""Small I/O helpers shared by every stage: atomic writes, reads that name their
file, damaged files moved aside, and rule logs."""
from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import json
import logging
import os
import shutil
import sys
import tempfile
import traceback
from pathlib import Path
from typing import IO, Any, Iterator

from lmvsmt.errors import LmvsmtError

# Errors of a full disk or an exhausted quota.
_NO_SPACE = {errno.ENOSPC, errno.EDQUOT}
# Below this much free space a failed write is blamed on the full disk even when the
# writer does not say why (torch's zip writer reports "file write failed").
_NEARLY_FULL = 1 << 20


class DiskFullError(LmvsmtError, OSError):
    """A write failed because its file system is full; the message names the path
    and the free space."""

    def __init__(self, message: str):
        super().__init__(errno.ENOSPC, message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class FileDecodeError(LmvsmtError, ValueError):
    """A text file that is not valid UTF-8 (or a JSON file that does not parse),
    named with the line."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def free_space(path: str | os.PathLike) -> int:
    """Bytes an unprivileged writer may still use on the file system of `path`."""
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def _mount_point(path: Path) -> Path:
    path = path.resolve()
    while not os.path.ismount(path) and path != path.parent:
        path = path.parent
    return path


def _no_space_error(exc: BaseException) -> OSError | None:
    """The ENOSPC/EDQUOT error anywhere in the exception's chain."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in _NO_SPACE:
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def disk_full_error(path: str | os.PathLike, exc: BaseException, partial: str | os.PathLike | None = None
                    ) -> DiskFullError | None:
    """The DiskFullError to raise for `exc` from writing `path` (a file, or a directory
    some file of which failed) if the disk is full, else None. Call it while the partial
    file (`partial`, removed by the caller afterwards) is still there: it is what filled
    the disk."""
    if isinstance(exc, DiskFullError):
        return exc
    if not isinstance(exc, Exception):
        return None
    no_space = _no_space_error(exc)
    path = Path(path)
    if path.is_dir() and no_space is not None and no_space.filename:  # the file it failed on
        path = Path(os.fsdecode(no_space.filename))
    directory = path if path.is_dir() else path.parent
    try:
        free = free_space(directory)
    except OSError:
        return None
    if not (no_space or (isinstance(exc, (OSError, RuntimeError)) and free < _NEARLY_FULL)):
        return None
    written = ""
    if partial is not None:
        with contextlib.suppress(OSError):
            size = os.path.getsize(partial)
            written = f"{human_bytes(size)} written before it filled up; " if size else ""
    detail = "" if isinstance(exc, OSError) and exc.errno in _NO_SPACE else f"; the writer said: {exc}"
    return DiskFullError(f"{path}: no space left on device ({written}{human_bytes(free)} free on "
                         f"{_mount_point(directory)}){detail}")


def _temp_beside(path: Path) -> tuple[int, str]:
    """A temporary file in `path`'s directory, with the permissions a plain open()
    would give (mkstemp's 0600 would hide outputs from colleagues on a cluster)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.fchmod(fd, 0o666 & ~_umask())
    return fd, tmp


@contextlib.contextmanager
def _replace_on_success(tmp: str, path: Path) -> Iterator[None]:
    """Rename `tmp` over `path` if the block succeeds; remove it otherwise. A write that
    failed on a full disk is reported as such, naming `path` and the free space."""
    try:
        yield
        os.replace(tmp, path)
    except BaseException as exc:
        full = disk_full_error(path, exc, partial=tmp)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if full is not None and full is not exc:
            raise full from exc
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
def atomic_directory(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary directory beside `path`, moved into place on success
    (replacing `path`) and removed on failure."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def copy_file(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    """Copy `src` to `dst` atomically."""
    with atomic_path(dst) as tmp:
        shutil.copyfile(src, tmp)


def move_aside(path: str | os.PathLike, tag: str = "bad", like: str | os.PathLike | None = None) -> Path:
    """Rename `path` to `<name>.<tag>-<UTC time>` beside it, where <name> is that of
    `like` (default: `path`). The file is never deleted and never read again by the
    pipeline; returns its new path."""
    path = Path(path)
    name = Path(like or path).name
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    aside = path.with_name(f"{name}.{tag}-{stamp}")
    n = 0
    while aside.exists():
        n += 1
        aside = path.with_name(f"{name}.{tag}-{stamp}-{n}")
    os.replace(path, aside)
    return aside


# --------------------------------------------------------------------------- reading text


def _first_bad_line(path: Path) -> tuple[int, int]:
    """(line number, byte column) of the first invalid UTF-8 sequence in `path`, (0, 0) if none."""
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, 1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                return number, exc.start + 1
    return 0, 0


def _decode_error(path: Path, exc: UnicodeDecodeError) -> FileDecodeError:
    line, column = _first_bad_line(path)
    where = f"{path}:{line}" if line else str(path)
    bad = exc.object[exc.start:exc.start + 4]
    return FileDecodeError(f"{where}: not valid UTF-8 (byte {column if line else exc.start}: "
                           f"{bad.hex(' ')}: {exc.reason})")


@contextlib.contextmanager
def open_text(path: str | os.PathLike, **kwargs) -> Iterator[IO[str]]:
    """open(path, encoding="utf-8") whose decode errors name the file and line
    (FileDecodeError) wherever in the block the file is read."""
    path = Path(path)
    with open(path, encoding="utf-8", **kwargs) as fh:
        try:
            yield fh
        except UnicodeDecodeError as exc:
            raise _decode_error(path, exc) from None


def read_text(path: str | os.PathLike) -> str:
    """A UTF-8 text file's contents; decode errors name the file and line."""
    with open_text(path) as fh:
        return fh.read()


def read_json(path: str | os.PathLike) -> Any:
    """A JSON file's value; decode and syntax errors name the file and line."""
    text = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FileDecodeError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None


# --------------------------------------------------------------------------- rule logs


def _ours(exc: BaseException) -> bool:
    """An lmvsmt error: its message is one line meant for the user (no traceback)."""
    return isinstance(exc, LmvsmtError)


def _summary(exc: BaseException) -> str | None:
    """The line a failed rule ends with on the console (and in its log)."""
    if isinstance(exc, SystemExit):
        return exc.code if isinstance(exc.code, str) else None
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (KeyboardInterrupt)"
    if _ours(exc):
        return str(exc)
    return None


def _ends_with(path: Path, line: str) -> bool:
    with open(path, "rb") as fh:
        fh.seek(max(0, fh.seek(0, os.SEEK_END) - len(line.encode()) - 1024))
        return fh.read().decode("utf-8", "replace").rstrip("\n").endswith(line)


@contextlib.contextmanager
def rule_log(path: str | os.PathLike | None) -> Iterator[None]:
    """Send stdout, stderr (file descriptors too, so tqdm and subprocesses follow)
    and the `logging` module to a rule's log file for the duration of the block.

    A failure ends the log with what the console shows: the one-line message of an
    lmvsmt error (which then ends the job without a traceback), or the traceback."""
    if path is None:
        yield
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    one_line = None
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
        except BaseException as exc:
            line = _summary(exc)
            with contextlib.suppress(OSError):  # a full disk must not hide the error itself
                sys.stdout.flush()
                sys.stderr.flush()
                if line is None and not isinstance(exc, SystemExit):
                    traceback.print_exc(file=log)
                elif line is not None and not _ends_with(path, line):
                    log.write(line + "\n")
            if _ours(exc):
                one_line = line
            else:
                raise
        finally:
            with contextlib.suppress(OSError):
                sys.stdout.flush()
                sys.stderr.flush()
            root.removeHandler(handler)
            root.setLevel(old_level)
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
    if one_line is not None:
        raise SystemExit(one_line)
