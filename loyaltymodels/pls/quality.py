"""Quality criteria of a PLS path model: reliability, convergent and discriminant validity.

Plain functions on correlation matrices, loadings and weights (testable with arrays), and two tables
built from a :class:`~loyaltymodels.pls.fit.PlsFit`:

* :func:`quality` -- per construct: Cronbach's alpha (standardized, as plspm), Dijkstra-Henseler's
  rho_A, composite reliability rho_C (Joereskog / Dillon-Goldstein with the PLS loadings, as SmartPLS,
  seminr and cSEM), AVE (Fornell-Larcker), and plspm's unidimensionality columns (its
  Dillon-Goldstein rho, from the first principal component, and the first two eigenvalues of the
  block's correlation matrix).
* :func:`htmt` -- heterotrait-monotrait ratios (Henseler, Ringle & Sarstedt 2015) between the
  reflective constructs, on absolute item correlations (as SmartPLS and cSEM's default).

These criteria assume a reflective (Mode A) block: they are NaN for Mode B blocks, and alpha and
rho_A are NaN for single-item blocks (the other criteria are 1 by construction there).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import DataError

if TYPE_CHECKING:
    from .fit import PlsFit


def cronbach_alpha(r: np.ndarray) -> float:
    """Standardized Cronbach's alpha of a block from its items' correlation matrix ``r``.

    Examples
    --------
    >>> import numpy as np
    >>> round(cronbach_alpha(np.array([[1, .5, .5], [.5, 1, .5], [.5, .5, 1]])), 4)  # 3*.5/(1+2*.5)
    0.75
    """
    k = r.shape[0]
    if k < 2:
        return float("nan")
    off = r[np.triu_indices(k, 1)].mean()
    return float(k * off / (1 + (k - 1) * off))


def composite_reliability(loadings: np.ndarray) -> float:
    """rho_C = (sum l)^2 / ((sum l)^2 + sum(1 - l^2)), with standardized loadings ``l``."""
    s = np.sum(loadings) ** 2
    return float(s / (s + np.sum(1 - loadings**2)))


def ave(loadings: np.ndarray) -> float:
    """Average variance extracted: the mean squared standardized loading."""
    return float(np.mean(loadings**2))


def rho_a(weights: np.ndarray, r: np.ndarray) -> float:
    """Dijkstra-Henseler's rho_A of a block (Dijkstra & Henseler 2015, eq. 21).

    ``weights`` are the block's weights for standardized items, scaled so that the composite has
    unit variance (``w' r w = 1``); they are rescaled here in case they are not.
    """
    k = len(weights)
    if k < 2:
        return float("nan")
    w = weights / np.sqrt(weights @ r @ weights)
    ww = np.outer(w, w)
    off = ~np.eye(k, dtype=bool)
    return float((w @ w) ** 2 * (w @ (r * off) @ w) / (w @ (ww * off) @ w))


def unidimensionality(r: np.ndarray) -> tuple[float, float, float]:
    """plspm's Dillon-Goldstein rho (loadings on the first principal component) and the first two
    eigenvalues of the correlation matrix ``r``."""
    vals, vecs = np.linalg.eigh(r)
    vals, vecs = vals[::-1], vecs[:, ::-1]
    pc = vecs[:, 0] * np.sqrt(vals[0])
    dg = composite_reliability(pc * np.sign(pc.sum()))
    return dg, float(vals[0]), float(vals[1]) if len(vals) > 1 else 0.0


def htmt_matrix(r: np.ndarray, blocks: list[np.ndarray]) -> np.ndarray:
    """HTMT between blocks (lists of column indices into ``r``): mean absolute heterotrait
    correlation over the geometric mean of the two blocks' mean absolute monotrait correlations.
    The diagonal is NaN."""
    a = np.abs(r)
    mono = [a[np.ix_(b, b)][np.triu_indices(len(b), 1)].mean() for b in blocks]
    m = len(blocks)
    out = np.full((m, m), np.nan)
    for i in range(m):
        for j in range(i + 1, m):
            out[i, j] = out[j, i] = a[np.ix_(blocks[i], blocks[j])].mean() / np.sqrt(mono[i] * mono[j])
    return out


# -- tables from a fit ------------------------------------------------------------------------------
def _item_correlations(fit: PlsFit) -> tuple[np.ndarray, np.ndarray]:
    if fit.data is None:
        raise DataError("this PlsFit keeps no item data; refit it with fit_pls to assess its quality")
    x = fit.data.to_numpy(dtype=float)
    return np.corrcoef(x, rowvar=False), x.std(axis=0)


def quality(fit: PlsFit) -> pd.DataFrame:
    """Reliability and convergent validity of each construct.

    Columns: ``construct``, ``mode``, ``items``, ``alpha``, ``rho_a``, ``rho_c``, ``ave``,
    ``dg_rho`` (plspm's, from the first principal component), ``eig1``, ``eig2``.

    Examples
    --------
    >>> import loyaltymodels as lm
    >>> from loyaltymodels.datasets import ECSI_MODEL, load_ecsi
    >>> # In R: plspm(...)$unidim and seminr::summary(...)$reliability
    >>> q = lm.fit_pls(ECSI_MODEL, load_ecsi(), scaled=False).quality()
    >>> q.set_index("construct").loc[["IMAG", "SAT"], ["alpha", "rho_c", "ave"]].round(3)
               alpha  rho_c    ave
    construct
    IMAG       0.830  0.872  0.582
    SAT        0.894  0.926  0.759
    """
    pm = fit.model
    r, sd = _item_correlations(fit)
    col = {item: i for i, item in enumerate(pm.items)}
    rows = []
    for c in pm.constructs:
        idx = np.array([col[i] for i in pm.blocks[c]])
        rb = r[np.ix_(idx, idx)]
        out = fit.outer[fit.outer.lhs == c]
        # weights for standardized items (fit.scaled: they already are)
        lam, w = out.loading.to_numpy(), out.weight.to_numpy() * (1.0 if fit.scaled else sd[idx])
        row = dict(construct=c, mode=pm.modes[c], items=len(idx))
        if pm.modes[c] == "A":
            dg, e1, e2 = unidimensionality(rb)
            row.update(
                alpha=cronbach_alpha(rb),
                rho_a=rho_a(w, rb),
                rho_c=composite_reliability(lam),
                ave=ave(lam),
                dg_rho=dg,
                eig1=e1,
                eig2=e2,
            )
        else:
            row.update(alpha=np.nan, rho_a=np.nan, rho_c=np.nan, ave=np.nan, dg_rho=np.nan, eig1=np.nan, eig2=np.nan)
        rows.append(row)
    return pd.DataFrame(rows)


def htmt(fit: PlsFit) -> pd.DataFrame:
    """HTMT matrix of the reflective constructs with at least two items (others are left out).

    Values below 0.85 (conservative) or 0.90 are the usual evidence of discriminant validity
    (Henseler, Ringle & Sarstedt 2015).

    Examples
    --------
    >>> import loyaltymodels as lm
    >>> from loyaltymodels.datasets import ECSI_MODEL, load_ecsi
    >>> # In R: seminr::summary(...)$validity$htmt, or cSEM::calculateHTMT(...)
    >>> h = lm.fit_pls(ECSI_MODEL, load_ecsi(), scaled=False).htmt()
    >>> round(float(h.loc["EXPE", "QUAL"]), 3)  # above 0.9: EXPE and QUAL are hardly distinct
    0.982
    """
    pm = fit.model
    r, _ = _item_correlations(fit)
    col = {item: i for i, item in enumerate(pm.items)}
    keep = [c for c in pm.constructs if pm.modes[c] == "A" and len(pm.blocks[c]) > 1]
    blocks = [np.array([col[i] for i in pm.blocks[c]]) for c in keep]
    return pd.DataFrame(htmt_matrix(r, blocks), index=pd.Index(keep, name="construct"), columns=keep)


__all__ = [
    "quality",
    "htmt",
    "cronbach_alpha",
    "composite_reliability",
    "ave",
    "rho_a",
    "unidimensionality",
    "htmt_matrix",
]
