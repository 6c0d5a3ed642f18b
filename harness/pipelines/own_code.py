"""Users' own pipeline code, unmodified, as a pipeline of the harness: a function or a command.

`function:package.module:name` is a plain function that knows nothing of the harness:

    def churn_pipeline(name: str, rows: int = 1000) -> None:
        s3 = boto3.client("s3")
        ...

Each pipeline calls it once, in its worker's thread, with `name` (unique per pipeline; use it to
name what the pipeline creates) if it takes one, and the scenario's `[params]` for its other
parameters, which must have defaults of type bool, int, float or str: those are the parameters
the scenario may set, checked like a built-in pipeline's. The module is read, not run, to learn
them; it is imported in the first pipeline, with every botocore client it makes instrumented
(`harness.aws.user_clients`): routed to the simulator, retried by the run's policy, paced by its
limiter, recorded, and refused once the run stops.

`command:ARGV` is a program, run as a process of its own per pipeline, in whatever interpreter
and environment it names (its own venv, with its own pins):

    pipelines = "command:/opt/team/venv/bin/python -m churn --name {name} --rows {rows}"

`{name}` is the pipeline's unique name and `{key}` a value of the scenario's `[params]`. A run
with a Redis (its shared limiter's, `[limiter] redis_url` or `--redis-url`) gives each process
`REDIS_HOST` and `REDIS_PORT` in its environment (what Workbench reads) and the placeholders
`{redis_host}` and `{redis_port}`; a password in the URL is not passed on (programs log what
they read: Workbench does), so give it with `env REDIS_PASSWORD=...` in the command. The
harness instruments the process's botocore at interpreter start (harness/aws/inject/, through
PYTHONPATH): the same routing, policy, pacing and recording, asked of the run over a Unix socket
(harness/aws/relay.py), and the process's own sleeps run in the simulator's AWS time. Its output
goes to `commands/<pipeline>.log` in the run folder.

Stopping: users' code cleans up after itself (the harness cannot tag what it makes), so at the
run's first stop a process is sent SIGINT, as a terminal's Ctrl-C would, and its calls still go
until the run aborts (the grace period is over, or a second Ctrl-C); then its next AWS call
raises `RunStopping`, and it gets SIGTERM, then SIGKILL. A function, which cannot be interrupted
in its thread, likewise has its calls refused from the abort on.
"""

from __future__ import annotations

import ast
import importlib
import os
import re
import shlex
import signal
import string
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

from harness import stopping
from harness.aws.relay import AttemptRelay
from harness.aws.user_clients import instrumented
from harness.pipelines.base import Param, Pipeline, PipelineRun, Stage

FUNCTION = "function:"
COMMAND = "command:"
NAME_ARGUMENT = "name"  # the pipeline's unique base name, for what the code creates


def function_pipeline(spec: str) -> Pipeline:
    """The pipeline that calls `function:module:name`. ValueError names what is wrong."""
    module_name, _, function_name = spec.removeprefix(FUNCTION).partition(":")
    if not module_name or not function_name.isidentifier():
        raise ValueError(f"pipeline {spec!r} is not function:package.module:function")
    params = declared_params(spec, module_name, function_name)
    takes_name = NAME_ARGUMENT in _arguments(_function_node(spec, module_name, function_name))
    loaded: list[Callable[..., Any]] = []

    def call(run: PipelineRun) -> None:
        # the code cleans up after itself: its calls are refused once the run aborts, not at the
        # first stop (it cannot be interrupted in its thread; it ends, or its calls are refused)
        with instrumented(run.ctx.clients), stopping.stop_on(run.abort):
            if not loaded:  # imported under the instrumentation: its module-level clients are the run's
                loaded.append(getattr(importlib.import_module(module_name), function_name))
            arguments = {p.name: run.params.get(p.name, p.default) for p in params}
            if takes_name:
                arguments[NAME_ARGUMENT] = run.base_name
            loaded[0](**arguments)

    return Pipeline(
        spec,
        (Stage(function_name, call),),
        description=f"{module_name}.{function_name}, the user's own code",
        params=params,
    )


