"""`python -m lmvsmt.tables`: the paper tables from the result files present so far."""
from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Sequence

from lmvsmt.tables.document import render_available
from lmvsmt.tables.specs import TableError


def main(argv: Sequence[str] | None = None) -> None:
    from lmvsmt.config import ConfigError, load

    parser = argparse.ArgumentParser(
        prog="python -m lmvsmt.tables",
        description="Render the paper tables from the result files present so far (dashes for the rest); "
                    "the workflow's own targets need every result file.")
    parser.add_argument("--configfile", default="config/config.yaml")
    parser.add_argument("--out", help="output directory (default: <results_dir>/tables-partial)")
    parser.add_argument("--no-pdf", action="store_true", help="do not run pdflatex")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        config = load(args.configfile)
        render_available(config, args.out or Path(config["results_dir"]) / "tables-partial", pdf=not args.no_pdf)
    except (ConfigError, TableError) as exc:
        raise SystemExit(str(exc)) from None


if __name__ == "__main__":
    main()
