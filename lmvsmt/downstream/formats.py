"""Readers (and, for the demo, writers) of the raw formats the downstream sources use.

Every reader turns one raw file into examples with the common labels and raises
`DataError("file:line: ...")` on anything malformed: a wrong column count, an
unknown label, a broken JSON line, a bad CoNLL-U ID. `fixes` maps raw labels
to raw labels before they are checked (known typos of a release, from the config).
Writers produce the same raw formats, so the demo runs through the same readers.
"""
from __future__ import annotations

import csv
import dataclasses
import json
import re
import uuid
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

from lmvsmt.downstream.common import (
    NLI_LABELS,
    UPOS_LABELS,
    DataError,
    Example,
    TextExample,
    TokenExample,
    clean_text,
    clean_token,
    word_joiner,
)
from lmvsmt.io import atomic_write

Fixes = Mapping[str, str]

# Star ratings of Amazon Reviews Multi: the MTEB copy stores stars - 1 in `label`.
AMAZON_LABELS = ("1", "2", "3", "4", "5")
# RuReviews spells its neutral class "neautral"; the common label is "neutral".
RUREVIEWS_LABELS = {"positive": "positive", "negative": "negative", "neautral": "neutral", "neutral": "neutral"}
AR_RES_LABELS = {"1": "positive", "-1": "negative"}
XNLI_MT_LABELS = {"entailment": "entailment", "neutral": "neutral", "contradictory": "contradiction",
                  "contradiction": "contradiction"}
RUREVIEWS_HEADER = ["review", "sentiment"]
AR_RES_HEADER = ["polarity", "text", "restaurant_id", "user_id"]
XNLI_MT_HEADER = ["premise", "hypo", "label"]
XNLI_COLUMNS = [
    "language", "gold_label", "sentence1_binary_parse", "sentence2_binary_parse", "sentence1_parse",
    "sentence2_parse", "sentence1", "sentence2", "promptID", "pairID", "genre", "label1", "label2",
    "label3", "label4", "label5", "sentence1_tokenized", "sentence2_tokenized", "match",
]
_MULTICONER_SEPARATOR = " _ _ "
_TWO_COLUMNS = re.compile(r"(.+?)[ \t]+(\S+)")
_CONLLU_WORD = re.compile(r"[1-9][0-9]*")
_CONLLU_RANGE = re.compile(r"[1-9][0-9]*-[1-9][0-9]*")
_CONLLU_EMPTY = re.compile(r"[0-9]+\.[1-9][0-9]*")


# --------------------------------------------------------------------------- helpers


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, line without its end) of a UTF-8 file; a BOM is dropped."""
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise DataError(f"{path}:{number}: not valid UTF-8") from None
            if number == 1:
                line = line.removeprefix("\ufeff")
            yield number, line.rstrip("\r\n")


def _csv_rows(path: Path, delimiter: str, header: list[str]) -> Iterator[tuple[int, list[str]]]:
    """Rows of a quoted CSV/TSV file (fields may span lines) after checking its header."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        try:
            first = next(reader, None)
            if first != header:
                raise DataError(f"{path}:1: expected the header {delimiter.join(header)!r}, found {first!r}")
            for row in reader:
                if not row or row == [""]:
                    continue
                if len(row) != len(header):
                    raise DataError(f"{path}:{reader.line_num}: expected {len(header)} fields, found {len(row)}")
                yield reader.line_num, row
        except UnicodeDecodeError:
            raise DataError(f"{path}:{reader.line_num + 1}: not valid UTF-8") from None
        except csv.Error as err:
            raise DataError(f"{path}:{reader.line_num}: {err}") from None


def _label(raw: str, fixes: Fixes, known: Mapping[str, str], where: str) -> str:
    """The common label of a raw label, or a DataError naming the allowed ones."""
    raw = fixes.get(raw, raw)
    try:
        return known[raw]
    except KeyError:
        allowed = ", ".join(sorted(known))
        raise DataError(f"{where}: unknown label {raw!r} (allowed: {allowed})") from None


def _bio(raw: str, fixes: Fixes, where: str) -> str:
    """Collapse a typed BIO tag (B-PER, I-Facility, O) to B, I or O."""
    tag = fixes.get(raw, raw)
    if tag == "O":
        return "O"
    if len(tag) > 2 and tag[:2] in ("B-", "I-"):
        return tag[0]
    raise DataError(f"{where}: unknown label {raw!r} (allowed: O, B-<type>, I-<type>)")


