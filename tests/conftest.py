"""Fixtures shared by all test modules (add yours here; keep each in its own module).

Two tiers: `make test` runs everything (as CI does); `make test-fast`
(`pytest -m "not slow"`) runs the unit tier, leaving out the tests marked `slow`.
Every test that starts Snakemake (through the `snakemake` fixture, the demo DAG
included) is marked slow here; mark by hand what trains with fairseq or needs Slurm."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from httpserver import http_server  # noqa: F401  (local HTTP server for downloader tests)

ROOT = Path(__file__).resolve().parent.parent


class Snakemake:
    """The virtual environment's `snakemake` on this repository's workflow, as the tests run it.

    `snakemake(*args, ...)` runs it and returns the CompletedProcess (text output);
    `snakemake.command(*args, ...)` is its command line, for tests that start and stop
    the process themselves or run it again with more arguments (`snakemake.run`). Options:
      configfile  --configfile (put last on the line: it takes several values)
      results     --config results_dir=<results>
      cores       --cores
      profile     False (default): `--workflow-profile none`, Snakemake's own defaults;
                  True: profiles/default is loaded, as on every run a user starts
      cwd         where it runs (default: the repository root, whose Snakefile it runs)
      timeout     seconds; then Snakemake gets SIGINT (it stops its jobs, local or
                  Slurm), a minute later its process group SIGKILL, and the test fails
    """

    executable = str(Path(sys.executable).with_name("snakemake"))

    def command(self, *args, configfile=None, results=None, cores=None, profile=False) -> list[str]:
        line = [self.executable, *map(str, args)]
        if not profile:
            line += ["--workflow-profile", "none"]
        if cores is not None:
            line += ["--cores", str(cores)]
        if configfile is not None:
            line += ["--configfile", str(configfile)]
        if results is not None:
            line += ["--config", f"results_dir={results}"]
        return line

    def __call__(self, *args, cwd=ROOT, timeout=600, **options) -> subprocess.CompletedProcess:
        return self.run(self.command(*args, **options), cwd=cwd, timeout=timeout)

    def run(self, line: list[str], cwd=ROOT, timeout=600) -> subprocess.CompletedProcess:
        """Run a command line made by `command` (perhaps with more arguments)."""
        # A session of its own: on a timeout or Ctrl-C its jobs are stopped with it.
        proc = subprocess.Popen(line, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except BaseException as exc:
            stdout, stderr = self._stop(proc)
            if isinstance(exc, subprocess.TimeoutExpired):
                pytest.fail(f"{' '.join(line)} did not finish within {timeout} s:\n{stdout[-4000:]}{stderr[-4000:]}")
            raise
        return subprocess.CompletedProcess(line, proc.returncode, stdout, stderr)

    @staticmethod
    def _stop(proc: subprocess.Popen) -> tuple[str, str]:
        """SIGINT first (Snakemake then cancels its jobs, Slurm ones included), SIGKILL
        to the whole process group if it is still there a minute later."""
        proc.send_signal(signal.SIGINT)
        try:
            return proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            return proc.communicate()


@pytest.fixture(scope="session")
def snakemake() -> Snakemake:
    return Snakemake()


@pytest.fixture(scope="session")
def demo(tmp_path_factory, snakemake):
    """The whole demo DAG, run once per test session into a temporary results
    directory (several minutes). Tests must not change it: copy it first."""
    results = tmp_path_factory.mktemp("demo") / "results"
    # About 7 minutes on an idle 2-core machine; far longer on a busy one.
    proc = snakemake(cores=2, results=results, profile=True, timeout=2700)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return results


def pytest_collection_modifyitems(items):
    """A test that starts Snakemake, itself or through a fixture, is slow (seconds
    for a dry run, minutes for the demo DAG)."""
    for item in items:
        if "snakemake" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
