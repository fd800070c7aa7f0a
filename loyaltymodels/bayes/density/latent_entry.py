"""The compiled density's entry point for programs with a latent section (the loyalty model's
``outcomes`` and ``scores`` forms): :func:`loyaltymodels.bayes.density.kernel.logp_grad` with the
latent likelihood (:mod:`loyaltymodels.bayes.density.latent`, or
:mod:`loyaltymodels.bayes.density.conditional` for ordinal items) in place of the marginal SEM's.

A module of its own so that numba compiles it (about 40 s, once per machine, kept on disk) when a
latent form is first fitted, or at ``make install``, and never for a plain SEM's cold start.
"""

from __future__ import annotations

import numpy as np
from numba import carray, cfunc, njit

from . import latent as LT
from .conditional import conditional_likelihood
from .kernel import _LOGP_SIG, back, buffers, front, status
from .latent import latent_likelihood
from .linalg import _OPTS
from .structure import H_D, H_G, H_N, H_NROWS, H_P, O_CA, O_CM, O_CS, O_LAT, O_LATF, O_OA, O_OM, O_OS

__all__ = ["c_logp_latent", "logp_grad_latent"]


@njit(**_OPTS)
def logp_grad_latent(x, grad, ib, fb):
    """Log density of a program with a latent section at the unconstrained point ``x``; its
    gradient goes into ``grad`` (``-inf`` and a zero gradient outside the support)."""
    lp, dv, dprior, dnat, jacd, nat, rows0, rows = front(x, ib, fb)
    if not lp > -np.inf:
        grad[:] = 0.0
        return -np.inf
    grows = np.zeros(ib[H_NROWS])
    gnat = np.zeros(nat.size)
    ram = (ib[H_N], ib[H_P], ib[H_G], ib[O_OA], ib[O_CA], ib[O_OS], ib[O_CS], ib[O_OM], ib[O_CM])
    h = ib[O_LAT]
    if ib[h + LT.L_MODE] == 2:  # ordinal items: every score sampled (bayes.density.conditional)
        head = (
            ib[h + LT.L_NLAT],
            ib[h + LT.L_ILOY],
            ib[h + LT.L_NTERM],
            ib[h + LT.L_NOUT],
            ib[h + LT.L_N],
            ib[h + LT.L_UBASE],
            ib[h + LT.L_OTERM],
            ib[h + LT.L_OOUT],
            ib[h + LT.L_OCODE],
            ib[h + LT.L_OGRP],
            ib[h + LT.L_OYC],
            ib[h + LT.L_OTHR],
        )
        lp += conditional_likelihood(rows, nat, ib, fb, ib[O_LATF], grows, gnat, ram, head)
    else:
        lp += latent_likelihood(rows, nat, ib, fb, h, ib[O_LATF], grows, gnat, ram)
    if not lp > -np.inf:
        grad[:] = 0.0
        return -np.inf
    back(grows, gnat, dv, dprior, dnat, jacd, nat, rows0, ib, fb, grad)
    return lp


@cfunc(_LOGP_SIG, cache=True, error_model="numpy")
def c_logp_latent(dim, x_, grad_, logp_, user_data):
    """nutpie's logp callback for latent programs (see :func:`loyaltymodels.bayes.density.kernel.c_logp`)."""
    ib, fb = buffers(user_data)
    if dim != ib[H_D] or ib[O_LAT] < 0:
        return -1
    grad = carray(grad_, (ib[H_D],))
    logp_[0] = logp_grad_latent(carray(x_, (ib[H_D],)), grad, ib, fb)
    return status(logp_[0], grad)
