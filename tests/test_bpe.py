"""The BPE stage: the shared SentencePiece model, the ONE fairseq dictionary and the
binarized datasets of the five objectives, built by the real rules (rules/bpe.smk) on
a tiny corpus in the corpus stage's format (tests/bpe_toydata.py)."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml
from bpe_toydata import CORPORA, LANGUAGES, write_corpus

from lmvsmt import layout, vocabulary
from lmvsmt.bpe import binarize, encoder, inputs, subword, training
from lmvsmt.corpus import CorpusError

ROOT = Path(__file__).resolve().parent.parent
VOCAB_SIZE = 300
CONFIG = {
    "results_dir": "results",
    "corpus": {"corpora": list(CORPORA)},
    # Coverage 1.0: the toy alphabets are small, and no <unk> means exact round trips.
    # One thread per rule lets Snakemake run two binarizations side by side.
    "bpe": {"vocab_size": VOCAB_SIZE, "character_coverage": 1.0, "input_sentence_size": 100000, "threads": 1},
}
SNAKEFILE = f"""
configfile: "config.yaml"
include: "{ROOT}/rules/common.smk"
include: "{ROOT}/rules/bpe.smk"

rule all:
    default_target: True
    input:
        all_targets,
"""


def make_workflow(workdir: Path, config: dict = CONFIG) -> Path:
    """A workflow with only the common and BPE rules; the corpus files are plain inputs."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "Snakefile").write_text(SNAKEFILE)
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    write_corpus(workdir / "results")
    return workdir / "results"


@pytest.fixture(scope="module")
def stage(tmp_path_factory, snakemake):
    workdir = tmp_path_factory.mktemp("bpe_stage")
    results = make_workflow(workdir)
    proc = snakemake(cores=2, cwd=workdir)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return workdir, results


@pytest.fixture(scope="module")
def model(stage):
    return subword.SubwordModel(stage[1] / "bpe" / "spm.model")


def first_line(path: Path) -> str:
    return path.read_text(encoding="utf-8").split("\n", 1)[0]


def load(prefix: Path, dictionary):
    from fairseq.data import data_utils

    dataset = data_utils.load_indexed_dataset(str(prefix), dictionary)
    assert dataset is not None, prefix
    return dataset


def fairseq_dictionary(path: Path):
    from fairseq.data import Dictionary

    return Dictionary.load(str(path))


# ----- the model and the dictionary ---------------------------------------------------------


def test_stage_outputs_and_dictionary(stage, model):
    _, results = stage
    pieces = [model.processor.id_to_piece(i) for i in range(len(model))]
    assert len(pieces) == VOCAB_SIZE
    entries = [line.rsplit(" ", 1)[0] for line in (results / "bpe" / "dict.txt").read_text("utf-8").splitlines()]
    # SentencePiece's <unk>/<s>/</s> are left out (fairseq adds its own), everything else in id order.
    assert entries == pieces[3:]
    for symbol in subword.user_symbols(LANGUAGES):
        assert symbol in entries
    assert not {"<unk>", "<s>", "</s>", "<pad>"} & set(entries)
    dictionary = fairseq_dictionary(results / "bpe" / "dict.txt")
    assert all(dictionary.index(p) == i + 1 for i, p in enumerate(pieces) if i >= 3)
    assert (results / "bpe" / "spm.vocab").exists()


def setup_task(argv: list[str]):
    from fairseq import options, tasks

    args = options.parse_args_and_arch(options.get_training_parser(), argv)
    return tasks.setup_task(args)


def objective_tasks(data_bin: Path) -> dict:
    """Each objective's fairseq task, set up the way pretraining uses it."""
    mt = ["--encoder-langtok", "src", "--decoder-langtok", "--max-source-positions", "256", "--max-target-positions", "256"]
    return {
        "CLM": setup_task([str(data_bin / "documents"), "--task", "language_modeling", "--arch", "transformer_lm"]),
        "MLM": setup_task([str(data_bin / "documents"), "--task", "masked_lm", "--arch", "roberta_base"]),
        "2-LM": setup_task([str(data_bin / "documents"), "--task", "denoising", "--arch", "bart_base"]),
        "TLM": setup_task([str(data_bin / "tlm"), "--task", "language_modeling", "--arch", "transformer_lm"]),
        "2-MT": setup_task(
            [str(data_bin / "bitext"), "--task", "translation_multi_simple_epoch", "--arch", "transformer"]
            + ["--lang-pairs", "en-ar,ar-en,zh-fr"]
            + mt
        ),
    }


