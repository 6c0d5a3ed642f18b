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


MIN_LEVELS_TRUSTED = 6  # fewer levels than this: the fit is shown with a warning
DEGENERATE = 1e-6  # sigma and kappa both below this: nothing measured bends the curve
T_975 = {1: 12.71, 2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36, 8: 2.31, 9: 2.26, 10: 2.23}


def _quality(x, predicted, parameters: int) -> dict:
    """R² and RMSE (pipelines/hour) of a fit, and its relative RMSE."""
    residual = float(np.sum((x - predicted) ** 2))
    total = float(np.sum((x - x.mean()) ** 2))
    return {
        "r2": 1 - residual / total if total > 0 else 1.0,
        "rmse": math.sqrt(residual / len(x)),
        "relative_rmse": math.sqrt(float(np.mean(((x - predicted) / np.maximum(x, 1e-12)) ** 2))),
        "parameters": parameters,
    }


def _intervals(n, x, lam, sigma, kappa) -> dict | None:
    """95% confidence intervals of lambda, sigma and kappa from the fit's own residuals (the
    asymptotic covariance s² (JᵀJ)⁻¹ of the weighted least squares, with Student's t), or None
    when there are no more levels than parameters. Bounds below 0 are cut at 0."""
    dof = len(n) - 3
    if dof < 1:
        return None
    w = 1.0 / np.maximum(x, 1e-12)
    params = np.array([lam, sigma, kappa])
    residual = w * (x - usl(n, *params))
    jacobian = np.empty((len(n), 3))
    for i in range(3):
        h = max(abs(params[i]) * 1e-6, 1e-9)
        up, down = params.copy(), params.copy()
        up[i] += h
        down[i] -= h
        jacobian[:, i] = w * (usl(n, *up) - usl(n, *down)) / (2 * h)
    s2 = float(np.sum(residual**2)) / dof
    try:
        covariance = s2 * np.linalg.pinv(jacobian.T @ jacobian)
    except np.linalg.LinAlgError:
        return None
    t = T_975.get(dof, 1.96)
    half = t * np.sqrt(np.maximum(np.diag(covariance), 0.0))
    return {
        name: [max(0.0, float(v - h)), float(v + h)]
        for name, v, h in zip(("lambda", "sigma", "kappa"), params, half, strict=True)
    }


def _amdahl(n, x) -> tuple[float, float]:
    """X = lambda N / (1 + sigma (N - 1)): the USL without coherency."""
    sigma = min(np.concatenate([[0.0], np.logspace(-5, 0, 200)]), key=lambda s: _best_lambda(n, x, s, 0.0)[1])
    return _best_lambda(n, x, float(sigma), 0.0)[0], float(sigma)


PREDICTED_AT = (64, 128, 256, 512, 1024)


def predicted_at(top: float, failed=()) -> list[int]:
    """The N a fit predicts at: above the largest level fitted, and below the first level above
    it where the run measured pipelines failing and none completing. That level's throughput was
    measured (nothing completed), not left unknown, so a prediction there or beyond would be
    shown as the throughput the run did not get."""
    stop = min((f for f in failed if f > top), default=math.inf)
    return [k for k in PREDICTED_AT if top < k < stop]


def fit_usl(n, x, failed=()) -> dict | None:
    """Fit lambda, sigma, kappa (all >= 0), and say how far to trust it; None with fewer than 3
    levels. Beside the USL: a linear fit (X = lambda N) and Amdahl's (kappa = 0), each with R²
    and RMSE. `degenerate`: no contention measured (sigma and kappa both about 0), so the fit
    is a straight line and predicts nothing beyond the levels measured. `failed`: the levels
    where pipelines failed and none completed, left out of n and x; nothing is predicted at or
    beyond the first of them above the levels fitted (`predicted_at`)."""
    n, x = np.asarray(n, dtype=float), np.asarray(x, dtype=float)
    if len(n) < 3 or np.all(x <= 0):
        return None
    sigmas = np.concatenate([[0.0], np.logspace(-5, 0, 40)])
    kappas = np.concatenate([[0.0], np.logspace(-7, -0.5, 40)])
    sigma0, kappa0 = min(((s, k) for s in sigmas for k in kappas), key=lambda p: _best_lambda(n, x, *p)[1])
    # Search on square roots so sigma and kappa stay >= 0.
    root = _nelder_mead(
        lambda p: _best_lambda(n, x, p[0] ** 2, p[1] ** 2)[1], [np.sqrt(sigma0), np.sqrt(kappa0)], step=0.05
    )
    sigma, kappa = float(root[0] ** 2), float(root[1] ** 2)
    lam, _ = _best_lambda(n, x, sigma, kappa)
    quality = _quality(x, usl(n, lam, sigma, kappa), 3)
    linear_lambda = _best_lambda(n, x, 0.0, 0.0)[0]
    amdahl_lambda, amdahl_sigma = _amdahl(n, x)
    degenerate = sigma < DEGENERATE and kappa < DEGENERATE
    peak = math.sqrt((1 - sigma) / kappa) if kappa > 1e-12 and sigma < 1 else None
    warnings = []
    if len(n) < MIN_LEVELS_TRUSTED:
        warnings.append(
            f"{len(n)} levels: three parameters from fewer than {MIN_LEVELS_TRUSTED} levels are "
            "loosely pinned; measure more levels before planning on the prediction"
        )
    return {
        "lambda": lam,
        "sigma": sigma,
        "kappa": kappa,
        **quality,
        "levels": len(n),
        "intervals": _intervals(n, x, lam, sigma, kappa),
        "peak_n": None if degenerate else peak,
        "degenerate": degenerate,
        "warnings": warnings,
        "alternatives": {
            "linear": {"lambda": linear_lambda, **_quality(x, usl(n, linear_lambda, 0.0, 0.0), 1)},
            "amdahl": {
                "lambda": amdahl_lambda,
                "sigma": amdahl_sigma,
                **_quality(x, usl(n, amdahl_lambda, amdahl_sigma, 0.0), 2),
            },
        },
        # a degenerate fit is a straight line through the levels: it predicts nothing beyond them
        "predicted": {}
        if degenerate
        else {str(k): float(usl(k, lam, sigma, kappa)) for k in predicted_at(n.max(), failed)},
    }