def _ner_sentence(tokens: list[str], tags: list[str]) -> TokenExample | None:
    """Drop tokens that are only whitespace and make every entity start with B
    (an I after O, or at the start, opens an entity, as in IOB2)."""
    kept = [(clean_token(t), tag) for t, tag in zip(tokens, tags)]
    kept = [(t, tag) for t, tag in kept if t]
    if not kept:
        return None
    out_tags = []
    previous = "O"
    for _, tag in kept:
        if tag == "I" and previous == "O":
            tag = "B"
        out_tags.append(tag)
        previous = tag
    return TokenExample(tuple(t for t, _ in kept), tuple(out_tags))


# --------------------------------------------------------------------------- SA


def read_amazon_jsonl(path: Path, lang: str, fixes: Fixes) -> Iterator[TextExample]:
    """Amazon Reviews Multi as served by the MTEB mirror: JSON lines with `text`
    and `label` (stars - 1, 0..4)."""
    known = {str(i): stars for i, stars in enumerate(AMAZON_LABELS)}
    for number, line in _lines(path):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(f"{where}: not a JSON object ({err.msg})") from None
        if not isinstance(record, dict) or not isinstance(record.get("text"), str) or "label" not in record:
            raise DataError(f"{where}: expected a JSON object with a string 'text' and a 'label'")
        yield TextExample((clean_text(record["text"]),), _label(str(record["label"]), fixes, known, where))


def write_amazon_jsonl(path: Path, examples: Sequence[TextExample], lang: str) -> None:
    with atomic_write(path) as fh:
        for i, ex in enumerate(examples):
            label = AMAZON_LABELS.index(ex.label)
            record = {"id": f"{lang}_{i:07d}", "text": ex.texts[0], "label": label, "label_text": str(label)}
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")


def read_rureviews_tsv(path: Path, lang: str, fixes: Fixes) -> Iterator[TextExample]:
    """RuReviews: a quoted TSV with the header `review<TAB>sentiment`."""
    for number, (review, sentiment) in _csv_rows(path, "\t", RUREVIEWS_HEADER):
        yield TextExample((clean_text(review),), _label(sentiment, fixes, RUREVIEWS_LABELS, f"{path}:{number}"))


def write_rureviews_tsv(path: Path, examples: Sequence[TextExample], lang: str) -> None:
    spelling = {"positive": "positive", "negative": "negative", "neutral": "neautral"}
    with atomic_write(path) as fh:
        writer = csv.writer(fh, delimiter="\t", lineterminator="\n")
        writer.writerow(RUREVIEWS_HEADER)
        for ex in examples:
            writer.writerow([ex.texts[0], spelling[ex.label]])


def read_ar_res_csv(path: Path, lang: str, fixes: Fixes) -> Iterator[TextExample]:
    """ar_res_reviews (RES1.csv): a quoted CSV `polarity,text,restaurant_id,user_id`,
    polarity 1 or -1."""
    for number, (polarity, text, _, _) in _csv_rows(path, ",", AR_RES_HEADER):
        yield TextExample((clean_text(text),), _label(polarity, fixes, AR_RES_LABELS, f"{path}:{number}"))


def write_ar_res_csv(path: Path, examples: Sequence[TextExample], lang: str) -> None:
    polarity = {v: k for k, v in AR_RES_LABELS.items()}
    with atomic_write(path) as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(AR_RES_HEADER)
        for i, ex in enumerate(examples):
            writer.writerow([polarity[ex.label], ex.texts[0], i % 97 + 1, i + 1])


# --------------------------------------------------------------------------- NER


def _ner_sentences(path: Path, is_break: Callable[[str], bool], split: Callable[[str, str], tuple[str, str]],
                   fixes: Fixes) -> Iterator[TokenExample]:
    """Sentences of a NER file: `is_break(line)` ends a sentence (blank and header
    lines), `split(line, where)` gives (token, tag) or raises DataError."""
    tokens: list[str] = []
    tags: list[str] = []

    def sentence():
        example = _ner_sentence(tokens, tags)
        tokens.clear()
        tags.clear()
        return example

    for number, line in _lines(path):
        where = f"{path}:{number}"
        if is_break(line):
            if tokens and (example := sentence()) is not None:
                yield example
            continue
        token, tag = split(line, where)
        tokens.append(token)
        tags.append(_bio(tag, fixes, where))
    if tokens and (example := sentence()) is not None:
        yield example


