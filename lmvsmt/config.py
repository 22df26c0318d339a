"""Configuration: schema loading, default filling and one-line validation errors.

The schema is split per workflow stage (workflow/schemas/<stage>.schema.yaml) and
inlined here, so the Snakefile, the tests and the command-line tools all validate
the same way and report exactly one readable line per bad config.
"""
from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError, best_match

from lmvsmt.errors import LmvsmtError
from lmvsmt.io import open_text

REPO_ROOT = Path(__file__).resolve().parent.parent
SCHEMA_DIR = REPO_ROOT / "workflow" / "schemas"
SCHEMA_FILE = SCHEMA_DIR / "config.schema.yaml"


class ConfigError(LmvsmtError, ValueError):
    """A configuration problem, described in one line."""


def load_schema(path: Path = SCHEMA_FILE) -> dict:
    """Load a schema file, inlining `$ref: other.schema.yaml` references."""
    with open(path, encoding="utf-8") as fh:
        schema = yaml.safe_load(fh)
    return _inline_refs(schema, path.parent)


def _inline_refs(node: Any, base: Path) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.endswith(".yaml"):
            return load_schema(base / ref)
        return {k: _inline_refs(v, base) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline_refs(v, base) for v in node]
    return node


def _with_defaults(validator_class):
    """Extend a validator so that `default` values are filled in while validating."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema and name not in instance:
                    instance[name] = copy.deepcopy(subschema["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return validators.extend(validator_class, {"properties": set_defaults})


_DefaultFillingValidator = _with_defaults(Draft202012Validator)


def key_path(error: ValidationError) -> str:
    """Dotted path of the offending key, e.g. `corpus.allocation.unit` or `seeds[2]`."""
    out = ""
    for part in error.absolute_path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<top level>"


def describe(error: ValidationError) -> str:
    """One readable line for a schema violation: the key, the problem, the allowed values."""
    where = key_path(error)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        return f"{where}: unknown key {', '.join(repr(k) for k in extra)} (allowed keys: {', '.join(allowed)})"
    if error.validator == "enum":
        allowed = ", ".join(repr(v) for v in error.validator_value)
        return f"{where}: {error.instance!r} is not allowed (allowed values: {allowed})"
    if error.validator == "type":
        return f"{where}: {error.instance!r} should be of type {error.validator_value}"
    return f"{where}: {error.message}"


def validate(config: dict, source: str | None = None) -> dict:
    """Validate `config` in place, filling defaults; raise ConfigError with one line.

    Mappings are put in sorted key order: Snakemake compares rule params by their
    text, so the order of keys in a config file must not look like a change."""
    schema = load_schema()
    validator = _DefaultFillingValidator(schema)
    error = best_match(validator.iter_errors(config))
    if error is not None:
        origin = f" ({source})" if source else ""
        raise ConfigError(f"config error{origin}: {describe(error)}")
    _sort_keys(config)
    return config


def _sort_keys(node: Any) -> None:
    """Reorder every mapping in place (the object stays the same: Snakemake holds it)."""
    if isinstance(node, dict):
        items = sorted(node.items(), key=lambda kv: str(kv[0]))
        node.clear()
        node.update(items)
        for value in node.values():
            _sort_keys(value)
    elif isinstance(node, list):
        for value in node:
            _sort_keys(value)


def load(path: str | Path) -> dict:
    """Read a YAML config file and validate it (used by tools and tests)."""
    path = Path(path)
    try:
        with open_text(path) as fh:
            config = yaml.safe_load(fh) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"config error ({path}{line}): not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(config, dict):
        raise ConfigError(f"config error ({path}): the top level must be a mapping of keys")
    return validate(config, str(path))


def section_hash(config: dict, *keys: str) -> str:
    """Stable short hash of config sections, used as a provenance fingerprint."""
    blob = json.dumps({k: config.get(k) for k in keys}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def reference_rows(schema: dict | None = None, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """(key, allowed values, default, description) for every key of the schema."""
    schema = load_schema() if schema is None else schema
    rows = []
    for name, sub in schema.get("properties", {}).items():
        key = f"{prefix}.{name}" if prefix else name
        if "properties" in sub:
            if "<" in key and "description" in sub:  # an entry's part: what it is, then its keys
                rows.append((key, "object", "", " ".join(str(sub["description"]).split())))
            rows.extend(reference_rows(sub, key))
            continue
        each = sub.get("additionalProperties")
        if isinstance(each, dict) and "properties" in each:
            # A mapping from names (e.g. objectives) to one kind of entry: the mapping's
            # own row, then the entry's keys under `<x-key>`.
            rows.append((key, _allowed(sub), json.dumps(sub.get("default", {})),
                         " ".join(str(sub.get("description", "")).split())))
            rows.extend(reference_rows(each, f"{key}.<{sub.get('x-key', 'name')}>"))
            continue
        rows.append((key, _allowed(sub), "" if "default" not in sub else json.dumps(sub["default"]),
                     " ".join(str(sub.get("description", "")).split())))
    return rows


def _allowed(sub: dict) -> str:
    if "enum" in sub:
        return " \\| ".join(str(v) for v in sub["enum"])
    items = sub.get("items", {})
    if sub.get("type") == "array" and "enum" in items:
        return "list of " + " \\| ".join(str(v) for v in items["enum"])
    kind = sub.get("type", "object" if "additionalProperties" in sub else "")
    return kind if isinstance(kind, str) else " or ".join(kind)


REFERENCE_FILE = REPO_ROOT / "config" / "REFERENCE.md"


def reference_markdown() -> str:
    """config/REFERENCE.md: every key with its allowed values, default and meaning."""
    lines = ["# Configuration reference", "",
             "Generated from workflow/schemas/*.schema.yaml by `make reference`; do not edit by hand.",
             "A key left out of a config takes its default, which follows PROTOCOL.md (the paper);",
             "config/config.yaml (the demo) overrides some of them with tiny sizes.", "",
             "| key | allowed | default | meaning |", "|---|---|---|---|"]
    for key, allowed, default, text in reference_rows():
        default = default if len(default) <= 40 else "(see schema)"
        lines.append(f"| `{key}` | {allowed} | {f'`{default}`' if default else ''} | {text.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import sys

    if sys.argv[1:] != ["--reference"]:
        sys.exit("usage: python -m lmvsmt.config --reference   (writes config/REFERENCE.md)")
    from lmvsmt.io import atomic_write

    with atomic_write(REFERENCE_FILE) as fh:
        fh.write(reference_markdown())
    print(f"wrote {REFERENCE_FILE}")
