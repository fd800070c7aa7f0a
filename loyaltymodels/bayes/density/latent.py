"""The compiled likelihood of SEMs with one nonlinear latent and behaviour outcomes (the loyalty
model's latent forms), and its gradient, written out by hand like the marginal SEM's.

Two modes, read from the program (:mod:`loyaltymodels.loyalty.program` builds them):

``joint`` (the loyalty model's ``outcomes`` form)
    Every latent integrated out: per group and missing-data pattern the items are a Gaussian block
    (``N(nu + Lambda mu, Lambda Phi Lambda' + Theta)``, ``mu = T alpha``, ``Phi = T Psi T'``), the
    latents given a respondent's items are normal (precision ``P = Phi^-1 + Lambda' Theta^-1
    Lambda``), and the outcomes are integrated over the outcome latent's posterior normal by
    Gauss-Hermite.
``conditional`` (ordinal items: every score sampled)
    :mod:`loyaltymodels.bayes.density.conditional`, dispatched to by the entry point.
``scores`` (the ``scores`` form: nonlinear terms, outcomes of other latents)
    The drivers' scores are sampled around their posterior given the drivers' items,
    ``eta = E[eta | items] + R' u`` with ``u ~ N(0, I)`` and ``R = chol(P)^-1``; the nonlinear
    latent (loyalty) is integrated out given the scores, its items a one-latent Gaussian block whose
    prior mean is ``alpha + w' eta + sum_t c_t s_t (phi_t(eta) - E phi_t)``.

The gradient is reverse mode by hand: per respondent the upstream gradients of the scores and the
posterior of loyalty, summed per chunk (one group and one pattern) into what the chunk's matrices
need, then per group back through ``T = (I - B)^-1`` to the rows of the parameter table. The tests
compare value and gradient with PyTensor's automatic ones on the PyMC model of the same forms.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .groups import KIND_PRODUCT, centring, group_back, group_ram, scatter, structure
from .linalg import _OPTS, _cholesky, _cholesky_back, _spd_inverse, _tri_inverse
from .structure import blocks_pd

# -- the latent section of the int buffer (offsets relative to ib[O_LAT]) -------------------------
(
    L_MODE,  # 0 joint, 1 scores, 2 conditional
    L_Q,  # latents of the Gaussian block: all (joint) or the drivers (scores)
    L_NLAT,
    L_ILOY,  # the integrated (loyalty) latent, among the latents
    L_NCHUNK,
    L_B,  # slots per chunk
    L_NTERM,
    L_NOUT,
    L_NGH,
    L_N,  # respondents
    L_OQ,
    L_OBI,  # the block's items (count first)
    L_OLI,  # the loyalty latent's items (count first; scores mode)
    L_OCH,  # per chunk: group, then p observed flags
    L_OSLOT,  # per chunk and slot: respondent or -1
    L_UBASE,  # value index of u[0, 0, 0] (conditional: of z[0, 0])
    L_OTERM,  # per term: kind, a, b, then a coefficient value index per group
    L_OOUT,  # per outcome: latent, kind, levels, slope, intercept, first cut value index
    L_OCODE,  # per outcome: code per respondent (-1 missing)
    L_OGRP,  # conditional mode: each respondent's group (0-based)
    L_OYC,  # conditional mode: per respondent and item, -1 missing, else the code (0 if continuous)
    L_OTHR,  # conditional mode: max thresholds K, thresholds per item (p), rows (G, p, K; -1 none)
) = range(22)
LAT_HEADER = 22
#: float section (offsets relative to fb[O_LATF]): y (N x p), term scales, GH nodes and log weights
OUT_BINARY, OUT_ORDINAL = 0, 1
_PAD = 1e3  # outer cut points of the ordered logit, as the PyMC model
_LOG2PI = math.log(2 * math.pi)


@njit(**_OPTS)
def _softplus(x):
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


@njit(**_OPTS)
def _log_sigmoid(x):
    return -_softplus(-x)


@njit(**_OPTS)
def _outcome_lp(kind, code, eta, cuts_lo, cuts_hi):
    """Log probability of an outcome at linear predictor ``eta`` and its derivatives with respect to
    ``eta`` and (ordinal) the two cut points around the category."""
    if kind == OUT_BINARY:
        # one exp and one log1p: e = exp(-|eta|), sigmoid(eta) and log sigmoid(+-eta) from it
        e = math.exp(-abs(eta))
        sig = 1.0 / (1.0 + e) if eta >= 0 else e / (1.0 + e)
        l1p = math.log1p(e)
        if code > 0:
            return -(max(-eta, 0.0) + l1p), 1.0 - sig, 0.0, 0.0
        return -(max(eta, 0.0) + l1p), -sig, 0.0, 0.0
    up, lo = cuts_hi - eta, cuts_lo - eta
    # log(F(up) - F(lo)) as the PyMC model writes it: up + log1mexp(lo - up) - sp(up) - sp(lo)
    lp = up + math.log(-math.expm1(lo - up)) - _softplus(up) - _softplus(lo)
    f_up = math.exp(_log_sigmoid(up) + _log_sigmoid(-up) - lp)  # f(up) / P
    f_lo = math.exp(_log_sigmoid(lo) + _log_sigmoid(-lo) - lp)
    return lp, -(f_up - f_lo), f_up, -f_lo


@njit(**_OPTS)
def latent_likelihood(rows, nat, ib, fb, o_lat, o_latf, grows, gnat, ram):
    """Log-likelihood of every respondent (see the module docstring); gradients are added to
    ``grows`` (by table row) and ``gnat`` (by value: coefficients, outcome parameters, ``u``).
    ``ram = (n, p, G, oA, cA, oS, cS, oM, cM)`` locates the groups' RAM cells. ``-inf`` outside
    the support (a covariance matrix that is not positive definite)."""
    p, G = ram[1], ram[2]
    h = o_lat
    mode, q, nL, iL = ib[h + L_MODE], ib[h + L_Q], ib[h + L_NLAT], ib[h + L_ILOY]
    nchunk, B, nterm, nout, ngh = ib[h + L_NCHUNK], ib[h + L_B], ib[h + L_NTERM], ib[h + L_NOUT], ib[h + L_NGH]
    N = ib[h + L_N]
    oq, obi, oli = ib[h + L_OQ], ib[h + L_OBI], ib[h + L_OLI]
    och, oslot, ubase = ib[h + L_OCH], ib[h + L_OSLOT], ib[h + L_UBASE]
    oterm, oout, ocode = ib[h + L_OTERM], ib[h + L_OOUT], ib[h + L_OCODE]
    fy = o_latf
    fscale = fy + N * p
    fgh = fscale + nterm
    Qpos = np.empty(q, np.int64)
    for j in range(q):
        Qpos[j] = ib[oq + j]
    nBI, nLI = ib[obi], ib[oli]
    # work buffers, allocated once (small arrays allocated per respondent cost more than the maths)
    r = np.empty(nBI)
    s = np.empty(q)
    mpost = np.empty(q)
    u = np.empty(q)
    eta = np.empty(q)
    etaA = np.zeros(nL)
    rl = np.empty(nLI)
    g_m = np.empty(q)
    g_eta = np.empty(q)
    g_etaA = np.zeros(nL)
    ga = np.zeros(nL)
    gh_terms = np.empty(ngh)
    gh_dlat = np.empty(ngh)
    gh_d = np.empty((ngh, max(nout, 1), 3))
    lp = 0.0
    for g in range(G):
        A, S, m = group_ram(rows, ib, g, ram)
        if not blocks_pd(S, ib, g):
            return -np.inf
        Bl, Psi, alpha, T, muA, TP, PhiA, ok = structure(A, S, m, p, nL)
        if not ok:
            return -np.inf
        Phi = np.empty((q, q))
        mu = np.empty(q)
        for a in range(q):
            mu[a] = muA[Qpos[a]]
            for b in range(q):
                Phi[a, b] = PhiA[Qpos[a], Qpos[b]]
        Cf, ok = _cholesky(Phi, q)
        if not ok:
            return -np.inf
        Phinv = _spd_inverse(Cf, q)
        logdet_phi = 0.0
        for a in range(q):
            logdet_phi += 2 * math.log(Cf[a, a])
        kappa = centring(ib, oterm, nterm, G, muA, PhiA)  # the nonlinear terms' expectations
        # gradient accumulators of the group
        G_lam = np.zeros((p, nL))
        G_theta = np.zeros(p)
        G_nu = np.zeros(p)
        G_alpha = np.zeros(nL)  # direct (loyalty's intercept)
        G_Bl = np.zeros((nL, nL))  # direct (loyalty's weights)
        G_Psi = np.zeros((nL, nL))  # direct (loyalty's residual variance)
        G_muA = np.zeros(nL)
        G_PhiA = np.zeros((nL, nL))
        G_kappa = np.zeros(nterm)
        for ch in range(nchunk):
            base = och + ch * (1 + p)
            if ib[base] != g:
                continue
            # -- the chunk's Gaussian block (observed block items)
            obsB = np.empty(nBI, np.int64)
            nb = 0
            for j in range(nBI):
                it = ib[obi + 1 + j]
                if ib[base + 1 + it] > 0:
                    obsB[nb] = it
                    nb += 1
            lam = np.zeros((nb, q))
            w = np.empty(nb)
            nu = np.empty(nb)
            logdet_th = 0.0
            for j in range(nb):
                it = obsB[j]
                th = S[it, it]
                if not th > 0:
                    return -np.inf
                w[j] = 1.0 / th
                nu[j] = m[it]
                logdet_th += math.log(th)
                for a in range(q):
                    lam[j, a] = A[it, p + Qpos[a]]
            P = Phinv.copy()
            for a in range(q):
                for b in range(q):
                    s_ = 0.0
                    for j in range(nb):
                        s_ += lam[j, a] * w[j] * lam[j, b]
                    P[a, b] += s_
            Lp, ok = _cholesky(P, q)
            if not ok:
                return -np.inf
            R = _tri_inverse(Lp, q)
            V = np.zeros((q, q))
            for a in range(q):
                for b in range(q):
                    for k in range(q):
                        V[a, b] += R[k, a] * R[k, b]
            logdet_P = 0.0
            for a in range(q):
                logdet_P += 2 * math.log(Lp[a, a])
            logdet_B = logdet_phi + logdet_P + logdet_th
            fit = np.empty(nb)
            for j in range(nb):
                fit[j] = nu[j]
                for a in range(q):
                    fit[j] += lam[j, a] * mu[a]
            # loyalty's block (scores mode)
            obsL = np.empty(nLI, np.int64)
            nl = 0
            if mode == 1:
                for j in range(nLI):
                    it = ib[oli + 1 + j]
                    if ib[base + 1 + it] > 0:
                        obsL[nl] = it
                        nl += 1
            lamL = np.empty(nl)
            wL = np.empty(nl)
            nuL = np.empty(nl)
            psi = Psi[iL, iL]
            logdet_thL = 0.0
            for j in range(nl):
                it = obsL[j]
                th = S[it, it]
                if not th > 0:
                    return -np.inf
                wL[j] = 1.0 / th
                nuL[j] = m[it]
                lamL[j] = A[it, p + iL]
                logdet_thL += math.log(th)
            precL = 1.0 / psi if mode == 1 else 0.0
            for j in range(nl):
                precL += lamL[j] * lamL[j] * wL[j]
            vL = 1.0 / precL if mode == 1 else 0.0
            # chunk accumulators
            n_valid = 0
            S_r = np.zeros(nb)
            S_rr = np.zeros((nb, nb))
            S_g = np.zeros(q)
            S_rg = np.zeros((nb, q))
            S_gs = np.zeros((q, q))
            G_R = np.zeros((q, q))
            G_Vd = np.zeros((q, q))  # joint mode: d/dV of the outcome term
            G_lamL = np.zeros(nl)
            G_wL = np.zeros(nl)
            G_nuL = np.zeros(nl)
            G_prec = 0.0
            G_psi_direct = 0.0
            for b in range(B):
                i = ib[oslot + ch * B + b]
                if i < 0:
                    continue
                n_valid += 1
                for j in range(nb):
                    r[j] = fb[fy + i * p + obsB[j]] - fit[j]
                for a in range(q):
                    s[a] = 0.0
                quad = 0.0
                for j in range(nb):
                    quad += w[j] * r[j] * r[j]
                    for a in range(q):
                        s[a] += lam[j, a] * w[j] * r[j]
                for a in range(q):
                    mpost[a] = mu[a]
                    for c in range(q):
                        mpost[a] += V[a, c] * s[c]
                for a in range(q):
                    quad -= s[a] * (mpost[a] - mu[a])
                lp += -0.5 * (nb * _LOG2PI + logdet_B + quad)
                for j in range(nb):
                    S_r[j] += r[j]
                    for k in range(nb):
                        S_rr[j, k] += r[j] * r[k]
                for a in range(q):
                    g_m[a] = 0.0  # d(rest)/d(posterior mean of the block latents)
                if mode == 1:
                    # -- scores: eta = mpost + R' u, loyalty given eta, outcomes
                    for a in range(q):
                        u[a] = nat[ubase + (ch * B + b) * q + a]
                        eta[a] = mpost[a]
                    for c in range(q):
                        for a in range(q):
                            eta[a] += R[c, a] * u[c]
                    for a in range(q):  # eta by latent position (drivers; loyalty unused)
                        etaA[Qpos[a]] = eta[a]
                    muL = alpha[iL]
                    for a in range(q):
                        muL += Bl[iL, Qpos[a]] * eta[a]
                    for t in range(nterm):
                        t0 = oterm + t * (3 + G)
                        kind, ta, tb = ib[t0], ib[t0 + 1], ib[t0 + 2]
                        coef = nat[ib[t0 + 3 + g]] * fb[fscale + t]
                        if kind == KIND_PRODUCT:
                            phi = etaA[ta] * etaA[tb]
                        else:
                            phi = abs(etaA[ta] - etaA[tb])
                        muL += coef * (phi - kappa[t])
                    bl = 0.0
                    quadL = 0.0
                    for j in range(nl):
                        rl[j] = fb[fy + i * p + obsL[j]] - nuL[j] - lamL[j] * muL
                        bl += lamL[j] * wL[j] * rl[j]
                        quadL += wL[j] * rl[j] * rl[j]
                    quadL -= bl * bl * vL
                    lp += -0.5 * (nl * _LOG2PI + math.log(psi) + math.log(precL) + logdet_thL + quadL)
                    mL = muL + vL * bl
                    # outcomes: on loyalty by Gauss-Hermite over N(mL, vL), on a driver at its score
                    G_mL, G_vL = 0.0, 0.0
                    for a in range(nL):
                        g_etaA[a] = 0.0
                    lo_, gl_mL, gl_v = _loyalty_outcomes(
                        ib, fb, nat, gnat, oout, ocode, nout, ngh, fgh, i, N, iL, mL, vL, gh_terms, gh_dlat, gh_d
                    )
                    lp += lo_
                    G_mL += gl_mL
                    G_vL += gl_v
                    lp += _driver_outcomes(ib, nat, gnat, oout, ocode, nout, i, N, iL, etaA, g_etaA)
                    # loyalty block backward (T = ll_L + outcomes)
                    d_b = bl * vL + G_mL * vL
                    d_v = 0.5 * bl * bl + G_mL * bl + G_vL
                    d_muL = G_mL
                    d_prec = -vL * vL * d_v - 0.5 * vL
                    for j in range(nl):
                        d_r = -wL[j] * rl[j] + lamL[j] * wL[j] * d_b
                        G_nuL[j] -= d_r
                        G_lamL[j] += wL[j] * rl[j] * d_b - muL * d_r + 2 * lamL[j] * wL[j] * d_prec
                        G_wL[j] += lamL[j] * rl[j] * d_b - 0.5 * rl[j] * rl[j] + lamL[j] * lamL[j] * d_prec
                        d_muL -= lamL[j] * d_r
                    G_prec += d_prec
                    G_psi_direct += -0.5 / psi
                    # loyalty's mean backward
                    G_alpha[iL] += d_muL
                    for a in range(q):
                        g_eta[a] = 0.0
                    for a in range(q):
                        G_Bl[iL, Qpos[a]] += d_muL * eta[a]
                        g_eta[a] += d_muL * Bl[iL, Qpos[a]] + g_etaA[Qpos[a]]
                    for t in range(nterm):
                        t0 = oterm + t * (3 + G)
                        kind, ta, tb = ib[t0], ib[t0 + 1], ib[t0 + 2]
                        sc = fb[fscale + t]
                        coef = nat[ib[t0 + 3 + g]] * sc
                        for a in range(nL):
                            ga[a] = 0.0
                        if kind == KIND_PRODUCT:
                            phi = etaA[ta] * etaA[tb]
                            ga[ta] += etaA[tb]
                            ga[tb] += etaA[ta]
                        else:
                            dd = etaA[ta] - etaA[tb]
                            phi = abs(dd)
                            sg = 1.0 if dd > 0 else (-1.0 if dd < 0 else 0.0)
                            ga[ta] += sg
                            ga[tb] -= sg
                        gnat[ib[t0 + 3 + g]] += d_muL * sc * (phi - kappa[t])
                        G_kappa[t] -= d_muL * coef
                        for a in range(q):
                            g_eta[a] += d_muL * coef * ga[Qpos[a]]
                    # eta = mpost + R' u
                    for a in range(q):
                        g_m[a] = g_eta[a]
                    for c in range(q):
                        gu = 0.0
                        for a in range(q):
                            gu += R[c, a] * g_eta[a]
                            if c >= a:
                                G_R[c, a] += u[c] * g_eta[a]
                        gnat[ubase + (ch * B + b) * q + c] += gu
                else:
                    # -- joint: outcomes over the posterior of the outcome latent
                    lo_, gl_m, gl_v = _loyalty_outcomes(
                        ib,
                        fb,
                        nat,
                        gnat,
                        oout,
                        ocode,
                        nout,
                        ngh,
                        fgh,
                        i,
                        N,
                        iL,
                        mpost[iL],
                        V[iL, iL],
                        gh_terms,
                        gh_dlat,
                        gh_d,
                    )
                    lp += lo_
                    g_m[iL] += gl_m
                    G_Vd[iL, iL] += gl_v
                # accumulate the chunk sums of the block's backward pass
                for a in range(q):
                    S_g[a] += g_m[a]
                    for c in range(q):
                        S_gs[a, c] += g_m[a] * s[c]
                for j in range(nb):
                    for a in range(q):
                        S_rg[j, a] += r[j] * g_m[a]
            if n_valid == 0:
                continue
            # ---- chunk backward: the block's marginal (Sigma^-1 by Woodbury)
            WL = np.zeros((nb, q))  # W Lambda
            for j in range(nb):
                for a in range(q):
                    WL[j, a] = w[j] * lam[j, a]
            Si = np.zeros((nb, nb))
            for j in range(nb):
                Si[j, j] = w[j]
                for k in range(nb):
                    acc = 0.0
                    for a in range(q):
                        for c in range(q):
                            acc += WL[j, a] * V[a, c] * WL[k, c]
                    Si[j, k] -= acc
            SiR = np.zeros((nb, nb))  # Si S_rr Si
            tmp = np.zeros((nb, nb))
            for j in range(nb):
                for k in range(nb):
                    for l_ in range(nb):
                        tmp[j, k] += Si[j, l_] * S_rr[l_, k]
            for j in range(nb):
                for k in range(nb):
                    for l_ in range(nb):
                        SiR[j, k] += tmp[j, l_] * Si[l_, k]
            G_S = np.empty((nb, nb))
            for j in range(nb):
                for k in range(nb):
                    G_S[j, k] = 0.5 * (SiR[j, k] - n_valid * Si[j, k])
            g_fit = np.zeros(nb)
            for j in range(nb):
                for k in range(nb):
                    g_fit[j] += Si[j, k] * S_r[k]
            G_phi = np.zeros((q, q))
            G_mu = np.zeros(q)
            G_lamc = np.zeros((nb, q))
            G_thc = np.zeros(nb)
            LP = np.zeros((nb, q))  # Lambda Phi
            for j in range(nb):
                for a in range(q):
                    for c in range(q):
                        LP[j, a] += lam[j, c] * Phi[c, a]
            for j in range(nb):
                G_thc[j] += G_S[j, j]
                for a in range(q):
                    acc = 0.0
                    for k in range(nb):
                        acc += G_S[j, k] * LP[k, a]
                    G_lamc[j, a] += 2 * acc + g_fit[j] * mu[a]
                    G_mu[a] += lam[j, a] * g_fit[j]
                G_nu[obsB[j]] += g_fit[j]
            for a in range(q):
                for c in range(q):
                    acc = 0.0
                    for j in range(nb):
                        for k in range(nb):
                            acc += lam[j, a] * G_S[j, k] * lam[k, c]
                    G_phi[a, c] += acc
            # ---- the posterior mean's and the root's dependence on the parameters
            VSg = np.zeros(q)
            for a in range(q):
                for c in range(q):
                    VSg[a] += V[a, c] * S_g[c]
            for a in range(q):  # d/dmu: Phi^-1 V S_g
                for c in range(q):
                    G_mu[a] += Phinv[a, c] * VSg[c]
            for j in range(nb):
                lv = 0.0  # (Lambda V S_g)_j
                for a in range(q):
                    lv += lam[j, a] * VSg[a]
                G_nu[obsB[j]] -= w[j] * lv
                for a in range(q):
                    G_lamc[j, a] -= w[j] * lv * mu[a]
                    acc = 0.0
                    for c in range(q):
                        acc += S_rg[j, c] * V[c, a]
                    G_lamc[j, a] += w[j] * acc
                rvl = 0.0  # (S_rg V Lambda')_jj
                for a in range(q):
                    acc = 0.0
                    for c in range(q):
                        acc += S_rg[j, c] * V[c, a]
                    rvl += acc * lam[j, a]
                G_thc[j] += -w[j] * w[j] * rvl
            G_V = S_gs.copy()
            for a in range(q):
                for c in range(q):
                    G_V[a, c] += G_Vd[a, c]
            G_P = np.zeros((q, q))
            tmp2 = np.zeros((q, q))
            for a in range(q):
                for c in range(q):
                    for k in range(q):
                        tmp2[a, c] += V[a, k] * G_V[k, c]
            for a in range(q):
                for c in range(q):
                    acc = 0.0
                    for k in range(q):
                        acc += tmp2[a, k] * V[k, c]
                    G_P[a, c] -= acc
            if mode == 1:
                # R = Lp^-1: G_Lp = -R' G_R R', then through the Cholesky factor
                GL = np.zeros((q, q))
                for a in range(q):
                    for c in range(q):
                        acc = 0.0
                        for k in range(q):
                            for l_ in range(q):
                                acc += R[k, a] * G_R[k, l_] * R[c, l_]
                        GL[a, c] = -acc
                for a in range(q):
                    for c in range(a + 1, q):
                        GL[a, c] = 0.0
                GPc = _cholesky_back(Lp, GL, q)
                for a in range(q):
                    for c in range(q):
                        G_P[a, c] += GPc[a, c]
            Gsym = np.empty((q, q))
            for a in range(q):
                for c in range(q):
                    Gsym[a, c] = 0.5 * (G_P[a, c] + G_P[c, a])
            # P = Phi^-1 + Lambda' W Lambda
            for a in range(q):
                for c in range(q):
                    acc = 0.0
                    for k in range(q):
                        for l_ in range(q):
                            acc += Phinv[a, k] * Gsym[k, l_] * Phinv[l_, c]
                    G_phi[a, c] -= acc
            for j in range(nb):
                lgl = 0.0
                for a in range(q):
                    acc = 0.0
                    for c in range(q):
                        acc += Gsym[a, c] * lam[j, c]
                    G_lamc[j, a] += 2 * w[j] * acc
                    lgl += lam[j, a] * acc
                G_thc[j] += -w[j] * w[j] * lgl
            # chunk -> group
            for j in range(nb):
                it = obsB[j]
                G_theta[it] += G_thc[j]
                for a in range(q):
                    G_lam[it, Qpos[a]] += G_lamc[j, a]
            for a in range(q):
                G_muA[Qpos[a]] += G_mu[a]
                for c in range(q):
                    G_PhiA[Qpos[a], Qpos[c]] += G_phi[a, c]
            if mode == 1:
                for j in range(nl):
                    it = obsL[j]
                    G_nu[it] += G_nuL[j]
                    G_lam[it, iL] += G_lamL[j]
                    G_theta[it] += -wL[j] * wL[j] * G_wL[j] - 0.5 * n_valid * wL[j]
                G_Psi[iL, iL] += -G_prec / (psi * psi) + G_psi_direct
        G_T = np.zeros((nL, nL))
        group_back(ib, oterm, nterm, G, G_kappa, muA, PhiA, T, TP, alpha, G_muA, G_PhiA, G_alpha, G_Psi, G_T, G_Bl)
        scatter(grows, ib, g, ram, G_lam, G_Bl, G_theta, G_Psi, G_nu, G_alpha)
    return lp


@njit(**_OPTS)
def _loyalty_outcomes(ib, fb, nat, gnat, oout, ocode, nout, ngh, fgh, i, N, iL, mL, vL, terms, dlat, dbuf):
    """Outcomes of the integrated latent: ``log sum_l w_l prod_k p(o_k | mL + sqrt(vL) x_l)``, its
    derivatives with respect to ``mL`` and ``vL``; the outcome parameters' gradients go to ``gnat``.
    ``dbuf (ngh, nout, 3)`` keeps each node's derivatives in the linear predictor and the two cut
    points, so the parameters' gradients cost no second evaluation."""
    any_ = False
    for k in range(nout):
        if ib[oout + 6 * k] == iL and ib[ocode + k * N + i] >= 0:
            any_ = True
    if not any_:
        return 0.0, 0.0, 0.0
    sv = math.sqrt(vL)  # terms, dlat: the nodes' log terms and their derivatives in the latent
    for l_ in range(ngh):
        lat = mL + sv * fb[fgh + l_]
        tl = fb[fgh + ngh + l_]
        dl = 0.0
        for k in range(nout):
            if ib[oout + 6 * k] != iL:
                continue
            code = ib[ocode + k * N + i]
            if code < 0:
                continue
            kind, nlev = ib[oout + 6 * k + 1], ib[oout + 6 * k + 2]
            slope = nat[ib[oout + 6 * k + 3]]
            icpt = nat[ib[oout + 6 * k + 4]] if ib[oout + 6 * k + 4] >= 0 else 0.0
            lo, hi = 0.0, 0.0
            if kind != OUT_BINARY:
                c0 = ib[oout + 6 * k + 5]
                lo = -_PAD if code == 0 else nat[c0 + code - 1]
                hi = _PAD if code == nlev - 1 else nat[c0 + code]
            lpk, de, dhi, dlo = _outcome_lp(kind, code, slope * lat + icpt, lo, hi)
            tl += lpk
            dl += de * slope
            dbuf[l_, k, 0] = de
            dbuf[l_, k, 1] = dhi
            dbuf[l_, k, 2] = dlo
        terms[l_] = tl
        dlat[l_] = dl
    mx = terms[0]
    for l_ in range(1, ngh):
        mx = max(mx, terms[l_])
    tot = 0.0
    for l_ in range(ngh):
        tot += math.exp(terms[l_] - mx)
    out = mx + math.log(tot)
    g_m, g_v = 0.0, 0.0
    for l_ in range(ngh):
        pw = math.exp(terms[l_] - out)
        x = fb[fgh + l_]
        g_m += pw * dlat[l_]
        g_v += pw * dlat[l_] * x / (2 * sv)
        lat = mL + sv * x
        for k in range(nout):
            if ib[oout + 6 * k] != iL:
                continue
            code = ib[ocode + k * N + i]
            if code < 0:
                continue
            de = pw * dbuf[l_, k, 0]
            gnat[ib[oout + 6 * k + 3]] += de * lat
            if ib[oout + 6 * k + 1] == OUT_BINARY:
                gnat[ib[oout + 6 * k + 4]] += de
            else:
                c0, nlev = ib[oout + 6 * k + 5], ib[oout + 6 * k + 2]
                if code > 0:
                    gnat[c0 + code - 1] += pw * dbuf[l_, k, 2]
                if code < nlev - 1:
                    gnat[c0 + code] += pw * dbuf[l_, k, 1]
    return out, g_m, g_v


