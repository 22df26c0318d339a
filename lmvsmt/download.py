"""The downloader behind every download of the pipeline (pretraining corpora,
downstream datasets, models trained elsewhere).

`fetch(url, dest, lockfile=..., key=...)` streams `url` into `dest + ".part"`,
resumes a partial file with an HTTP Range request, retries transient failures
with exponential backoff, checks the size, and renames the file into place only
after its sha256 agrees with the lock file. The lock file pins the bytes of every
source: the first download records its sha256, every later download and every
reuse of an existing `dest` is verified against it. Once `dest` exists and
verifies, no network access happens at all (Snakemake reruns). A sha256 pinned by
the config (`expected_sha256`) is checked before anything is recorded.

`extract(archive, member, dest_dir)` takes files out of a downloaded zip or tar
archive (one member, or the members a glob matches), streaming them to disk.

Lock file: a TSV with the header `url key size sha256 date`, one row per URL,
sorted by URL so that it diffs cleanly when committed; `date` is the UTC time
of the first download (ISO 8601). Parallel jobs update it under an fcntl lock
and rewrite it atomically.

Files beside `dest`: `dest.part` (the download in progress, kept after a failure
so that the next call resumes it), `dest.part.json` (the URL, size and ETag or
Last-Modified the partial bytes belong to, so that bytes of a changed source are
never spliced together) and `dest.bad-<UTC time>` (a file that failed
verification: moved aside, never used, never deleted).

A server that sends neither Content-Length nor chunked encoding cannot signal a
cut connection; such downloads are caught by `expected_size` or the lock file.

Over 400 lines on purpose: the lock file, the resumable transfer and the verification
are one protocol (every way through `fetch` ends in the same verify-then-rename), which
is checked for holes best when read in one place.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import email.utils
import errno
import fcntl
import fnmatch
import hashlib
import http.client
import json
import logging
import os
import posixpath
import shutil
import sys
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path
from typing import IO, Iterable, Iterator

from tqdm import tqdm

from lmvsmt.errors import LmvsmtError
from lmvsmt.io import atomic_write, move_aside, read_text

log = logging.getLogger(__name__)

LOCK_COLUMNS = ("url", "key", "size", "sha256", "date")
CHUNK = 1 << 20
#: Longest wait honoured from a server's Retry-After header, in seconds.
MAX_RETRY_AFTER = 120.0
_USER_AGENT = "lmvsmt-downloader/1 (+https://github.com/Helsinki-NLP/lm-vs-mt)"
# Statuses that a later attempt may cure; every other 4xx is final.
_TRANSIENT_4XX = {408, 425, 429}


class DownloadError(LmvsmtError, RuntimeError):
    """A download that cannot succeed; the message is one line naming the URL or
    file and the config key it came from."""


@dataclasses.dataclass(frozen=True)
class LockEntry:
    url: str
    key: str
    size: int
    sha256: str
    date: str


class _Transient(Exception):
    """A failure worth another attempt (5xx, dropped connection, timeout, short read)."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


# --------------------------------------------------------------------------- lock file


def read_lock(lockfile: str | os.PathLike) -> dict[str, LockEntry]:
    """Entries of a lock file by URL; a missing or empty file has none."""
    lockfile = Path(lockfile)
    try:
        text = read_text(lockfile)
    except FileNotFoundError:
        return {}
    lines = text.splitlines()
    if not lines:
        return {}
    if tuple(lines[0].split("\t")) != LOCK_COLUMNS:
        raise DownloadError(f"{lockfile}:1: lock file header must be {' '.join(LOCK_COLUMNS)} (tab-separated)")
    entries: dict[str, LockEntry] = {}
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = line.split("\t")
        try:
            if len(fields) != len(LOCK_COLUMNS):
                raise ValueError(f"{len(fields)} fields instead of {len(LOCK_COLUMNS)}")
            entry = LockEntry(fields[0], fields[1], int(fields[2]), fields[3].lower(), fields[4])
            if len(entry.sha256) != 64 or any(c not in "0123456789abcdef" for c in entry.sha256):
                raise ValueError("sha256 is not 64 hex digits")
        except ValueError as err:
            raise DownloadError(f"{lockfile}:{number}: malformed lock entry ({err})") from None
        if entry.url in entries:
            raise DownloadError(f"{lockfile}:{number}: second entry for {entry.url}")
        entries[entry.url] = entry
    return entries


