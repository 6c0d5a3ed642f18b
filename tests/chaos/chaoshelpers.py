"""Shared pieces of the chaos suite."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def harness(*args, env=None, timeout=300):
    """Run the harness CLI; return the finished process."""
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def metrics_of(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


def profile(tmp_path: Path, text: str, name: str = "chaos") -> str:
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return str(path)


def scenario(tmp_path: Path, text: str, name: str = "chaos-scenario") -> str:
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return str(path)