@njit(**_OPTS)
def _driver_outcomes(ib, nat, gnat, oout, ocode, nout, i, N, iL, etaA, g_etaA):
    """Outcomes of sampled latents (known scores): their log probability; the gradient with
    respect to the scores goes to ``g_etaA``, the parameters' to ``gnat``."""
    lp = 0.0
    for k in range(nout):
        lat_k = ib[oout + 6 * k]
        if lat_k == iL:
            continue
        code = ib[ocode + k * N + i]
        if code < 0:
            continue
        lpk, dk = _outcome_term(ib, nat, oout, k, code, etaA[lat_k])
        lp += lpk
        g_etaA[lat_k] += dk
        _outcome_param_grad(ib, nat, gnat, oout, k, code, etaA[lat_k], 1.0)
    return lp


@njit(**_OPTS)
def _outcome_term(ib, nat, oout, k, code, lat):
    """Log probability of outcome ``k`` at latent value ``lat`` and its derivative in ``lat``."""
    kind, nlev = ib[oout + 6 * k + 1], ib[oout + 6 * k + 2]
    slope = nat[ib[oout + 6 * k + 3]]
    icpt = nat[ib[oout + 6 * k + 4]] if ib[oout + 6 * k + 4] >= 0 else 0.0
    eta = slope * lat + icpt
    if kind == OUT_BINARY:
        lp, de, _, _ = _outcome_lp(kind, code, eta, 0.0, 0.0)
    else:
        c0 = ib[oout + 6 * k + 5]
        lo = -_PAD if code == 0 else nat[c0 + code - 1]
        hi = _PAD if code == nlev - 1 else nat[c0 + code]
        lp, de, _, _ = _outcome_lp(kind, code, eta, lo, hi)
    return lp, de * slope