def _write_lock(lockfile: Path, entries: dict[str, LockEntry]) -> None:
    with atomic_write(lockfile) as fh:
        fh.write("\t".join(LOCK_COLUMNS) + "\n")
        for url in sorted(entries):
            e = entries[url]
            fh.write(f"{e.url}\t{e.key}\t{e.size}\t{e.sha256}\t{e.date}\n")
    # mkstemp creates 0600 files; the lock file is meant to be shared and committed.
    os.chmod(lockfile, 0o644)


@contextlib.contextmanager
def _flocked(path: Path) -> Iterator[int]:
    """Hold an exclusive flock on the file now at `path` (created if missing).

    Files guarded this way are replaced by rename, so after the lock is granted
    we check that `path` still names the locked inode, and start again if not.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            held = os.fstat(fd)
            try:
                now = os.stat(path)
                same = (held.st_dev, held.st_ino) == (now.st_dev, now.st_ino)
            except FileNotFoundError:
                same = False
        except BaseException:
            os.close(fd)
            raise
        if same:
            break
        os.close(fd)
    try:
        yield fd
    finally:
        os.close(fd)  # releases the flock


def record(lockfile: str | os.PathLike, entry: LockEntry) -> LockEntry:
    """Add `entry` to the lock file unless its URL is there already; return the
    entry the lock file holds for that URL afterwards. Safe across processes."""
    lockfile = Path(lockfile)
    for field in (entry.url, entry.key):
        if any(c in field for c in "\t\r\n"):
            raise DownloadError(f"{lockfile}: cannot record {field!r}: tabs and newlines are not allowed")
    with _flocked(lockfile):
        entries = read_lock(lockfile)
        if entry.url in entries:
            return entries[entry.url]
        entries[entry.url] = entry
        _write_lock(lockfile, entries)
    return entry


def sha256_file(path: str | os.PathLike) -> tuple[int, str]:
    """(size, sha256 hex digest) of a file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _move_aside(path: Path, dest: Path) -> Path:
    """Rename a file that failed verification to `dest.bad-<UTC time>` (never deleted)."""
    return move_aside(path, "bad", like=dest)


# --------------------------------------------------------------------------- public API