def declared_params(spec: str, module_name: str, function_name: str) -> tuple[Param, ...]:
    """The function's parameters the scenario may set: every one but `name`, each with a literal
    default of a TOML type."""
    node = _function_node(spec, module_name, function_name)
    params = []
    for argument, default in _arguments(node).items():
        if argument == NAME_ARGUMENT:
            continue
        if default is None or isinstance(default, ValueError) or type(default) not in (bool, int, float, str):
            raise ValueError(
                f"pipeline {spec!r}: parameter {argument!r} needs a default that is true/false, a number or "
                f"a string (the scenario's [params] set it; `{NAME_ARGUMENT}` is the pipeline's unique name)"
            )
        params.append(Param(argument, default, f"{function_name}({argument}=...)"))
    return tuple(params)


def _function_node(spec: str, module_name: str, function_name: str) -> ast.FunctionDef:
    source = _source_of(module_name)
    if source is None:
        raise ValueError(f"pipeline {spec!r}: no Python source for module {module_name!r} on the path")
    tree = ast.parse(source.read_text(), str(source))
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == function_name:
            return node
    raise ValueError(f"pipeline {spec!r}: {source} defines no top-level function {function_name!r}")


def _source_of(module_name: str) -> Path | None:
    """The module's source file, found on sys.path without importing anything: not even its
    packages, whose `__init__` could make clients before the run instruments them."""
    *packages, leaf = module_name.split(".")
    folders = [Path(entry or ".") for entry in sys.path]
    for package in packages:
        folders = [folder / package for folder in folders if (folder / package).is_dir()]
    for folder in folders:
        for candidate in (folder / f"{leaf}.py", folder / leaf / "__init__.py"):
            if candidate.is_file():
                return candidate
    return None


def _arguments(node: ast.FunctionDef) -> dict[str, Any]:
    """Each argument's default as written (None: none; a ValueError: not a literal)."""
    arguments = node.args.posonlyargs + node.args.args
    defaults: list[ast.expr | None] = [None] * (len(arguments) - len(node.args.defaults)) + list(node.args.defaults)
    pairs = list(zip(arguments, defaults, strict=True)) + list(
        zip(node.args.kwonlyargs, node.args.kw_defaults, strict=True)
    )
    found: dict[str, Any] = {}
    for argument, default in pairs:
        try:
            found[argument.arg] = None if default is None else ast.literal_eval(default)
        except ValueError as err:
            found[argument.arg] = err
    return found


class CommandFailed(RuntimeError):
    """A pipeline's process exited with an error."""


def command_pipeline(spec: str) -> Pipeline:
    """The pipeline that runs `command:ARGV`, one process per pipeline. ValueError names what is wrong."""
    try:
        argv = shlex.split(spec.removeprefix(COMMAND))
    except ValueError as err:
        raise ValueError(f"pipeline {spec!r}: {err}") from None
    if not argv:
        raise ValueError(f"pipeline {spec!r} is not command:PROGRAM ARGUMENTS")
    try:
        placeholders = {field for arg in argv for _, field, _, _ in string.Formatter().parse(arg) if field}
    except ValueError as err:
        raise ValueError(f"pipeline {spec!r}: {err} (write {{{{ and }}}} for a literal brace)") from None

    program = _program_name(argv)

    def run_command(run: PipelineRun) -> None:
        redis = runs_redis(run)
        values = {**{key.lower(): value for key, value in redis.items()}, **run.params, NAME_ARGUMENT: run.base_name}
        missing = sorted(placeholders - set(values))
        if missing:
            where = "in [params]" + ("" if redis else " (and the run has no Redis for {redis_host} and {redis_port})")
            raise CommandFailed(f"{spec}: no value for {', '.join('{' + m + '}' for m in missing)} {where}")
        command = [arg.format_map(values) for arg in argv]
        log_path = _log_folder(run) / f"{run.pipeline_id}.log"
        with stopping.stop_on(run.abort):  # the relay serves in this context: calls refused at abort
            relay = AttemptRelay(run.ctx.clients)
        with relay, log_path.open("ab") as log:
            process = subprocess.Popen(
                command,
                env={**redis, **relay.process_environment(os.environ)},  # the user's own REDIS_* win
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: signals reach its children too
            )
            stopped = _wait(process, run.abort)
        if stopped:
            raise stopping.Stopped(f"{program} stopped with the run (exit {process.returncode})")
        if process.returncode != 0:
            raise CommandFailed(f"{program} exited {process.returncode}: {_last_words(log_path)} ({log_path})")

    return Pipeline(
        spec,
        (Stage(program, run_command),),
        description=f"{' '.join(argv)}, the user's own program",
        params=None,  # any [params] key may be a placeholder; those used are checked as it starts
    )


