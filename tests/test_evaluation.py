"""Probing and fine-tuning logic on a toy encoder: data formats, first-sub-word
labelling, the feature cache, model selection, seeds and determinism."""
import json
import random

import pytest
import torch
from fairseq.data import Dictionary
from torch import nn

from lmvsmt import finetune, probe, results, taskdata
from lmvsmt.head import fit, pool

WORDS = {"NOUN": ["cat", "dog", "tree", "house", "river"], "VERB": ["runs", "sees", "eats", "likes"],
         "ADJ": ["red", "big", "old"], "DET": ["the", "a"]}


class ToySubwords:
    """Splits words into two-character pieces, so words have several sub-words."""

    def encode_words(self, words):
        return [[w[i:i + 2] for i in range(0, len(w), 2)] for w in words]

    def encode(self, text):
        return [p for ps in self.encode_words(text.split()) for p in ps]

    def align_words(self, words, joiner):
        pieces, firsts = [], []
        for word_pieces in self.encode_words(words):
            firsts.append(len(pieces))
            pieces.extend(word_pieces)
        return pieces, firsts


class ToyEncoder(nn.Module):
    def __init__(self, dictionary, dim=16):
        super().__init__()
        self.dictionary, self.hidden_size = dictionary, dim
        self.emb = nn.Embedding(len(dictionary), dim, padding_idx=dictionary.pad())
        self.mix = nn.Linear(dim, dim)

    def encode(self, tokens, lang):
        return torch.tanh(self.mix(self.emb(tokens)))


def _pos_sentence(rng):
    tags = ["DET", "ADJ", "NOUN", "VERB", "DET", "NOUN"][: rng.randint(3, 6)]
    return [(rng.choice(WORDS[t]), t) for t in tags]


def write_pos(dir_, n=(200, 40, 60), seed=0):
    rng = random.Random(seed)
    for split, size in zip(taskdata.SPLITS, n):
        with open(dir_ / f"{split}.conll", "w") as fh:
            for _ in range(size):
                fh.write("".join(f"{w}\t{t}\n" for w, t in _pos_sentence(rng)) + "\n")


def write_sa(dir_, n=(200, 40, 60), seed=0):
    rng = random.Random(seed)
    for split, size in zip(taskdata.SPLITS, n):
        with open(dir_ / f"{split}.tsv", "w") as fh:
            for _ in range(size):
                label = rng.choice(["positive", "negative"])
                word = rng.choice(["good", "great"] if label == "positive" else ["bad", "awful"])
                fh.write(f"the {rng.choice(WORDS['NOUN'])} is {word}\t{label}\n")


def dictionary_for(subwords, texts):
    d = Dictionary()
    for t in texts:
        for p in subwords.encode(t):
            d.add_symbol(p)
    return d


@pytest.fixture
def pos_task(tmp_path):
    write_pos(tmp_path)
    sub = ToySubwords()
    vocab = " ".join(w for ws in WORDS.values() for w in ws)
    d = dictionary_for(sub, [vocab])
    torch.manual_seed(0)
    model = ToyEncoder(d)
    labels, encoded = probe.load_task(tmp_path, "POS", "en", sub, d, max_length=64)
    return model, labels, encoded


HEAD = {"hidden": 32, "dropout": 0.1, "pooling": "sum"}
OPTIM = {"epochs": 6, "lr": 0.01, "batch_size": 16, "weight_decay": 0.01, "amp": False}


def test_token_task_is_labelled_on_first_subword():
    d = Dictionary()
    sub = ToySubwords()
    for p in sub.encode("house cat a"):
        d.add_symbol(p)
    ex = [taskdata.Example(words=["house", "cat", "a"], labels=["NOUN", "NOUN", "DET"])]
    enc = taskdata.encode(ex, "POS", "en", sub, d, ["DET", "NOUN"], max_length=64)
    assert enc.firsts == [[0, 3, 5]]  # ho|us|e, ca|t, a
    assert enc.labels == [[1, 1, 0]]
    cut = taskdata.encode(ex, "POS", "en", sub, d, ["DET", "NOUN"], max_length=4)
    assert cut.firsts == [[0, 3]] and cut.labels == [[1, 1]] and cut.truncated_words == 1


def test_bad_task_files_name_file_and_line(tmp_path):
    (tmp_path / "train.tsv").write_text("a b\tpositive\nonly one column\n")
    with pytest.raises(taskdata.TaskDataError, match=r"train.tsv:2: expected 2 tab-separated columns, found 1"):
        taskdata.read_split(tmp_path / "train.tsv", "SA")
    (tmp_path / "train.conll").write_text("cat\tNOUN\nruns\tVERB\textra\n")
    with pytest.raises(taskdata.TaskDataError, match=r"train.conll:2: expected 'token<TAB>label'"):
        taskdata.read_split(tmp_path / "train.conll", "POS")
    (tmp_path / "valid.tsv").write_text("\n")
    with pytest.raises(taskdata.TaskDataError, match=r"valid.tsv: empty split"):
        taskdata.read_split(tmp_path / "valid.tsv", "SA")
    ex = [taskdata.Example(texts=("x",), labels=["neutral"])]
    with pytest.raises(taskdata.TaskDataError, match=r"test.tsv: example 1: unknown label 'neutral'"):
        taskdata.encode(ex, "SA", "en", ToySubwords(), Dictionary(), ["negative", "positive"], 64, where="test.tsv")