def read_multiconer_conll(path: Path, lang: str, fixes: Fixes) -> Iterator[TokenExample]:
    """MultiCoNER v1/v2: `# id <uuid><TAB>domain=<lang>`, then `token _ _ TAG` lines,
    a blank line after each sentence. Fine-grained types collapse to B/I/O."""

    def split(line: str, where: str) -> tuple[str, str]:
        if _MULTICONER_SEPARATOR not in line:
            raise DataError(f"{where}: expected 'token _ _ TAG', found {line[:60]!r}")
        # split at the last separator, as the dataset's own loader does: a token may be "_"
        token, tag = line.rsplit(_MULTICONER_SEPARATOR, 1)
        return token, tag.strip()

    return _ner_sentences(path, lambda line: not line.strip() or line.lstrip().startswith("# id"), split, fixes)


def write_multiconer_conll(path: Path, examples: Sequence[TokenExample], lang: str) -> None:
    with atomic_write(path) as fh:
        for i, ex in enumerate(examples):
            sentence_id = uuid.uuid5(uuid.NAMESPACE_URL, f"{path.name}/{i}")
            fh.write(f"# id {sentence_id}\tdomain={lang}\n")
            for token, tag in zip(ex.tokens, ex.labels):
                fh.write(f"{token} _ _ {tag}\n")
            fh.write("\n")


def read_aqmar_conll(path: Path, lang: str, fixes: Fixes) -> Iterator[TokenExample]:
    """AQMAR Arabic Wikipedia NER: one article per file, `token TAG` per line, a blank
    line between sentences; tags are typed BIO (PER, LOC, ORG, MIS0, ...)."""

    def split(line: str, where: str) -> tuple[str, str]:
        match = _TWO_COLUMNS.fullmatch(line)
        if match is None:
            raise DataError(f"{where}: expected 'token TAG', found {line[:60]!r}")
        return match.group(1), match.group(2)

    return _ner_sentences(path, lambda line: not line.strip() or line.startswith("-DOCSTART-"), split, fixes)


def write_aqmar_conll(path: Path, examples: Sequence[TokenExample], lang: str) -> None:
    with atomic_write(path) as fh:
        for ex in examples:
            for token, tag in zip(ex.tokens, ex.labels):
                fh.write(f"{token} {tag}\n")
            fh.write("\n")


# --------------------------------------------------------------------------- POS


def read_conllu(path: Path, lang: str, fixes: Fixes) -> Iterator[TokenExample]:
    """Universal Dependencies CoNLL-U: the syntactic words of each sentence with their
    UPOS. Multi-word token ranges (`1-2`) are skipped and their words kept; empty
    nodes (`1.1`) are skipped. Sentences whose text is withheld (every FORM is `_`,
    as in GUM's Reddit documents) are left out."""
    known = {tag: tag for tag in UPOS_LABELS}
    forms: list[str] = []
    tags: list[str] = []
    for number, line in _lines(path):
        where = f"{path}:{number}"
        if not line.strip():
            if forms and set(forms) != {"_"}:
                yield TokenExample(tuple(forms), tuple(tags))
            forms, tags = [], []
            continue
        if line.startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) != 10:
            raise DataError(f"{where}: expected 10 tab-separated CoNLL-U columns, found {len(cols)}")
        word_id = cols[0]
        if _CONLLU_RANGE.fullmatch(word_id) or _CONLLU_EMPTY.fullmatch(word_id):
            continue
        if not _CONLLU_WORD.fullmatch(word_id):
            raise DataError(f"{where}: bad word ID {word_id!r}")
        if int(word_id) != len(forms) + 1:
            raise DataError(f"{where}: word ID {word_id} out of sequence (expected {len(forms) + 1})")
        form = clean_token(cols[1])
        if not form:
            raise DataError(f"{where}: empty FORM")
        forms.append(form)
        tags.append(_label(cols[3], fixes, known, where))
    if forms and set(forms) != {"_"}:
        yield TokenExample(tuple(forms), tuple(tags))


def write_conllu(path: Path, examples: Sequence[TokenExample], lang: str) -> None:
    joiner = word_joiner(lang)
    with atomic_write(path) as fh:
        for i, ex in enumerate(examples, 1):
            fh.write(f"# sent_id = {path.stem}-{i}\n# text = {joiner.join(ex.tokens)}\n")
            for n, (form, upos) in enumerate(zip(ex.tokens, ex.labels), 1):
                fh.write(f"{n}\t{form}\t_\t{upos}\t_\t_\t_\t_\t_\t_\n")
            fh.write("\n")


# --------------------------------------------------------------------------- NLI


