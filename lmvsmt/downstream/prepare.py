"""From raw source files to the common format: parse every file listed in the
manifest with the reader of its format, split (official splits, or our own seeded
split after removing duplicates; POS first cut to the token budget), count the inputs
that splits share (and, if asked, drop from valid/test what train holds), write the
three splits and a `meta.json` with counts, labels and provenance.

Two kinds of duplicates, two keys: `dedupe` removes repeated inputs from the pool
of a source we split ourselves, before splitting; `dedupe_across_splits` acts on the
splits as they stand (official or ours), removing from valid and test the inputs
that train already holds. The authors used the official splits as released."""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Mapping

from tqdm import tqdm

from lmvsmt.downstream import formats, splits
from lmvsmt.downstream.common import (
    NER_LABELS,
    NLI_LABELS,
    SHARED_COLUMNS,
    TABLE7_COLUMNS,
    UPOS_LABELS,
    DataError,
    Example,
    count_tokens,
    split_path,
    write_split,
)
from lmvsmt.download import sha256_file
from lmvsmt.io import atomic_write, move_aside, read_text
from lmvsmt.layout import MANIFEST
from lmvsmt.vocabulary import SPLITS, is_token_task

log = logging.getLogger(__name__)

#: Label inventory of the token and pair tasks (SA's depends on the dataset).
TASK_LABELS = {"NER": NER_LABELS, "POS": UPOS_LABELS, "NLI": NLI_LABELS}


def load_manifest(raw_dir: str | Path) -> dict:
    path = Path(raw_dir) / MANIFEST
    try:
        return json.loads(read_text(path))
    except FileNotFoundError:
        raise DataError(f"{path}: missing (the raw step writes it last)") from None
    except json.JSONDecodeError as err:
        raise DataError(f"{path}:{err.lineno}: not valid JSON ({err.msg})") from None


# The rule that writes a manifest and its raw files, by the manifest's origin.
RAW_RULE = {"real": "downstream_fetch", "demo": "downstream_demo"}


def check_raw_file(raw_dir: Path, spec: dict, origin: str | None) -> None:
    """A raw file must still have the size and sha256 its manifest recorded when it was
    downloaded (or written): otherwise it and the manifest are moved aside, so that the
    same command fetches it again, and the error says so."""
    path = raw_dir / spec["name"]
    if spec.get("bytes") is None or spec.get("sha256") is None:  # nothing recorded to check against
        return
    try:
        size, sha = sha256_file(path)
    except FileNotFoundError:
        size, sha = None, None
    if (size, sha) == (spec.get("bytes"), spec["sha256"]):
        return
    found = "is missing" if size is None else f"has {size} bytes, sha256 {sha}"
    aside = [move_aside(p).name for p in (path, raw_dir / MANIFEST) if p.exists()]
    verb, done = ("download", "downloaded") if origin == "real" else ("write", "written")
    raise DataError(f"{path} {found}, but {raw_dir / MANIFEST} recorded {spec.get('bytes')} bytes, sha256 "
                    f"{spec['sha256']} when it was {done}; moved {' and '.join(aside)} aside: rerun the same "
                    f"command to {verb} it again (rule {RAW_RULE.get(origin, 'of the raw step')})")