def test_label_inventory_comes_from_meta_json_when_present(tmp_path):
    train = [taskdata.Example(words=["a"], labels=["DET"])]
    assert taskdata.label_set(train, tmp_path) == ["DET"]
    (tmp_path / "meta.json").write_text(json.dumps({"labels_observed": ["NOUN", "DET", "X"]}))
    assert taskdata.label_set(train, tmp_path) == ["DET", "NOUN", "X"]


def test_scores_match_scikit_learn():
    from sklearn.metrics import f1_score

    from lmvsmt.head import scores

    rng = random.Random(0)
    for _ in range(50):
        golds = [rng.randrange(5) for _ in range(40)]
        preds = [g if rng.random() < 0.6 else rng.randrange(6) for g in golds]
        got = scores(preds, golds)
        assert got["macro_f1"] == pytest.approx(f1_score(golds, preds, average="macro", zero_division=0))
        assert got["micro_f1"] == pytest.approx(f1_score(golds, preds, average="micro", zero_division=0))
        assert got["accuracy"] == pytest.approx(sum(p == g for p, g in zip(preds, golds)) / 40)


def test_sum_pooling_ignores_padding():
    states = torch.ones(2, 3, 4)
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]], dtype=torch.bool)
    assert pool(states, mask, "sum")[:, 0].tolist() == [2.0, 1.0]
    assert pool(states, mask, "mean")[:, 0].tolist() == [1.0, 1.0]


def test_probe_learns_pos_from_cached_features_and_beats_majority(pos_task, tmp_path):
    model, labels, encoded = pos_task
    cache = tmp_path / "features.pt"
    probe.extract_features(model, labels, encoded, "en", "POS", "sum", 32, cache)
    stored = torch.load(cache, weights_only=True)
    assert stored["train"]["x"].dtype == torch.float16
    assert stored["train"]["x"].shape[0] == sum(len(l) for l in encoded["train"].labels)
    metrics = probe.probe(cache, seed=1, head_cfg=HEAD, optim=OPTIM)
    assert metrics["accuracy"] > probe.majority_baseline(cache) + 0.3
    assert 1 <= metrics["best_epoch"] <= OPTIM["epochs"] == metrics["epochs_run"]


def test_probe_is_deterministic_per_seed(pos_task, tmp_path):
    model, labels, encoded = pos_task
    cache = tmp_path / "features.pt"
    probe.extract_features(model, labels, encoded, "en", "POS", "sum", 32, cache)
    a, b, c = (probe.probe(cache, seed=s, head_cfg=HEAD, optim=OPTIM) for s in (3, 3, 4))
    for m in (a, b, c):
        m.pop("wall_time_s")
    assert a == b
    assert a["valid_losses"] != c["valid_losses"]


def test_finetune_trains_the_encoder_and_every_seed_starts_from_pretrained(tmp_path):
    write_sa(tmp_path)
    sub = ToySubwords()
    d = dictionary_for(sub, ["the is good great bad awful " + " ".join(WORDS["NOUN"])])
    torch.manual_seed(0)
    model = ToyEncoder(d)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    labels, encoded = probe.load_task(tmp_path, "SA", "en", sub, d, max_length=32)
    trained = []
    for seed, metrics in finetune.finetune_seeds(model, labels, encoded, "en", "SA", [1, 2], HEAD, OPTIM):
        trained.append(any(not torch.equal(before[k], v) for k, v in model.state_dict().items()))
    assert trained == [True, True]  # each seed trained the encoder ...
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # ... which is then restored
    both = dict(finetune.finetune_seeds(model, labels, encoded, "en", "SA", [1, 2], HEAD, OPTIM))
    alone = dict(finetune.finetune_seeds(model, labels, encoded, "en", "SA", [2], HEAD, OPTIM))
    for m in (both[2], alone[2]):
        m.pop("wall_time_s")
    assert both[2] == alone[2]
    assert both[2]["accuracy"] > 0.9


def test_fit_keeps_the_epoch_with_lowest_validation_loss():
    layer = nn.Linear(1, 2)
    losses = iter([3.0, 1.0, 2.0])
    seen = []

    def batches(split, rng):
        yield split

    def step(split):
        out = layer(torch.ones(1, 1))
        if split == "valid":
            value = next(losses)
            seen.append({k: v.clone() for k, v in layer.state_dict().items()})
            return torch.tensor(value), 1, out, torch.tensor([0])
        return nn.functional.cross_entropy(out, torch.tensor([0]), reduction="sum"), 1, out, torch.tensor([0])

    result = fit(layer, layer.parameters(), batches, step, epochs=3, lr=0.1, weight_decay=0.0, seed=0)
    assert result.best_epoch == 2 and result.valid_losses == [3.0, 1.0, 2.0]
    assert all(torch.equal(seen[1][k], v) for k, v in layer.state_dict().items())


def test_result_file_is_atomic_json_with_provenance(tmp_path):
    record = {"mode": "probe", "accuracy": 0.5, "provenance": results.provenance({"evaluation": {"seeds": [1]}})}
    path = tmp_path / "eval" / "seed1.json"
    results.write_result(path, record)
    loaded = json.loads(path.read_text())
    assert loaded == record
    assert set(loaded["provenance"]) == {"config_hash", "git_commit", "versions"}
    assert [p.name for p in path.parent.iterdir()] == ["seed1.json"]
