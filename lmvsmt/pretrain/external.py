"""Models trained elsewhere (config `pretrain.external`): which objectives are evaluated
from an external checkpoint instead of being trained, where their files come from, where
they are staged, and how table captions name them. No torch here: the Snakefile imports
this module; lmvsmt.pretrain.models checks and imports the models.

Each objective's entry names three files (`checkpoint`, `dictionary`, `spm`), each a URL
or a local path, optionally with its sha256 and size and, for a file inside an archive,
the archive `member`. Layout ({R} = results_dir):

  {R}/external/download/<host>/<url path>             a downloaded file, verified
  {R}/external/unpacked/<host>/<url path>/<member>    a member taken out of an archive
                       (local archives: local/<absolute path>/<member>)
  {R}/pretrain/<objective>/checkpoint_best.pt, dict.txt, spm.model, source.json
                                                      the imported model (lmvsmt.pretrain.models)
"""
from __future__ import annotations

import os
import posixpath
import urllib.parse
from typing import Iterable

from lmvsmt.config import ConfigError
from lmvsmt.download import extract, fetch, sha256_file
from lmvsmt.errors import LmvsmtError
from lmvsmt.layout import (EXTERNAL_DOWNLOAD, EXTERNAL_UNPACKED, MODEL_CHECKPOINT, MODEL_DICT, MODEL_SOURCE, MODEL_SPM,
                           SPM_MODEL, fill, model_dir)

FILES = ("checkpoint", "dictionary", "spm")
# What evaluation reads of every objective's model (trained or imported).
IMPORTED = (MODEL_CHECKPOINT, MODEL_DICT, MODEL_SPM, MODEL_SOURCE)
TRAINED_HERE = "pretrained by this workflow"


class ModelError(LmvsmtError, ValueError):
    """A model that evaluation cannot use; the message is one line naming the file."""


def models(config: dict) -> dict[str, dict]:
    """The external entries of the configured objectives, in the objectives' order."""
    entries = config["pretrain"].get("external", {})
    return {o: entries[o] for o in config["objectives"] if o in entries}


def trained_objectives(config: dict) -> list[str]:
    """Configured objectives this workflow pretrains itself (corpus, BPE, pretraining)."""
    entries = config["pretrain"].get("external", {})
    return [o for o in config["objectives"] if o not in entries]


def key(objective: str, role: str) -> str:
    return f"pretrain.external.{objective}.{role}"


def check(config: dict) -> None:
    """What the schema cannot say, in one line: each file has a url or a path (not
    both), staged names are safe, one URL is pinned to one sha256 and size."""
    for objective, entry in models(config).items():
        for role in FILES:
            spec = entry[role]
            if ("url" in spec) == ("path" in spec):
                raise ConfigError(f"config error: {key(objective, role)}: give either url or path")
            name = staged_name(spec)
            if any(part in ("", ".", "..") for part in name.split("/")):
                raise ConfigError(f"config error: {key(objective, role)}: cannot store {spec.get('url') or spec['path']!r} "
                                  "under results/ (empty, '.' or '..' path segment)")
            if "member" in spec and any(part in ("", ".", "..") for part in spec["member"].split("/")):
                raise ConfigError(f"config error: {key(objective, role)}.member: {spec['member']!r} is not a member path")
    downloads(config)
    unpacks(config)


def staged_name(spec: dict) -> str:
    """The relative path a file is staged under: <host>/<path> of its URL, or
    local/<absolute path> of a local file."""
    if "url" in spec:
        parts = urllib.parse.urlsplit(spec["url"])
        host = parts.netloc or "localhost"
        return posixpath.join(host, urllib.parse.unquote(parts.path).lstrip("/"))
    return posixpath.join("local", os.path.abspath(spec["path"]).lstrip("/"))


def origin(spec: dict) -> str:
    """Where a file comes from, in one string (URL or path, and the archive member)."""
    where = spec.get("url") or spec["path"]
    return f"{where} (member {spec['member']})" if "member" in spec else where


def _member_name(spec: dict) -> str:
    return posixpath.basename(spec["member"])


def file_path(results: str, spec: dict) -> str:
    """Where the import reads a file: the download, the unpacked member, or the local path."""
    if "member" in spec:
        return f"{fill(EXTERNAL_UNPACKED, results=results)}/{staged_name(spec)}/{_member_name(spec)}"
    if "url" in spec:
        return f"{fill(EXTERNAL_DOWNLOAD, results=results)}/{staged_name(spec)}"
    return spec["path"]


def archive_path(results: str, spec: dict) -> str:
    """The archive a member is taken from (downloaded, or the local path)."""
    return f"{fill(EXTERNAL_DOWNLOAD, results=results)}/{staged_name(spec)}" if "url" in spec else spec["path"]