def test_a_token_has_the_same_id_in_every_objective(stage, model):
    _, results = stage
    tasks = objective_tasks(results / "data-bin")
    shared = fairseq_dictionary(results / "bpe" / "dict.txt")
    probes = subword.user_symbols(LANGUAGES) + model.encode(first_line(results / "corpus/unpc/train/doc.ru.txt"))
    for objective, task in tasks.items():
        for dictionary in (task.source_dictionary, task.target_dictionary):
            if dictionary is None:  # language models have no separate target side here
                continue
            # The tasks add <mask> and the language tokens only if missing: they are not.
            assert dictionary.symbols == shared.symbols, objective
            assert [dictionary.index(p) for p in probes] == [shared.index(p) for p in probes], objective
            assert shared.unk() not in [shared.index(p) for p in probes]


# ----- round trips --------------------------------------------------------------------------


def decoded(dataset, index: int, dictionary) -> str:
    return dictionary.string(dataset[index])


def test_documents_round_trip_and_keep_document_breaks(stage, model):
    _, results = stage
    dictionary = fairseq_dictionary(results / "bpe" / "dict.txt")
    data = results / "data-bin" / "documents"
    for split in vocabulary.SPLITS:
        dataset = load(data / split, dictionary)
        # Concatenation order: corpora as configured, then languages alphabetically.
        source = first_line(results / f"corpus/{CORPORA[0]}/{split}/doc.{sorted(LANGUAGES)[0]}.txt")
        assert model.decode(decoded(dataset, 0, dictionary)) == source
        texts = [results / f"corpus/{c}/{split}/doc.{lang}.txt" for c in CORPORA for lang in LANGUAGES]
        documents = sum(len(t.read_text("utf-8").strip("\n").split("\n\n")) for t in texts)
        breaks = int((dataset.sizes == 1).sum())  # an empty line is a </s>-only item
        assert breaks == documents - 1
        sentences = sum(len([s for s in t.read_text("utf-8").split("\n") if s]) for t in texts)
        assert len(dataset) == sentences + breaks


def test_bitext_round_trip_both_directions(stage, model):
    _, results = stage
    dictionary = fairseq_dictionary(results / "bpe" / "dict.txt")
    data = results / "data-bin" / "bitext"
    for l1, l2 in vocabulary.language_pairs(LANGUAGES):
        for lang in (l1, l2):
            dataset = load(data / f"train.{l1}-{l2}.{lang}", dictionary)
            source = first_line(results / f"corpus/{CORPORA[0]}/train/bitext.{l1}-{l2}.{lang}")
            assert model.decode(decoded(dataset, 0, dictionary)) == source
    # The reverse direction (en->ar) is read from the ar-en binarization by the MT task.
    task = objective_tasks(results / "data-bin")["2-MT"]
    task.load_dataset("valid")
    pair = task.datasets["valid"]
    item = pair[0]
    src, tgt = dictionary.string(item["source"]).split(), dictionary.string(item["target"]).split()
    assert src[0] == subword.language_token("en") and tgt[0] == subword.language_token("ar")
    assert model.decode(src[1:]) == first_line(results / f"corpus/{CORPORA[0]}/valid/bitext.ar-en.en")
    assert model.decode(tgt[1:]) == first_line(results / f"corpus/{CORPORA[0]}/valid/bitext.ar-en.ar")


def test_tlm_lines_hold_both_directions(stage, model):
    _, results = stage
    dictionary = fairseq_dictionary(results / "bpe" / "dict.txt")
    dataset = load(results / "data-bin" / "tlm" / "train", dictionary)
    l1, l2 = vocabulary.language_pairs(LANGUAGES)[0]
    s1 = first_line(results / f"corpus/{CORPORA[0]}/train/bitext.{l1}-{l2}.{l1}")
    s2 = first_line(results / f"corpus/{CORPORA[0]}/train/bitext.{l1}-{l2}.{l2}")
    n_pairs = sum(
        len((results / f"corpus/{c}/train/bitext.{l1}-{l2}.{l1}").read_text("utf-8").splitlines()) for c in CORPORA
    )

    def halves(index):
        text = decoded(dataset, index, dictionary)
        tags = "|".join(re.escape(subword.language_token(lang)) for lang in LANGUAGES)
        source, tag, target = re.split(f" ({tags}) ", text)
        return model.decode(source), tag, model.decode(target)

    assert halves(0) == (s1, subword.language_token(l2), s2)
    # All l1->l2 lines of the pair come first, then the l2->l1 lines.
    assert halves(n_pairs) == (s2, subword.language_token(l1), s1)
    pairs = len(vocabulary.language_pairs(LANGUAGES))
    assert len(dataset) == 2 * pairs * n_pairs  # the toy corpus gives every pair the same size


