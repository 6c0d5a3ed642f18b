"""`make test-latest` reads the lock, the project's direct dependencies, and pytest's JUnit report
to say which package's newest release breaks which tests (tests/newest.py)."""

from pathlib import Path

import newest

ROOT = Path(__file__).resolve().parent.parent


def test_the_lock_holds_every_direct_dependency_at_one_version_or_more():
    locked = newest.locked_versions(ROOT / "uv.lock")
    direct = newest.direct_dependencies(ROOT / "pyproject.toml")
    assert {"botocore", "boto3", "moto", "cbor2", "sagemaker-core", "pytest"} <= direct
    assert direct <= set(locked), direct - set(locked)
    assert all(versions for versions in locked.values())


def test_names_are_compared_as_pip_compares_them():
    assert newest.canonical("Tomli_W") == newest.canonical("tomli-w") == "tomli-w"


def test_the_failed_tests_are_read_back_as_node_ids(tmp_path):
    junit = tmp_path / "junit.xml"
    junit.write_text("""<?xml version="1.0"?><testsuites><testsuite>
      <testcase classname="tests.test_sim_protocols" name="test_cbor[json]"><failure message="x"/></testcase>
      <testcase classname="tests.chaos.test_kills.TestKills" name="test_one"><error message="y"/></testcase>
      <testcase classname="tests.test_report" name="test_fine"/>
    </testsuite></testsuites>""")
    assert newest.failed_tests(junit) == [
        "tests/chaos/test_kills.py::TestKills::test_one",
        "tests/test_sim_protocols.py::test_cbor[json]",
    ]
    assert newest.failed_tests(tmp_path / "absent.xml") == []
