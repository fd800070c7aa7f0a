"""One generic log density (and gradient) of the marginal SEM, compiled once per machine.

blavaan ships one precompiled Stan program and passes each model's structure as data, so its users
never wait for a compile (docs/findings.md: a cold PyMC/nutpie compile takes 22-54 s, Stan's 34 s). This is
the same trick with numba: the kernel below knows nothing about a particular model; the structure
(RAM cells, prior families and hyperparameters, transforms, missing-data patterns) and the data
(sufficient statistics) arrive as two flat arrays built by :mod:`loyaltymodels.bayes.density.program`.
``cache=True`` keeps the machine code on disk, so only the first use on a machine compiles.

The density is exactly the one of the PyMC model of :func:`loyaltymodels.build_model` with
``form="marginal"`` (priors with their normalising constants, the Jacobians of PyMC's default
transforms, the positive-definiteness check and the sufficient-statistics likelihood); the tests
compare value and gradient with PyTensor's at random points. The gradient is written out by hand
(reverse mode through ``Sigma = F (I-A)^-1 S (I-A)^-T F'``); matrices are small (variables of the
model), so plain loops beat LAPACK calls here (:mod:`loyaltymodels.bayes.density.linalg`).

The latent forms' likelihood (:mod:`loyaltymodels.bayes.density.latent`) has its own entry point
(:mod:`loyaltymodels.bayes.density.latent_entry`), compiled on its first use: compiled into this
one it made every cold start pay for it (a cold ``fit_bayes`` of the HS CFA took 45 s instead of
a few).

``ib`` (int64) starts with a header (:data:`HEADER` entries, names below) of sizes and offsets;
``fb`` (float64) holds hyperparameters, fixed row values and the pattern statistics.
"""

from __future__ import annotations

import math

import numpy as np
from numba import carray, cfunc, njit, types
from numba.extending import intrinsic

from .linalg import _OPTS, _cholesky, _inverse, _mm, _tri_inverse
from .structure import (  # noqa: F401 - the header's names are the kernel's interface too
    H_D,
    H_G,
    H_N,
    H_NBLK,
    H_NDER,
    H_NDPRI,
    H_NPAT,
    H_NRHO,
    H_NROWS,
    H_NTERM,
    H_P,
    HEADER,
    O_BIDX,
    O_BLK,
    O_CA,
    O_CM,
    O_CS,
    O_DEPTH,
    O_DPRI,
    O_DPRIF,
    O_EL,
    O_ELF,
    O_FIXED,
    O_LAT,
    O_LATF,
    O_OA,
    O_OBS,
    O_OM,
    O_OS,
    O_PAT,
    O_PATF,
    O_RHO,
    O_SRC,
    O_SRC2,
    O_TERM,
    O_TERMF,
    blocks_pd,
)

#: element columns: ib (family, transform, natural), fb (a0, a1, a2, const, lo, hi)
EL_INT, EL_FLOAT = 3, 6
FAMILIES = {
    "normal": 0,
    "student_t": 1,
    "cauchy": 2,
    "uniform": 3,
    "lognormal": 4,
    "gamma": 5,
    "inv_gamma": 6,
    "exponential": 7,
    "half_normal": 8,
    "half_cauchy": 9,
    "beta": 10,
    "flat": 11,  # no prior of its own (a zero-sum vector's elements: the prior is on derived values)
}
TRANSFORMS = {"none": 0, "lower": 1, "interval": 2}
NATURAL = {"identity": 0, "square": 1, "reciprocal": 2, "beta_to_r": 3}
_LOG2PI = math.log(2 * math.pi)


@njit(**_OPTS)
def _softplus(z):
    return max(z, 0.0) + math.log1p(math.exp(-abs(z)))


@njit(**_OPTS)
def _sigmoid(y):
    if y >= 0:
        return 1.0 / (1.0 + math.exp(-y))
    e = math.exp(y)
    return e / (1.0 + e)


