"""Readers of the downstream sources' raw formats: fixture text written by hand in
each real format, the common examples it must give, and one error (file and line)
for every kind of malformed input."""
import re
from pathlib import Path

import pytest

from lmvsmt.downstream import formats
from lmvsmt.downstream.common import DataError, TextExample, TokenExample


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def read(path, fmt, lang="en", fixes=None):
    return formats.read(path, fmt, lang, fixes)


# --------------------------------------------------------------------------- SA


def test_amazon_jsonl_stars_and_whitespace(tmp_path):
    path = write(tmp_path, "train.jsonl",
                 '{"id": "en_0964290", "text": "Bad.\\n\\nBroke\\tafter a day", "label": 0, "label_text": "0"}\n'
                 '{"id": "en_0000001", "text": "Love it", "label": 4, "label_text": "4"}\n')
    assert read(path, "amazon_jsonl") == [TextExample(("Bad. Broke after a day",), "1"),
                                          TextExample(("Love it",), "5")]


def test_rureviews_quoted_multiline_and_its_neutral_spelling(tmp_path):
    path = write(tmp_path, "r.csv",
                 'review\tsentiment\n'
                 '"качество плохое\nне рекомендую"\tnegative\n'
                 'нормально\tneautral\n'
                 'отлично\tpositive\n')
    got = read(path, "rureviews_tsv", "ru")
    assert [ex.label for ex in got] == ["negative", "neutral", "positive"]
    assert got[0].texts == ("качество плохое не рекомендую",)


def test_ar_res_csv_polarity(tmp_path):
    path = write(tmp_path, "RES1.csv",
                 'polarity,text,restaurant_id,user_id\n'
                 '-1,"سيء جدا\n لن اعود",296,423\n'
                 '1,رائع,5027,39580\n')
    got = read(path, "ar_res_csv", "ar")
    assert got == [TextExample(("سيء جدا لن اعود",), "negative"), TextExample(("رائع",), "positive")]


# --------------------------------------------------------------------------- NER


MULTICONER = (
    "# id 5a5f8e7e-2a6c-4d2b-9a3b-0e0f6b3d1c2a\tdomain=en\n"
    "the _ _ O\n"
    "new _ _ B-HumanSettlement\n"
    "york _ _ I-HumanSettlement\n"
    "times _ _ B-PublicCorp\n"
    "\n"
    "# id 7b6f1ad1-0000-4000-8000-000000000000\tdomain=en\n"
    "\u00a0 _ _ B-Artist\n"          # a whitespace-only token: dropped, the entity still starts with B
    " _ _ O\n"                        # an empty token: dropped
    "bowie _ _ I-Artist\n"
    "_ _ _ O\n"
    "\n"
)


def test_multiconer_collapses_types_to_bio(tmp_path):
    got = read(write(tmp_path, "en_train.conll", MULTICONER), "multiconer_conll")
    assert got == [
        TokenExample(("the", "new", "york", "times"), ("O", "B", "I", "B")),
        TokenExample(("bowie", "_"), ("B", "O")),
    ]


def test_multiconer_chinese_tokens(tmp_path):
    text = "# id zh-1\tdomain=zh\n我 _ _ O\n在 _ _ O\n北京 _ _ B-HumanSettlement\n"
    assert read(write(tmp_path, "zh_dev.conll", text), "multiconer_conll", "zh") == [
        TokenExample(("我", "在", "北京"), ("O", "O", "B"))]


def test_aqmar_two_columns_and_label_fixes(tmp_path):
    text = "\ufeffكان O\nجورج B-PER\nبوش I-PER\n\nفي OO\nمصر B-LOC\n"
    path = write(tmp_path, "Atom.txt", text)
    got = read(path, "aqmar_conll", "ar", {"OO": "O"})
    assert got == [TokenExample(("كان", "جورج", "بوش"), ("O", "B", "I")), TokenExample(("في", "مصر"), ("O", "B"))]
    with pytest.raises(DataError, match=re.escape(f"{path}:5: unknown label 'OO'")):
        read(path, "aqmar_conll", "ar")


# --------------------------------------------------------------------------- POS