def _pins(spec: dict) -> dict:
    return {k: spec[k] for k in ("sha256", "size") if k in spec}


def _files(config: dict) -> Iterable[tuple[str, str, dict]]:
    for objective, entry in models(config).items():
        for role in FILES:
            yield objective, role, entry[role]


def downloads(config: dict, archives: bool | None = None) -> dict[str, dict]:
    """Staged name -> {url, key, sha256?, size?, archive} of every file to download;
    `archive`: only members of it are used. `archives` True/False: only those / the others."""
    out: dict[str, dict] = {}
    for objective, role, spec in _files(config):
        if "url" not in spec:
            continue
        name = staged_name(spec)
        entry = {"url": spec["url"], "key": key(objective, role), **_pins(spec), "archive": "member" in spec}
        seen = out.setdefault(name, entry)
        if seen["url"] != entry["url"] or _pins(seen) != _pins(entry):
            raise ConfigError(f"config error: {entry['key']}: {spec['url']} is also {seen['key']}, with other "
                              "sha256/size pins (or another URL stored under the same name)")
        seen["archive"] &= entry["archive"]
    return {n: e for n, e in out.items() if archives is None or e["archive"] == archives}


def unpacks(config: dict) -> dict[str, dict]:
    """Staged name/member -> {archive spec, member, key} of every member to take out."""
    out: dict[str, dict] = {}
    for objective, role, spec in _files(config):
        if "member" not in spec:
            continue
        name = f"{staged_name(spec)}/{_member_name(spec)}"
        entry = {"spec": {k: v for k, v in spec.items() if k != "member"}, "member": spec["member"],
                 "key": key(objective, role)}
        seen = out.setdefault(name, entry)
        if seen["member"] != entry["member"] or seen["spec"] != entry["spec"]:
            raise ConfigError(f"config error: {entry['key']}.member: {spec['member']!r} and {seen['member']!r} "
                              f"({seen['key']}) would be unpacked to the same file")
    return out


def import_inputs(results: str, config: dict, objective: str) -> dict[str, str]:
    """The three files the import of `objective` reads."""
    entry = models(config)[objective]
    return {role: file_path(results, entry[role]) for role in FILES}


def subword_model(results: str, config: dict, objective: str) -> str:
    """The SentencePiece model downstream text is encoded with for `objective`: the
    imported model's own, or the shared one this workflow trains."""
    if objective in models(config):
        return f"{model_dir(results, objective)}/{MODEL_SPM}"
    return fill(SPM_MODEL, results=results)


def source(config: dict, objective: str) -> str:
    """Where the model of `objective` comes from, in words."""
    entry = models(config).get(objective)
    if entry is None:
        return TRAINED_HERE
    checkpoint = entry["checkpoint"]
    return entry.get("source") or checkpoint.get("url") or checkpoint["path"]


def caption_sources(config: dict, objectives: Iterable[str]) -> list[tuple[list[str], str]]:
    """(objectives, source) groups for a table showing `objectives`, in their order;
    empty when all of them were pretrained here (the caption then says nothing)."""
    objectives = list(objectives)
    if not any(o in models(config) for o in objectives):
        return []
    groups: dict[str, list[str]] = {}
    for objective in objectives:
        groups.setdefault(source(config, objective), []).append(objective)
    return [(names, text) for text, names in groups.items()]


# --------------------------------------------------------------------------- the jobs


def download(entry: dict, dest: str, lockfile: str) -> None:
    """Download one file of `downloads()`, checked against its pins and the lock file."""
    fetch(entry["url"], dest, lockfile=lockfile, key=entry["key"], expected_size=entry.get("size"),
          expected_sha256=entry.get("sha256"))


def verify_local(spec: dict, key: str) -> None:
    """A local file (`path`) must exist and match its sha256 and size pins."""
    path = spec["path"]
    if not os.path.isfile(path):
        raise ModelError(f"{path} ({key}.path): no such file")
    if "sha256" not in spec and "size" not in spec:
        return
    size, sha = sha256_file(path)
    if spec.get("size", size) != size or spec.get("sha256", sha).lower() != sha:
        raise ModelError(f"{path} ({key}): has {size} bytes, sha256 {sha}; the config pins "
                         f"{spec.get('size', '-')} bytes, sha256 {spec.get('sha256', '-')}")


def unpack(entry: dict, archive: str, dest: str) -> None:
    """Take the member of `unpacks()` out of its archive into `dest`."""
    if "path" in entry["spec"]:
        verify_local(entry["spec"], entry["key"])
    dest_dir, name = os.path.split(dest)
    extract(archive, entry["member"], dest_dir, name=name, key=f"{entry['key']}.member")
