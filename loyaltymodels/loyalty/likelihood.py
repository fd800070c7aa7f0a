"""Likelihood kernels of the loyalty model beyond the plain marginal SEM, for PyTensor and NumPy.

Why these forms (see also docs/findings.md: marginalise whenever items are continuous):

* **Gaussian blocks in information form.** Given the latent variables of a block, its continuous
  items are independent normals, so the block's items are marginally
  ``N(nu + Lambda m, Lambda Phi Lambda' + Theta)`` and the latents given the items are normal with
  precision ``P = Phi^-1 + Lambda' Theta^-1 Lambda``. Woodbury and the determinant lemma give each
  respondent's marginal log density from ``q x q`` matrices (``q`` the block's latents), one per
  group and missing-data pattern. Respondents are laid out in padded chunks (one group and one
  pattern per chunk), so the graph is a fixed set of batched products whatever the number of
  groups or patterns: a loop over cells made numba compile for minutes, and per-respondent
  gathers of matrices have slow scatter-add gradients.
* **Driver scores sampled around their data-based posterior.** With an interaction or an
  asymmetry, loyalty depends nonlinearly on the drivers, so their scores are sampled. They are
  written ``eta = E[eta | driver items] + chol(Var[eta | driver items]) u`` with ``u ~ N(0, I)``:
  exact (the density of ``u`` is standard normal, the Jacobian cancels the normalising constant),
  oriented by the data from the first draw (docs/findings.md's sign trap), and since the driver items
  already fix most of each score, the sampler only sees what loyalty's items add: ``u`` stays near
  ``N(0, I)``, which suits NUTS far better than either the centred or the prior-non-centred form.
* **Loyalty integrated out.** Given the drivers' scores, loyalty's items are a Gaussian block with
  one latent (loyalty's residual), integrated out in closed form.
* **Behaviour by Gauss-Hermite.** An outcome linked to loyalty needs ``int p(o | L) p(L | items,
  drivers) dL`` over a normal ``p(L | ...)``; 9-node Gauss-Hermite quadrature over that normal is
  exact to ~1e-6 for the logistic and ordered-logistic links (a smooth integrand against a narrow
  normal; tests check it against adaptive quadrature), and keeps the graph free of one more latent
  per respondent.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType
from typing import Any

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from scipy.special import erf as _np_erf

_LOG2PI = float(np.log(2 * np.pi))
_PAD = 1e3  # outer cut points of the ordered logit; finite so that gradients stay finite
GH_NODES = 9


def _np_logsumexp(x: np.ndarray, axis: int) -> np.ndarray:
    """``log(sum(exp(x)))`` along ``axis``, shifted by the maximum (an all ``-inf`` slice gives
    ``-inf``). Plain NumPy: scipy.special.logsumexp's array-API checks make it twice as slow on the
    pointwise log-likelihood's (respondents x points x nodes) arrays, and its weights are not needed."""
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        return np.log(np.sum(np.exp(x - m), axis=axis)) + np.squeeze(m, axis)


