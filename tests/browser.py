"""Opening a report in headless Chromium (Debian's chromium package), as a person would."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
# `make test` installs it (as redis-server); under CI=true a skip counts as a failure (conftest.py)
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def open_report(html: Path, screenshot: Path, profile_dir: Path) -> dict:
    """Load the page; return plots loaded ('5/5'), console errors, and the screenshot's size."""
    url = html.resolve().as_uri()
    dom = subprocess.run(
        [
            CHROMIUM,
            *FLAGS,
            f"--user-data-dir={profile_dir}",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=10000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    shot = subprocess.run(
        [
            CHROMIUM,
            *FLAGS,
            f"--user-data-dir={profile_dir}",
            "--window-size=1200,2400",
            f"--screenshot={screenshot}",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if not re.search(r"data-plots-loaded", dom.stdout):
        print("chromium dump:", len(dom.stdout), dom.stdout[-500:], dom.stderr[-2000:])
    loaded = re.search(r'data-plots-loaded="([^"]*)"', dom.stdout)
    console = [line for line in (dom.stderr + shot.stderr).splitlines() if "CONSOLE" in line or "Uncaught" in line]
    return {
        "plots_loaded": loaded.group(1) if loaded else None,
        "console": console,
        "screenshot_bytes": screenshot.stat().st_size if screenshot.exists() else 0,
    }


def open_page(url: str, profile_dir: Path, budget_ms: int = 3000) -> dict:
    """Load a served page (the live view) as a person would, and close the browser: its DOM
    once the page has run `budget_ms` of its own time (its timers, its fetches), and the
    console's messages."""
    dom = subprocess.run(
        [
            CHROMIUM,
            *FLAGS,
            f"--user-data-dir={profile_dir}",
            "--enable-logging=stderr",
            "--v=0",
            f"--virtual-time-budget={budget_ms}",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    return {"dom": dom.stdout, "console": console, "exit_code": dom.returncode}
