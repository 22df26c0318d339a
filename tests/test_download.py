"""The downloader against a real HTTP server on 127.0.0.1 that misbehaves the way
mirrors do: drops, ignored ranges, 5xx, 404, stalls, changed bytes."""
from __future__ import annotations

import hashlib
import multiprocessing
import os
import re
from datetime import datetime
from pathlib import Path

import pytest

from lmvsmt import download
from lmvsmt.download import DownloadError, fetch, read_lock

KEY = "corpus.real.unpc.url"
FAST = dict(retries=3, backoff=0.001, timeout=5.0, progress=False)


def blob(n: int, seed: int = 0) -> bytes:
    """Deterministic, non-repeating bytes (so a misplaced range changes the hash)."""
    out = bytearray()
    block = seed.to_bytes(4, "big")
    while len(out) < n:
        block = hashlib.sha256(block).digest()
        out += block
    return bytes(out[:n])


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_download_records_lock(http_server, tmp_path):
    data = blob(300_000)
    url = http_server.serve("/unpc/en.tar.gz", data)
    lock = tmp_path / "downloads.lock.tsv"
    dest = tmp_path / "raw" / "en.tar.gz"
    assert fetch(url, dest, lockfile=lock, key=KEY, expected_size=len(data), **FAST) == dest
    assert dest.read_bytes() == data
    assert leftovers(dest.parent) == ["en.tar.gz"]  # no .part, no resume metadata
    lines = lock.read_text().splitlines()
    assert lines[0] == "url\tkey\tsize\tsha256\tdate"
    u, k, size, digest, date = lines[1].split("\t")
    assert (u, k, int(size), digest) == (url, KEY, len(data), sha(data))
    datetime.strptime(date, "%Y-%m-%dT%H:%M:%SZ")
    assert oct(lock.stat().st_mode & 0o777) == oct(0o644)


def test_second_fetch_is_offline_and_verified(http_server, tmp_path):
    data = blob(50_000)
    url = http_server.serve("/a.bin", data)
    lock, dest = tmp_path / "lock.tsv", tmp_path / "a.bin"
    fetch(url, dest, lockfile=lock, key=KEY, **FAST)
    http_server.stop()
    before = lock.read_bytes()
    assert fetch(url, dest, lockfile=lock, key=KEY, **FAST) == dest
    assert len(http_server.hits("/a.bin")) == 1
    assert lock.read_bytes() == before


def test_existing_dest_that_does_not_match_the_lock_is_moved_aside(http_server, tmp_path):
    data = blob(50_000)
    url = http_server.serve("/a.bin", data)
    lock, dest = tmp_path / "lock.tsv", tmp_path / "a.bin"
    fetch(url, dest, lockfile=lock, key=KEY, **FAST)
    corrupt = bytearray(data)
    corrupt[1234] ^= 0xFF
    dest.write_bytes(bytes(corrupt))
    with pytest.raises(DownloadError) as err:
        fetch(url, dest, lockfile=lock, key=KEY, **FAST)
    message = str(err.value)
    assert "\n" not in message and str(dest) in message and KEY in message
    assert sha(data) in message and sha(bytes(corrupt)) in message
    assert not dest.exists()
    (bad,) = tmp_path.glob("a.bin.bad-*")
    assert bad.read_bytes() == bytes(corrupt)  # kept for inspection, never deleted
    assert len(http_server.hits("/a.bin")) == 1  # the check itself needs no network
    fetch(url, dest, lockfile=lock, key=KEY, **FAST)  # the next run downloads afresh
    assert dest.read_bytes() == data


def test_existing_dest_without_lock_entry_is_pinned(tmp_path):
    data = blob(10_000)
    dest, lock = tmp_path / "a.bin", tmp_path / "lock.tsv"
    dest.write_bytes(data)
    url = "http://127.0.0.1:9/never-contacted"  # port 9 (discard): any access would fail
    fetch(url, dest, lockfile=lock, key=KEY, expected_size=len(data), **FAST)
    assert read_lock(lock)[url].sha256 == sha(data)


def test_resume_after_dropped_connection(http_server, tmp_path):
    data = blob(500_000)
    url = http_server.serve("/big.xml", data, drop_after=120_000, drops=2, etag='"v1"')
    dest = tmp_path / "big.xml"
    fetch(url, dest, lockfile=tmp_path / "lock.tsv", key=KEY, **FAST)
    assert dest.read_bytes() == data
    hits = http_server.hits("/big.xml")
    assert [h.status for h in hits] == [200, 206, 206]
    assert [h.range for h in hits] == [None, "bytes=120000-", "bytes=240000-"]
    assert hits[1].if_range == '"v1"'
    assert read_lock(tmp_path / "lock.tsv")[url].sha256 == sha(data)