@njit(**_OPTS)
def _constrain(y, t, lo, hi):
    """Value, d value / d y, log Jacobian and its derivative, for PyMC's default transforms."""
    if t == 1:  # log (shifted by a lower bound)
        e = math.exp(y)
        return lo + e, e, y, 1.0
    if t == 2:  # interval (lo, hi): logistic
        s = _sigmoid(y)
        return lo + (hi - lo) * s, (hi - lo) * s * (1 - s), math.log(hi - lo) - 2 * _softplus(-y) - y, 1 - 2 * s
    return y, 1.0, 0.0, 0.0


@njit(**_OPTS)
def _prior(f, x, a, b, c):
    """Log density (without the constant, which is precomputed) and its derivative."""
    if f == 0:  # normal(a, b)
        z = (x - a) / b
        return -0.5 * z * z, -z / b
    if f == 1:  # student_t(nu=a, mu=b, sigma=c)
        z = (x - b) / c
        return -(a + 1) / 2 * math.log1p(z * z / a), -(a + 1) * z / (c * (a + z * z))
    if f == 2:  # cauchy(a, b)
        z = (x - a) / b
        return -math.log1p(z * z), -2 * z / (b * (1 + z * z))
    if f == 3:  # uniform(a, b): constant inside
        if x < a or x > b:
            return -np.inf, 0.0
        return 0.0, 0.0
    if f == 4:  # lognormal(a, b)
        lx = math.log(x)
        z = (lx - a) / b
        return -0.5 * z * z - lx, (-z / b - 1) / x
    if f == 5:  # gamma(shape a, rate b)
        return (a - 1) * math.log(x) - b * x, (a - 1) / x - b
    if f == 6:  # inv_gamma(a, b)
        return -(a + 1) * math.log(x) - b / x, -(a + 1) / x + b / (x * x)
    if f == 7:  # exponential(a)
        return -a * x, -a
    if f == 8:  # half_normal(a)
        return -0.5 * (x / a) ** 2, -x / (a * a)
    if f == 9:  # half_cauchy(a)
        z = x / a
        return -math.log1p(z * z), -2 * z / (a * (1 + z * z))
    if f == 11:  # flat
        return 0.0, 0.0
    # beta(a, b)
    return (a - 1) * math.log(x) + (b - 1) * math.log1p(-x), (a - 1) / x - (b - 1) / (1 - x)


@njit(**_OPTS)
def _natural(k, v):
    """Value of the table row from the sampled quantity (sd -> variance, ...) and its derivative."""
    if k == 1:
        return v * v, 2 * v
    if k == 2:
        return 1.0 / v, -1.0 / (v * v)
    if k == 3:
        return 2 * v - 1, 2.0
    return v, 1.0


@njit(**_OPTS)
def constrain_all(x, ib, fb, out):
    """Constrained value of every sampled quantity (what the sampler stores as a draw)."""
    D = ib[H_D]
    el, elf = ib[O_EL], ib[O_ELF]
    for e in range(D):
        out[e] = _constrain(x[e], ib[el + EL_INT * e + 1], fb[elf + EL_FLOAT * e + 4], fb[elf + EL_FLOAT * e + 5])[0]


