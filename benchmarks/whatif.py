"""How good `harness whatif` is on the default (faithful) pipeline: for each case, a run of the
main job's scenario at N=32 on an account whose quota binds, then `harness whatif RUN --quota
... --verify`, which predicts the raise from that run and reruns with it. Printed: each case's
prediction against its rerun. Cases (both run in this invocation, one after the other):

- endpoints: CreateEndpoint concurrency 6, raised to 12;
- athena: the active-query quota (StartQueryExecution concurrency) 4, raised to 8.

The account and the harness's table agree on the quota in both (the what-if is about the
raise, not about discovering the quota). The scenario runs on virtual time, so each seed gives
the same figures on every run; `--seeds` repeats both cases per seed and ends with the spread
of the prediction's error over them.

    .venv/bin/python benchmarks/whatif.py [--n 32] [--cases endpoints,athena] [--seeds 1,2,3,4,5]
"""

from __future__ import annotations

import argparse
import statistics
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


def case(name: str, n: int, folder: Path, seed: int = 1) -> str:
    service, operation, limit, raised = CASES[name]
    row = f'\n[[quota]]\nservice = "{service}"\noperation = "{operation}"\nconcurrency = {limit}\n'
    profile = folder / f"{name}.profile.toml"
    profile.write_text('extends = "aws-default"\n' + row)
    scenario = folder / f"{name}.toml"
    base = (ROOT / "scenarios" / "stress.toml").read_text()
    base = (
        base.replace('profile = "aws-default"', f'profile = "{profile}"')
        .replace("thresholds = [", "# thresholds = [")
        .replace("\nseed = 1\n", f"\nseed = {seed}\n")
    )
    if f"\nseed = {seed}\n" not in base:
        raise SystemExit(f"scenarios/stress.toml has no 'seed = 1' line to replace with seed {seed}")
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


def prediction_error(answer: str) -> float | None:
    """Predicted against verified, in percent, from the what-if table's last row."""
    cells = answer.strip().splitlines()[-1].split() if answer.strip() else []
    try:
        predicted, verified = float(cells[4].replace(",", "")), float(cells[5].replace(",", ""))
    except (IndexError, ValueError):
        return None
    return 100 * (predicted - verified) / verified if verified else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=32)
    parser.add_argument("--cases", default="endpoints,athena")
    parser.add_argument("--seeds", default="1", help="comma-separated scenario seeds (default: the main job's, 1)")
    args = parser.parse_args()
    errors: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in [int(s) for s in args.seeds.split(",")]:
            for name in args.cases.split(","):
                folder = Path(tmp) / f"{name}-{seed}"
                folder.mkdir()
                print(f"== {name}, seed {seed} ==")
                answer = case(name, args.n, folder, seed)
                print(answer, flush=True)
                error = prediction_error(answer)
                if error is not None:
                    errors.setdefault(name, []).append(error)
    for name, found in errors.items():
        print(
            f"{name}: prediction error over {len(found)} seeds {min(found):+.1f}% to {max(found):+.1f}%, "
            f"mean {statistics.mean(found):+.1f}%"
        )


if __name__ == "__main__":
    main()