def test_resume_of_a_partial_file_left_by_an_earlier_run(http_server, tmp_path):
    data = blob(300_000)
    url = http_server.serve("/big.xml", data, drop_after=100_000, drops=1)
    dest, lock = tmp_path / "big.xml", tmp_path / "lock.tsv"
    with pytest.raises(DownloadError, match="after 0 retries"):
        fetch(url, dest, lockfile=lock, key=KEY, **{**FAST, "retries": 0})
    assert (tmp_path / "big.xml.part").stat().st_size == 100_000
    assert not dest.exists() and not lock.exists()
    fetch(url, dest, lockfile=lock, key=KEY, **FAST)
    assert dest.read_bytes() == data
    assert [h.range for h in http_server.hits("/big.xml")] == [None, "bytes=100000-"]
    assert leftovers(tmp_path) == ["big.xml", "lock.tsv"]


def test_partial_file_of_a_changed_source_is_not_resumed(http_server, tmp_path):
    old, new = blob(300_000, seed=1), blob(300_000, seed=2)
    url = http_server.serve("/f", old, drop_after=100_000, drops=1, etag='"old"')
    dest, lock = tmp_path / "f", tmp_path / "lock.tsv"
    with pytest.raises(DownloadError):
        fetch(url, dest, lockfile=lock, key=KEY, **{**FAST, "retries": 0})
    http_server.serve("/f", new, etag='"new"')  # If-Range no longer matches: whole file sent
    fetch(url, dest, lockfile=lock, key=KEY, **FAST)
    assert dest.read_bytes() == new
    assert http_server.hits("/f")[-1].status == 200


def test_server_that_ignores_range(http_server, tmp_path):
    data = blob(400_000)
    url = http_server.serve("/f", data, drop_after=150_000, drops=1, honour_range=False)
    dest = tmp_path / "f"
    fetch(url, dest, lockfile=tmp_path / "lock.tsv", key=KEY, **FAST)
    assert dest.read_bytes() == data
    hits = http_server.hits("/f")
    assert [(h.range, h.status) for h in hits] == [(None, 200), ("bytes=150000-", 200)]


def test_server_that_always_drops_and_ignores_range_gives_up(http_server, tmp_path):
    url = http_server.serve("/f", blob(200_000), drop_after=50_000, drops=100, honour_range=False)
    with pytest.raises(DownloadError, match=r"after 3 retries: connection closed at byte 50000 of 200000"):
        fetch(url, tmp_path / "f", lockfile=tmp_path / "lock.tsv", key=KEY, **FAST)
    assert len(http_server.hits("/f")) == 4


def test_complete_partial_file_gets_416_and_is_finished_without_refetch(http_server, tmp_path, monkeypatch):
    data = blob(80_000)
    url = http_server.serve("/f", data)
    dest, lock = tmp_path / "f", tmp_path / "lock.tsv"
    real_replace = os.replace

    def crash_on_final_rename(src, dst):
        if str(src).endswith(".part"):
            raise KeyboardInterrupt("killed before the rename")
        real_replace(src, dst)

    monkeypatch.setattr(download.os, "replace", crash_on_final_rename)
    with pytest.raises(KeyboardInterrupt):
        fetch(url, dest, lockfile=lock, key=KEY, **FAST)
    monkeypatch.setattr(download.os, "replace", real_replace)
    assert not dest.exists()
    fetch(url, dest, lockfile=lock, key=KEY, **FAST)
    assert dest.read_bytes() == data
    assert [(h.range, h.status) for h in http_server.hits("/f")] == [(None, 200), ("bytes=80000-", 416)]


def test_partial_file_longer_than_source_starts_over(http_server, tmp_path):
    url = http_server.serve("/f", blob(200_000), drop_after=150_000, drops=1)
    dest, lock = tmp_path / "f", tmp_path / "lock.tsv"
    with pytest.raises(DownloadError):
        fetch(url, dest, lockfile=lock, key=KEY, **{**FAST, "retries": 0})
    short = blob(1000, seed=5)
    http_server.serve("/f", short)  # shrank, and no validator tells us
    fetch(url, dest, lockfile=lock, key=KEY, **FAST)
    assert dest.read_bytes() == short
    assert [h.status for h in http_server.hits("/f")] == [200, 416, 200]


