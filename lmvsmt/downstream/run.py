"""Glue for the workflow scripts of the downstream stage."""
from __future__ import annotations

from lmvsmt import io
from lmvsmt.config import ConfigError
from lmvsmt.download import DownloadError
from lmvsmt.downstream.common import DataError


def one_line_errors():
    """Turn a data, download or config problem into one line (in the log and as the
    job's exit message) instead of a traceback."""
    return io.one_line_errors(DataError, DownloadError, ConfigError, logger="lmvsmt.downstream")