@njit(**_OPTS)
def front(x, ib, fb):
    """Sampled quantities -> priors, Jacobians, natural values, derived values and table rows.

    Returns ``(lp, dv, dprior, dnat, nat, rows0, rows)``: the log prior (with Jacobians), the
    derivatives the backward pass needs, ``nat`` = fixed rows, the elements' natural values and the
    derived values (``nat[nrows + D + j]``), ``rows0`` (before and ``rows`` after covariances are
    made from correlations). ``lp`` is ``-inf`` outside the prior's support.
    """
    D, nrows = ib[H_D], ib[H_NROWS]
    nrho, nder, nterm, ndpri = ib[H_NRHO], ib[H_NDER], ib[H_NTERM], ib[H_NDPRI]
    el, elf, src, src2, rho = ib[O_EL], ib[O_ELF], ib[O_SRC], ib[O_SRC2], ib[O_RHO]
    term, termf, dpri, dprif, fixed = ib[O_TERM], ib[O_TERMF], ib[O_DPRI], ib[O_DPRIF], ib[O_FIXED]
    lp = 0.0
    dv = np.empty(D)
    dprior = np.empty(D)
    dnat = np.empty(D)
    jacd = np.empty(D)
    nat = np.zeros(nrows + D + nder)
    for r in range(nrows):
        nat[r] = fb[fixed + r]
    for e in range(D):
        i0, f0 = el + EL_INT * e, elf + EL_FLOAT * e
        v, dv[e], jac, jacd[e] = _constrain(x[e], ib[i0 + 1], fb[f0 + 4], fb[f0 + 5])
        lpe, dprior[e] = _prior(ib[i0], v, fb[f0], fb[f0 + 1], fb[f0 + 2])
        lp += lpe + fb[f0 + 3] + jac
        nat[nrows + e], dnat[e] = _natural(ib[i0 + 2], v)
    # derived values: sums of c * v[a] (* v[b]) over earlier values (hierarchical weights, ...)
    base = nrows + D
    for t in range(nterm):
        a, b = ib[term + 3 * t + 1], ib[term + 3 * t + 2]
        v = fb[termf + t] * nat[a]
        if b >= 0:
            v *= nat[b]
        nat[base + ib[term + 3 * t]] += v
    for k in range(ndpri):  # normal(loc, scale) priors on values (zero-sum vectors, centred hierarchies)
        z, s = _value_prior(nat, ib, fb, dpri + 3 * k, dprif + 3 * k)
        lp += -0.5 * z * z + fb[dprif + 3 * k + 1]
        if ib[dpri + 3 * k + 2] >= 0:
            lp -= math.log(s)
    # natural values -> table rows (covariances from correlations and SDs)
    rows0 = np.empty(nrows + nrho)
    for r in range(nrows):
        rows0[r] = nat[ib[src + r]]
    for k in range(nrho):
        f, va, vb = ib[rho + 3 * k], ib[rho + 3 * k + 1], ib[rho + 3 * k + 2]
        rows0[nrows + k] = rows0[f] * math.sqrt(rows0[va] * rows0[vb])
    rows = np.empty(nrows)
    for r in range(nrows):
        rows[r] = rows0[ib[src2 + r]]
    return lp, dv, dprior, dnat, jacd, nat, rows0, rows


@njit(**_OPTS)
def _value_prior(nat, ib, fb, i0, f0):
    """``z = (v - loc) / s`` and ``s`` of a normal prior on a value: ``v = nat[ib[i0]]``, ``loc``
    the value ``ib[i0 + 1]`` (or ``fb[f0 + 2]`` if -1), ``s`` the value ``ib[i0 + 2]`` (or
    ``fb[f0]`` if -1)."""
    loc = nat[ib[i0 + 1]] if ib[i0 + 1] >= 0 else fb[f0 + 2]
    s = nat[ib[i0 + 2]] if ib[i0 + 2] >= 0 else fb[f0]
    return (nat[ib[i0]] - loc) / s, s


