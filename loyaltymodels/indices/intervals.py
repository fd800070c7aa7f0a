"""Interval kernels behind :mod:`loyaltymodels.indices.promoter` and :mod:`loyaltymodels.indices.satisfaction`,
on plain NumPy arrays.

Every kernel works element-wise on arrays (one element per group) and takes the sample size as a
float, so the same code serves unweighted data (``n``) and survey-weighted data (Kish's effective
sample size ``n_eff``). Proportions are on 0-1 and the NPS on -1..1 here; the public functions
rescale to percent.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from ..errors import ArgumentError

__all__ = [
    "z_value",
    "kish_n_eff",
    "nps_centre_var",
    "nps_wald",
    "nps_adjusted_wald",
    "containing",
    "nps_dirichlet_draws",
    "equal_tailed",
    "wilson",
    "t_interval",
]


def z_value(ci: float) -> float:
    """Two-sided standard-normal quantile for an interval of mass ``ci``.

    Examples
    --------
    >>> round(z_value(0.95), 6)
    1.959964
    """
    check_ci(ci)
    return float(stats.norm.ppf(0.5 + ci / 2))


def check_ci(ci: float) -> None:
    """Raise :class:`~loyaltymodels.errors.ArgumentError` unless ``0 < ci < 1``."""
    if not (isinstance(ci, (int, float, np.floating)) and 0 < ci < 1):
        raise ArgumentError(f"ci must be the interval's mass, strictly between 0 and 1 (e.g. 0.95); got {ci!r}")


def kish_n_eff(sum_w: ArrayLike, sum_w2: ArrayLike) -> NDArray[np.float64]:
    """Kish's effective sample size ``(sum w)^2 / sum w^2`` (NaN where there is no weight).

    Examples
    --------
    >>> kish_n_eff([4.0, 3.0], [4.0, 5.0])  # four weights of 1; weights 1, 2
    array([4. , 1.8])
    """
    sum_w, sum_w2 = np.asarray(sum_w, dtype=float), np.asarray(sum_w2, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(sum_w2 > 0, sum_w**2 / sum_w2, np.nan)


def nps_centre_var(
    promoters: ArrayLike, detractors: ArrayLike, n: ArrayLike, adjusted: bool = True
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Centre and sampling variance of the NPS (on -1..1), adjusted as Rocks (2016) or plain.

    Plain: ``p - d`` and ``[p + d - (p - d)^2] / n``. Adjusted: the same with ``p' = (np + 3/4) /
    (n + 3)``, ``d' = (nd + 3/4) / (n + 3)`` and ``n + 3``.

    Examples
    --------
    >>> c, v = nps_centre_var(0.5, 0.25, 20)  # p' = 10.75/23, d' = 5.75/23
    >>> round(float(c), 6), round(float(v), 6)
    (0.217391, 0.029136)
    """
    p, d, n = (np.asarray(a, dtype=float) for a in (promoters, detractors, n))
    if adjusted:
        p, d, n = (p * n + 0.75) / (n + 3.0), (d * n + 0.75) / (n + 3.0), n + 3.0
    with np.errstate(invalid="ignore", divide="ignore"):
        return p - d, (p + d - (p - d) ** 2) / n


def _nps_normal(centre, var, ci):
    half = z_value(ci) * np.sqrt(var)
    return np.clip(centre - half, -1.0, 1.0), np.clip(centre + half, -1.0, 1.0)


