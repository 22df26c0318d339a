"""Glue for the workflow scripts of the downstream stage."""
from __future__ import annotations

import contextlib
import logging
from typing import Iterator

from lmvsmt.config import ConfigError
from lmvsmt.download import DownloadError
from lmvsmt.downstream.common import DataError


@contextlib.contextmanager
def one_line_errors() -> Iterator[None]:
    """Turn a data, download or config problem into one line (in the log and as the
    job's exit message) instead of a traceback."""
    try:
        yield
    except (DataError, DownloadError, ConfigError) as err:
        logging.getLogger("lmvsmt.downstream").error("%s", err)
        raise SystemExit(str(err)) from None