def test_token_stats_match_the_binarized_data(stage):
    _, results = stage
    import pandas as pd

    table = pd.read_csv(results / "stats" / "tokens.tsv", sep="\t", keep_default_na=False)
    assert sorted(table.objective.unique()) == sorted(["2-LM", "2-MT", "CLM", "MLM", "TLM"])
    dictionary = fairseq_dictionary(results / "bpe" / "dict.txt")
    for dataset, prefixes in {
        "documents": ["{split}"],
        "tlm": ["{split}"],
        "bitext": [f"{{split}}.{a}-{b}.{x}" for a, b in vocabulary.language_pairs(LANGUAGES) for x in (a, b)],
    }.items():
        for split in vocabulary.SPLITS:
            # Keep the datasets alive: .sizes is a view of their memory map.
            datasets = [load(results / "data-bin" / dataset / p.format(split=split), dictionary) for p in prefixes]
            sizes = [d.sizes for d in datasets]
            rows = table[(table.dataset == dataset) & (table.split == split)]
            total = rows[rows.language == "all"].drop_duplicates(["sentences", "tokens"])
            assert len(total) == 1
            assert int(total.tokens.iloc[0]) == sum(int(s.sum()) for s in sizes)
            assert set(rows.language) == set(LANGUAGES) | {"all"}
    # CLM, MLM and 2-LM share one dataset, hence identical rows.
    docs = table[table.dataset == "documents"]
    assert (docs[docs.objective == "CLM"].drop(columns="objective").values == docs[docs.objective == "MLM"].drop(columns="objective").values).all()


# ----- reruns and bad input -----------------------------------------------------------------


def planned_rules(proc: subprocess.CompletedProcess) -> set[str]:
    """Rules of a dry run's job table."""
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    if "Nothing to be done" in out:
        return set()
    table = out.split("Job stats:", 1)[1].split("total", 1)[0]
    return {line.split()[0] for line in table.splitlines() if line.strip() and not line.startswith(("job", "-"))}


def test_rerun_is_a_noop_and_vocab_size_reruns_only_what_depends_on_it(stage, snakemake):
    workdir, _ = stage
    assert planned_rules(snakemake("--dry-run", cores=2, cwd=workdir)) == set()
    changed = {**CONFIG, "bpe": {**CONFIG["bpe"], "vocab_size": VOCAB_SIZE - 10}}
    (workdir / "changed.yaml").write_text(yaml.safe_dump(changed))
    rules = planned_rules(snakemake("--dry-run", cores=2, configfile="changed.yaml", cwd=workdir))
    assert rules == {"bpe_train", "bpe_documents", "bpe_bitext", "bpe_tlm", "bpe_tokens", "all"}


def test_empty_corpus_file_fails_with_one_line_before_training(tmp_path, snakemake):
    results = make_workflow(tmp_path)
    empty = results / "corpus" / "unpc" / "train" / "doc.zh.txt"
    empty.write_text("\n")
    proc = snakemake("results/bpe/spm.model", cores=2, cwd=tmp_path)
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if "empty corpus file" in line]
    assert len(lines) == 1 and "results/corpus/unpc/train/doc.zh.txt" in lines[0] and "'zh'" in lines[0], proc.stderr
    assert not (results / "bpe" / "spm.model").exists()
    assert not (results / "bpe" / "train_sample.txt").exists()


def test_missing_language_is_reported(tmp_path):
    write_corpus(tmp_path, languages=("en", "fr"), corpora=("unpc",))
    with pytest.raises(CorpusError, match=r"doc\.zh\.txt: missing corpus file"):
        inputs.check_documents(layout.corpus_documents(tmp_path, ["unpc"], ["en", "fr", "zh"]), ["en", "fr", "zh"])


def test_misaligned_bitext_names_the_short_file(tmp_path):
    a, b = tmp_path / "x.en", tmp_path / "x.fr"
    a.write_text("one\ntwo\n")
    b.write_text("un\n")
    with pytest.raises(CorpusError, match=rf"{re.escape(str(b))}: ends at line 1"):
        list(binarize.aligned_pairs([(a, b)]))


# ----- the encoder and the training sample -------------------------------------------------


def test_parallel_encoding_matches_in_process_encoding(stage, model):
    _, results = stage
    files = [(lang, results / f"corpus/{c}/train/doc.{lang}.txt") for c in CORPORA for lang in LANGUAGES]
    outputs = []
    for threads in (1, 2):
        out_path = results.parent / f"encoded.{threads}.txt"
        with open(out_path, "wb") as out, encoder.Encoder(model.path, threads) as running:
            counts = running.run(binarize.document_jobs(files), [out])
        outputs.append((out_path.read_text("utf-8"), counts))
    assert outputs[0] == outputs[1]
    text, counts = outputs[0]
    assert counts["all"][0] == len(text.splitlines())


