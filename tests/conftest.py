"""Fixtures shared by all test modules (add yours here; keep each in its own module)."""
import pytest
from demo_run import run_demo
from httpserver import http_server  # noqa: F401  (local HTTP server for downloader tests)


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """The whole demo DAG, run once per test session into a temporary results
    directory (several minutes). Tests must not change it: copy it first."""
    return run_demo(tmp_path_factory.mktemp("demo") / "results")
