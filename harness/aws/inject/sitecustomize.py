"""Run by a pipeline process's interpreter as it starts (the harness puts this folder first on
its PYTHONPATH): instrument botocore for the run, then run the interpreter's own sitecustomize,
if it has one. Only the standard library and botocore are imported: the process's interpreter
and packages are its own, not the harness's."""

import importlib.machinery
import importlib.util
import os
import sys

if os.environ.get("HARNESS_INSTRUMENT") and importlib.util.find_spec("botocore") is not None:
    # (a Python without botocore, started by the pipeline, makes no AWS calls through it)
    try:
        import harness_instrument

        harness_instrument.install(os.environ["HARNESS_INSTRUMENT"])
    except Exception as err:  # noqa: BLE001 - uninstrumented, its calls could reach an account: stop here
        sys.stderr.write(f"harness: could not instrument this pipeline process: {type(err).__name__}: {err}\n")
        sys.stderr.flush()
        os._exit(97)

_here = os.path.dirname(os.path.abspath(__file__))
_theirs = importlib.machinery.PathFinder.find_spec(
    "sitecustomize", [p for p in sys.path if os.path.abspath(p or ".") != _here]
)
if _theirs is not None and _theirs.loader is not None:
    _module = importlib.util.module_from_spec(_theirs)
    _theirs.loader.exec_module(_module)