def test_wrong_bytes_on_a_later_download(http_server, tmp_path):
    good, wrong = blob(60_000, seed=1), blob(60_000, seed=2)
    url = http_server.serve("/corpus.zip", good)
    lock = tmp_path / "lock.tsv"
    first = tmp_path / "run1" / "corpus.zip"
    fetch(url, first, lockfile=lock, key=KEY, **FAST)
    lock_before = lock.read_bytes()
    http_server.serve("/corpus.zip", wrong)  # the mirror now serves other bytes of the same size
    second = tmp_path / "run2" / "corpus.zip"
    with pytest.raises(DownloadError) as err:
        fetch(url, second, lockfile=lock, key=KEY, **FAST)
    message = str(err.value)
    assert "\n" not in message
    assert str(second) in message and sha(good) in message and sha(wrong) in message and KEY in message
    assert not second.exists()
    (bad,) = second.parent.glob("corpus.zip.bad-*")
    assert bad.read_bytes() == wrong
    assert first.read_bytes() == good
    assert lock.read_bytes() == lock_before


def test_wrong_size_on_a_later_download_fails_before_the_body(http_server, tmp_path):
    url = http_server.serve("/f", blob(1000))
    lock = tmp_path / "lock.tsv"
    fetch(url, tmp_path / "a" / "f", lockfile=lock, key=KEY, **FAST)
    http_server.serve("/f", blob(2000))
    with pytest.raises(DownloadError, match=r"server has 2000 bytes, expected 1000"):
        fetch(url, tmp_path / "b" / "f", lockfile=lock, key=KEY, **FAST)
    assert leftovers(tmp_path / "b") == []


@pytest.mark.parametrize("status", [404, 403])
def test_missing_source_names_url_and_key(http_server, tmp_path, status):
    url = http_server.serve("/gone.tar.gz", b"", fail=[status] * 10)
    dest = tmp_path / "gone.tar.gz"
    with pytest.raises(DownloadError) as err:
        fetch(url, dest, lockfile=tmp_path / "lock.tsv", key="downstream.real.NER.url", **FAST)
    message = str(err.value)
    assert "\n" not in message and url in message and "downstream.real.NER.url" in message and str(status) in message
    assert len(http_server.hits("/gone.tar.gz")) == 1  # no retries on a final error
    assert leftovers(tmp_path) == []


def test_unknown_path_is_404(http_server, tmp_path):
    with pytest.raises(DownloadError, match=r"HTTP 404 .*/nothing-here .*config key corpus"):
        fetch(http_server.url("/nothing-here"), tmp_path / "x", lockfile=tmp_path / "l", key=KEY, **FAST)


def test_503_twice_then_success(http_server, tmp_path):
    data = blob(20_000)
    url = http_server.serve("/f", data, fail=[503, 503])
    fetch(url, tmp_path / "f", lockfile=tmp_path / "lock.tsv", key=KEY, **FAST)
    assert (tmp_path / "f").read_bytes() == data
    assert [h.status for h in http_server.hits("/f")] == [503, 503, 200]


def test_persistent_5xx_gives_up_after_retries(http_server, tmp_path):
    url = http_server.serve("/f", b"x", fail=[500, 502, 503, 504])
    with pytest.raises(DownloadError) as err:
        fetch(url, tmp_path / "f", lockfile=tmp_path / "lock.tsv", key=KEY, **FAST)
    assert "after 3 retries: HTTP 504" in str(err.value) and url in str(err.value) and KEY in str(err.value)
    assert len(http_server.hits("/f")) == 4


def test_stalled_server_times_out_and_is_retried(http_server, tmp_path):
    data = blob(10_000)
    url = http_server.serve("/f", data, stall=1.0, stalls=1)
    fetch(url, tmp_path / "f", lockfile=tmp_path / "lock.tsv", key=KEY, **{**FAST, "timeout": 0.2})
    assert (tmp_path / "f").read_bytes() == data
    assert len(http_server.hits("/f")) == 2


def test_connection_refused_is_retried_then_reported(tmp_path):
    with pytest.raises(DownloadError, match=r"127\.0\.0\.1:9/x .*after 2 retries: cannot connect"):
        fetch("http://127.0.0.1:9/x", tmp_path / "x", lockfile=tmp_path / "l", key=KEY, **{**FAST, "retries": 2})


def test_size_mismatch_with_expected_size(http_server, tmp_path):
    url = http_server.serve("/f", blob(5000))
    with pytest.raises(DownloadError, match=r"size mismatch for .*/f \(corpus.real.unpc.url\): server has 5000 bytes, expected 4000"):
        fetch(url, tmp_path / "f", lockfile=tmp_path / "lock.tsv", key=KEY, expected_size=4000, **FAST)
    assert leftovers(tmp_path) == []


