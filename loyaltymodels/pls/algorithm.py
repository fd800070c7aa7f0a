"""The PLS path modelling algorithm on plain arrays (Wold; Lohmoeller's iteration as R's plspm runs it).

:func:`outer_weights` is plspm's ``get_weights`` step for step (starting weights, the rescaling of
the inner estimates, the stopping rule), so it reproduces plspm's published results to rounding;
:func:`orient` is plspm's ``get_scores`` sign rule; :func:`inner_ols` its ``get_paths``.
:mod:`loyaltymodels.pls.fit` turns a model and a data frame into these arrays and back into tables.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Inner weighting schemes (Lohmoeller): sign of the correlation, the correlation, or regression
#: weights for predecessors and correlations for successors.
SCHEMES = ("centroid", "factorial", "path")


def treat(x: np.ndarray, scaled: bool) -> np.ndarray:
    """Centre each column; with ``scaled``, divide by its population SD (plspm's convention)."""
    xc = x - x.mean(axis=0)
    return xc / xc.std(axis=0) if scaled else xc


def _standardize(y: np.ndarray) -> np.ndarray:
    yc = y - y.mean(axis=0)
    return yc / yc.std(axis=0, ddof=1)


def _inner_weights(y: np.ndarray, inner: np.ndarray, scheme: str) -> np.ndarray:
    adj = inner + inner.T
    if scheme == "centroid":
        return np.sign(np.corrcoef(y, rowvar=False) * adj)
    if scheme == "factorial":
        return np.corrcoef(y, rowvar=False) * adj
    # path: predecessors get their regression weights, successors their correlations
    e = np.zeros_like(inner)
    r = np.corrcoef(y, rowvar=False)
    for k in range(inner.shape[0]):
        pred = np.flatnonzero(inner[k])
        if len(pred):
            e[pred, k] = np.linalg.lstsq(y[:, pred], y[:, k], rcond=None)[0]
        succ = np.flatnonzero(inner[:, k])
        e[succ, k] = r[k, succ]
    return e


def outer_weights(
    x: np.ndarray,
    block: np.ndarray,
    modes: list[str],
    inner: np.ndarray,
    scheme: str = "centroid",
    tol: float = 1e-6,
    max_iter: int = 100,
) -> tuple[np.ndarray, int, bool]:
    """Lohmoeller's iteration for the outer weights (R plspm's ``get_weights``, step for step).

    Parameters
    ----------
    x : (n, p) array
        Treated indicators (see :func:`treat`).
    block : (p,) int array
        Construct index of each indicator.
    modes : list of "A"/"B"
        Outer estimation mode per construct.
    inner : (J, J) array
        ``inner[k, j] = 1`` when ``j`` predicts ``k``.

    Returns
    -------
    w : (p, J) array
        Weights giving scores of variance 1 (divisor n), before sign orientation.
    iterations : int
    converged : bool
    """
    n, p = x.shape
    nlv = inner.shape[0]
    odm = np.zeros((p, nlv))
    odm[np.arange(p), block] = 1.0
    sdv = np.sqrt((n - 1) / n)
    w = odm / ((x @ odm).std(axis=0, ddof=1) * sdv)
    w_old = w.sum(axis=1)
    cols = [np.flatnonzero(block == j) for j in range(nlv)]
    converged = False
    for it in range(1, max_iter + 1):  # noqa: B007 - the count of iterations is returned
        y = _standardize(x @ w) * sdv
        z = y @ _inner_weights(y, inner, scheme)
        for j, idx in enumerate(cols):
            if modes[j] == "A":
                w[idx, j] = z[:, j] @ x[:, idx] / n
            else:
                w[idx, j] = np.linalg.lstsq(x[:, idx], z[:, j], rcond=None)[0]
        w_new = w.sum(axis=1)
        if np.sum((np.abs(w_old) - np.abs(w_new)) ** 2) < tol:
            converged = True
            break
        w_old = w_new
    w = w / ((x @ w).std(axis=0, ddof=1) * sdv)
    return w, it, converged


def orient(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Signs (+1/-1 per construct) making each score correlate positively with most of its items."""
    s = x @ w
    votes = np.sign(_corr(x, s)) * (w != 0)
    sign = np.sign(votes.sum(axis=0))
    return np.where(sign == 0, -1.0, sign)  # plspm: a tie flips


def _corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ac, bc = a - a.mean(axis=0), b - b.mean(axis=0)
    return (ac.T @ bc) / np.outer(np.sqrt((ac**2).sum(axis=0)), np.sqrt((bc**2).sum(axis=0)))


def inner_ols(scores: np.ndarray, inner: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Path matrix ``b[k, j]`` (OLS of each endogenous score on its predictors) and R^2 per construct
    (NaN for exogenous ones)."""
    nlv = inner.shape[0]
    b = np.zeros((nlv, nlv))
    r2 = np.full(nlv, np.nan)
    for k in range(nlv):
        pred = np.flatnonzero(inner[k])
        if len(pred):
            coef = np.linalg.lstsq(scores[:, pred], scores[:, k], rcond=None)[0]
            b[k, pred] = coef
            fitted = scores[:, pred] @ coef
            r2[k] = 1.0 - np.sum((scores[:, k] - fitted) ** 2) / np.sum(scores[:, k] ** 2)
    return b, r2


@dataclass(frozen=True)
class Estimate:
    """Arrays of one fit (constructs in the order of ``inner``, items in the order of ``block``)."""

    weights: np.ndarray  # (p, J), zero outside each block, oriented
    scores: np.ndarray  # (n, J)
    paths: np.ndarray  # (J, J)
    r2: np.ndarray  # (J,)
    loadings: np.ndarray  # (p,) item's correlation with its own construct
    crossloadings: np.ndarray  # (p, J)
    iterations: int
    converged: bool


def estimate(
    raw: np.ndarray,
    block: np.ndarray,
    modes: list[str],
    inner: np.ndarray,
    scheme: str = "centroid",
    scaled: bool = True,
    tol: float = 1e-6,
    max_iter: int = 100,
    reference: np.ndarray | None = None,
) -> Estimate:
    """One PLS fit on raw item values (n, p); arguments as :func:`outer_weights`.

    ``reference`` (full-sample weights) orients each construct like it instead of by the majority
    rule: a bootstrap resample must keep the full sample's signs.
    """
    x = treat(raw, scaled)
    w, it, ok = outer_weights(x, block, modes, inner, scheme, tol, max_iter)
    if reference is None:
        sign = orient(x, w)
    else:
        sign = np.sign((w * reference).sum(axis=0))
        sign[sign == 0] = 1.0
    w = w * sign
    scores = x @ w
    paths, r2 = inner_ols(scores, inner)
    cross = _corr(x, scores)
    return Estimate(
        weights=w,
        scores=scores,
        paths=paths,
        r2=r2,
        loadings=cross[np.arange(len(block)), block],
        crossloadings=cross,
        iterations=it,
        converged=ok,
    )


def total_effects(b: np.ndarray) -> np.ndarray:
    """Total effects ``(I - B)^-1 - I`` of a recursive path matrix ``b[k, j]`` (j -> k)."""
    eye = np.eye(len(b))
    return np.linalg.solve(eye - b, eye) - eye


__all__ = ["SCHEMES", "treat", "outer_weights", "orient", "inner_ols", "estimate", "Estimate", "total_effects"]
