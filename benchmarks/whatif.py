"""How good `harness whatif` is on the default (faithful) pipeline: for each case, a run of the
main job's scenario at N=32 on an account whose quota binds, then `harness whatif RUN --quota
... --verify`, which predicts the raise from that run and reruns with it. Printed: each case's
prediction against its rerun. Cases (both run in this invocation, one after the other):

- endpoints: CreateEndpoint concurrency 6, raised to 12;
- athena: the active-query quota (StartQueryExecution concurrency) 4, raised to 8.

The account and the harness's table agree on the quota in both (the what-if is about the
raise, not about discovering the quota).

    .venv/bin/python benchmarks/whatif.py [--n 32] [--cases endpoints,athena]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = {"endpoints": ("sagemaker", "CreateEndpoint", 6, 12), "athena": ("athena", "StartQueryExecution", 4, 8)}


def harness(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, cwd=ROOT)
    if done.returncode not in (0, 1):
        raise SystemExit(f"harness {' '.join(args)} exited {done.returncode}:\n{done.stderr[-3000:]}")
    return done.stdout


def case(name: str, n: int, folder: Path) -> str:
    service, operation, limit, raised = CASES[name]
    row = f'\n[[quota]]\nservice = "{service}"\noperation = "{operation}"\nconcurrency = {limit}\n'
    profile = folder / f"{name}.profile.toml"
    profile.write_text('extends = "aws-default"\n' + row)
    scenario = folder / f"{name}.toml"
    base = (ROOT / "scenarios" / "stress.toml").read_text()
    base = base.replace('profile = "aws-default"', f'profile = "{profile}"').replace(
        "thresholds = [", "# thresholds = ["
    )
    scenario.write_text(base + row)
    reports = folder / "reports"
    harness("run", str(scenario), "-n", str(n), "--reports", str(reports))
    [run_dir] = [p for p in reports.iterdir() if p.is_dir()]
    return harness(
        "whatif",
        str(run_dir),
        "--quota",
        f"{service}.{operation}.concurrency={raised}",
        "--verify",
        "--scenario",
        str(scenario),
        "--reports",
        str(reports),
    ).split("\n\nwritten:")[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=32)
    parser.add_argument("--cases", default="endpoints,athena")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.cases.split(","):
            folder = Path(tmp) / name
            folder.mkdir()
            print(f"== {name} ==")
            print(case(name, args.n, folder), flush=True)


if __name__ == "__main__":
    main()
