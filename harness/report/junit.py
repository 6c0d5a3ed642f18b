"""A run's thresholds as a JUnit XML report, the format CI systems read test results in: one
test suite, `thresholds.<scenario>`, and one test case per threshold, named as it is written,
passed, failed (its message says what was measured) or skipped (relative ones, which need a
baseline; `harness compare` judges them).

The elements and attributes are those of the JUnit schema Jenkins reads (the xUnit plugin's
junit-10.xsd: testsuites > testsuite > properties, testcase > skipped | failure, system-out),
which GitHub's JUnit actions and GitLab's unit test reports read too.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from harness.report.thresholds import Verdict

RUN_ID_TIME = re.compile(r"^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z")


def suite_name(scenario: str | None) -> str:
    return f"thresholds.{scenario or 'scenario'}"


def junit_xml(verdicts: list[Verdict], scenario: str | None, run_id: str | None, seconds: float = 0.0) -> bytes:
    """seconds: how long the run took (wall), the suite's time."""
    name = suite_name(scenario)
    counts = {
        "tests": str(len(verdicts)),
        "failures": str(sum(v.result == "failed" for v in verdicts)),
        "errors": "0",
        "skipped": str(sum(v.result == "skipped" for v in verdicts)),
        "time": f"{seconds:.3f}",
    }
    totals = {key: value for key, value in counts.items() if key != "skipped"}  # the schema's testsuites has none
    root = ET.Element("testsuites", {"name": f"harness run {run_id or ''}".strip(), **totals})
    suite = ET.SubElement(root, "testsuite", {"name": name, **counts})
    started = RUN_ID_TIME.match(run_id or "")
    if started:  # the run id is its start, UTC: ISO 8601 without a zone, as the schema has it
        y, mo, d, h, mi, s = started.groups()
        suite.set("timestamp", f"{y}-{mo}-{d}T{h}:{mi}:{s}")
    if run_id:
        properties = ET.SubElement(suite, "properties")
        ET.SubElement(properties, "property", {"name": "run_id", "value": run_id})
    for verdict in verdicts:
        case = ET.SubElement(suite, "testcase", {"classname": name, "name": verdict.expression, "time": "0"})
        if verdict.result == "failed":
            failure = ET.SubElement(case, "failure", {"message": verdict.message, "type": "threshold"})
            failure.text = f"{verdict.expression}: {verdict.message}"
        elif verdict.result == "skipped":
            ET.SubElement(case, "skipped", {"message": verdict.message})
        elif verdict.message:
            ET.SubElement(case, "system-out").text = verdict.message
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def write_junit(path: Path, verdicts: list[Verdict], scenario: str | None, run_id: str | None, seconds: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(junit_xml(verdicts, scenario, run_id, seconds))
    return path