def containing(
    lower: ArrayLike, upper: ArrayLike, estimate: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``[lower, upper]`` widened, where needed, to hold ``estimate``.

    An interval centred on a shrunk estimate (the adjusted Wald's ``n + 3``, a Dirichlet posterior)
    excludes the observed value when that value sits on the boundary: one promoter out of one gives
    NPS 100 with the adjusted Wald interval [-48.5, 98.5], every promoter of ten gives the posterior
    interval [39, 97]. Brown, Cai & DasGupta (2001, *Statistical Science* 16, 101-133) extend such
    an interval to the boundary (their modified Jeffreys interval); extending it to the estimate is
    the same rule for the NPS, and for a difference of two NPS whose samples sit on opposite
    boundaries. It only widens, so coverage can only rise (exact coverage: ``indices.coverage``).

    Examples
    --------
    >>> lo, hi = containing([-0.485], [0.985], [1.0])
    >>> float(lo[0]), float(hi[0])
    (-0.485, 1.0)
    """
    lo, hi, est = (np.asarray(a, dtype=float) for a in (lower, upper, estimate))
    return np.fmin(lo, est), np.fmax(hi, est)


def nps_wald(
    promoters: ArrayLike, detractors: ArrayLike, n: ArrayLike, ci: float = 0.95
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Plain Wald interval of the NPS (on -1..1) from the shares of promoters and detractors.

    The multinomial variance of ``p - d`` is ``[p + d - (p - d)^2] / n``. This interval collapses to
    a point when every respondent is in one group, and under-covers at small ``n``; it is here as
    the textbook baseline, not as a recommendation. Ends are clipped to [-1, 1].

    Examples
    --------
    >>> lo, hi = nps_wald(0.5, 0.2, 100)   # var = (0.7 - 0.09) / 100
    >>> float(lo.round(6)), float(hi.round(6))
    (0.146922, 0.453078)
    """
    return _nps_normal(*nps_centre_var(promoters, detractors, n, adjusted=False), ci)  # centred on p - d


def nps_adjusted_wald(
    promoters: ArrayLike, detractors: ArrayLike, n: ArrayLike, ci: float = 0.95
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Adjusted Wald interval of the NPS (on -1..1) of Rocks (2016).

    Adds 3/4 of a respondent to the promoters, 3/4 to the detractors and 3/2 to the passives
    (``n`` becomes ``n + 3``), then centres a Wald interval on the adjusted ``p' - d'`` with the
    multinomial variance ``[p' + d' - (p' - d')^2] / (n + 3)``. Ends are clipped to [-1, 1], and the
    interval is widened to hold the observed ``p - d`` where the shrinkage left it out (n = 1).

    Parameters
    ----------
    promoters, detractors : array-like
        Shares (0-1) of promoters and detractors.
    n : array-like
        Sample size, or Kish's effective sample size for weighted data.
    ci : float
        Mass of the interval.

    References
    ----------
    Rocks, B. (2016). Interval estimation for the "Net Promoter Score". *The American
    Statistician*, 70(4), 365-372.

    Examples
    --------
    10 promoters and 5 detractors of 20: p' = 10.75/23, d' = 5.75/23.

    >>> lo, hi = nps_adjusted_wald(10 / 20, 5 / 20, 20)
    >>> float(lo.round(6)), float(hi.round(6))
    (-0.117161, 0.551944)

    One promoter of one: the interval reaches the observed NPS (see :func:`containing`).

    >>> [round(float(x), 3) for x in nps_adjusted_wald(1.0, 0.0, 1)]
    [-0.485, 1.0]
    """
    lo, hi = _nps_normal(*nps_centre_var(promoters, detractors, n, adjusted=True), ci)
    return containing(lo, hi, np.asarray(promoters, dtype=float) - np.asarray(detractors, dtype=float))


def nps_dirichlet_draws(
    counts: ArrayLike,
    prior: ArrayLike = (1.0, 1.0, 1.0),
    ndraws: int = 4000,
    rng: np.random.Generator | int | None = None,
) -> NDArray[np.float64]:
    """Posterior draws of the NPS (on -1..1) under a Dirichlet-multinomial model.

    Parameters
    ----------
    counts : array-like, shape (..., 3)
        Counts (or effective counts, ``share * n_eff``) of detractors, passives, promoters.
    prior : array-like of 3 floats
        Dirichlet concentration added to the counts.
    ndraws : int
        Number of draws per row of ``counts``.
    rng : Generator, int or None
        Source of randomness (a seed makes the draws reproducible).

    Returns
    -------
    ndarray, shape (..., ndraws)
        Draws of ``promoters - detractors``.

    Examples
    --------
    >>> draws = nps_dirichlet_draws([[3, 2, 5]], ndraws=20000, rng=1)
    >>> draws.shape, bool(abs(draws.mean() - (6 - 4) / 13) < 0.01)  # posterior mean of p - d
    ((1, 20000), True)
    """
    rng = np.random.default_rng(rng)
    alpha = np.asarray(counts, dtype=float) + np.asarray(prior, dtype=float)
    if alpha.shape[-1] != 3 or np.any(~(alpha > 0)):
        raise ArgumentError("counts + prior must be positive, in the order (detractors, passives, promoters)")
    # numpy's Generator.dirichlet takes one concentration vector; normalised gamma draws give
    # the Dirichlet for every group at once.
    g = rng.standard_gamma(alpha[..., None, :], size=(*alpha.shape[:-1], ndraws, 3))
    return (g[..., 2] - g[..., 0]) / g.sum(axis=-1)


def equal_tailed(draws: ArrayLike, ci: float = 0.95, axis: int = -1) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Equal-tailed interval of mass ``ci`` from draws along ``axis`` (linear quantiles).

    Examples
    --------
    >>> lo, hi = equal_tailed(np.arange(101.0), ci=0.9)
    >>> round(float(lo), 9), round(float(hi), 9)
    (5.0, 95.0)
    """
    check_ci(ci)
    lo, hi = np.quantile(np.asarray(draws, dtype=float), [(1 - ci) / 2, (1 + ci) / 2], axis=axis)
    return lo, hi


def wilson(share: ArrayLike, n: ArrayLike, ci: float = 0.95) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Wilson score interval of a proportion, for a possibly non-integer (effective) ``n``.

    Written out because scipy's ``binomtest(...).proportion_ci("wilson")`` takes one integer
    count at a time, and weighted data have a fractional effective count.

    Examples
    --------
    8 successes of 10 (as ``scipy.stats.binomtest(8, 10).proportion_ci(method="wilson")``):

    >>> lo, hi = wilson(0.8, 10)
    >>> float(lo.round(6)), float(hi.round(6))
    (0.490162, 0.943318)
    """
    p, n = np.asarray(share, dtype=float), np.asarray(n, dtype=float)
    z2 = z_value(ci) ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        centre = (p + z2 / (2 * n)) / (1 + z2 / n)
        half = np.sqrt(z2) * np.sqrt(p * (1 - p) / n + z2 / (4 * n**2)) / (1 + z2 / n)
    return np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)


def t_interval(
    mean: ArrayLike, sd: ArrayLike, n: ArrayLike, ci: float = 0.95
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Student-t interval of a mean: ``mean -/+ t(n - 1) * sd / sqrt(n)``.

    ``n`` may be an effective sample size (then ``n - 1`` degrees of freedom is Kish's
    approximation). NaN where ``n < 2``.

    Examples
    --------
    >>> lo, hi = t_interval(10.0, 2.0, 16)   # t(15) = 2.131450
    >>> float(lo.round(6)), float(hi.round(6))
    (8.934275, 11.065725)
    """
    check_ci(ci)
    m, s, n = (np.asarray(a, dtype=float) for a in (mean, sd, n))
    with np.errstate(invalid="ignore", divide="ignore"):
        df = np.where(n > 1, n - 1, np.nan)
        half = stats.t.ppf(0.5 + ci / 2, df) * s / np.sqrt(n)
    return m - half, m + half