def fetch(
    url: str,
    dest: str | os.PathLike,
    *,
    lockfile: str | os.PathLike,
    key: str,
    expected_size: int | None = None,
    expected_sha256: str | None = None,
    retries: int = 5,
    backoff: float = 1.0,
    timeout: float = 60.0,
    progress: bool = True,
) -> Path:
    """Download `url` to `dest`, verified against `lockfile`; return `dest`.

    `key` is the config key the URL came from (named in every error).
    `expected_size` (bytes), when given, must match the server's size;
    `expected_sha256`, when given, the bytes (a file that differs is moved aside and
    refused, and never recorded in the lock file).
    `retries` further attempts follow a transient failure, the n-th after
    `backoff * 2**(n-1)` seconds; an attempt that extends the partial file
    resets the count. `timeout` bounds each connect and each read (seconds).
    `progress` shows a tqdm bar on stderr.
    """
    dest = Path(dest)
    lockfile = Path(lockfile)
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in ("http", "https", "file"):
        raise DownloadError(f"unsupported URL {url!r} ({key}): use http://, https:// or file://")
    locked = read_lock(lockfile).get(url)
    if locked is not None and expected_size is not None and locked.size != expected_size:
        raise DownloadError(
            f"{key}: expected size {expected_size} disagrees with {lockfile}, which records "
            f"{locked.size} bytes for {url}"
        )
    if expected_sha256 is not None:
        expected_sha256 = expected_sha256.lower()
        if locked is not None and locked.sha256 != expected_sha256:
            raise DownloadError(
                f"{key}: pinned sha256 {expected_sha256} disagrees with {lockfile}, which records "
                f"{locked.sha256} for {url}"
            )
    want = locked.size if locked is not None else expected_size
    part = dest.with_name(dest.name + ".part")
    meta = dest.with_name(dest.name + ".part.json")
    while True:
        if dest.exists():
            return _reuse(url, dest, lockfile=lockfile, key=key, expected_size=expected_size,
                          expected_sha256=expected_sha256)
        with _flocked(part) as fd:
            # The part lock keeps two jobs that fetch the same dest from mixing bytes.
            if dest.exists():  # finished by another process while we waited
                part.unlink()
                meta.unlink(missing_ok=True)
                continue
            done = False
            try:
                with os.fdopen(fd, "r+b", closefd=False) as fh:
                    size, sha = _download(
                        url, fh, meta, key=key, expected_size=want,
                        retries=retries, backoff=backoff, timeout=timeout, progress=progress, name=dest.name,
                    )
                    fh.flush()
                    os.fsync(fh.fileno())
                if want is not None and size != want:  # a server that sent no Content-Length
                    bad = _move_aside(part, dest)
                    meta.unlink(missing_ok=True)
                    raise DownloadError(
                        f"size mismatch for {dest} from {url} ({key}): expected {want} bytes, got {size}; "
                        f"moved aside to {bad.name}"
                    )
                if expected_sha256 is not None and sha != expected_sha256:
                    bad = _move_aside(part, dest)
                    meta.unlink(missing_ok=True)
                    raise DownloadError(
                        f"sha256 mismatch for {dest} from {url} ({key}): the config pins {expected_sha256}, "
                        f"got {sha} ({size} bytes); moved aside to {bad.name}"
                    )
                entry = read_lock(lockfile).get(url) or record(lockfile, LockEntry(url, key, size, sha, _now()))
                if (entry.size, entry.sha256) != (size, sha):
                    bad = _move_aside(part, dest)
                    meta.unlink(missing_ok=True)
                    raise DownloadError(
                        f"sha256 mismatch for {dest} from {url} ({key}): {lockfile} expects {entry.sha256} "
                        f"({entry.size} bytes), got {sha} ({size} bytes); moved aside to {bad.name}"
                    )
                os.replace(part, dest)
                meta.unlink(missing_ok=True)
                _fsync_dir(dest.parent)
                done = True
            finally:
                if not done:
                    # An empty part is just our placeholder; a non-empty one is kept for resumption.
                    with contextlib.suppress(FileNotFoundError):
                        if part.stat().st_size == 0:
                            part.unlink()
                            meta.unlink(missing_ok=True)
        log.info("downloaded %s -> %s (%d bytes, sha256 %s)", url, dest, size, sha)
        return dest


def verify(url: str, dest: str | os.PathLike, *, lockfile: str | os.PathLike, key: str) -> Path:
    """Check a file downloaded earlier against the lock file before it is used (no
    network access): a file whose size or sha256 changed is moved aside and the
    DownloadError says to run again, which downloads it afresh."""
    return _reuse(url, Path(dest), lockfile=Path(lockfile), key=key, expected_size=None)


def _reuse(url: str, dest: Path, *, lockfile: Path, key: str, expected_size: int | None,
           expected_sha256: str | None = None) -> Path:
    """Verify an existing `dest` against the lock file (and the pinned sha256), without
    network access."""
    entry = read_lock(lockfile).get(url)
    want = entry.size if entry is not None else expected_size
    have = dest.stat().st_size
    if want is not None and have != want:
        bad = _move_aside(dest, dest)
        source = lockfile if entry is not None else f"expected size ({key})"
        raise DownloadError(
            f"existing {dest} has {have} bytes but {source} says {want} for {url}; "
            f"moved aside to {bad.name}, run again to download it afresh"
        )
    size, sha = sha256_file(dest)
    if expected_sha256 is not None and sha != expected_sha256:
        bad = _move_aside(dest, dest)
        raise DownloadError(
            f"sha256 mismatch for existing {dest} ({key}, {url}): the config pins {expected_sha256}, "
            f"got {sha}; moved aside to {bad.name}, run again to download it afresh"
        )
    if entry is None:
        # A file placed there by hand (or before the lock existed): pin what we have.
        entry = record(lockfile, LockEntry(url, key, size, sha, _now()))
        if entry.sha256 == sha:
            log.warning("%s had no entry in %s; recorded the sha256 of the existing file", url, lockfile)
    if (entry.size, entry.sha256) != (size, sha):
        bad = _move_aside(dest, dest)
        raise DownloadError(
            f"sha256 mismatch for existing {dest} ({key}, {url}): {lockfile} expects {entry.sha256}, "
            f"got {sha}; moved aside to {bad.name}, run again to download it afresh"
        )
    log.info("reusing %s (sha256 verified against %s)", dest, lockfile)
    return dest


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# --------------------------------------------------------------------------- archives


