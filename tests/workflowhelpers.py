"""Run a GitHub Actions job's own `run:` steps on this machine as the runner runs them: in order,
each a script of its own in bash with the options GitHub gives the job's shell, with the job's and
the step's `env:`, a GITHUB_OUTPUT file per step (read back as `steps.<id>.outputs`), one
GITHUB_STEP_SUMMARY file, and each step's `if:`. A step that `uses:` an action is not run: the
test gives what the action would (the variables a credentials action exports, say), and can read
the step's `with:` inputs as evaluated.

`${{ }}` expressions are evaluated for the part of GitHub's expression language the workflows
use: the contexts vars, github, env and steps, string literals, true/false/null, ==, !=, !, &&
and || (which, as in GitHub, give one of their operands), and the status functions success(),
failure(), always() and cancelled(). Source: GitHub's "Evaluate expressions in workflows and
actions" (docs.github.com/en/actions/reference/workflows-and-actions/expressions), and
"Workflow commands" for GITHUB_OUTPUT's two forms.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# What GitHub runs a `run:` script with, by the job's shell: unset, `bash -e {0}`; `shell: bash`,
# `bash --noprofile --norc -eo pipefail {0}` (docs: jobs.<job_id>.steps[*].shell).
SHELLS = {None: ["bash", "-e"], "bash": ["bash", "--noprofile", "--norc", "-eo", "pipefail"]}
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}", re.S)
TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<op>==|!=|&&|\|\||!|\(|\))|(?P<call>[a-z]+)\(\)"
    r"|(?P<number>\d+(?:\.\d+)?)|(?P<name>[A-Za-z_][\w-]*(?:\.[\w-]+)*))"
)
STATUS_FUNCTIONS = ("success", "failure", "always", "cancelled")


def load_workflow(path: Path) -> dict[str, Any]:
    # YAML 1.1 reads the key `on` as True; nothing here reads the triggers
    return yaml.safe_load(path.read_text())


@dataclass
class Contexts:
    vars: dict[str, str]
    github: dict[str, str]
    env: dict[str, str] = field(default_factory=dict)
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    job_failed: bool = False

    def lookup(self, name: str) -> Any:
        head, *path = name.split(".")
        if head in ("true", "false", "null") and not path:
            return {"true": True, "false": False, "null": None}[head]
        value: Any = getattr(self, head) if head in ("vars", "github", "env", "steps") else None
        if value is None:
            raise ValueError(f"unknown context {head!r} in {name!r}")
        for part in path:
            value = value.get(part) if isinstance(value, dict) else None
        return "" if value is None else value  # a missing property is null, which equals ''

    def status(self, function: str) -> bool:
        return {"success": not self.job_failed, "failure": self.job_failed, "always": True, "cancelled": False}[
            function
        ]

    def evaluate(self, expression: str) -> Any:
        """One expression (what stands between ${{ and }}, or an `if:`)."""
        source, position = [], 0
        while position < len(expression):
            found = TOKEN.match(expression, position)
            if found is None or found.end() == position:
                raise ValueError(f"cannot read {expression!r} at {expression[position:]!r}")
            position = found.end()
            if found["string"] is not None:
                source.append(repr(found["string"][1:-1].replace("''", "'")))
            elif found["op"] is not None:
                source.append({"&&": " and ", "||": " or ", "!": " not "}.get(found["op"], found["op"]))
            elif found["call"] is not None:
                if found["call"] not in STATUS_FUNCTIONS:
                    raise ValueError(f"function {found['call']}() is not one this helper knows")
                source.append(f"_status({found['call']!r})")
            elif found["number"] is not None:
                source.append(found["number"])
            else:
                source.append(f"_lookup({found['name']!r})")
        return eval("".join(source), {"__builtins__": {}}, {"_lookup": self.lookup, "_status": self.status})

    def substitute(self, text: Any) -> str:
        """A string with each ${{ }} replaced by its value, as GitHub writes it."""

        def written(found: re.Match[str]) -> str:
            value = self.evaluate(found[1])
            if isinstance(value, bool):
                return str(value).lower()
            return "" if value is None else str(value)

        return EXPRESSION.sub(written, str(text))

    def condition(self, text: Any) -> bool:
        """An `if:` (with or without ${{ }}); without a status function, GitHub puts success() && before it."""
        if text is None:
            return self.status("success")
        expression = EXPRESSION.fullmatch(str(text).strip())
        inner = expression[1] if expression else str(text)
        if not any(f"{name}()" in inner for name in STATUS_FUNCTIONS):
            inner = f"success() && ({inner})"
        return bool(self.evaluate(inner))


@dataclass
class StepRun:
    name: str
    ran: bool
    returncode: int | None = None
    output: str = ""
    inputs: dict[str, str] = field(default_factory=dict)  # a `uses:` step's `with:`, evaluated


def job_runs(workflow: dict[str, Any], job: str, vars: dict[str, str]) -> bool:
    return Contexts(vars, {}).condition(workflow["jobs"][job].get("if"))


def read_outputs(path: Path) -> dict[str, str]:
    """GITHUB_OUTPUT: `name=value` lines, or `name<<DELIMITER` ... `DELIMITER` for many lines."""
    outputs, lines = {}, path.read_text().splitlines() if path.exists() else []
    while lines:
        line = lines.pop(0)
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            value = []
            while lines and lines[0] != delimiter:
                value.append(lines.pop(0))
            lines = lines[1:]
            outputs[name] = "\n".join(value)
        elif "=" in line:
            name, value_text = line.split("=", 1)
            outputs[name] = value_text
    return outputs


@dataclass
class JobRun:
    steps: list[StepRun]
    outputs: dict[str, dict[str, str]]  # step id -> its outputs
    summary: str  # what the steps wrote to GITHUB_STEP_SUMMARY

    def step(self, name: str) -> StepRun:
        return next(step for step in self.steps if step.name == name)


def run_job(
    workflow: dict[str, Any],
    job: str,
    workspace: Path,
    vars: dict[str, str],
    runner_env: dict[str, str],
    github: dict[str, str] | None = None,
    timeout: float = 900.0,
) -> JobRun:
    """Run `job`'s steps in `workspace`; runner_env is what the runner (and the actions the job
    uses) give every step."""
    definition = workflow["jobs"][job]
    shell = SHELLS[(workflow.get("defaults") or {}).get("run", {}).get("shell")]
    contexts = Contexts(vars, github or {})
    files = workspace.parent / f"{job}-runner-files"
    files.mkdir(exist_ok=True)
    summary = files / "step-summary.md"
    summary.touch()
    contexts.env = {key: contexts.substitute(value) for key, value in (definition.get("env") or {}).items()}
    runs = []
    for number, step in enumerate(definition["steps"]):
        name = step.get("name") or step.get("uses") or f"step {number}"
        if not contexts.condition(step.get("if")):
            runs.append(StepRun(name, ran=False))
            continue
        if "uses" in step:
            inputs = {key: contexts.substitute(value) for key, value in (step.get("with") or {}).items()}
            runs.append(StepRun(name, ran=False, inputs=inputs))
            continue
        output_file = files / f"output-{number}"
        script = files / f"step-{number}.sh"
        script.write_text(step["run"])
        step_env = {key: contexts.substitute(value) for key, value in (step.get("env") or {}).items()}
        env = {
            **os.environ,
            **runner_env,
            **contexts.env,
            **step_env,
            "GITHUB_OUTPUT": str(output_file),
            "GITHUB_STEP_SUMMARY": str(summary),
            "GITHUB_WORKSPACE": str(workspace),
        }
        done = subprocess.run(
            [*shell, str(script)],
            cwd=workspace,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
        )
        runs.append(StepRun(name, ran=True, returncode=done.returncode, output=done.stdout))
        if "id" in step:
            contexts.steps[step["id"]] = {"outputs": read_outputs(output_file)}
        if done.returncode != 0:
            contexts.job_failed = True
    outputs = {step: values["outputs"] for step, values in contexts.steps.items()}
    return JobRun(runs, outputs, summary.read_text())