@njit(**_OPTS)
def back(grows, gnat, dv, dprior, dnat, jacd, nat, rows0, ib, fb, grad):
    """The gradient of the table rows (``grows``) and of the values (``gnat``: fixed rows, elements,
    derived values; changed in place) back to the unconstrained point, added to the prior's:
    ``grad`` is overwritten."""
    D, nrows = ib[H_D], ib[H_NROWS]
    nrho, nterm, ndpri = ib[H_NRHO], ib[H_NTERM], ib[H_NDPRI]
    src, src2, rho = ib[O_SRC], ib[O_SRC2], ib[O_RHO]
    term, termf, dpri, dprif = ib[O_TERM], ib[O_TERMF], ib[O_DPRI], ib[O_DPRIF]
    gext = np.zeros(nrows + nrho)
    for r in range(nrows):
        gext[ib[src2 + r]] += grows[r]
    for k in range(nrho):
        gc = gext[nrows + k]
        if gc == 0.0:
            continue
        f, va, vb = ib[rho + 3 * k], ib[rho + 3 * k + 1], ib[rho + 3 * k + 2]
        sq = math.sqrt(rows0[va] * rows0[vb])
        gext[f] += gc * sq
        gext[va] += gc * rows0[f] * rows0[vb] / (2 * sq)
        gext[vb] += gc * rows0[f] * rows0[va] / (2 * sq)
    base = nrows + D
    for r in range(nrows):
        gnat[ib[src + r]] += gext[r]
    for k in range(ndpri):
        z, s = _value_prior(nat, ib, fb, dpri + 3 * k, dprif + 3 * k)
        a, loc, scale = ib[dpri + 3 * k], ib[dpri + 3 * k + 1], ib[dpri + 3 * k + 2]
        gnat[a] -= z / s
        if loc >= 0:
            gnat[loc] += z / s
        if scale >= 0:
            gnat[scale] += (z * z - 1.0) / s
    for t in range(nterm - 1, -1, -1):  # terms refer to earlier values only: reverse order is safe
        g = gnat[base + ib[term + 3 * t]]
        if g == 0.0:
            continue
        a, b = ib[term + 3 * t + 1], ib[term + 3 * t + 2]
        c = fb[termf + t]
        if b >= 0:
            gnat[a] += c * nat[b] * g
            gnat[b] += c * nat[a] * g
        else:
            gnat[a] += c * g
    for e in range(D):
        grad[e] = jacd[e] + (dprior[e] + gnat[nrows + e] * dnat[e]) * dv[e]


@njit(**_OPTS)
def _row_nonzeros(T, n):
    """The nonzero columns of each row of ``T`` (``tnz[i, :tcnt[i]]``)."""
    tnz = np.empty((n, n), np.int64)
    tcnt = np.zeros(n, np.int64)
    for i in range(n):
        for j in range(n):
            if T[i, j] != 0.0:
                tnz[i, tcnt[i]] = j
                tcnt[i] += 1
    return tnz, tcnt


@njit(**_OPTS)
def _pattern(L, C, q):
    """``log det Sigma + tr(Sigma^-1 C)`` and ``V = Sigma^-1 - Sigma^-1 C Sigma^-1`` from
    ``L = chol(Sigma)``, through ``Li = L^-1``: ``Y = Li C Li'`` gives the trace, and
    ``V = Li' (I - Y) Li``; triangular products only (about half the work of forming
    ``Sigma^-1`` and ``Sigma^-1 C Sigma^-1`` with full products)."""
    Li = _tri_inverse(L, q)
    logdet = 0.0
    for i in range(q):
        logdet += 2 * math.log(L[i, i])
    X = np.zeros((q, q))  # Li C
    for i in range(q):
        for k in range(i + 1):
            lik = Li[i, k]
            for j in range(q):
                X[i, j] += lik * C[k, j]
    Z = np.empty((q, q))  # I - Li C Li' (symmetric)
    tr = 0.0
    for i in range(q):
        for j in range(i + 1):
            acc = 0.0
            for k in range(j + 1):
                acc += X[i, k] * Li[j, k]
            Z[i, j] = -acc
            Z[j, i] = -acc
        tr += -Z[i, i]
        Z[i, i] += 1.0
    W = np.zeros((q, q))  # Z Li
    for i in range(q):
        for k in range(q):
            zik = Z[i, k]
            for j in range(k + 1):
                W[i, j] += zik * Li[k, j]
    V = np.empty((q, q))  # Li' W (symmetric)
    for i in range(q):
        for j in range(i + 1):
            acc = 0.0
            for k in range(i, q):
                acc += Li[k, i] * W[k, j]
            V[i, j] = acc
            V[j, i] = acc
    return logdet + tr, V


