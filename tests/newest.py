"""The suite on the newest release of every dependency, and which package breaks it (`make test-latest`).

    python tests/newest.py --uv .uv/bin/uv --venv .venv-latest [-- PYTEST_ARGS...]

1. A venv made anew, with the project installed from pyproject.toml's ranges at their newest
   (uv.lock is not read), transitive dependencies included.
2. The packages whose version differs from uv.lock are listed: what main has not met yet.
3. The suite runs. When it fails, each of those packages is put back to uv.lock's version in
   turn, alone, and the failed tests are run again: a package whose return makes them pass is
   the one upstream that breaks the harness. The verdict is one line that names it, also as a
   GitHub error annotation so a red nightly job says it on its front page.

Exit status: pytest's (0 when the suite passes on the newest releases).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ElementTree
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_SUSPECTS = 15  # put back at most this many, direct dependencies first


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_versions(lock: Path) -> dict[str, set[str]]:
    """Each package's versions in uv.lock (more than one where the lock forks by Python)."""
    found: dict[str, set[str]] = {}
    for package in tomllib.loads(lock.read_text())["package"]:
        if "version" in package and package.get("source", {}).get("editable") is None:
            found.setdefault(canonical(package["name"]), set()).add(package["version"])
    return found


def direct_dependencies(pyproject: Path) -> set[str]:
    project = tomllib.loads(pyproject.read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    return {canonical(re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0]) for r in requirements}


def installed_versions(uv: str, venv: Path) -> dict[str, str]:
    out = subprocess.run(
        [uv, "pip", "list", "--format", "json", "--python", str(venv)], check=True, capture_output=True, text=True
    ).stdout
    return {canonical(p["name"]): p["version"] for p in json.loads(out)}


def failed_tests(junit: Path) -> list[str]:
    """Node ids of the tests that failed or errored, from pytest's JUnit XML."""
    if not junit.exists():
        return []
    ids = []
    for case in ElementTree.parse(junit).iter("testcase"):
        if case.find("failure") is None and case.find("error") is None:
            continue
        module = case.get("classname", "").replace(".", "/")
        path, _, klass = module.partition("/Test")  # classname is the dotted path, then a class
        node = f"{path}.py::" + (f"Test{klass.replace('/', '::')}::" if klass else "") + case.get("name", "")
        ids.append(node)
    return sorted(set(ids))


def pytest(venv: Path, args: list[str], junit: Path) -> int:
    junit.unlink(missing_ok=True)
    command = [str(venv / "bin" / "python"), "-m", "pytest", *args, f"--junitxml={junit}"]
    print("+", " ".join(command), flush=True)
    return subprocess.call(command, cwd=ROOT)


def annotate(message: str) -> None:
    print(f"::error title=newest releases::{message}" if os.environ.get("GITHUB_ACTIONS") else message, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uv", required=True, help="the uv executable")
    parser.add_argument("--venv", type=Path, default=ROOT / ".venv-latest")
    parser.add_argument("pytest_args", nargs="*", default=["-n", "3", "--dist", "loadgroup", "-q"])
    options = parser.parse_args(argv)
    uv, venv = options.uv, options.venv

    subprocess.run([uv, "venv", "--quiet", "--clear", "--python", sys.executable, str(venv)], check=True)
    subprocess.run(
        [uv, "pip", "install", "--quiet", "--refresh", "--upgrade", "--python", str(venv), "-e", f"{ROOT}[test]"],
        check=True,
    )

    locked = locked_versions(ROOT / "uv.lock")
    newest = installed_versions(uv, venv)
    direct = direct_dependencies(ROOT / "pyproject.toml")
    drift = {name: version for name, version in newest.items() if name in locked and version not in locked[name]}
    unlocked = sorted(set(newest) - set(locked) - {"ml-pipeline-stress-harness"})
    print(f"newer than uv.lock: {len(drift)} of {len(newest)} packages")
    for name in sorted(drift, key=lambda n: (n not in direct, n)):
        print(
            f"  {name:32} {', '.join(sorted(locked[name])):>14} -> {drift[name]}"
            + ("  (direct)" if name in direct else "")
        )
    for name in unlocked:
        print(f"  {name:32} {'(not in it)':>14} -> {newest[name]}")

    junit = venv / "junit.xml"
    status = pytest(venv, options.pytest_args, junit)
    if status == 0:
        print("the suite passes on the newest releases")
        return 0
    failed = failed_tests(junit)
    if not drift:
        annotate("the suite fails on the newest releases, and nothing is newer than uv.lock: main itself fails")
        return status
    if not failed:
        annotate(
            f"the suite fails on the newest releases (pytest exit {status}, no failed test to rerun); "
            f"newer than uv.lock: " + ", ".join(f"{n} {v}" for n, v in sorted(drift.items()))
        )
        return status
    print(f"{len(failed)} failed; putting back one package at a time to find which breaks them")
    culprits = []
    for name in sorted(drift, key=lambda n: (n not in direct, n))[:MAX_SUSPECTS]:
        back = max(locked[name])
        subprocess.run(
            [uv, "pip", "install", "--quiet", "--no-deps", "--python", str(venv), f"{name}=={back}"], check=True
        )
        if pytest(venv, ["-q", *failed], venv / "junit-retry.xml") == 0:
            culprits.append(f"{name} {drift[name]} (uv.lock has {back})")
        subprocess.run(
            [uv, "pip", "install", "--quiet", "--no-deps", "--python", str(venv), f"{name}=={drift[name]}"], check=True
        )
    shown = ", ".join(failed[:5]) + (f" and {len(failed) - 5} more" if len(failed) > 5 else "")
    if culprits:
        annotate(f"{shown} fail on the newest release of " + "; ".join(culprits) + ": they pass with it put back")
    else:
        annotate(
            f"{shown} fail on the newest releases, and no single package put back makes them pass; "
            f"newer than uv.lock: " + ", ".join(f"{n} {v}" for n, v in sorted(drift.items()))
        )
    return status


if __name__ == "__main__":
    sys.exit(main())
