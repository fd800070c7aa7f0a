"""The layout of the compiled density's integer buffer, and the structural check both likelihoods
(the marginal SEM's and the latent forms') share."""

from __future__ import annotations

import numpy as np
from numba import njit

from .linalg import _OPTS, _cholesky

# -- header of the int buffer: sizes, then offsets (into ib or fb) ---------------------------------
(
    H_D,
    H_NROWS,
    H_N,
    H_P,
    H_G,
    H_NPAT,
    H_NRHO,
    H_NBLK,
    O_EL,
    O_SRC,
    O_SRC2,
    O_RHO,
    O_CA,
    O_OA,
    O_CS,
    O_OS,
    O_CM,
    O_OM,
    O_PAT,
    O_OBS,
    O_BLK,
    O_BIDX,
    O_ELF,
    O_FIXED,
    O_PATF,
    O_DEPTH,
    H_NDER,
    H_NTERM,
    H_NDPRI,
    O_TERM,
    O_TERMF,
    O_DPRI,
    O_DPRIF,
    O_LAT,  # the latent forms' section (-1: none)
    O_LATF,
) = range(35)
HEADER = 35


@njit(**_OPTS)
def blocks_pd(S, ib, g):
    """Whether every correlation block of three or more variables of group ``g`` is positive
    definite (the PyMC model gives zero density otherwise)."""
    nblk, blk, bidx = ib[H_NBLK], ib[O_BLK], ib[O_BIDX]
    for b in range(nblk):
        if ib[blk + 3 * b] != g:
            continue
        b0, q = ib[blk + 3 * b + 1], ib[blk + 3 * b + 2] - ib[blk + 3 * b + 1]
        W = np.empty((q, q))
        for i in range(q):
            for j in range(q):
                W[i, j] = S[ib[bidx + b0 + i], ib[bidx + b0 + j]]
        if not _cholesky(W, q)[1]:
            return False
    return True