def test_size_mismatch_without_content_length(http_server, tmp_path):
    data = blob(5000)
    url = http_server.serve("/f", data, send_length=False)
    with pytest.raises(DownloadError, match=r"expected 4000 bytes, got 5000; moved aside"):
        fetch(url, tmp_path / "f", lockfile=tmp_path / "lock.tsv", key=KEY, expected_size=4000, **FAST)
    (bad,) = tmp_path.glob("f.bad-*")
    assert bad.read_bytes() == data and not (tmp_path / "lock.tsv").exists()
    fetch(url, tmp_path / "g", lockfile=tmp_path / "lock.tsv", key=KEY, **FAST)  # no size known: accepted
    assert (tmp_path / "g").read_bytes() == data


def test_expected_size_contradicting_the_lock(http_server, tmp_path):
    url = http_server.serve("/f", blob(100))
    lock = tmp_path / "lock.tsv"
    fetch(url, tmp_path / "f", lockfile=lock, key=KEY, **FAST)
    with pytest.raises(DownloadError, match=r"expected size 99 disagrees with .*lock.tsv"):
        fetch(url, tmp_path / "f", lockfile=lock, key=KEY, expected_size=99, **FAST)


def test_pinned_sha256_refuses_other_bytes_and_records_nothing(http_server, tmp_path):
    data = blob(80_000)
    url = http_server.serve("/model.pt", data)
    lock, dest = tmp_path / "lock.tsv", tmp_path / "model.pt"
    with pytest.raises(DownloadError, match=r"sha256 mismatch .* the config pins 0{64}, got " + sha(data)
                       + r" \(80000 bytes\); moved aside to model\.pt\.bad-"):
        fetch(url, dest, lockfile=lock, key=KEY, expected_sha256="0" * 64, **FAST)
    assert not dest.exists() and read_lock(lock) == {}
    assert [p.read_bytes() for p in tmp_path.glob("model.pt.bad-*")] == [data]
    # the right pin: downloaded, recorded; upper-case hex is the same pin
    fetch(url, dest, lockfile=lock, key=KEY, expected_sha256=sha(data).upper(), **FAST)
    assert dest.read_bytes() == data and read_lock(lock)[url].sha256 == sha(data)


def test_pinned_sha256_checks_an_existing_file_and_the_lock(http_server, tmp_path):
    data = blob(1000)
    url = http_server.serve("/d.txt", data)
    lock, dest = tmp_path / "lock.tsv", tmp_path / "d.txt"
    fetch(url, dest, lockfile=lock, key=KEY, **FAST)
    with pytest.raises(DownloadError, match=r"pinned sha256 1{64} disagrees with .*lock.tsv, which records "
                       + sha(data)):
        fetch(url, dest, lockfile=lock, key=KEY, expected_sha256="1" * 64, **FAST)
    lock.unlink()  # a file put there by hand, no lock entry: the pin still decides
    with pytest.raises(DownloadError, match=r"sha256 mismatch for existing .*d\.txt .* the config pins 1{64}"):
        fetch(url, dest, lockfile=lock, key=KEY, expected_sha256="1" * 64, **FAST)
    assert not dest.exists() and len(list(tmp_path.glob("d.txt.bad-*"))) == 1


def _tar(path: Path, members: dict[str, bytes]) -> Path:
    import io
    import tarfile

    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def test_extract_one_member_by_path_or_by_file_name_at_any_depth(tmp_path):
    archive = _tar(tmp_path / "release.tar.gz", {"release/processed/spm/m.spm.model": b"spm",
                                                 "release/processed/spm/m.spm.vocab": b"vocab",
                                                 "release/README": b"read me"})
    assert download.extract(archive, "m.spm.model", tmp_path / "a", name="spm.model") == ["spm.model"]
    assert (tmp_path / "a" / "spm.model").read_bytes() == b"spm"
    assert download.extract(archive, "release/processed/spm/m.spm.vocab", tmp_path / "b") == ["m.spm.vocab"]
    with pytest.raises(DownloadError, match=r"release\.tar\.gz \(spm\.member\): no member matches 'x\.model' "
                       r"\(members ending in \.model: release/processed/spm/m\.spm\.model\)"):
        download.extract(archive, "x.model", tmp_path / "c", key="spm.member")
    assert not (tmp_path / "c").exists()


def test_extract_refuses_a_file_name_found_twice(tmp_path):
    archive = _tar(tmp_path / "r.tar.gz", {"a/dict.txt": b"1", "b/dict.txt": b"2"})
    with pytest.raises(DownloadError, match=r"'dict\.txt' matches several members .*\(a/dict\.txt, b/dict\.txt\)"):
        download.extract(archive, "dict.txt", tmp_path / "out", name="dict.txt")