def read_xnli_mt_tsv(path: Path, lang: str, fixes: Fixes) -> Iterator[TextExample]:
    """XNLI-MT 1.0 training set (multinli.train.<lang>.tsv): `premise hypo label`,
    tab-separated without quoting; the contradiction class is spelled `contradictory`."""
    lines = _lines(path)
    first = next(lines, (1, ""))[1]
    if first.split("\t") != XNLI_MT_HEADER:
        raise DataError(f"{path}:1: expected the header {chr(9).join(XNLI_MT_HEADER)!r}, found {first[:60]!r}")
    for number, line in lines:
        if not line.strip():
            continue
        cols = line.split("\t")
        if len(cols) != 3:
            raise DataError(f"{path}:{number}: expected 3 tab-separated fields, found {len(cols)}")
        label = _label(cols[2], fixes, XNLI_MT_LABELS, f"{path}:{number}")
        yield TextExample((clean_text(cols[0]), clean_text(cols[1])), label)


def write_xnli_mt_tsv(path: Path, examples: Sequence[TextExample], lang: str) -> None:
    spelling = {"entailment": "entailment", "neutral": "neutral", "contradiction": "contradictory"}
    with atomic_write(path) as fh:
        fh.write("\t".join(XNLI_MT_HEADER) + "\n")
        for ex in examples:
            fh.write("\t".join((*ex.texts, spelling[ex.label])) + "\n")


def read_xnli_tsv(path: Path, lang: str, fixes: Fixes) -> Iterator[TextExample]:
    """XNLI 1.0 dev/test (xnli.dev.tsv, xnli.test.tsv): all languages in one file with a
    header; the rows whose `language` is `lang` are kept."""
    known = {label: label for label in NLI_LABELS}
    lines = _lines(path)
    header = next(lines, (1, ""))[1].split("\t")
    missing = [c for c in ("language", "gold_label", "sentence1", "sentence2") if c not in header]
    if missing:
        raise DataError(f"{path}:1: header lacks the column(s) {', '.join(missing)}")
    col = {name: header.index(name) for name in ("language", "gold_label", "sentence1", "sentence2")}
    for number, line in lines:
        if not line.strip():
            continue
        cols = line.split("\t")
        if len(cols) != len(header):
            raise DataError(f"{path}:{number}: expected {len(header)} tab-separated fields, found {len(cols)}")
        if cols[col["language"]] != lang:
            continue
        label = _label(cols[col["gold_label"]], fixes, known, f"{path}:{number}")
        yield TextExample((clean_text(cols[col["sentence1"]]), clean_text(cols[col["sentence2"]])), label)


def write_xnli_tsv(path: Path, examples: Sequence[TextExample], lang: str) -> None:
    with atomic_write(path) as fh:
        fh.write("\t".join(XNLI_COLUMNS) + "\n")
        for i, ex in enumerate(examples):
            premise, hypothesis = ex.texts
            row = dict.fromkeys(XNLI_COLUMNS, "")
            row.update(language=lang, gold_label=ex.label, sentence1=premise, sentence2=hypothesis,
                       promptID=str(i // 3 + 1), pairID=str(i + 1), genre="demo", label1=ex.label,
                       sentence1_tokenized=premise, sentence2_tokenized=hypothesis, match="True")
            fh.write("\t".join(row[c] for c in XNLI_COLUMNS) + "\n")


# --------------------------------------------------------------------------- registry


@dataclasses.dataclass(frozen=True)
class Format:
    task: str
    read: Callable[[Path, str, Fixes], Iterator[Example]]
    write: Callable[[Path, Sequence[Example], str], None]


FORMATS: dict[str, Format] = {
    "amazon_jsonl": Format("SA", read_amazon_jsonl, write_amazon_jsonl),
    "rureviews_tsv": Format("SA", read_rureviews_tsv, write_rureviews_tsv),
    "ar_res_csv": Format("SA", read_ar_res_csv, write_ar_res_csv),
    "multiconer_conll": Format("NER", read_multiconer_conll, write_multiconer_conll),
    "aqmar_conll": Format("NER", read_aqmar_conll, write_aqmar_conll),
    "conllu": Format("POS", read_conllu, write_conllu),
    "xnli_mt_tsv": Format("NLI", read_xnli_mt_tsv, write_xnli_mt_tsv),
    "xnli_tsv": Format("NLI", read_xnli_tsv, write_xnli_tsv),
}


def read(path: str | Path, fmt: str, lang: str, fixes: Fixes | None = None) -> list[Example]:
    """All examples of one raw file."""
    return list(FORMATS[fmt].read(Path(path), lang, fixes or {}))
