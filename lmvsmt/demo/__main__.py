"""Print a sample of the synthetic demo world: `python -m lmvsmt.demo --seed 1 --sentences 3`."""
from __future__ import annotations

import argparse
import random

from lmvsmt.demo import World
from lmvsmt.vocabulary import LANGUAGES


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Print a SYNTHETIC sample document of the demo world")
    parser.add_argument("--seed", type=int, default=1, help="world seed (demo.seed)")
    parser.add_argument("--vocab-scale", type=float, default=1.0, help="demo.vocab_scale")
    parser.add_argument("--sample-seed", type=int, default=0, help="seed of the sampled document")
    parser.add_argument("--sentences", type=int, default=3)
    parser.add_argument("--languages", nargs="+", default=list(LANGUAGES), choices=LANGUAGES)
    args = parser.parse_args(argv)
    world = World(seed=args.seed, languages=args.languages, vocab_scale=args.vocab_scale)
    print(f"# {world.notice()}")
    meanings = world.document(random.Random(args.sample_seed), args.sentences)
    for i, m in enumerate(meanings):
        print(f"\n[{i}] {m}  polarity={world.polarity(m)}")
        for lang in world.languages:
            toks = world.render(m, lang)
            print(f"  {lang}  {world.surface(toks, lang)}")
            if i == 0:
                print("      " + " ".join(f"{t.form}/{t.upos}" + (f"/{t.ner}" if t.ner != "O" else "") for t in toks))


if __name__ == "__main__":
    main()