def test_file_url(tmp_path):
    data = blob(70_000)
    archive = tmp_path / "pre downloaded" / "en.tar.gz"
    archive.parent.mkdir()
    archive.write_bytes(data)
    dest, lock = tmp_path / "raw" / "en.tar.gz", tmp_path / "lock.tsv"
    fetch(archive.as_uri(), dest, lockfile=lock, key=KEY, **FAST)
    assert dest.read_bytes() == data and read_lock(lock)[archive.as_uri()].sha256 == sha(data)
    missing = (tmp_path / "nope.gz").as_uri()
    with pytest.raises(DownloadError, match=re.escape(missing) + r" \(config key " + re.escape(KEY)):
        fetch(missing, tmp_path / "raw" / "nope.gz", lockfile=lock, key=KEY, **FAST)


def test_unsupported_scheme(tmp_path):
    with pytest.raises(DownloadError, match=r"ftp://x/y.*corpus.real.unpc.url"):
        fetch("ftp://x/y", tmp_path / "y", lockfile=tmp_path / "l", key=KEY, **FAST)


def test_malformed_lock_file_names_the_line(tmp_path):
    lock = tmp_path / "lock.tsv"
    lock.write_text("url\tkey\tsize\tsha256\tdate\nhttp://x/a\tk\tnot-a-number\t" + "0" * 64 + "\td\n")
    with pytest.raises(DownloadError, match=r"lock.tsv:2: malformed lock entry"):
        fetch("http://x/a", tmp_path / "a", lockfile=lock, key=KEY, **FAST)


def _fetch_in_child(args):
    url, dest, lock = args
    return str(fetch(url, dest, lockfile=lock, key=KEY, **FAST))


def test_concurrent_fetches_share_one_lock_file(http_server, tmp_path):
    """Parallel Snakemake jobs are processes; each records its file in the same lock."""
    files = {f"/part{i}.xml": blob(40_000 + i, seed=i) for i in range(6)}
    urls = {path: http_server.serve(path, data) for path, data in files.items()}
    lock = tmp_path / "downloads.lock.tsv"
    jobs = [(urls[p], tmp_path / "raw" / p.lstrip("/"), lock) for p in files]
    # Two jobs also race for the same dest: exactly one of them may download it.
    jobs.append((urls["/part0.xml"], tmp_path / "raw" / "part0.xml", lock))
    with multiprocessing.get_context("fork").Pool(len(jobs)) as pool:
        pool.map(_fetch_in_child, jobs)
    entries = read_lock(lock)
    assert set(entries) == set(urls.values())
    for path, data in files.items():
        assert entries[urls[path]].sha256 == sha(data)
        assert (tmp_path / "raw" / path.lstrip("/")).read_bytes() == data
    assert len(http_server.hits("/part0.xml")) == 1
    assert leftovers(tmp_path / "raw") == sorted(p.lstrip("/") for p in files)


def test_progress_goes_to_stderr(http_server, tmp_path, capfd):
    url = http_server.serve("/progress.bin", blob(300_000), drop_after=100_000, drops=1)
    fetch(url, tmp_path / "progress.bin", lockfile=tmp_path / "lock.tsv", key=KEY, **{**FAST, "progress": True})
    out, err = capfd.readouterr()
    assert out == ""
    assert "progress.bin" in err and "100%" in err and "293k/293k" in err


def test_gated_files_get_the_token_of_their_host(http_server, tmp_path, monkeypatch):
    from lmvsmt import download

    monkeypatch.setattr(download, "TOKEN_VARIABLES", {"127.0.0.1": "LMVSMT_TEST_TOKEN"})
    url = http_server.serve("/gated.bin", b"secret bytes" * 100, token="s3cret")
    lock = tmp_path / "lock.tsv"
    monkeypatch.delenv("LMVSMT_TEST_TOKEN", raising=False)
    with pytest.raises(download.DownloadError, match=r"HTTP 401 .*key ds.url.*needs an access token in \$LMVSMT_TEST_TOKEN"):
        download.fetch(url, tmp_path / "gated.bin", lockfile=lock, key="ds.url", retries=1, backoff=0.01, progress=False)
    monkeypatch.setenv("LMVSMT_TEST_TOKEN", "s3cret")
    path = download.fetch(url, tmp_path / "gated.bin", lockfile=lock, key="ds.url", retries=1, backoff=0.01,
                          progress=False)
    assert path.read_bytes() == b"secret bytes" * 100
    assert http_server.hits("/gated.bin")[-1].authorization == "Bearer s3cret"