@njit(**_OPTS)
def sem_likelihood(rows, ib, fb, grows):
    """The marginal likelihood of every group's missing-data patterns from their sufficient
    statistics; its gradient by table row is added to ``grows``. ``-inf`` outside the support:
    a correlation block that is not positive definite, an implied covariance matrix that is not,
    or a singular ``I - A``. (Flat buffers indexed by hand: 2-d views cost compile time and
    nothing else.)"""
    n, p, G = ib[H_N], ib[H_P], ib[H_G]
    npat = ib[H_NPAT]
    oA, oS, oM, cA, cS, cM = ib[O_OA], ib[O_OS], ib[O_OM], ib[O_CA], ib[O_CS], ib[O_CM]
    pat, obs = ib[O_PAT], ib[O_OBS]
    patf, depth = ib[O_PATF], ib[O_DEPTH]
    lp = 0.0
    A = np.zeros((n, n))
    S = np.zeros((n, n))
    m = np.zeros(n)
    for g in range(G):
        A[:, :] = 0.0
        S[:, :] = 0.0
        m[:] = 0.0
        for k in range(ib[oA + g], ib[oA + g + 1]):
            A[ib[cA + 3 * k], ib[cA + 3 * k + 1]] = rows[ib[cA + 3 * k + 2]]
        for k in range(ib[oS + g], ib[oS + g + 1]):
            S[ib[cS + 3 * k], ib[cS + 3 * k + 1]] = rows[ib[cS + 3 * k + 2]]
        for k in range(ib[oM + g], ib[oM + g + 1]):
            m[ib[cM + 2 * k]] = rows[ib[cM + 2 * k + 1]]
        if not blocks_pd(S, ib, g):  # correlation blocks of three or more (the PyMC model's check)
            return -np.inf
        if ib[depth + g] >= 0:
            # recursive model: (I - A)^-1 = I + A + ... + A^k, k the longest path (A is sparse)
            T = np.zeros((n, n))
            for i in range(n):
                T[i, i] = 1.0
            for _ in range(ib[depth + g]):
                T = _mm(A, T, n, n, n)
                for i in range(n):
                    T[i, i] += 1.0
        else:
            M = np.empty((n, n))
            for i in range(n):
                for j in range(n):
                    M[i, j] = (1.0 if i == j else 0.0) - A[i, j]
            T, ok = _inverse(M, n)
            if not ok:
                return -np.inf
        # T is sparse (an item's row: itself, its factor and the factors upstream), so every
        # product with T runs over its nonzeros only (tnz[i, :tcnt[i]]: the columns of row i)
        tnz, tcnt = _row_nonzeros(T, n)
        TS = _mm(T, S, p, n, n)  # (T S)[:p] (_mm skips T's zeros)
        Sigma = np.empty((p, p))  # T S T' restricted to the observed variables (symmetric)
        for a in range(p):
            for b in range(a + 1):
                acc = 0.0
                for c in range(tcnt[b]):
                    k = tnz[b, c]
                    acc += TS[a, k] * T[b, k]
                Sigma[a, b] = acc
                Sigma[b, a] = acc
        v = np.zeros(n)  # T m: the latent and observed means (mu = v[:p])
        for i in range(n):
            for c in range(tcnt[i]):
                k = tnz[i, c]
                v[i] += T[i, k] * m[k]
        Gs = np.zeros((p, p))
        gmu = np.zeros(p)
        for k in range(npat):
            if ib[pat + 4 * k] != g:
                continue
            q, o0, f0 = ib[pat + 4 * k + 1], obs + ib[pat + 4 * k + 2], patf + ib[pat + 4 * k + 3]
            nk = fb[f0]
            Sig = np.empty((q, q))
            C = np.empty((q, q))  # S_k + d d': the pattern's scatter about the implied mean
            d = np.empty(q)
            for i in range(q):
                d[i] = fb[f0 + 1 + i] - v[ib[o0 + i]]
            for i in range(q):
                for j in range(q):
                    Sig[i, j] = Sigma[ib[o0 + i], ib[o0 + j]]
                    C[i, j] = fb[f0 + 1 + q + i * q + j] + d[i] * d[j]
            L, ok = _cholesky(Sig, q)
            if not ok:
                return -np.inf
            lp_k, V = _pattern(L, C, q)
            lp += -nk / 2 * (q * _LOG2PI + lp_k)
            # d/dSigma = -n/2 (Sigma^-1 - Sigma^-1 C Sigma^-1) = -n/2 V, d/dmu = n Sigma^-1 d
            e = np.zeros(q)  # Sigma^-1 d = L^-T L^-1 d by substitution
            for i in range(q):
                acc = d[i]
                for j in range(i):
                    acc -= L[i, j] * e[j]
                e[i] = acc / L[i, i]
            for i in range(q - 1, -1, -1):
                acc = e[i]
                for j in range(i + 1, q):
                    acc -= L[j, i] * e[j]
                e[i] = acc / L[i, i]
            for i in range(q):
                gmu[ib[o0 + i]] += nk * e[i]
                for j in range(q):
                    Gs[ib[o0 + i], ib[o0 + j]] += -nk / 2 * V[i, j]
        # back through Sigma = Tp S Tp', mu = Tp m, T = (I - A)^-1 (Tp: the first p rows of T),
        # evaluated only at the cells that hold parameters, with H = Gs Tp and u = Tp' gmu:
        # dS = Tp' Gs Tp = Tp' H, dm = u, and dA = Tp' (2 Gs Tp S + gmu m') T'
        # = 2 H' (TS T') + u (T m)'  (Gs is symmetric)
        H = np.zeros((p, n))
        u = np.zeros(n)
        for r in range(p):
            for c in range(tcnt[r]):
                j = tnz[r, c]
                t = T[r, j]
                u[j] += t * gmu[r]
                for l in range(p):
                    H[l, j] += Gs[l, r] * t
        for k in range(ib[oS + g], ib[oS + g + 1]):
            i, j = ib[cS + 3 * k], ib[cS + 3 * k + 1]
            acc = 0.0
            for l in range(p):
                acc += T[l, i] * H[l, j]
            grows[ib[cS + 3 * k + 2]] += acc
        if ib[oA + g + 1] > ib[oA + g]:
            R = np.zeros((p, n))  # TS T'
            for j in range(n):
                for c in range(tcnt[j]):
                    k = tnz[j, c]
                    t = T[j, k]
                    for l in range(p):
                        R[l, j] += TS[l, k] * t
            for k in range(ib[oA + g], ib[oA + g + 1]):
                i, j = ib[cA + 3 * k], ib[cA + 3 * k + 1]
                acc = 0.0
                for l in range(p):
                    acc += H[l, i] * R[l, j]
                grows[ib[cA + 3 * k + 2]] += 2.0 * acc + u[i] * v[j]
        for k in range(ib[oM + g], ib[oM + g + 1]):
            grows[ib[cM + 2 * k + 1]] += u[ib[cM + 2 * k]]

    return lp