@njit(**_OPTS)
def _outcome_param_grad(ib, nat, gnat, oout, k, code, lat, weight):
    """Add ``weight`` times the gradient of outcome ``k``'s log probability with respect to its
    slope, intercept and cut points to ``gnat``."""
    kind, nlev = ib[oout + 6 * k + 1], ib[oout + 6 * k + 2]
    slope = nat[ib[oout + 6 * k + 3]]
    icpt = nat[ib[oout + 6 * k + 4]] if ib[oout + 6 * k + 4] >= 0 else 0.0
    eta = slope * lat + icpt
    if kind == OUT_BINARY:
        _, de, _, _ = _outcome_lp(kind, code, eta, 0.0, 0.0)
        gnat[ib[oout + 6 * k + 3]] += weight * de * lat
        gnat[ib[oout + 6 * k + 4]] += weight * de
        return
    c0 = ib[oout + 6 * k + 5]
    lo = -_PAD if code == 0 else nat[c0 + code - 1]
    hi = _PAD if code == nlev - 1 else nat[c0 + code]
    _, de, dhi, dlo = _outcome_lp(kind, code, eta, lo, hi)
    gnat[ib[oout + 6 * k + 3]] += weight * de * lat
    if code > 0:
        gnat[c0 + code - 1] += weight * dlo
    if code < nlev - 1:
        gnat[c0 + code] += weight * dhi
