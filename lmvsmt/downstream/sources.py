"""Real downstream sources: the per task x language source entries of the config,
their download (through the shared downloader) and the extraction of archive members
into {R}/downstream/raw/{task}/{lang}/, described by a `source.json` manifest.

A source entry (config `downstream.sources.<task>.<lang>`) names the dataset, its
licence and a list of files; each file has a URL, a raw format, the split it feeds
(`train`, `valid`, `test`, or `all` for sources that get our own seeded split) and,
for archives, the member (path or glob) to take out of it. Archives are downloaded
once to {R}/downstream/raw/archives/ and shared by all languages that use them.
"""
from __future__ import annotations

import copy
import functools
import json
import logging
import posixpath
import urllib.parse
from pathlib import Path
from typing import Iterable

import yaml

from lmvsmt.config import REPO_ROOT, ConfigError
from lmvsmt.download import extract, fetch, sha256_file
from lmvsmt.downstream.formats import FORMATS
from lmvsmt.io import atomic_write
from lmvsmt.layout import MANIFEST
from lmvsmt.vocabulary import SPLITS

log = logging.getLogger(__name__)

PAPER_CONFIG = REPO_ROOT / "config" / "paper.yaml"
ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tar.xz")


def entry_key(task: str, lang: str) -> str:
    return f"downstream.sources.{task}.{lang}"


@functools.lru_cache(maxsize=None)
def _paper_sources(path: Path = PAPER_CONFIG) -> dict:
    with open(path, encoding="utf-8") as fh:
        return (yaml.safe_load(fh).get("downstream") or {}).get("sources") or {}


def source_entry(config: dict, task: str, lang: str) -> dict:
    """The checked source entry of one dataset. An entry the config leaves out is the
    paper's, as listed in config/paper.yaml (the one place that lists them); an
    inconsistent entry is a one-line ConfigError naming the key."""
    entry = config["downstream"].get("sources", {}).get(task, {}).get(lang)
    if entry is None:
        entry = _paper_sources().get(task, {}).get(lang)
    if entry is None:
        raise ConfigError(f"config error: {entry_key(task, lang)} is missing and {PAPER_CONFIG.name} has none: "
                          "downstream.source 'real' needs a source entry for every configured task and language")
    check_entry(entry, task, lang)
    return copy.deepcopy(entry)


def check_entry(entry: dict, task: str, lang: str) -> None:
    key = entry_key(task, lang)
    files = entry.get("files") or []
    if not files:
        raise ConfigError(f"config error: {key}.files: at least one file is needed")
    names = set()
    for i, spec in enumerate(files):
        fmt = spec["format"]
        if FORMATS[fmt].task != task:
            raise ConfigError(f"config error: {key}.files[{i}].format: {fmt!r} is a {FORMATS[fmt].task} format, "
                              f"not a {task} one")
        if "member" not in spec and _is_archive(spec["url"]):
            raise ConfigError(f"config error: {key}.files[{i}]: {spec['url']} is an archive: name its `member`")
        if "member" not in spec or not _is_glob(spec["member"]):
            name = local_name(spec)
            if name in names:
                raise ConfigError(f"config error: {key}.files[{i}]: a second file is named {name!r}; set `name`")
            names.add(name)
    splits = {spec["split"] for spec in files}
    if "all" in splits and splits != {"all"}:
        raise ConfigError(f"config error: {key}.files: split 'all' (our own split) cannot be mixed with "
                          f"official splits ({', '.join(sorted(splits - {'all'}))})")
    if "all" not in splits and splits != set(SPLITS):
        missing = ", ".join(s for s in SPLITS if s not in splits)
        raise ConfigError(f"config error: {key}.files: no file for the {missing} split (or use split 'all')")


def _is_glob(pattern: str) -> bool:
    return any(c in pattern for c in "*?[")


def _is_archive(url: str) -> bool:
    return url_basename(url).lower().endswith(ARCHIVE_SUFFIXES)


def url_basename(url: str) -> str:
    return posixpath.basename(urllib.parse.unquote(urllib.parse.urlsplit(url).path))


def local_name(spec: dict) -> str:
    """File name under raw/{task}/{lang}/ of a non-glob file entry."""
    return spec.get("name") or posixpath.basename(spec.get("member") or url_basename(spec["url"]))


def archives(config: dict, tasks: Iterable[str], languages: Iterable[str]) -> dict[str, str]:
    """Archive file name -> URL for every archive member the configured sources use."""
    out: dict[str, str] = {}
    for task in tasks:
        for lang in languages:
            for spec in source_entry(config, task, lang)["files"]:
                if "member" not in spec:
                    continue
                name = url_basename(spec["url"])
                if out.setdefault(name, spec["url"]) != spec["url"]:
                    raise ConfigError(f"config error: {entry_key(task, lang)}: two archive URLs end in {name!r} "
                                      f"({out[name]} and {spec['url']})")
    return out


def archives_of(entry: dict) -> list[str]:
    return sorted({url_basename(spec["url"]) for spec in entry["files"] if "member" in spec})


def fetch_archive(url: str, dest: str | Path, lockfile: str | Path, key: str) -> Path:
    return fetch(url, dest, lockfile=lockfile, key=key)


def fetch_raw(entry: dict, task: str, lang: str, raw_dir: str | Path, archive_dir: str | Path | None,
              lockfile: str | Path) -> Path:
    """Download (or extract) every file of a source entry into `raw_dir` and write its
    manifest last; return the manifest path. Archives go to `archive_dir`."""
    raw_dir = Path(raw_dir)
    raw_dir.mkdir(parents=True, exist_ok=True)
    files = []
    for i, spec in enumerate(entry["files"]):
        key = f"{entry_key(task, lang)}.files[{i}].url"
        if "member" in spec:
            archive = fetch(spec["url"], Path(archive_dir) / url_basename(spec["url"]), lockfile=lockfile, key=key)
            names = extract(archive, spec["member"], raw_dir, name=spec.get("name"),
                            exclude=spec.get("exclude", ()), key=key)
        else:
            names = [local_name(spec)]
            fetch(spec["url"], raw_dir / names[0], lockfile=lockfile, key=key)
        for name in names:
            size, sha = sha256_file(raw_dir / name)
            files.append({
                "name": name, "format": spec["format"], "split": spec["split"],
                "treebank": spec.get("treebank", name), "url": spec["url"], "member": spec.get("member"),
                "bytes": size, "sha256": sha,
            })
    return write_manifest(raw_dir, task, lang, entry, files, origin="real")


def write_manifest(raw_dir: Path, task: str, lang: str, entry: dict, files: list[dict], origin: str) -> Path:
    manifest = {
        "task": task, "language": lang, "origin": origin,
        "dataset": entry["dataset"], "licence": entry.get("licence", ""),
        "label_fixes": entry.get("label_fixes", {}), "split_fractions": entry.get("split_fractions"),
        "files": files,
    }
    path = Path(raw_dir) / MANIFEST
    with atomic_write(path) as fh:
        json.dump(manifest, fh, ensure_ascii=False, indent=1)
        fh.write("\n")
    return path


