"""The compiled likelihood of the loyalty model's latent-score (``conditional``) form: ordinal items
beside every loyalty claim, with no per-model compile.

Ordinal items have no closed-form marginal, so every respondent's latent scores are sampled, as in
the PyMC model (:func:`loyaltymodels.bayes.likelihoods` ``"conditional"``): non-centred,
``eta = (I - B)^-1 (alpha + chol(Psi) z)`` with ``z ~ N(0, I)``; loyalty's nonlinear terms are added
to its score centred at their expectation in the cell (as the ``scores`` form,
:mod:`loyaltymodels.bayes.density.latent`); the items are independent given the scores, normal for
continuous items and ordered probit for ordinal ones (cut points are the table's threshold rows);
behaviour outcomes are exact given the scores. The gradient is reverse mode by hand, per respondent
into per-group sums, then through ``T = (I - B)^-1`` and the Cholesky factor to the table's rows;
the tests compare value and gradient with PyTensor's on the PyMC model of the same form.

``log(Phi(b) - Phi(a))`` follows PyMC's ``log_diff_normal_cdf`` branch for branch (three regions,
the tails through ``erfcx``), so both give the same numbers in the tails too; numba has no
``erfcx``, hence :func:`_erfcx`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .groups import centring, group_back, group_ram, scatter, structure
from .latent import _driver_outcomes
from .linalg import _OPTS, _cholesky, _cholesky_back
from .structure import blocks_pd

_PAD = 1e3  # outer cut points of the ordered probit, as the PyMC model's (bayes.likelihoods)
_LOG2PI = math.log(2 * math.pi)
_INV_SQRT2PI = 1.0 / math.sqrt(2 * math.pi)
_SQRT2 = math.sqrt(2.0)
_INV_SQRTPI = 1.0 / math.sqrt(math.pi)


@njit(**_OPTS)
def _erfcx(t):
    """``exp(t^2) erfc(t)`` for ``t >= 0``: directly below 26 (erfc is still a normal number
    there), else the asymptotic series to ``t^-10`` (relative error < 1e-13 from 26 on)."""
    if t < 26.0:
        return math.exp(t * t) * math.erfc(t)
    u = 1.0 / (2.0 * t * t)
    return _INV_SQRTPI / t * (1.0 - u * (1.0 - 3.0 * u * (1.0 - 5.0 * u * (1.0 - 7.0 * u))))


@njit(**_OPTS)
def log_diff_ncdf(mu, sd, hi, lo):
    """``log(Phi((hi - mu)/sd) - Phi((lo - mu)/sd))`` and its derivatives with respect to ``mu``,
    ``hi``, ``lo`` and ``sd``."""
    b, a = (hi - mu) / sd, (lo - mu) / sd
    x, y = b / _SQRT2, a / _SQRT2
    if y > 0.0:
        lp = math.log(0.5) - y * y + math.log(_erfcx(y) - math.exp(y * y - x * x) * _erfcx(x))
    elif x < 0.0:
        lp = math.log(0.5) - x * x + math.log(_erfcx(-x) - math.exp(x * x - y * y) * _erfcx(-y))
    else:
        lp = math.log(0.5 * (math.erf(x) - math.erf(y)))
    rb = math.exp(-x * x - lp) * _INV_SQRT2PI  # phi(b) / P
    ra = math.exp(-y * y - lp) * _INV_SQRT2PI
    dsd = -(b * rb - a * ra) / sd
    return lp, -(rb - ra) / sd, rb / sd, -ra / sd, dsd


@njit(**_OPTS)
def conditional_likelihood(rows, nat, ib, fb, fy, grows, gnat, ram, head):
    """Log-likelihood of every respondent given its sampled scores (module docstring); gradients
    are added to ``grows`` (table rows) and ``gnat`` (values: the scores ``z``, the nonlinear terms'
    coefficients, the outcomes' parameters). ``head = (nL, iL, nterm, nout, N, zbase, oterm,
    oout, ocode, ogrp, oyc, othr)`` locates the latent section's parts (:mod:`.latent`), ``fy``
    its floats (the answers ``(N, p)``, then the terms' scales). ``-inf`` outside the support."""
    p, G = ram[1], ram[2]
    nL, iL, nterm, nout, N, zbase, oterm, oout, ocode, ogrp, oyc, othr = head
    fscale = fy + N * p
    maxK = ib[othr]
    z = np.empty(nL)
    zeta = np.empty(nL)
    v = np.empty(nL)
    eta = np.empty(nL)
    etaF = np.empty(nL)
    g_etaF = np.empty(nL)
    g_eta = np.empty(nL)
    g_v = np.empty(nL)
    phis = np.empty(nterm)
    lp = 0.0
    for g in range(G):
        A, S, m = group_ram(rows, ib, g, ram)
        if not blocks_pd(S, ib, g):
            return -np.inf
        _, Psi, alpha, T, muA, TP, PhiA, ok = structure(A, S, m, p, nL)
        if not ok:
            return -np.inf
        C, ok = _cholesky(Psi, nL)
        if not ok:
            return -np.inf
        kappa = centring(ib, oterm, nterm, G, muA, PhiA)  # the nonlinear terms' expectations (centring)
        lam = np.empty((p, nL))
        th = np.empty(p)
        sd = np.empty(p)
        logsd = np.empty(p)
        for j in range(p):
            th[j] = S[j, j]
            sd[j] = math.sqrt(th[j]) if th[j] > 0 else 0.0
            logsd[j] = math.log(sd[j]) if th[j] > 0 else 0.0
            for a in range(nL):
                lam[j, a] = A[j, p + a]
        thr = othr + 1 + p + g * p * maxK  # this group's threshold rows, (p, maxK)
        G_lam = np.zeros((p, nL))
        G_theta = np.zeros(p)
        G_nu = np.zeros(p)
        G_T = np.zeros((nL, nL))
        G_C = np.zeros((nL, nL))
        S_g = np.zeros(nL)
        G_kappa = np.zeros(nterm)
        for i in range(N):
            if ib[ogrp + i] != g:
                continue
            for a in range(nL):
                z[a] = nat[zbase + i * nL + a]
            for a in range(nL):
                acc = 0.0
                for b in range(a + 1):
                    acc += C[a, b] * z[b]
                zeta[a] = acc
                v[a] = alpha[a] + acc
            for a in range(nL):
                acc = 0.0
                for b in range(nL):
                    acc += T[a, b] * v[b]
                eta[a] = acc
                etaF[a] = acc
            for t in range(nterm):
                t0 = oterm + t * (3 + G)
                kind, ta, tb = ib[t0], ib[t0 + 1], ib[t0 + 2]
                phis[t] = eta[ta] * eta[tb] if kind == 0 else abs(eta[ta] - eta[tb])
                etaF[iL] += nat[ib[t0 + 3 + g]] * fb[fscale + t] * (phis[t] - kappa[t])
            for a in range(nL):
                g_etaF[a] = 0.0
            for j in range(p):
                code = ib[oyc + i * p + j]
                if code < 0:
                    continue
                if not th[j] > 0:
                    return -np.inf
                mu = m[j]
                for a in range(nL):
                    mu += lam[j, a] * etaF[a]
                K = ib[othr + 1 + j]
                if K == 0:
                    r = fb[fy + i * p + j] - mu
                    lp += -0.5 * r * r / th[j] - logsd[j] - 0.5 * _LOG2PI
                    gmu = r / th[j]
                    G_theta[j] += 0.5 * (r * r / th[j] - 1.0) / th[j]
                else:
                    lo = -_PAD if code == 0 else rows[ib[thr + j * maxK + code - 1]]
                    hi = _PAD if code == K else rows[ib[thr + j * maxK + code]]
                    lpk, gmu, dhi, dlo, dsd = log_diff_ncdf(mu, sd[j], hi, lo)
                    lp += lpk
                    if code > 0:
                        grows[ib[thr + j * maxK + code - 1]] += dlo
                    if code < K:
                        grows[ib[thr + j * maxK + code]] += dhi
                    G_theta[j] += dsd / (2.0 * sd[j])
                G_nu[j] += gmu
                for a in range(nL):
                    G_lam[j, a] += gmu * etaF[a]
                    g_etaF[a] += gmu * lam[j, a]
            lp += _driver_outcomes(ib, nat, gnat, oout, ocode, nout, i, N, -1, etaF, g_etaF)
            # back through the nonlinear terms (added to loyalty's score only)
            gL = g_etaF[iL]
            for a in range(nL):
                g_eta[a] = g_etaF[a]
            for t in range(nterm):
                t0 = oterm + t * (3 + G)
                kind, ta, tb = ib[t0], ib[t0 + 1], ib[t0 + 2]
                sc = fb[fscale + t]
                coef = nat[ib[t0 + 3 + g]] * sc
                gnat[ib[t0 + 3 + g]] += gL * sc * (phis[t] - kappa[t])
                G_kappa[t] -= gL * coef
                if kind == 0:
                    g_eta[ta] += gL * coef * eta[tb]
                    g_eta[tb] += gL * coef * eta[ta]
                else:
                    dd = eta[ta] - eta[tb]
                    sg = 1.0 if dd > 0 else (-1.0 if dd < 0 else 0.0)
                    g_eta[ta] += gL * coef * sg
                    g_eta[tb] -= gL * coef * sg
            # eta = T v, v = alpha + C z
            for a in range(nL):
                acc = 0.0
                for b in range(nL):
                    G_T[a, b] += g_eta[a] * v[b]
                    acc += T[b, a] * g_eta[b]
                g_v[a] = acc
                S_g[a] += acc
            for a in range(nL):
                acc = 0.0
                for b in range(a, nL):
                    acc += C[b, a] * g_v[b]
                gnat[zbase + i * nL + a] += acc
                for b in range(a + 1):
                    G_C[a, b] += g_v[a] * z[b]
        # ---- group backward: Psi through its Cholesky factor, then the centring constants and T
        G_Psi = _cholesky_back(C, G_C, nL)
        G_alpha = S_g.copy()
        G_Bl = np.zeros((nL, nL))
        group_back(
            ib,
            oterm,
            nterm,
            G,
            G_kappa,
            muA,
            PhiA,
            T,
            TP,
            alpha,
            np.zeros(nL),
            np.zeros((nL, nL)),
            G_alpha,
            G_Psi,
            G_T,
            G_Bl,
        )
        scatter(grows, ib, g, ram, G_lam, G_Bl, G_theta, G_Psi, G_nu, G_alpha)
    return lp
