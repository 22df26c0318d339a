"""The real-source code paths, offline: every source entry of config/paper.yaml is
served from a local HTTP server (same URL paths, same archive members) with small
fixture files written in the source's real format; the download + extraction +
preparation must give the common format the evaluation reads."""
import io
import json
import re
import urllib.parse
import uuid
import zipfile
from pathlib import Path

import pytest

from lmvsmt import config as cfg
from lmvsmt.config import ConfigError
from lmvsmt.download import read_lock
from lmvsmt.downstream import prepare, sources, splits
from lmvsmt.downstream.common import NER_LABELS, NLI_LABELS, UPOS_LABELS, read_split, split_path
from lmvsmt.vocabulary import SPLITS

ROOT = Path(__file__).resolve().parent.parent
PAPER = cfg.load(ROOT / "config" / "paper.yaml")
LANGS = ["ar", "en", "es", "fr", "ru", "zh"]


# --------------------------------------------------------------------------- fixtures in the real formats


def amazon_jsonl(n, lang):
    rows = [{"id": f"{lang}_{i:07d}", "text": f"Title {i}\n\nreview {i} in {lang}", "label": i % 5,
             "label_text": str(i % 5)} for i in range(n)]
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def rureviews_tsv(n):
    labels = ["positive", "neautral", "negative"]
    rows = ["review\tsentiment"]
    for i in range(n):
        text = f'"отзыв {i}\nвторая строка"' if i % 7 == 0 else f"отзыв {i}"
        rows.append(f"{text}\t{labels[i % 3]}")
    return "\n".join(rows) + "\n"


def ar_res_csv(n):
    rows = ["polarity,text,restaurant_id,user_id"]
    for i in range(n):
        text = f'"مطعم {i}، جيد\n جدا"' if i % 4 == 0 else f"مطعم {i}"
        rows.append(f"{1 if i % 2 else -1},{text},{296 + i},{423 + i}")
    rows.append(rows[2])  # RES1.csv has repeated reviews: one duplicate
    return "\n".join(rows) + "\n"


def multiconer_conll(n, lang, tag="Facility"):
    out = []
    for i in range(n):
        out.append(f"# id {uuid.UUID(int=i)}\tdomain={lang}\n")
        out.append(f"w{i} _ _ O\nplace _ _ B-{tag}\nname{i} _ _ I-{tag}\n.\u00a0 _ _ O\n\n")
    return "".join(out)


def aqmar_txt(n, article):
    return "".join(f"{article}{i} O\nجورج B-PER\nبوش I-PER\nفي OO\nمصر B-LOC\n\n" for i in range(n))


def conllu(n, prefix):
    out = []
    for i in range(n):
        out.append(f"# sent_id = {prefix}-{i}\n# text = {prefix}{i} del mar\n"
                   f"1\t{prefix}{i}\t_\tPROPN\t_\t_\t0\troot\t_\t_\n"
                   "2-3\tdel\t_\t_\t_\t_\t_\t_\t_\t_\n"
                   "2\tde\tde\tADP\t_\t_\t4\tcase\t_\t_\n"
                   "3\tel\tel\tDET\t_\t_\t4\tdet\t_\t_\n"
                   "3.1\t_\t_\tVERB\t_\t_\t_\t_\t1:conj\t_\n"
                   "4\tmar\tmar\tNOUN\t_\t_\t1\tnmod\t_\t_\n\n")
    return "".join(out)


XNLI_COLUMNS = ["language", "gold_label", "sentence1_binary_parse", "sentence2_binary_parse", "sentence1_parse",
                "sentence2_parse", "sentence1", "sentence2", "promptID", "pairID", "genre", "label1", "label2",
                "label3", "label4", "label5", "sentence1_tokenized", "sentence2_tokenized", "match"]