@njit(**_OPTS)
def logp_grad(x, grad, ib, fb):
    """Log density at the unconstrained point ``x``; its gradient goes into ``grad``
    (``-inf`` and a zero gradient outside the support). The marginal SEM only: a program with a
    latent section goes to :func:`loyaltymodels.bayes.density.latent_entry.logp_grad_latent`
    (NaN here, so that a wrong dispatch cannot pass for a density)."""
    if ib[O_LAT] >= 0:
        grad[:] = np.nan
        return np.nan
    lp, dv, dprior, dnat, jacd, nat, rows0, rows = front(x, ib, fb)
    if not lp > -np.inf:
        grad[:] = 0.0
        return -np.inf
    grows = np.zeros(ib[H_NROWS])
    gnat = np.zeros(nat.size)
    lp += sem_likelihood(rows, ib, fb, grows)
    if not lp > -np.inf:
        grad[:] = 0.0
        return -np.inf
    back(grows, gnat, dv, dprior, dnat, jacd, nat, rows0, ib, fb, grad)
    return lp


@njit(**_OPTS)
def table_rows(x, ib, fb, out):
    """The value of every row of the parameter table at the unconstrained point ``x``."""
    rows = front(x, ib, fb)[7]
    for r in range(ib[H_NROWS]):
        out[r] = rows[r]