CONLLU = (
    "# sent_id = 1\n"
    "# text = Vámonos al mar.\n"
    "1-2\tVámonos\t_\t_\t_\t_\t_\t_\t_\t_\n"
    "1\tVamos\tir\tVERB\t_\t_\t0\troot\t_\t_\n"
    "2\tnos\tnosotros\tPRON\t_\t_\t1\tobj\t_\t_\n"
    "3-4\tal\t_\t_\t_\t_\t_\t_\t_\t_\n"
    "3\ta\ta\tADP\t_\t_\t5\tcase\t_\t_\n"
    "4\tel\tel\tDET\t_\t_\t5\tdet\t_\t_\n"
    "5\tmar\tmar\tNOUN\t_\t_\t1\tobl\t_\tSpaceAfter=No\n"
    "5.1\tva\tir\tVERB\t_\t_\t_\t_\t1:conj\t_\n"
    "6\t.\t.\tPUNCT\t_\t_\t1\tpunct\t_\t_\n"
    "\n"
    "# sent_id = GUM_reddit_1\n"       # text withheld by the release: left out
    "1\t_\t_\tPRON\t_\t_\t2\tnsubj\t_\t_\n"
    "2\t_\t_\tVERB\t_\t_\t0\troot\t_\t_\n"
    "\n"
    "1\t1 000\t1000\tNUM\t_\t_\t0\troot\t_\t_\n"
)


def test_conllu_keeps_syntactic_words_and_skips_ranges_empty_nodes_and_withheld_text(tmp_path):
    got = read(write(tmp_path, "es_gsd-ud-train.conllu", CONLLU), "conllu", "es")
    assert got == [
        TokenExample(("Vamos", "nos", "a", "el", "mar", "."), ("VERB", "PRON", "ADP", "DET", "NOUN", "PUNCT")),
        TokenExample(("1000",), ("NUM",)),
    ]


@pytest.mark.parametrize("line,problem", [
    ("3\tmar\tmar\tNOUN\t_\t_\t1\tobl\t_\n", "expected 10 tab-separated CoNLL-U columns, found 9"),
    ("3\tmar\tmar\tNOM\t_\t_\t1\tobl\t_\t_\n", "unknown label 'NOM'"),
    ("4\tmar\tmar\tNOUN\t_\t_\t1\tobl\t_\t_\n", "word ID 4 out of sequence (expected 3)"),
    ("x\tmar\tmar\tNOUN\t_\t_\t1\tobl\t_\t_\n", "bad word ID 'x'"),
])
def test_conllu_errors_name_file_and_line(tmp_path, line, problem):
    text = "# text = a b mar\n1\ta\ta\tDET\t_\t_\t3\tdet\t_\t_\n2\tb\tb\tADJ\t_\t_\t3\tamod\t_\t_\n" + line
    path = write(tmp_path, "bad.conllu", text)
    with pytest.raises(DataError, match=re.escape(f"{path}:4: {problem}")):
        read(path, "conllu")


# --------------------------------------------------------------------------- NLI


def test_xnli_mt_train(tmp_path):
    text = ("premise\thypo\tlabel\n"
            "Il pleut .\tIl fait beau .\tcontradictory\n"
            "Un \"homme\" dort\tQuelqu'un dort\tentailment\n")
    got = read(write(tmp_path, "multinli.train.fr.tsv", text), "xnli_mt_tsv", "fr")
    assert got == [TextExample(("Il pleut .", "Il fait beau ."), "contradiction"),
                   TextExample(('Un "homme" dort', "Quelqu'un dort"), "entailment")]


def _xnli_row(lang, label, s1, s2):
    row = dict.fromkeys(formats.XNLI_COLUMNS, "x")
    row.update(language=lang, gold_label=label, sentence1=s1, sentence2=s2)
    return "\t".join(row[c] for c in formats.XNLI_COLUMNS) + "\n"


def test_xnli_dev_keeps_one_language(tmp_path):
    text = ("\t".join(formats.XNLI_COLUMNS) + "\n" + _xnli_row("ar", "neutral", "أ", "ب")
            + _xnli_row("fr", "neutral", "Il  pleut", "Il fait froid") + _xnli_row("de", "entailment", "a", "b"))
    got = read(write(tmp_path, "xnli.dev.tsv", text), "xnli_tsv", "fr")
    assert got == [TextExample(("Il pleut", "Il fait froid"), "neutral")]


# --------------------------------------------------------------------------- malformed input