def extract(archive: str | os.PathLike, member: str, dest_dir: str | os.PathLike, *, name: str | None = None,
            exclude: Iterable[str] = (), key: str = "") -> list[str]:
    """Copy the archive members matching `member` into `dest_dir` under their base
    names (or `name`); return the names. `member` is a path or a glob over the member
    paths; one without a slash also matches a member's base name at any depth. Members
    are streamed (flat memory, whatever their size); zip and tar (any compression)."""
    archive, dest_dir = Path(archive), Path(dest_dir)
    exclude = list(exclude)

    def wanted(path: str) -> bool:
        base = posixpath.basename(path)
        found = fnmatch.fnmatchcase(path, member) or ("/" not in member and fnmatch.fnmatchcase(base, member))
        return found and not any(fnmatch.fnmatchcase(base, ex) for ex in exclude)

    written: list[str] = []
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                names = [info.filename for info in zf.infolist() if not info.is_dir()]
                chosen = sorted(path for path in names if wanted(path))
                _check_chosen(chosen, names, archive, member, name, key)
                for path in chosen:
                    with zf.open(path) as src:
                        written.append(_copy_member(src, dest_dir, name or posixpath.basename(path)))
        else:
            with tarfile.open(archive, "r:*") as tf:
                files = [m for m in tf.getmembers() if m.isfile()]
                members = sorted((m for m in files if wanted(m.name)), key=lambda m: m.name)
                _check_chosen([m.name for m in members], [m.name for m in files], archive, member, name, key)
                for m in members:
                    with tf.extractfile(m) as src:
                        written.append(_copy_member(src, dest_dir, name or posixpath.basename(m.name)))
    except (zipfile.BadZipFile, tarfile.TarError, EOFError) as err:
        raise DownloadError(f"{archive} ({key}): not a readable zip or tar archive: {err}") from None
    return written


def _check_chosen(chosen: list[str], names: list[str], archive: Path, member: str, name: str | None,
                  key: str) -> None:
    if not chosen:
        suffix = posixpath.splitext(member)[1]
        alike = sorted(n for n in names if suffix and n.endswith(suffix))[:5]
        hint = f" (members ending in {suffix}: {', '.join(alike)})" if alike else ""
        raise DownloadError(f"{archive} ({key}): no member matches {member!r}{hint}")
    bases = [posixpath.basename(p) for p in chosen]
    if len(set(bases)) != len(bases) or (name and len(chosen) > 1):
        raise DownloadError(f"{archive} ({key}): {member!r} matches several members with the same file name "
                            f"({', '.join(chosen[:5])})")


def _copy_member(src: IO[bytes], dest_dir: Path, name: str) -> str:
    with atomic_write(dest_dir / name, "wb") as dst:
        shutil.copyfileobj(src, dst, CHUNK)
    log.info("extracted %s", dest_dir / name)
    return name


# --------------------------------------------------------------------------- transfer


@dataclasses.dataclass
class _Reply:
    status: int  # 200 (whole file), 206 (from `start`) or 416 (range not satisfiable)
    start: int
    total: int | None  # size of the whole file, when the server tells
    validator: str | None  # strong ETag or Last-Modified, to detect a file changed between attempts
    stream: IO[bytes] | None
    retry_after: float | None = None

    def close(self) -> None:
        if self.stream is not None:
            with contextlib.suppress(Exception):
                self.stream.close()


