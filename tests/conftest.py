"""Fixtures shared by all test modules (add yours here; keep each in its own module)."""
from httpserver import http_server  # noqa: F401  (local HTTP server for downloader tests)