@pytest.mark.parametrize("block", [1, 2, 5, 1 << 20])
def test_document_chunks_keep_one_break_between_documents(tmp_path, monkeypatch, block):
    monkeypatch.setattr(inputs, "READ_BLOCK", block)  # lines and breaks across read blocks
    texts = {
        "a.en": "\n\n a\nb\n  \n\t\nc\n",  # leading blanks, a run of blank lines
        "b.en": "d\n\n",  # a second file: a new document, trailing blanks dropped
        "c.fr": "\u3000\ne\u2028x\nf",  # a whitespace-only first line, no final newline
    }
    for name, text in texts.items():
        (tmp_path / name).write_text(text, "utf-8")
    files = [(name[-2:], tmp_path / name) for name in texts]
    chunks = list(binarize.document_chunks(files, size=4))
    assert chunks == [
        ("en", [" a", "b", "", "c"]),
        ("en", ["", "d"]),
        ("fr", ["", "e\u2028x", "f"]),  # only \n ends a line
    ]


def test_word_cache_encodes_exactly_like_sentencepiece(stage, model):
    _, results = stage
    lines = [
        line
        for c in CORPORA
        for lang in LANGUAGES
        for line in (results / f"corpus/{c}/train/doc.{lang}.txt").read_text("utf-8").splitlines()
    ]
    lines += [
        "x __fr__ y<mask>z",
        "abcабв 中文 123,456.78 ☃☃",
        "",
        "a" * 40 + " b",  # a word too long for the cache
        "  spaced\tout\u3000here \u00a0",
        "zero\u200bwidth",
    ]
    assert model._word_cache is not None  # identity normalization: the cache is on
    for _ in range(2):  # cold and warm cache
        encoded, tokens = model.encode_lines(lines)
        expected = [model.processor.encode(subword.normalize_line(line), out_type=str) for line in lines]
        assert encoded == [" ".join(p) for p in expected]
        assert tokens == sum(map(len, expected))


@pytest.mark.parametrize(
    "line", ["a b", " a  b ", "a\tb", "a\u3000b", "a\u00a0b", "a\u2028b", "a\x1fb", "a\u200bb", "", "  ", "\u0085"]
)
def test_normalize_line_matches_fairseqs_whitespace_split(line):
    assert subword.normalize_line(line) == " ".join(line.split())


def test_subword_model_api(model):
    text = "abc de  lim"
    pieces = model.encode(text)
    assert model.decode(pieces) == "abc de lim"
    words = model.encode_words(["abc", "de", "lim"])
    assert [p for w in words for p in w] == pieces
    assert all(w[0].startswith("▁") for w in words)  # first sub-word marks the word start
    assert subword.language_token("fr") in model.encode(f"x {subword.language_token('fr')} y")  # kept whole


def test_sample_is_language_balanced_and_seeded(tmp_path):
    files = {}
    for lang, n in (("en", 50), ("fr", 10), ("zh", 30)):
        path = tmp_path / f"{lang}.txt"
        path.write_text("".join(f"{lang} {i}\n\n" for i in range(n)))
        files[lang] = [path]

    def sample(seed):
        out = tmp_path / f"sample.{seed}.txt"
        taken = training.sample_sentences(files, out, 60, seed)
        return taken, out.read_text().splitlines()

    taken, lines = sample(1)
    assert taken == {"en": 20, "fr": 10, "zh": 20}  # equal shares; fr has fewer
    assert len(lines) == 50 and all(lines)
    assert len(set(lines)) == 50
    assert sample(1)[1] == lines
    assert sample(2)[1] != lines


def test_align_words_labels_each_word_on_the_piece_of_its_first_character(model):
    # Spaced text: the same pieces as encoding the sentence; each word starts a piece.
    words = ["abc", "de", "lim"]
    pieces, firsts = model.align_words(words, " ")
    assert pieces == model.encode("abc de lim")
    assert [pieces[f].lstrip("▁")[:1] for f in firsts] == ["a", "d", "l"]
    # Unspaced text (zh): the sentence is encoded without spaces, as in pretraining, so
    # no word gets a bare word-boundary piece of its own.
    pieces, firsts = model.align_words(words, "")
    assert pieces == model.encode("abcdelim")
    assert all(pieces[f].replace("▁", "") for f in firsts)
    assert firsts == sorted(firsts) and len(firsts) == 3