@njit(**_OPTS)
def all_values(x, ib, fb, out):
    """Every value of the program at the unconstrained point ``x``: fixed rows, the elements'
    natural values, the derived values (see :func:`front`)."""
    nat = front(x, ib, fb)[5]
    for k in range(nat.size):
        out[k] = nat[k]


# -- entry points for nutpie: C callbacks that read the two buffers from user data ---------------
@intrinsic
def _i64_ptr(typingctx, addr):
    """An address (int64 or void*) as an int64 pointer."""
    sig = types.CPointer(types.int64)(addr)

    def codegen(context, builder, signature, args):
        ty = context.get_value_type(signature.return_type)
        if isinstance(addr, types.Integer):
            return builder.inttoptr(args[0], ty)
        return builder.bitcast(args[0], ty)

    return sig, codegen


@intrinsic
def _f64_ptr(typingctx, addr):
    """An int64 address as a float64 pointer."""
    sig = types.CPointer(types.float64)(addr)

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], context.get_value_type(signature.return_type))

    return sig, codegen


_LOGP_SIG = types.int64(
    types.uint64,
    types.CPointer(types.float64),
    types.CPointer(types.float64),
    types.CPointer(types.float64),
    types.voidptr,
)
_EXPAND_SIG = types.int64(
    types.uint64, types.uint64, types.CPointer(types.float64), types.CPointer(types.float64), types.voidptr
)


@njit(**_OPTS)
def buffers(user_data):
    """The program's ``ib`` and ``fb`` from a callback's user data, which points to
    ``[ib address, ib size, fb address, fb size]``."""
    head = carray(_i64_ptr(user_data), (4,))
    return carray(_i64_ptr(head[0]), (head[1],)), carray(_f64_ptr(head[2]), (head[3],))


@njit(**_OPTS)
def status(lp, grad):
    """nutpie's return code for a log density and its gradient: 0, or > 0 (recoverable: the
    sampler treats the step as divergent) for a non-finite value (4) or gradient (3)."""
    if not np.isfinite(lp):
        return 4
    for e in range(grad.size):
        if not np.isfinite(grad[e]):
            return 3
    return 0


@cfunc(_LOGP_SIG, cache=True, error_model="numpy")
def c_logp(dim, x_, grad_, logp_, user_data):
    """nutpie's logp callback (``user_data``: see :func:`buffers`)."""
    ib, fb = buffers(user_data)
    if dim != ib[H_D] or ib[O_LAT] >= 0:  # a latent program has its own entry point
        return -1
    grad = carray(grad_, (ib[H_D],))
    logp_[0] = logp_grad(carray(x_, (ib[H_D],)), grad, ib, fb)
    return status(logp_[0], grad)


@cfunc(_EXPAND_SIG, cache=True, error_model="numpy")
def c_expand(dim, expanded, x_, out_, user_data):
    """nutpie's expand callback: the constrained values of the sampled quantities."""
    ib, fb = buffers(user_data)
    if dim != ib[H_D] or expanded != ib[H_D]:
        return -1
    constrain_all(carray(x_, (ib[H_D],)), ib, fb, carray(out_, (ib[H_D],)))
    return 0
