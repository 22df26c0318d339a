"""The configuration contract: both shipped configs validate, defaults follow the
protocol, and every kind of mistake is reported in one line naming the key."""
import copy
from pathlib import Path

import pytest
import yaml

from lmvsmt import config as cfg

ROOT = Path(__file__).resolve().parent.parent


def _yaml(name):
    return yaml.safe_load((ROOT / "config" / name).read_text())


@pytest.mark.parametrize("name", ["config.yaml", "paper.yaml", "released.yaml"])
def test_shipped_configs_validate(name):
    cfg.load(ROOT / "config" / name)


def test_paper_config_is_the_protocol():
    paper = cfg.load(ROOT / "config" / "paper.yaml")
    assert paper["languages"] == ["ar", "en", "es", "fr", "ru", "zh"]
    assert paper["objectives"] == ["2-LM", "2-MT", "CLM", "MLM", "TLM"]
    assert paper["tasks"] == ["SA", "NER", "POS", "NLI"]
    assert paper["bpe"]["vocab_size"] == 100000
    assert paper["pretrain"]["max_update"] == 600000
    assert paper["pretrain"]["global_batch"] == 4096
    assert paper["pretrain"]["preset"] == "paper"
    assert paper["evaluation"]["seeds"] == [1, 2, 3, 4, 5]
    assert paper["evaluation"]["modes"] == ["probe", "finetune"]
    assert paper["corpus"]["source"] == "real" and paper["downstream"]["source"] == "real"


def test_demo_config_is_small_and_offline():
    demo = cfg.load(ROOT / "config" / "config.yaml")
    assert demo["corpus"]["source"] == "demo" and demo["downstream"]["source"] == "demo"
    assert demo["pretrain"]["launcher"] == "local"
    assert len(demo["evaluation"]["seeds"]) >= 3
    assert demo["bpe"]["vocab_size"] < 10000


def test_empty_config_gets_protocol_defaults():
    filled = cfg.validate({})
    assert filled["languages"] == ["ar", "en", "es", "fr", "ru", "zh"]
    assert filled["corpus"]["allocation"]["unit"] == "language_version"
    assert filled["bpe"]["vocab_size"] == 100000
    assert filled["evaluation"]["max_length"] == 128


def test_key_order_of_a_config_does_not_matter():
    """Rule params come from the config; reordering keys must not look like a change."""
    a = cfg.validate({"evaluation": {"seeds": [1], "modes": ["probe"]}, "bpe": {"threads": 2, "vocab_size": 500}})
    b = cfg.validate({"bpe": {"vocab_size": 500, "threads": 2}, "evaluation": {"modes": ["probe"], "seeds": [1]}})
    assert repr(a) == repr(b)


def test_defaults_are_not_shared_between_configs():
    a, b = cfg.validate({}), cfg.validate({})
    a["languages"].append("xx")
    assert "xx" not in b["languages"]


BAD = [
    ({"objectivs": ["CLM"]}, "unknown key 'objectivs'", "allowed keys:"),
    ({"corpus": {"allocaton": {}}}, "corpus: unknown key 'allocaton'", "allocation"),
    ({"objectives": ["CLM", "GPT"]}, "objectives[1]: 'GPT' is not allowed", "'2-MT'"),
    ({"languages": ["en", "de"]}, "languages[1]: 'de' is not allowed", "'zh'"),
    ({"tasks": ["QA"]}, "tasks[0]: 'QA' is not allowed", "'NLI'"),
    ({"corpus": {"allocation": {"unit": "doc"}}}, "corpus.allocation.unit: 'doc'", "'language_version'"),
    ({"bpe": {"vocab_size": "big"}}, "bpe.vocab_size: 'big' should be of type integer", ""),
    ({"evaluation": {"seeds": []}}, "evaluation.seeds", ""),
    ({"results_dir": 3}, "results_dir: 3 should be of type string", ""),
]


@pytest.mark.parametrize("bad,message,allowed", BAD)
def test_bad_config_is_one_line_naming_the_key(bad, message, allowed):
    config = copy.deepcopy(bad)
    with pytest.raises(cfg.ConfigError) as err:
        cfg.validate(config, "my.yaml")
    text = str(err.value)
    assert "\n" not in text
    assert text.startswith("config error (my.yaml): ")
    assert message in text
    assert allowed in text


def test_invalid_yaml_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("results_dir: results\nlanguages: [en, fr\n")
    with pytest.raises(cfg.ConfigError, match=r"bad.yaml line \d+\): not valid YAML"):
        cfg.load(bad)


def test_snakemake_rejects_bad_config_before_any_job(tmp_path, snakemake):
    conf = _yaml("config.yaml")
    conf["results_dir"] = str(tmp_path / "results")
    conf["corpus"]["allocation"]["unit"] = "whole"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(conf))
    proc = snakemake(cores=1, configfile=path, profile=True, timeout=120)
    assert proc.returncode != 0
    errors = [l for l in (proc.stdout + proc.stderr).splitlines() if "config error" in l]
    assert errors == [
        f"config error ({path}): corpus.allocation.unit: 'whole' is not allowed "
        "(allowed values: 'language_version', 'document')"
    ]
    assert not (tmp_path / "results").exists()


def test_configfile_replaces_the_demo_default(tmp_path, snakemake):
    """--configfile is read as written, not merged over the demo config."""
    path = tmp_path / "minimal.yaml"
    path.write_text(f"results_dir: {tmp_path / 'r'}\n")
    proc = snakemake("-n", "--print-compilation", configfile=path, profile=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "is extended" not in proc.stdout + proc.stderr


def test_config_reference_is_current():
    """config/REFERENCE.md documents exactly the schema (regenerate with `make reference`)."""
    reference = cfg.reference_markdown()
    assert cfg.REFERENCE_FILE.read_text(encoding="utf-8") == reference
    for key, _, _, _ in cfg.reference_rows():
        assert f"`{key}`" in reference