def _load_meta(meta: Path, url: str) -> dict | None:
    """What the partial file belongs to: url, total size and validator of the first attempt."""
    try:
        data = json.loads(meta.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("url") == url else None


def _download(
    url: str, fh: IO[bytes], meta: Path, *, key: str, expected_size: int | None, retries: int,
    backoff: float, timeout: float, progress: bool, name: str,
) -> tuple[int, str]:
    """Fill `fh` (the locked part file) with the bytes of `url`; return (size, sha256)."""
    state = _load_meta(meta, url)
    if state is None:
        fh.truncate(0)  # bytes of unknown origin cannot be resumed
    digest, hashed = hashlib.sha256(), 0
    failures, furthest = 0, 0
    bar = tqdm(
        desc=name, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr, disable=not progress,
        # A rule log is not a terminal: a line every half minute keeps it short.
        mininterval=0.5 if sys.stderr.isatty() else 30.0,
    )
    try:
        while True:
            offset = os.fstat(fh.fileno()).st_size
            try:
                reply = _open(url, offset, state, key=key, timeout=timeout)
                try:
                    if reply.status == 416:
                        total = reply.total if reply.total is not None else expected_size
                        if offset > 0 and total == offset:
                            log.info("%s: partial file is already complete", name)
                            break
                        log.info("%s: server refused range from byte %d; starting over", name, offset)
                        fh.truncate(0)
                        state = None
                        raise _Transient("range not satisfiable")
                    if reply.total is not None and expected_size is not None and reply.total != expected_size:
                        raise DownloadError(
                            f"size mismatch for {url} ({key}): server has {reply.total} bytes, expected {expected_size}"
                        )
                    if offset and reply.status == 206 and (
                        reply.start != offset
                        or state is None
                        or (reply.total is not None and state.get("total") not in (None, reply.total))
                        or (reply.validator is not None and state.get("validator") not in (None, reply.validator))
                    ):
                        log.info("%s: server sent a different range or file; starting over", name)
                        fh.truncate(0)
                        state = None
                        raise _Transient("inconsistent partial content")
                    if reply.start == 0:
                        if offset:
                            log.info("%s: server ignored the range request; starting over", name)
                        fh.truncate(0)
                        state = {"url": url, "total": reply.total, "validator": reply.validator}
                        with atomic_write(meta) as out:
                            json.dump(state, out)
                    else:
                        log.info("%s: resuming at byte %d", name, offset)
                    fh.seek(reply.start)
                    if hashed != reply.start:  # the hash must cover exactly the bytes kept
                        digest, hashed = _hash_prefix(fh, reply.start)
                    bar.reset(total=reply.total)
                    bar.update(reply.start)
                    end = _copy(reply, fh, digest, bar, url)
                    hashed = end
                finally:
                    reply.close()
                if reply.total is not None and end < reply.total:
                    raise _Transient(f"connection closed at byte {end} of {reply.total}")
                break
            except _Transient as err:
                size = os.fstat(fh.fileno()).st_size
                if size > furthest:  # progress was made: a flaky link is not a dead one
                    furthest, failures = size, 0
                failures += 1
                if failures > retries:
                    raise DownloadError(f"download of {url} ({key}) failed after {retries} retries: {err}") from None
                delay = backoff * 2 ** (failures - 1)
                if err.retry_after is not None:
                    delay = max(delay, min(err.retry_after, MAX_RETRY_AFTER))
                log.warning("%s: %s; retry %d of %d in %.1f s", url, err, failures, retries, delay)
                time.sleep(delay)
    finally:
        bar.close()
    size = os.fstat(fh.fileno()).st_size
    if hashed != size:
        digest, hashed = _hash_prefix(fh, size)
    return size, digest.hexdigest()


def _hash_prefix(fh: IO[bytes], length: int):
    """sha256 state over the first `length` bytes of `fh`; leaves the position at `length`."""
    digest = hashlib.sha256()
    fh.seek(0)
    left = length
    while left:
        chunk = fh.read(min(CHUNK, left))
        if not chunk:
            raise OSError(errno.EIO, f"partial file shorter than {length} bytes")
        digest.update(chunk)
        left -= len(chunk)
    return digest, length


def _copy(reply: _Reply, fh: IO[bytes], digest, bar, url: str) -> int:
    """Append the reply body to `fh`; return the end offset. Network faults become _Transient,
    local (disk) faults propagate."""
    position = reply.start
    try:
        while True:
            try:
                chunk = reply.stream.read(CHUNK)
            except (OSError, http.client.HTTPException) as err:
                raise _Transient(f"connection lost at byte {position}: {type(err).__name__}: {err}") from None
            if not chunk:
                return position
            fh.write(chunk)
            digest.update(chunk)
            position += len(chunk)
            bar.update(len(chunk))
    finally:
        fh.flush()  # the retry logic measures progress by the file's size on disk


# Hosts whose gated files need a token, and the environment variable that holds it.
TOKEN_VARIABLES = {"huggingface.co": "HF_TOKEN"}


def _token_variable(url: str) -> str | None:
    host = urllib.parse.urlsplit(url).hostname or ""
    for domain, variable in TOKEN_VARIABLES.items():
        if host == domain or host.endswith("." + domain):
            return variable
    return None


def _token(url: str) -> str | None:
    variable = _token_variable(url)
    return os.environ.get(variable) if variable else None


def _open(url: str, offset: int, state: dict | None, *, key: str, timeout: float) -> _Reply:
    """Request `url` from byte `offset`; final HTTP errors raise DownloadError, others _Transient."""
    if urllib.parse.urlsplit(url).scheme.lower() == "file":
        return _open_file(url, offset, key=key)
    headers = {"User-Agent": _USER_AGENT, "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
        validator = (state or {}).get("validator")
        if validator:  # the server sends the whole file if it changed since the first attempt
            headers["If-Range"] = validator
    request = urllib.request.Request(url, headers=headers)
    token = _token(url)
    if token:
        # Unredirected: the token goes to the hub only, never to the storage it redirects to.
        request.add_unredirected_header("Authorization", f"Bearer {token}")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        status = err.code
        retry_after = _retry_after(err.headers.get("Retry-After")) if err.headers else None
        if status == 416:
            total = _content_range(err.headers.get("Content-Range") if err.headers else None)[2]
            err.close()
            return _Reply(416, 0, total, None, None)
        err.close()
        if status >= 500 or status in _TRANSIENT_4XX:
            raise _Transient(f"HTTP {status} {err.reason}", retry_after) from None
        hint = ""
        if status in (401, 403) and _token_variable(url):
            hint = f"; a gated dataset needs an access token in ${_token_variable(url)}"
        raise DownloadError(f"HTTP {status} {err.reason} for {url} (config key {key}){hint}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
        reason = getattr(err, "reason", err)
        raise _Transient(f"cannot connect: {reason}") from None
    status = response.status
    length = response.headers.get("Content-Length")
    length = int(length) if length and length.isdigit() else None
    etag = response.headers.get("ETag")
    validator = etag if etag and not etag.startswith("W/") else response.headers.get("Last-Modified")
    if status == 206:
        start, _, total = _content_range(response.headers.get("Content-Range"))
        if start is None:
            response.close()
            raise _Transient("206 reply without a usable Content-Range")
        return _Reply(206, start, total, validator, response)
    if status == 200:
        return _Reply(200, 0, length, validator, response)
    response.close()
    raise DownloadError(f"unexpected HTTP {status} for {url} (config key {key})")


def _open_file(url: str, offset: int, *, key: str) -> _Reply:
    parts = urllib.parse.urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise DownloadError(f"file URL {url} ({key}) names a remote host; use file:///absolute/path")
    path = Path(urllib.request.url2pathname(parts.path))
    try:
        stream = open(path, "rb")
    except OSError as err:
        raise DownloadError(f"cannot read {url} (config key {key}): {err.strerror}") from None
    info = os.fstat(stream.fileno())
    validator = f"{info.st_mtime_ns}-{info.st_size}"
    if offset >= info.st_size and offset:
        stream.close()
        return _Reply(416, 0, info.st_size, validator, None)
    stream.seek(offset)
    return _Reply(206 if offset else 200, offset, info.st_size, validator, stream)


def _content_range(value: str | None) -> tuple[int | None, int | None, int | None]:
    """(first, last, total) of a Content-Range header "bytes a-b/n" or "bytes */n"."""
    if not value:
        return None, None, None
    try:
        unit, _, spec = value.strip().partition(" ")
        if unit.lower() != "bytes":
            return None, None, None
        span, _, total = spec.partition("/")
        total_n = int(total) if total.strip().isdigit() else None
        if span.strip() == "*":
            return None, None, total_n
        first, _, last = span.partition("-")
        return int(first), int(last), total_n
    except ValueError:
        return None, None, None


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    with contextlib.suppress(TypeError, ValueError):
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - time.time())
    return None