def runs_redis(run: PipelineRun) -> dict[str, str]:
    """The run's Redis (the one its limiter shares), as a program's environment reads it; empty
    when the run has none."""
    store = run.ctx.limiter.store if run.ctx.limiter is not None else None
    url = getattr(store, "url", None)  # a RedisStore's
    if not url:
        return {}
    where = urlsplit(url)
    if not where.hostname:  # a Unix socket (unix://): no host and port to give
        return {}
    return {"REDIS_HOST": where.hostname, "REDIS_PORT": str(where.port or 6379)}


def _wait(process: subprocess.Popen[bytes], abort: stopping.StopSignal | None) -> bool:
    """Until the process ends. True when the run stopped first: the process is sent SIGINT, as a
    terminal's Ctrl-C would, and may clean up (its calls still go) until the run aborts; then
    SIGTERM, and SIGKILL."""
    try:
        while process.poll() is None:
            stopping.sleep(0.2)  # ends with Stopped when the run stops
        return False
    except stopping.Stopped:
        pass
    _signal(process, signal.SIGINT)
    try:
        with stopping.stop_on(abort):
            while process.poll() is None:
                stopping.sleep(0.2)
        return True
    except stopping.Stopped:
        pass
    for sent, patience in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        _signal(process, sent)
        try:
            process.wait(timeout=patience)
            break
        except subprocess.TimeoutExpired:
            continue
    return True


def _signal(process: subprocess.Popen[bytes], sent: signal.Signals) -> None:
    try:
        os.killpg(process.pid, sent)
    except ProcessLookupError:
        pass


def _log_folder(run: PipelineRun) -> Path:
    events = getattr(run.ctx.recorder, "path", None)  # the run's events.db: the run folder is its folder
    folder = (Path(events).parent if events else Path(tempfile.gettempdir())) / "commands"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


ERROR_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Failed|Exit|Interrupt|Stopping)\w*: ")


def _last_words(path: Path) -> str:
    """The error a failed program ended with: from its last `SomeError: ...` line on (a wrapped
    message goes on over several lines), else its last line."""
    lines = [line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip()]
    if not lines:
        return "no output"
    starts = [i for i, line in enumerate(lines) if ERROR_LINE.match(line)]
    return " ".join(lines[starts[-1] if starts else -1 :])[:300]


def _program_name(argv: list[str]) -> str:
    """What the report calls the command's stage: the module of `python -m module`, the script
    of `python script.py`, else the program (after `env NAME=value ...`)."""
    if Path(argv[0]).name == "env":  # env NAME=value ... program: the program
        argv = [arg for arg in argv[1:] if "=" not in arg or arg.startswith("-")] or argv
    word = Path(argv[0]).name
    if word.startswith("python") and len(argv) > 1:
        if "-m" in argv[:-1]:
            word = argv[argv.index("-m") + 1]
        elif not argv[1].startswith("-"):
            word = Path(argv[1]).stem
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in word) or "command"
