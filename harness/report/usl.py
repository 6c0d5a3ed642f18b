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
    """The least-squares lambda for given sigma and kappa, on relative errors (noise in
    throughput grows with throughput), and the remaining squared error."""
    shape = usl(n, 1.0, sigma, kappa)
    w = 1.0 / np.maximum(x, 1e-12) ** 2
    lam = float(np.sum(w * x * shape) / np.sum(w * shape * shape))
    return lam, float(np.sum(w * (x - lam * shape) ** 2))


def _nelder_mead(f, start, step=0.5, iterations=400):
    """Minimise f over R^2 (a small Nelder-Mead: no scipy needed for two parameters)."""
    simplex = [np.array(start, float), np.array(start, float) + [step, 0], np.array(start, float) + [0, step]]
    values = [f(p) for p in simplex]
    for _ in range(iterations):
        order = np.argsort(values)
        simplex, values = [simplex[i] for i in order], [values[i] for i in order]
        centroid = (simplex[0] + simplex[1]) / 2
        reflected = centroid + (centroid - simplex[2])
        fr = f(reflected)
        if fr < values[0]:
            expanded = centroid + 2 * (centroid - simplex[2])
            fe = f(expanded)
            simplex[2], values[2] = (expanded, fe) if fe < fr else (reflected, fr)
        elif fr < values[1]:
            simplex[2], values[2] = reflected, fr
        else:
            contracted = centroid + 0.5 * (simplex[2] - centroid)
            fc = f(contracted)
            if fc < values[2]:
                simplex[2], values[2] = contracted, fc
            else:
                simplex = [simplex[0] + 0.5 * (p - simplex[0]) for p in simplex]
                values = [f(p) for p in simplex]
    best = int(np.argmin(values))
    return simplex[best]


def fit_usl(n, x) -> dict | None:
    """Fit lambda, sigma, kappa (all >= 0); None with fewer than 3 levels."""
    n, x = np.asarray(n, dtype=float), np.asarray(x, dtype=float)
    if len(n) < 3 or np.all(x <= 0):
        return None
    sigmas = np.concatenate([[0.0], np.logspace(-5, 0, 40)])
    kappas = np.concatenate([[0.0], np.logspace(-7, -0.5, 40)])
    sigma0, kappa0 = min(((s, k) for s in sigmas for k in kappas), key=lambda p: _best_lambda(n, x, *p)[1])
    # Search on square roots so sigma and kappa stay >= 0.
    root = _nelder_mead(lambda p: _best_lambda(n, x, p[0] ** 2, p[1] ** 2)[1],
                        [np.sqrt(sigma0), np.sqrt(kappa0)], step=0.05)
    sigma, kappa = float(root[0] ** 2), float(root[1] ** 2)
    lam, _ = _best_lambda(n, x, sigma, kappa)
    predicted = usl(n, lam, sigma, kappa)
    total = float(np.sum((x - x.mean()) ** 2))
    r2 = 1 - float(np.sum((x - predicted) ** 2)) / total if total > 0 else 1.0
    peak = math.sqrt((1 - sigma) / kappa) if kappa > 1e-12 and sigma < 1 else None
    return {"lambda": lam, "sigma": sigma, "kappa": kappa, "r2": r2, "peak_n": peak,
            "predicted": {str(k): float(usl(k, lam, sigma, kappa)) for k in (64, 128, 256)}}
