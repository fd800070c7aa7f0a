"""One group's structural algebra, shared by the latent forms' compiled likelihoods
(:mod:`loyaltymodels.bayes.density.latent`, :mod:`loyaltymodels.bayes.density.conditional`): its RAM
matrices from the table's rows, the latents' implied moments through ``T = (I - B)^-1``, the
nonlinear terms' centring constants, and the backward pass of all three to the table's rows.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .linalg import _OPTS, _inverse

#: kinds of loyalty's nonlinear terms (the program's term table)
KIND_PRODUCT, KIND_ABSDIFF = 0, 1
_SQRT2 = math.sqrt(2.0)
_SQRT_2_PI = math.sqrt(2.0 / math.pi)


@njit(**_OPTS)
def group_ram(rows, ib, g, ram):
    """Group ``g``'s RAM matrices ``A``, ``S`` and mean vector ``m`` from the table's rows."""
    n, oA, cA, oS, cS, oM, cM = ram[0], ram[3], ram[4], ram[5], ram[6], ram[7], ram[8]
    A = np.zeros((n, n))
    S = np.zeros((n, n))
    m = np.zeros(n)
    for k in range(ib[oA + g], ib[oA + g + 1]):
        A[ib[cA + 3 * k], ib[cA + 3 * k + 1]] = rows[ib[cA + 3 * k + 2]]
    for k in range(ib[oS + g], ib[oS + g + 1]):
        S[ib[cS + 3 * k], ib[cS + 3 * k + 1]] = rows[ib[cS + 3 * k + 2]]
    for k in range(ib[oM + g], ib[oM + g + 1]):
        m[ib[cM + 2 * k]] = rows[ib[cM + 2 * k + 1]]
    return A, S, m


@njit(**_OPTS)
def structure(A, S, m, p, nL):
    """The latents' paths ``B``, residual covariance ``Psi``, intercepts ``alpha``, ``T = (I - B)^-1``
    and the implied moments ``mu = T alpha``, ``Phi = T Psi T'`` (with ``T Psi``); ``ok`` is False
    when ``I - B`` is singular."""
    Bl = np.empty((nL, nL))
    Psi = np.empty((nL, nL))
    alpha = np.empty(nL)
    M = np.empty((nL, nL))
    for i in range(nL):
        alpha[i] = m[p + i]
        for j in range(nL):
            Bl[i, j] = A[p + i, p + j]
            Psi[i, j] = S[p + i, p + j]
            M[i, j] = (1.0 if i == j else 0.0) - Bl[i, j]
    T, ok = _inverse(M, nL)
    muA = np.zeros(nL)
    TP = np.zeros((nL, nL))
    PhiA = np.zeros((nL, nL))
    if not ok:
        return Bl, Psi, alpha, T, muA, TP, PhiA, False
    for i in range(nL):
        for j in range(nL):
            muA[i] += T[i, j] * alpha[j]
            for k in range(nL):
                TP[i, j] += T[i, k] * Psi[k, j]
    for i in range(nL):
        for j in range(nL):
            for k in range(nL):
                PhiA[i, j] += TP[i, k] * T[j, k]
    return Bl, Psi, alpha, T, muA, TP, PhiA, True


@njit(**_OPTS)
def centring(ib, oterm, nterm, G, muA, PhiA):
    """Each nonlinear term's expectation in the group (its centring constant): ``E[a b]`` for a
    product, ``E|a - b|`` (a folded normal's mean) for the kink."""
    kappa = np.zeros(nterm)
    for t in range(nterm):
        kind, ta, tb = ib[oterm + t * (3 + G)], ib[oterm + t * (3 + G) + 1], ib[oterm + t * (3 + G) + 2]
        if kind == KIND_PRODUCT:
            kappa[t] = muA[ta] * muA[tb] + PhiA[ta, tb]
        else:
            md = muA[ta] - muA[tb]
            sd = math.sqrt(PhiA[ta, ta] + PhiA[tb, tb] - 2 * PhiA[ta, tb])
            kappa[t] = sd * _SQRT_2_PI * math.exp(-0.5 * (md / sd) ** 2) + md * math.erf(md / (sd * _SQRT2))
    return kappa


@njit(**_OPTS)
def group_back(ib, oterm, nterm, G, G_kappa, muA, PhiA, T, TP, alpha, G_muA, G_PhiA, G_alpha, G_Psi, G_T, G_Bl):
    """A group's backward pass from the centring constants and the implied moments (``G_kappa``,
    ``G_muA``, ``G_PhiA``) and ``T`` (``G_T``, added to) to ``alpha``, ``Psi`` and ``B`` (added to
    ``G_alpha``, ``G_Psi``, ``G_Bl``)."""
    nL = len(alpha)
    for t in range(nterm):
        t0 = oterm + t * (3 + G)
        kind, ta, tb = ib[t0], ib[t0 + 1], ib[t0 + 2]
        gk = G_kappa[t]
        if gk == 0.0:
            continue
        if kind == KIND_PRODUCT:
            G_muA[ta] += gk * muA[tb]
            G_muA[tb] += gk * muA[ta]
            G_PhiA[ta, tb] += 0.5 * gk
            G_PhiA[tb, ta] += 0.5 * gk
        else:
            md = muA[ta] - muA[tb]
            sd = math.sqrt(PhiA[ta, ta] + PhiA[tb, tb] - 2 * PhiA[ta, tb])
            d_md = math.erf(md / (sd * _SQRT2))
            d_sd = _SQRT_2_PI * math.exp(-0.5 * (md / sd) ** 2)
            G_muA[ta] += gk * d_md
            G_muA[tb] -= gk * d_md
            gs = gk * d_sd / (2 * sd)
            G_PhiA[ta, ta] += gs
            G_PhiA[tb, tb] += gs
            G_PhiA[ta, tb] -= gs
            G_PhiA[tb, ta] -= gs
    for i in range(nL):  # mu = T alpha
        acc = 0.0
        for k in range(nL):
            acc += T[k, i] * G_muA[k]
        G_alpha[i] += acc
    # G_Psi += T' G_PhiA T ; G_T += G_mu alpha' + (G_PhiA + G_PhiA') T Psi
    for i in range(nL):
        for j in range(nL):
            acc = 0.0
            for a in range(nL):
                for b in range(nL):
                    acc += T[a, i] * G_PhiA[a, b] * T[b, j]
            G_Psi[i, j] += acc
    for i in range(nL):
        for j in range(nL):
            acc = G_muA[i] * alpha[j]
            for k in range(nL):
                acc += (G_PhiA[i, k] + G_PhiA[k, i]) * TP[k, j]
            G_T[i, j] += acc
    # T = (I - B)^-1: G_B = T' G_T T'
    for i in range(nL):
        for j in range(nL):
            acc = 0.0
            for a in range(nL):
                for b in range(nL):
                    acc += T[a, i] * G_T[a, b] * T[j, b]
            G_Bl[i, j] += acc


@njit(**_OPTS)
def scatter(grows, ib, g, ram, G_lam, G_Bl, G_theta, G_Psi, G_nu, G_alpha):
    """Add a group's matrix gradients to the table's rows (loadings, paths, residual variances,
    latent covariances, intercepts)."""
    p, oA, cA, oS, cS, oM, cM = ram[1], ram[3], ram[4], ram[5], ram[6], ram[7], ram[8]
    for k in range(ib[oA + g], ib[oA + g + 1]):
        i, j, r_ = ib[cA + 3 * k], ib[cA + 3 * k + 1], ib[cA + 3 * k + 2]
        if i < p and j >= p:
            grows[r_] += G_lam[i, j - p]
        elif i >= p and j >= p:
            grows[r_] += G_Bl[i - p, j - p]
    for k in range(ib[oS + g], ib[oS + g + 1]):
        i, j, r_ = ib[cS + 3 * k], ib[cS + 3 * k + 1], ib[cS + 3 * k + 2]
        if i < p and i == j:
            grows[r_] += G_theta[i]
        elif i >= p and j >= p:
            grows[r_] += G_Psi[i - p, j - p]
    for k in range(ib[oM + g], ib[oM + g + 1]):
        i, r_ = ib[cM + 2 * k], ib[cM + 2 * k + 1]
        grows[r_] += G_nu[i] if i < p else G_alpha[i - p]