def prepare(raw_dir: str | Path, out_dir: str | Path, task: str, lang: str, *, seed: int,
            own_split: Mapping[str, float], pos_token_budget: int, dedupe: bool = True,
            dedupe_across_splits: bool = False) -> dict:
    """Write {out_dir}/{train,valid,test}.{tsv|conll} and meta.json; return the meta."""
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    manifest = load_manifest(raw_dir)
    if (manifest["task"], manifest["language"]) != (task, lang):
        raise DataError(f"{raw_dir / MANIFEST}: describes {manifest['task']}/{manifest['language']}, "
                        f"not {task}/{lang}")
    fixes = manifest.get("label_fixes") or {}
    parsed: list[tuple[dict, list[Example]]] = []
    dropped_empty = 0
    for spec in tqdm(manifest["files"], desc=f"{task}/{lang}", unit="file", mininterval=30.0):
        if formats.FORMATS[spec["format"]].task != task:
            raise DataError(f"{raw_dir / MANIFEST}: {spec['name']} has the {spec['format']} format, not a {task} one")
        check_raw_file(raw_dir, spec, manifest.get("origin"))
        examples = formats.read(raw_dir / spec["name"], spec["format"], lang, fixes)
        kept = [ex for ex in examples if is_token_task(task) or all(ex.texts)]
        dropped_empty += len(examples) - len(kept)
        log.info("%s: %d examples (%d with an empty text dropped)", spec["name"], len(kept), len(examples) - len(kept))
        parsed.append((spec, kept))

    own = all(spec["split"] == "all" for spec, _ in parsed)
    dropped_duplicates = 0
    budget_used = None
    if own:
        fractions = manifest.get("split_fractions") or own_split
        groups: dict[str, list[Example]] = {}
        for spec, examples in parsed:
            groups.setdefault(spec.get("treebank") or spec["name"], []).extend(examples)
        if task == "POS" and pos_token_budget > 0:
            pool = splits.token_budget(list(groups.items()), pos_token_budget, seed, task, lang)
            budget_used = pos_token_budget
        else:
            pool = [ex for examples in groups.values() for ex in examples]
        if dedupe:
            pool, dropped_duplicates = splits.dedupe(pool)
        where = ", ".join(str(raw_dir / spec["name"]) for spec, _ in parsed)
        data = splits.own_split(pool, fractions, seed, task, lang, where)
        how = {"kind": "own", "seed": seed, "valid": fractions["valid"], "test": fractions["test"]}
    else:
        data = {name: [] for name in SPLITS}
        for spec, examples in parsed:
            data[spec["split"]].extend(examples)
        _check_not_empty(data, parsed, raw_dir, lang, "no {lang} examples")
        how = {"kind": "official"}

    shared = splits.shared_inputs(data)
    if any(shared.values()):
        log.warning("%s/%s: %d valid and %d test example(s) repeat a training input, %d test example(s) a "
                    "validation input%s", task, lang, shared["valid_in_train"], shared["test_in_train"],
                    shared["test_in_valid"], " (those in train are dropped)" if dedupe_across_splits else "")
    dropped_seen = {"valid_in_train": 0, "test_in_train": 0}
    if dedupe_across_splits:
        data = splits.drop_seen_in_train(data)
        dropped_seen = {key: shared[key] for key in dropped_seen}
        _check_not_empty(data, parsed, raw_dir, lang, "every {lang} example is also in train")

    for name in SPLITS:
        write_split(split_path(out_dir, task, name), task, data[name])
    meta = _meta(manifest, task, lang, data, how, {"empty": dropped_empty, "duplicates": dropped_duplicates,
                                                   **dropped_seen}, shared, budget_used)
    with atomic_write(out_dir / "meta.json") as fh:
        json.dump(meta, fh, ensure_ascii=False, indent=1)
        fh.write("\n")
    return meta


def _check_not_empty(data: dict[str, list[Example]], parsed: list, raw_dir: Path, lang: str, why: str) -> None:
    """An empty split stops the job, naming the files that feed it."""
    for name in SPLITS:
        if not data[name]:
            files = ", ".join(str(raw_dir / s["name"]) for s, _ in parsed if s["split"] in (name, "all"))
            raise DataError(f"{files}: empty {name} split ({why.format(lang=lang)})")


def _labels(examples: list[Example]) -> set[str]:
    out: set[str] = set()
    for ex in examples:
        out.update(ex.labels if hasattr(ex, "labels") else (ex.label,))
    return out


def _meta(manifest: dict, task: str, lang: str, data: dict[str, list[Example]], how: dict, dropped: dict,
          shared: dict[str, int], budget: int | None) -> dict:
    seen = {name: _labels(data[name]) for name in SPLITS}
    observed = sorted(set().union(*seen.values()))
    unseen = sorted((seen["valid"] | seen["test"]) - seen["train"])
    if unseen:
        # The evaluation maps labels through the training split; say so early.
        log.warning("%s/%s: label(s) %s occur in valid/test but not in train", task, lang, ", ".join(unseen))
    meta = {
        "task": task, "language": lang, "dataset": manifest["dataset"], "origin": manifest["origin"],
        "licence": manifest.get("licence", ""),
        "counts": {name: len(data[name]) for name in SPLITS},
        "labels": list(TASK_LABELS.get(task, observed)),
        "labels_observed": observed,
        "labels_not_in_train": unseen,
        "split": how,
        "dropped": dropped,
        "shared_inputs": shared,  # as split, before dedupe_across_splits
        "files": [{k: f.get(k) for k in ("name", "format", "split", "url", "member", "sha256")}
                  for f in manifest["files"]],
    }
    if is_token_task(task):
        meta["tokens"] = {name: count_tokens(data[name]) for name in SPLITS}
    if budget is not None:
        meta["pos_token_budget"] = budget
    return meta


def write_table7(meta_paths: list[str | Path], out_path: str | Path) -> None:
    """Table 7 data: one row per task x language, in the order given."""
    with atomic_write(out_path) as fh:
        fh.write("\t".join(TABLE7_COLUMNS) + "\n")
        for path in meta_paths:
            meta = json.loads(Path(path).read_text(encoding="utf-8"))
            counts = [meta["counts"][name] for name in SPLITS]
            if "shared_inputs" not in meta:
                raise DataError(f"{path}: no shared_inputs (written by an older version: rerun downstream_prepare)")
            shared = [meta["shared_inputs"][key] for key in SHARED_COLUMNS]
            row = [meta["task"], meta["language"], meta["dataset"], *map(str, counts), str(sum(counts)),
                   *map(str, shared)]
            fh.write("\t".join(row) + "\n")
