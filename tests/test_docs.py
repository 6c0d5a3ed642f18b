"""The README is a short user's guide and docs/ holds the rest: every relative link in them
resolves to a file of this repository (and an anchor to a heading there, as GitHub names it),
the README starts with the two commands that work on a fresh machine, and its pytest-plugin
example runs as a team's own suite would run it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCUMENTS = [README, *sorted((ROOT / "docs").glob("*.md"))]

FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$", re.MULTILINE)


def prose(text: str) -> str:
    """The text as GitHub renders links in it: code blocks and inline code dropped."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: its text lower-cased, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "")
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    for heading in HEADING.findall(FENCE.sub("", path.read_text())):
        name, n = anchor(heading), 0
        while (name if n == 0 else f"{name}-{n}") in found:  # GitHub numbers repeated headings
            n += 1
        found.add(name if n == 0 else f"{name}-{n}")
    return found


def relative_links(text: str) -> list[str]:
    return [t for t in LINK.findall(prose(text)) if not re.match(r"^[a-z][a-z0-9+.-]*:", t)]


def broken_links(path: Path, text: str | None = None) -> list[str]:
    """What in `path` (or `text`, read as if it were there) links to no file or heading of ours."""
    broken = []
    for target in relative_links(path.read_text() if text is None else text):
        file, _, fragment = target.partition("#")
        linked = (path.parent / file).resolve() if file else path
        if not linked.is_relative_to(ROOT):
            broken.append(f"{target}: outside the repository")
        elif not linked.exists():
            broken.append(f"{target}: no such file")
        elif fragment and (linked.suffix != ".md" or fragment not in anchors(linked)):
            broken.append(f"{target}: no heading #{fragment} in {linked.relative_to(ROOT)}")
    return broken


def test_the_readme_is_a_users_guide_under_300_lines():
    assert len(README.read_text().splitlines()) < 300


def test_the_readme_opens_with_the_two_commands_that_work_on_a_fresh_machine():
    first_block = re.search(r"^```[^\n]*\n(.*?)^```", README.read_text(), re.MULTILINE | re.DOTALL)
    assert first_block, "the README has no code block"
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines()]
    assert [c for c in commands if c][:2] == ["make stress N=32", "make test"]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves_to_a_file_and_heading_of_the_repository(document):
    assert relative_links(document.read_text()) or document != README, "the README links nothing"
    assert broken_links(document) == []


def test_the_link_checker_catches_a_missing_file_a_missing_heading_and_a_path_outside():
    text = (
        "[a](figures.md#no-such-heading) [b](nothere.md) [c](../../elsewhere/DESIGN.md) `[d](nothere.md)` "
        "[e](figures.md#the-main-job) [f](https://example.com/x.md)"
    )
    assert broken_links(ROOT / "docs" / "report.md", text) == [
        "figures.md#no-such-heading: no heading #no-such-heading in docs/figures.md",
        "nothere.md: no such file",
        "../../elsewhere/DESIGN.md: outside the repository",
    ]


def test_anchors_are_named_as_github_names_them():
    assert anchor("A cost cap: `max_cost_usd`") == "a-cost-cap-max_cost_usd"
    assert anchor("The real Workbench package's environment") == "the-real-workbench-packages-environment"
    assert anchor("What-if: predicted against verified") == "what-if-predicted-against-verified"


def test_the_readme_names_no_path_outside_the_repository():
    text = README.read_text()
    assert "../" not in text  # from the repository's root, any ../ leaves it
    for document in DOCUMENTS:
        assert "../shared" not in document.read_text(), document


def test_the_readme_is_a_guide_without_lab_notes():
    text = prose(README.read_text())
    assert re.findall(r"#\d+\b", text) == []  # issue numbers
    assert re.findall(r"\b\d{8}T\d{6}Z-\w+", text) == []  # run ids under the git-ignored reports/
    assert re.findall(r"this (?:2-core )?machine", text) == []


def test_the_readmes_pytest_plugin_example_runs_as_a_teams_suite(pytester):
    section = README.read_text().split("## Your own pipelines and the pytest plugin", 1)[1]
    example = re.search(r"^```python\n(.*?)^```", section, re.MULTILINE | re.DOTALL)
    assert example, "the README's plugin section has no Python example"
    pytester.makepyfile(test_readme_example=example.group(1))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning")
    result.assert_outcomes(passed=2)