def xnli_tsv(n):
    rows = ["\t".join(XNLI_COLUMNS)]
    for lang in ["ar", "bg", "de", "en", "es", "fr", "ru", "zh"]:
        for i in range(n):
            label = NLI_LABELS[i % 3]
            row = dict.fromkeys(XNLI_COLUMNS, "( x )")
            row.update(language=lang, gold_label=label, sentence1=f"{lang} premise {i}",
                       sentence2=f"{lang} hypothesis {i}", promptID=str(i), pairID=str(i), label1=label)
            rows.append("\t".join(row[c] for c in XNLI_COLUMNS))
    return "\n".join(rows) + "\n"


def xnli_mt_tsv(n, lang):
    labels = ["entailment", "neutral", "contradictory"]
    return "premise\thypo\tlabel\n" + "".join(
        f'{lang} "premise" {i}\t{lang} hypo {i}\t{labels[i % 3]}\n' for i in range(n))


def zipped(members: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in members.items():
            zf.writestr(name, text)
    return buf.getvalue()


XNLI_ZIP = zipped({"XNLI-1.0/xnli.dev.tsv": xnli_tsv(4), "XNLI-1.0/xnli.test.tsv": xnli_tsv(5),
                   "XNLI-1.0/README.md": "XNLI\n"})
XNLI_MT_ZIP = zipped({f"XNLI-MT-1.0/multinli/multinli.train.{lang}.tsv": xnli_mt_tsv(9, lang) for lang in LANGS})
AQMAR_ZIP = zipped({"AQMAR_Arabic_NER_corpus-1.0/Atom.txt": aqmar_txt(12, "ذرة"),
                    "AQMAR_Arabic_NER_corpus-1.0/Christiano_Ronaldo.txt": aqmar_txt(18, "رونالدو"),
                    "AQMAR_Arabic_NER_corpus-1.0/README.txt": "not an article\n",
                    "__MACOSX/AQMAR_Arabic_NER_corpus-1.0/._Atom.txt": "\x00\x05\x16\x07 resource fork"})


def fixture_bytes(task, lang, url):
    """The fixture served at one of the paper's URLs."""
    name = url.rsplit("/", 1)[-1]
    if name == "XNLI-1.0.zip":
        return XNLI_ZIP
    if name == "XNLI-MT-1.0.zip":
        return XNLI_MT_ZIP
    if name.startswith("AQMAR"):
        return AQMAR_ZIP
    if task == "SA":
        text = {"ru": lambda: rureviews_tsv(120), "ar": lambda: ar_res_csv(30)}.get(lang, lambda: amazon_jsonl(
            {"train.jsonl": 10, "validation.jsonl": 3, "test.jsonl": 4}[name], lang))()
    elif task == "NER":
        text = multiconer_conll({"train": 6, "dev": 2, "test": 3}[name.split("_")[1].split(".")[0]], lang)
    elif task == "POS":
        text = conllu(10, name.removesuffix(".conllu").replace("-", "_"))
    else:
        raise AssertionError(url)
    return text.encode("utf-8")


# Expected (train, valid, test) of each fixture dataset.
def expected_counts(task, lang, entry):
    if task == "SA" and lang in ("ru", "ar"):
        n = 120 if lang == "ru" else 30   # the ar duplicate is removed
        sizes = splits.split_sizes(n, entry.get("split_fractions") or PAPER["downstream"]["own_split"])
        return tuple(sizes[s] for s in SPLITS)
    if task == "SA":
        return (10, 3, 4)
    if task == "NER" and lang == "ar":
        sizes = splits.split_sizes(30, PAPER["downstream"]["own_split"])
        return tuple(sizes[s] for s in SPLITS)
    if task == "NER":
        return (6, 2, 3)
    if task == "POS":
        sizes = splits.split_sizes(10 * len(entry["files"]), PAPER["downstream"]["own_split"])
        return tuple(sizes[s] for s in SPLITS)
    return (9, 4, 5)


def localise(entry, server, task, lang):
    """The entry with every URL moved to the local server (same path)."""
    local = json.loads(json.dumps(entry))
    for spec in local["files"]:
        path = urllib.parse.urlsplit(spec["url"]).path
        spec["url"] = server.serve(path, fixture_bytes(task, lang, spec["url"]))
    return local


LABELS = {"NER": set(NER_LABELS), "POS": set(UPOS_LABELS), "NLI": set(NLI_LABELS)}
SA_LABELS = {"ru": {"positive", "neutral", "negative"}, "ar": {"positive", "negative"}}


@pytest.mark.parametrize("task", ["SA", "NER", "POS", "NLI"])
@pytest.mark.parametrize("lang", LANGS)
def test_paper_source_gives_the_common_format(http_server, tmp_path, task, lang):
    entry = sources.source_entry(PAPER, task, lang)
    local = localise(entry, http_server, task, lang)
    raw = tmp_path / "raw" / task / lang
    lock = tmp_path / "downloads.lock"
    manifest = sources.fetch_raw(local, task, lang, raw, tmp_path / "raw" / "archives", lock)
    out = tmp_path / "downstream" / task / lang
    ds = PAPER["downstream"]
    meta = prepare.prepare(raw, out, task, lang, seed=ds["split_seed"], own_split=ds["own_split"],
                           pos_token_budget=ds["pos_token_budget"] if task == "POS" else 0, dedupe=ds["dedupe"])

    assert tuple(meta["counts"][s] for s in SPLITS) == expected_counts(task, lang, entry)
    assert meta["dataset"] == entry["dataset"]
    # every downloaded URL is pinned in the lock file, every raw file in the manifest
    assert set(read_lock(lock)) == {spec["url"] for spec in local["files"]}
    assert all(len(f["sha256"]) == 64 for f in json.loads(manifest.read_text())["files"])
    labels = set()
    for split in SPLITS:
        examples = read_split(split_path(out, task, split), task)  # the evaluation's reader too
        assert len(examples) == meta["counts"][split]
        labels |= {label for ex in examples for label in ex.labels}
    if task == "SA":
        assert labels == SA_LABELS.get(lang, {"1", "2", "3", "4", "5"})
    else:
        assert labels <= LABELS[task] and labels
    if task == "POS":
        assert labels == {"PROPN", "ADP", "DET", "NOUN"}  # ranges and empty nodes are not words
    if task == "NER" and lang == "ar":
        assert {f["name"] for f in json.loads(manifest.read_text())["files"]} == {"Atom.txt", "Christiano_Ronaldo.txt"}


def test_shared_archive_is_downloaded_once(http_server, tmp_path):
    lock = tmp_path / "downloads.lock"
    for lang in ("en", "fr"):
        local = localise(sources.source_entry(PAPER, "NLI", lang), http_server, "NLI", lang)
        sources.fetch_raw(local, "NLI", lang, tmp_path / "raw" / "NLI" / lang, tmp_path / "archives", lock)
    assert len(http_server.hits("/XNLI/XNLI-1.0.zip")) == 1
    assert len(http_server.hits("/XNLI/XNLI-MT-1.0.zip")) == 1


def test_missing_archive_member_is_one_error(http_server, tmp_path):
    entry = sources.source_entry(PAPER, "NLI", "en")
    local = localise(entry, http_server, "NLI", "en")
    local["files"][1]["member"] = "XNLI-1.0/xnli.valid.tsv"
    with pytest.raises(Exception, match=r"XNLI-1.0.zip \(downstream.sources.NLI.en.files\[1\].url\): no member "
                                        r"matches 'XNLI-1.0/xnli.valid.tsv'"):
        sources.fetch_raw(local, "NLI", "en", tmp_path / "raw", tmp_path / "archives", tmp_path / "lock")


# --------------------------------------------------------------------------- config checks


PINNED = re.compile(r"/(resolve|raw\.githubusercontent\.com/[^/]+/[^/]+)/([0-9a-f]{40}|r\d+\.\d+)/|"
                    r"raw\.githubusercontent\.com/[^/]+/[^/]+/([0-9a-f]{40}|r\d+\.\d+)/")


def test_paper_sources_are_complete_and_pinned():
    urls = []
    for task in PAPER["tasks"]:
        for lang in PAPER["languages"]:
            entry = sources.source_entry(PAPER, task, lang)
            assert entry["licence"]
            urls += [spec["url"] for spec in entry["files"]]
    hosted = [u for u in urls if "huggingface.co" in u or "githubusercontent.com" in u]
    assert hosted and all(PINNED.search(u) for u in hosted), [u for u in hosted if not PINNED.search(u)]
    assert all(u.startswith("https://") for u in urls)


def test_an_entry_left_out_is_the_papers():
    conf = cfg.validate({"downstream": {"source": "real"}})
    assert sources.source_entry(conf, "POS", "ru") == PAPER["downstream"]["sources"]["POS"]["ru"]


def test_an_entry_nowhere_is_one_config_error(monkeypatch, tmp_path):
    empty = tmp_path / "paper.yaml"
    empty.write_text("downstream: {source: real}\n")
    read = sources._paper_sources.__wrapped__
    monkeypatch.setattr(sources, "_paper_sources", lambda: read(empty))
    with pytest.raises(ConfigError) as err:
        sources.source_entry(cfg.validate({"downstream": {"source": "real"}}), "POS", "ru")
    assert "\n" not in str(err.value)
    assert str(err.value).startswith("config error: downstream.sources.POS.ru is missing and paper.yaml has none")


@pytest.mark.parametrize("files,message", [
    ([{"url": "https://x/a.conllu", "format": "conllu", "split": "all"},
      {"url": "https://x/b.conllu", "format": "conllu", "split": "test"}], "cannot be mixed"),
    ([{"url": "https://x/a.conllu", "format": "conllu", "split": "train"},
      {"url": "https://x/b.conllu", "format": "conllu", "split": "test"}], "no file for the valid split"),
    ([{"url": "https://x/a.tsv", "format": "xnli_tsv", "split": "all"}], "'xnli_tsv' is a NLI format, not a POS one"),
    ([{"url": "https://x/a.zip", "format": "conllu", "split": "all"}], "is an archive: name its `member`"),
    ([{"url": "https://x/a/t.conllu", "format": "conllu", "split": "all"},
      {"url": "https://y/b/t.conllu", "format": "conllu", "split": "all"}], "a second file is named 't.conllu'"),
])
def test_inconsistent_source_entry_is_one_config_error(files, message):
    conf = cfg.validate({"downstream": {"sources": {"POS": {"ru": {"dataset": "d", "files": files}}}}})
    with pytest.raises(ConfigError, match=re.escape(message)) as err:
        sources.source_entry(conf, "POS", "ru")
    assert "downstream.sources.POS.ru.files" in str(err.value)


def test_workflow_real_mode_over_local_server(http_server, tmp_path, snakemake):
    """The real-source rules end to end (NLI: two languages sharing two archives):
    downloads, extraction, splits, Table 7 and the lock file that pins every download."""
    import yaml

    conf = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
    conf.update(results_dir=str(tmp_path / "results"), tasks=["NLI"], languages=["ar", "en"])
    for task in conf["tasks"]:
        for lang in conf["languages"]:
            conf["downstream"]["sources"][task][lang] = localise(PAPER["downstream"]["sources"][task][lang],
                                                                 http_server, task, lang)
    path = tmp_path / "real.yaml"
    path.write_text(yaml.safe_dump(conf))
    table7 = tmp_path / "results" / "stats" / "table7.tsv"
    proc = snakemake(table7, cores=4, configfile=path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = [line.split("\t") for line in table7.read_text().splitlines()[1:]]
    # the fixture's dev and test files share their first four pairs: counted, kept (the default)
    assert rows == [["NLI", "ar", "XNLI", "9", "4", "5", "18", "0", "0", "4"],
                    ["NLI", "en", "XNLI", "9", "4", "5", "18", "0", "0", "4"]]
    assert len(http_server.hits("/XNLI/XNLI-1.0.zip")) == len(http_server.hits("/XNLI/XNLI-MT-1.0.zip")) == 1
    assert set(read_lock(tmp_path / "results" / "downloads.lock")) == {
        http_server.url("/XNLI/XNLI-1.0.zip"), http_server.url("/XNLI/XNLI-MT-1.0.zip")}