BAD = [
    ("amazon_jsonl", '{"text": "ok", "label": 1}\n{"text": "broken", "label": \n', 2, "not a JSON object"),
    ("amazon_jsonl", '{"text": "ok", "label": 1}\n{"text": "ok", "label": 7}\n', 2, "unknown label '7'"),
    ("amazon_jsonl", '{"review": "ok", "label": 1}\n', 1, "expected a JSON object with a string 'text'"),
    ("rureviews_tsv", "review\tsentiment\nхорошо\tgood\n", 2, "unknown label 'good'"),
    ("rureviews_tsv", "review\tsentiment\nхорошо\tpositive\textra\n", 2, "expected 2 fields, found 3"),
    ("rureviews_tsv", "text\tlabel\nхорошо\tpositive\n", 1, "expected the header"),
    ("ar_res_csv", "polarity,text,restaurant_id,user_id\n0,نص,1,2\n", 2, "unknown label '0'"),
    ("multiconer_conll", "# id 1\tdomain=en\nparis _ _ B-HumanSettlement\nlondon B-X\n", 3,
     "expected 'token _ _ TAG'"),
    ("multiconer_conll", "# id 1\tdomain=en\nparis _ _ E-LOC\n", 2, "unknown label 'E-LOC'"),
    ("aqmar_conll", "جورج B-PER\nبوش\n", 2, "expected 'token TAG'"),
    ("xnli_mt_tsv", "premise\thypo\tlabel\na\tb\tneutral\na\tb\n", 3, "expected 3 tab-separated fields, found 2"),
    ("xnli_mt_tsv", "premise\thypo\tlabel\na\tb\tmaybe\n", 2, "unknown label 'maybe'"),
    ("xnli_mt_tsv", "sentence1\tsentence2\tlabel\n", 1, "expected the header"),
    ("xnli_tsv", "language\tgold_label\tsentence1\tsentence2\nen\tneutral\ta\n", 2,
     "expected 4 tab-separated fields, found 3"),
    ("xnli_tsv", "language\tgold_label\tsentence1\tsentence2\nen\tcontradictory\ta\tb\n", 2,
     "unknown label 'contradictory'"),
    ("xnli_tsv", "lang\tgold_label\tsentence1\tsentence2\n", 1, "header lacks the column(s) language"),
]


@pytest.mark.parametrize("fmt,text,line,problem", BAD)
def test_malformed_input_names_file_and_line(tmp_path, fmt, text, line, problem):
    path = write(tmp_path, "raw.txt", text)
    with pytest.raises(DataError, match=re.escape(f"{path}:{line}: {problem}")):
        read(path, fmt)


def test_invalid_utf8_names_the_line(tmp_path):
    path = tmp_path / "x.conllu"
    path.write_bytes(b"1\ta\ta\tDET\t_\t_\t0\troot\t_\t_\n2\t\xff\tb\tNOUN\t_\t_\t1\tdep\t_\t_\n")
    with pytest.raises(DataError, match=re.escape(f"{path}:2: not valid UTF-8")):
        read(path, "conllu")


# --------------------------------------------------------------------------- writers (used by the demo)


ROUND_TRIP = {
    "amazon_jsonl": [TextExample(("great product",), "5"), TextExample(("meh",), "3")],
    "rureviews_tsv": [TextExample(("норм",), "neutral"), TextExample(('с "кавычками"',), "negative")],
    "ar_res_csv": [TextExample(("رائع, جدا",), "positive"), TextExample(("سيء",), "negative")],
    "conllu": [TokenExample(("a", "dog"), ("DET", "NOUN"))],
    "xnli_mt_tsv": [TextExample(("p", "h"), "contradiction"), TextExample(("p2", "h2"), "neutral")],
    "xnli_tsv": [TextExample(("p", "h"), "entailment")],
}


@pytest.mark.parametrize("fmt", sorted(ROUND_TRIP))
def test_writers_produce_what_readers_read(tmp_path, fmt):
    path = tmp_path / "raw"
    formats.FORMATS[fmt].write(path, ROUND_TRIP[fmt], "en")
    assert read(path, fmt) == ROUND_TRIP[fmt]


@pytest.mark.parametrize("fmt", ["multiconer_conll", "aqmar_conll"])
def test_ner_writers_keep_types_the_reader_collapses(tmp_path, fmt):
    path = tmp_path / "raw"
    formats.FORMATS[fmt].write(path, [TokenExample(("Ana", "Lopez", "runs"), ("B-PER", "I-PER", "O"))], "es")
    assert "B-PER" in path.read_text(encoding="utf-8")
    assert read(path, fmt) == [TokenExample(("Ana", "Lopez", "runs"), ("B", "I", "O"))]
