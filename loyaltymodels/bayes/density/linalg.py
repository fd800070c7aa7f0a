"""Small dense linear algebra for :mod:`loyaltymodels.bayes.density.kernel`, written out as plain loops.

The kernel runs as numba nopython code behind nutpie's C callbacks, on matrices the size of the
model's variable count. At that size plain loops beat LAPACK calls (``numpy.linalg`` from numba
goes through LAPACK), and numba's ``@`` costs seconds of compile time; so the Cholesky factor,
the inverses and the matrix products are hand-written here. The njit options are the kernel's
(``cache=True`` keeps the machine code on disk), and the kernel takes :data:`_OPTS` from here.
"""

from __future__ import annotations

import math
from typing import Literal, TypedDict

import numpy as np
from numba import njit


class _NjitOptions(TypedDict):
    cache: bool
    error_model: Literal["python", "numpy"]
    nogil: bool


_OPTS: _NjitOptions = {"cache": True, "error_model": "numpy", "nogil": True}


@njit(**_OPTS)
def _cholesky(a, q):
    """Lower Cholesky factor of the leading q x q block of ``a`` (ok flag)."""
    L = np.zeros((q, q))
    for j in range(q):
        s = a[j, j]
        for k in range(j):
            s -= L[j, k] * L[j, k]
        if not s > 0:
            return L, False
        d = math.sqrt(s)
        L[j, j] = d
        for i in range(j + 1, q):
            s = a[i, j]
            for k in range(j):
                s -= L[i, k] * L[j, k]
            L[i, j] = s / d
    return L, True


@njit(**_OPTS)
def _spd_inverse(L, q):
    """``(L L')^-1`` from the Cholesky factor."""
    Li = np.zeros((q, q))
    for j in range(q):
        Li[j, j] = 1.0 / L[j, j]
        for i in range(j + 1, q):
            s = 0.0
            for k in range(j, i):
                s -= L[i, k] * Li[k, j]
            Li[i, j] = s / L[i, i]
    out = np.zeros((q, q))
    for i in range(q):
        for j in range(i + 1):
            s = 0.0
            for k in range(i, q):
                s += Li[k, i] * Li[k, j]
            out[i, j] = s
            out[j, i] = s
    return out


@njit(**_OPTS)
def _inverse(M, n):
    """Inverse by Gauss-Jordan elimination with partial pivoting (ok flag)."""
    a = M.copy()
    inv = np.zeros((n, n))
    for i in range(n):
        inv[i, i] = 1.0
    for c in range(n):
        piv = c
        for r in range(c + 1, n):
            if abs(a[r, c]) > abs(a[piv, c]):
                piv = r
        if a[piv, c] == 0.0:
            return inv, False
        if piv != c:
            for k in range(n):
                a[c, k], a[piv, k] = a[piv, k], a[c, k]
                inv[c, k], inv[piv, k] = inv[piv, k], inv[c, k]
        d = a[c, c]
        for k in range(n):
            a[c, k] /= d
            inv[c, k] /= d
        for r in range(n):
            if r != c and a[r, c] != 0.0:
                f = a[r, c]
                for k in range(n):
                    a[r, k] -= f * a[c, k]
                    inv[r, k] -= f * inv[c, k]
    return inv, True


@njit(**_OPTS)
def _mm(a, b, rows, inner, cols):
    """``a[:rows, :inner] @ b[:inner, :cols]`` (loops: the matrices are tiny, and numba's ``@``
    costs seconds of compile time)."""
    out = np.zeros((rows, cols))
    for i in range(rows):
        for k in range(inner):
            aik = a[i, k]
            if aik != 0.0:
                for j in range(cols):
                    out[i, j] += aik * b[k, j]
    return out


@njit(**_OPTS)
def _mmt(a, b, rows, inner, cols):
    """``a[:rows, :inner] @ b[:cols, :inner].T``."""
    out = np.zeros((rows, cols))
    for i in range(rows):
        for j in range(cols):
            acc = 0.0
            for k in range(inner):
                acc += a[i, k] * b[j, k]
            out[i, j] = acc
    return out


@njit(**_OPTS)
def _tri_inverse(L, q):
    """Inverse of a lower-triangular ``q x q`` matrix (forward substitution)."""
    R = np.zeros((q, q))
    for j in range(q):
        R[j, j] = 1.0 / L[j, j]
        for i in range(j + 1, q):
            s = 0.0
            for k in range(j, i):
                s += L[i, k] * R[k, j]
            R[i, j] = -s / L[i, i]
    return R


@njit(**_OPTS)
def _cholesky_back(L, GL, q):
    """The gradient of a function of ``L = chol(P)`` with respect to ``P`` (symmetric, as full
    matrix entries), from its gradient ``GL`` with respect to ``L``'s lower triangle (Murray 2016:
    ``P_bar = L^-T phi(L' L_bar) L^-1``, ``phi`` the lower triangle with a halved diagonal)."""
    M = np.zeros((q, q))
    for i in range(q):
        for j in range(q):
            s = 0.0
            for k in range(q):
                s += L[k, i] * GL[k, j]  # (L' GL)[i, j]
            M[i, j] = s
    for i in range(q):
        for j in range(q):
            if j > i:
                M[i, j] = 0.0
            elif j == i:
                M[i, j] *= 0.5
    R = _tri_inverse(L, q)
    X = np.zeros((q, q))  # R' M R
    for i in range(q):
        for j in range(q):
            s = 0.0
            for a in range(q):
                for b in range(q):
                    s += R[a, i] * M[a, b] * R[b, j]
            X[i, j] = s
    G = np.zeros((q, q))
    for i in range(q):
        for j in range(q):
            G[i, j] = 0.5 * (X[i, j] + X[j, i])
    return G
