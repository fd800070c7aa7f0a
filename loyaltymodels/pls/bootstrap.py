"""Bootstrap of a PLS path model: resampled rows re-estimated, failures counted, percentile intervals.

Seeded through ``numpy.random.SeedSequence(seed).spawn(b)`` (one stream per resample), so a seed
gives the same intervals; plspm's bootstrap takes no seed, one reason the package fits PLS itself.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np

from ..errors import ConvergenceError, ConvergenceWarning

if TYPE_CHECKING:
    from .model import PlsModel

__all__ = ["bootstrap_pls", "bootstrap_summaries"]


def bootstrap_pls(
    raw: np.ndarray,
    pm: PlsModel,
    scheme: str,
    scaled: bool,
    tol: float,
    max_iter: int,
    reference: np.ndarray,
    b: int,
    seed: int | None,
) -> tuple[dict[str, np.ndarray], int]:
    """Re-estimate on ``b`` resamples of the rows; failed resamples are counted and left out."""
    n = raw.shape[0]
    block = pm.block
    keep: dict[str, list[np.ndarray]] = {"paths": [], "weights": [], "loadings": []}
    failed = 0
    with np.errstate(all="ignore"):  # a constant item in a resample gives NaN, caught below
        for child in np.random.SeedSequence(seed).spawn(b):
            rows = np.random.default_rng(child).integers(0, n, n)
            try:
                e = pm.fit_arrays(raw[rows], scheme, scaled, tol, max_iter, reference=reference)
            except np.linalg.LinAlgError:
                failed += 1
                continue
            w = e.weights[np.arange(len(block)), block]
            if not e.converged or not all(np.isfinite(a).all() for a in (w, e.paths, e.loadings)):
                failed += 1
                continue
            keep["paths"].append(e.paths)
            keep["weights"].append(w)
            keep["loadings"].append(e.loadings)
    if b - failed < 2:
        raise ConvergenceError(
            f"{failed} of {b} bootstrap resamples failed (no convergence or a "
            "constant item in the resample); check the data or use more rows"
        )
    if failed:
        warnings.warn(
            f"{failed} of {b} bootstrap resamples failed (no convergence or a constant "
            "item) and were left out; see fit.bootstrap_failed",
            ConvergenceWarning,
            stacklevel=3,
        )
    return {k: np.stack(v) for k, v in keep.items()}, failed


def bootstrap_summaries(draws: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bootstrap SE (SD with n-1, as plspm and seminr) and percentile interval, per column."""
    a = (1 - level) / 2
    lo, hi = np.quantile(draws, [a, 1 - a], axis=0)
    return draws.std(axis=0, ddof=1), lo, hi