def gh_rule(n: int = GH_NODES) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and log-weights of Gauss-Hermite quadrature against the standard normal.

    Examples
    --------
    >>> x, lw = gh_rule(5)
    >>> round(float(np.exp(lw) @ x ** 2), 12)   # E[Z^2] = 1
    1.0
    """
    x, w = hermegauss(n)
    return x, np.log(w / np.sqrt(2 * np.pi))


class _Ops:
    """The few operations whose names differ between NumPy and PyTensor."""

    def __init__(self, xp: ModuleType) -> None:
        self.xp = xp
        if xp is np:
            self.softplus = lambda x: np.logaddexp(0.0, x)
            self.log1mexp = lambda x: np.log(-np.expm1(x))
            self.logsumexp = lambda x, axis: _np_logsumexp(x, axis=axis)
            self.erf = _np_erf
        else:
            import pytensor.tensor as pt

            self.softplus, self.log1mexp, self.erf = pt.softplus, pt.log1mexp, pt.erf
            self.logsumexp = lambda x, axis: pt.logsumexp(x, axis=axis)

    def mT(self, x: Any) -> Any:
        return self.xp.swapaxes(x, -1, -2)


def ops(xp: ModuleType) -> _Ops:
    return _Ops(xp)


def spd_factor(m: Any, xp: ModuleType = np) -> tuple[Any, Any, Any]:
    """Cholesky factor ``L``, its inverse and ``log|M|`` of a batch ``(K, q, q)`` of small
    symmetric positive-definite matrices, unrolled into elementwise operations.

    Why not ``linalg.cholesky``/``inv``: batched LAPACK calls compile to one loop per operation and
    gradient in numba, which made the compile take minutes and cost more per gradient than the
    rest of the likelihood; for the few latents of a loyalty model (``q <= 4`` or so) the unrolled
    form is a handful of fused elementwise loops.

    Examples
    --------
    >>> a = np.array([[[4.0, 2.0], [2.0, 3.0]]])
    >>> L, Linv, logdet = spd_factor(a)
    >>> bool(np.allclose(L[0] @ L[0].T, a[0]) and np.allclose(Linv[0] @ L[0], np.eye(2)))
    True
    >>> bool(np.isclose(logdet[0], np.log(np.linalg.det(a[0]))))
    True
    """
    q = m.shape[-1] if xp is np else int(m.type.shape[-1])
    L: list[list[Any]] = [[None] * q for _ in range(q)]
    for j in range(q):
        d = m[:, j, j] - sum((L[j][k] ** 2 for k in range(j)), 0.0)
        L[j][j] = xp.sqrt(d)
        for i in range(j + 1, q):
            L[i][j] = (m[:, i, j] - sum((L[i][k] * L[j][k] for k in range(j)), 0.0)) / L[j][j]
    inv: list[list[Any]] = [[None] * q for _ in range(q)]  # forward substitution: L inv = I
    for j in range(q):
        inv[j][j] = 1.0 / L[j][j]
        for i in range(j + 1, q):
            inv[i][j] = -sum((L[i][k] * inv[k][j] for k in range(j, i)), 0.0) / L[i][i]
    zero = 0.0 * L[0][0]
    full = xp.stack([xp.stack([L[i][j] if j <= i else zero for j in range(q)], axis=-1) for i in range(q)], axis=-2)
    finv = xp.stack([xp.stack([inv[i][j] if j <= i else zero for j in range(q)], axis=-1) for i in range(q)], axis=-2)
    logdet = 2 * sum(xp.log(L[j][j]) for j in range(q))
    return full, finv, logdet


def gaussian_block(
    y: Any, valid: Any, observed: Any, nu: Any, lam: Any, theta: Any, mean: Any, cov: Any, xp: ModuleType = np
) -> tuple[Any, Any, Any, Any]:
    """Marginal log density of blocks of continuous items, and the posterior of their latents,
    for ``K`` chunks of ``B`` respondents that share their matrices and answered items.

    Parameters
    ----------
    y : (K, B, p)
        Answers (any finite value where not answered or padded).
    valid : (K, B)
        1 for a respondent, 0 for padding.
    observed : (K, p)
        1 for the items answered in the chunk (a chunk holds one group and one missing-data
        pattern), 0 otherwise.
    nu, lam, theta : (K, p), (K, p, q), (K, p)
        Intercepts, loadings and residual variances.
    mean : (K, q) or (K, B, q)
        Prior mean of the latents (per chunk, or per respondent).
    cov : (K, q, q)
        Prior covariance of the latents.

    Returns
    -------
    loglik : (K, B), 0 for padding
    post_mean : (K, B, q)
    post_cov : (K, q, q)
    root : (K, q, q)
        ``post_cov = root' root``: scores ``post_mean + u @ root`` with ``u ~ N(0, I)`` follow the
        posterior.

    Examples
    --------
    >>> from scipy.stats import multivariate_normal
    >>> lam, theta, phi = np.array([[[1.0], [0.5]]]), np.array([[0.5, 1.0]]), np.array([[[2.0]]])
    >>> y = np.array([[[1.0, -0.5], [0.3, 9.9]]])     # the second respondent answered item 1 only
    >>> ll, m, v, _ = gaussian_block(y[:, :1], np.ones((1, 1)), np.ones((1, 2)), np.zeros((1, 2)), lam, theta,
    ...                           np.zeros((1, 1)), phi)
    >>> sigma = lam[0] @ phi[0] @ lam[0].T + np.diag(theta[0])
    >>> bool(np.isclose(ll[0, 0], multivariate_normal(np.zeros(2), sigma).logpdf(y[0, 0])))
    True
    >>> ll, m, v, _ = gaussian_block(y[:, 1:], np.ones((1, 1)), np.array([[1.0, 0.0]]), np.zeros((1, 2)), lam,
    ...                           theta, np.zeros((1, 1)), phi)
    >>> bool(np.isclose(ll[0, 0], multivariate_normal(0.0, sigma[0, 0]).logpdf(0.3)))
    True
    """
    o = ops(xp)
    w = observed / theta
    _, cinv, logdet_cov = spd_factor(cov, xp)
    prec = o.mT(cinv) @ cinv + o.mT(lam) @ (w[:, :, None] * lam)
    _, pinv, logdet_prec = spd_factor(prec, xp)
    post_cov = o.mT(pinv) @ pinv
    logdet = logdet_cov + logdet_prec + xp.sum(observed * xp.log(theta), axis=-1)
    if mean.ndim == 2:
        fitted = (nu + xp.sum(lam * mean[:, None, :], axis=-1))[:, None, :]
    else:
        fitted = nu[:, None, :] + mean @ o.mT(lam)
    r = (y - fitted) * observed[:, None, :]
    rw = r * w[:, None, :]
    b = rw @ lam
    vb = b @ post_cov
    quad = xp.sum(r * rw, axis=-1) - xp.sum(b * vb, axis=-1)
    nobs = xp.sum(observed, axis=-1)
    loglik = -0.5 * valid * ((nobs * _LOG2PI + logdet)[:, None] + quad)
    base = mean[:, None, :] if mean.ndim == 2 else mean
    return loglik, base + vb, post_cov, pinv


def folded_mean(mu: Any, sd: Any, xp: ModuleType = np) -> Any:
    """``E|D|`` for ``D ~ N(mu, sd^2)`` (the folded normal's mean)."""
    o = ops(xp)
    return sd * np.sqrt(2 / np.pi) * xp.exp(-0.5 * (mu / sd) ** 2) + mu * o.erf(mu / (sd * np.sqrt(2)))


def nonlinear_terms(
    pair_interaction: tuple[Any, Any] | None,
    pair_gap: tuple[Any, Any] | None,
    gamma: Any,
    d: Any,
    centre_prod: Any,
    centre_abs: Any,
    xp: ModuleType = np,
) -> Any:
    """``gamma (B E - E[B E]) - d/2 (|E - P| - E|E - P|)``.

    ``pair_interaction = (B, E)`` scores (beliefs, experience), ``pair_gap = (E, P)`` (experience,
    promise). With ``a min(D, 0) + b max(D, 0) = (a + b)/2 D + (b - a)/2 |D|`` for the gap
    ``D = E - P``, only the ``|D|`` coefficient is identified beside the main effects, and
    ``d = a - b`` says how much more a shortfall costs than a surplus gains. Each term is centred
    at its expectation in the respondent's cell, so the latent means keep their meaning. A part is
    skipped when its coefficient is ``None``.
    """
    out = 0.0
    if gamma is not None:
        assert pair_interaction is not None  # the scores come with their coefficient
        out = out + gamma * (pair_interaction[0] * pair_interaction[1] - centre_prod)
    if d is not None:
        assert pair_gap is not None
        out = out - 0.5 * d * (xp.abs(pair_gap[0] - pair_gap[1]) - centre_abs)
    return out


def outcome_loglik(
    mean: Any,
    var: Any,
    codes: Sequence[Any],
    masks: Sequence[Any],
    intercepts: Sequence[Any],
    slopes: Sequence[Any],
    cuts: Sequence[Any],
    kinds: Sequence[str],
    xp: ModuleType = np,
    nodes: int = GH_NODES,
) -> Any:
    """``log int prod_k p(o_k | L) N(L; mean, var) dL`` per respondent (Gauss-Hermite).

    ``mean``, ``codes`` and ``masks`` (lists, one per outcome) share any shape ``(...)`` (codes of
    missing answers must be valid, e.g. 0, with mask 0); ``var`` broadcasts against ``mean``;
    ``cuts[k]`` the ordered cut points of an ordinal outcome (``None`` for binary). With ``var``
    None the latent is known (``mean``) and no quadrature is needed. Returns an array shaped as
    ``mean``.

    Examples
    --------
    >>> from scipy import integrate, stats
    >>> got = outcome_loglik(np.array([0.3]), np.array(0.2), [np.array([1])], [np.ones(1)], [-0.5], [1.2],
    ...                      [None], ["binary"])
    >>> f = lambda l: stats.norm(0.3, 0.2 ** 0.5).pdf(l) / (1 + np.exp(0.5 - 1.2 * l))
    >>> bool(np.isclose(np.exp(got[0]), integrate.quad(f, -10, 10)[0], atol=1e-8))
    True
    """
    o = ops(xp)
    if var is None:
        lat = mean[..., None]
        lw = np.zeros(1)
    else:
        x, lw = gh_rule(nodes)
        lat = mean[..., None] + xp.sqrt(var)[..., None] * x
    total = lw + 0.0 * lat
    for code, m, a, c, cut, kind in zip(codes, masks, intercepts, slopes, cuts, kinds):
        eta = c * lat + (a if a is not None else 0.0)
        if kind == "binary":
            lp = -o.softplus((1 - 2 * code[..., None]) * eta)  # log sigmoid(+-eta): one softplus, not two
        else:
            full = xp.concatenate([xp.full((1,), -_PAD), cut, xp.full((1,), _PAD)])
            up, lo = full[code + 1][..., None] - eta, full[code][..., None] - eta
            lp = up + o.log1mexp(lo - up) - o.softplus(up) - o.softplus(lo)
        total = total + m[..., None] * lp
    return o.logsumexp(total, axis=-1)
