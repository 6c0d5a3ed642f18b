"""Process limits a load generator meets before the account's quotas."""

from __future__ import annotations

import contextlib
import resource


def raise_open_file_limit() -> int:
    """Lift the soft limit on open files to the hard one and return it. Every kept-alive
    connection is a socket on both sides (and a thread in the simulator); a 1,024 default runs
    out near a few hundred pipelines' clients."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]
