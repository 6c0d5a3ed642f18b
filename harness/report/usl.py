"""The Universal Scalability Law: X(N) = lambda*N / (1 + sigma*(N-1) + kappa*N*(N-1)).

sigma is contention (serialisation, e.g. a concurrency quota), kappa coherency (crosstalk,
e.g. everyone polling the same list). The fit: for given sigma and kappa the best lambda has a
closed form, so a coarse-to-fine search over (sigma, kappa) is enough and needs no scipy.
"""
from __future__ import annotations

import math

import numpy as np


def usl(n, lam: float, sigma: float, kappa: float):
    n = np.asarray(n, dtype=float)
    return lam * n / (1 + sigma * (n - 1) + kappa * n * (n - 1))


def _best_lambda(n, x, sigma, kappa):
    shape = usl(n, 1.0, sigma, kappa)
    lam = float(np.dot(x, shape) / np.dot(shape, shape))
    return lam, float(np.sum((x - lam * shape) ** 2))


def fit_usl(n, x) -> dict | None:
    """Fit lambda, sigma, kappa (all >= 0); None with fewer than 3 levels."""
    n, x = np.asarray(n, dtype=float), np.asarray(x, dtype=float)
    if len(n) < 3 or np.all(x == 0):
        return None
    sigmas = np.concatenate([[0.0], np.logspace(-5, 0, 60)])
    kappas = np.concatenate([[0.0], np.logspace(-7, -0.5, 60)])
    best = min(((s, k) for s in sigmas for k in kappas), key=lambda p: _best_lambda(n, x, *p)[1])
    s_step, k_step = 0.5, 0.5
    for _ in range(60):  # refine multiplicatively around the best point
        candidates = [(max(0.0, best[0] * f), max(0.0, best[1] * g)) for f in (1 - s_step, 1, 1 + s_step)
                      for g in (1 - k_step, 1, 1 + k_step)]
        candidates += [(best[0] + d, best[1]) for d in (-1e-6, 1e-6) if best[0] + d >= 0]
        candidates += [(best[0], best[1] + d) for d in (-1e-8, 1e-8) if best[1] + d >= 0]
        new = min(candidates, key=lambda p: _best_lambda(n, x, *p)[1])
        if new == best:
            s_step, k_step = s_step / 2, k_step / 2
        best = new
    sigma, kappa = best
    lam, sse = _best_lambda(n, x, sigma, kappa)
    total = float(np.sum((x - x.mean()) ** 2))
    r2 = 1 - sse / total if total > 0 else 1.0
    peak = math.sqrt((1 - sigma) / kappa) if kappa > 0 and sigma < 1 else None
    return {"lambda": lam, "sigma": sigma, "kappa": kappa, "r2": r2, "peak_n": peak,
            "predicted": {str(k): float(usl(k, lam, sigma, kappa)) for k in (64, 128, 256)}}
