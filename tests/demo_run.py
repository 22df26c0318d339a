"""The demo DAG as the end-to-end tests run it (the session fixture `demo` in conftest.py)."""
import subprocess
import sys
from pathlib import Path

from lmvsmt import config as lmvsmt_config

ROOT = Path(__file__).resolve().parent.parent
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
DEMO = lmvsmt_config.load(ROOT / "config" / "config.yaml")


def snakemake(results, *args, config=(), timeout=1200):
    """Snakemake in the repository root on the demo config, into `results`."""
    return subprocess.run([SNAKEMAKE, *args, "--cores", "2", "--config", f"results_dir={results}", *config],
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def run_demo(results: Path) -> Path:
    # About 7 minutes on an idle 2-core machine; far longer on a busy one.
    proc = snakemake(results, timeout=2700)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return results
