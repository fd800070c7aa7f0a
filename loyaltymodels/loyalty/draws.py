"""Per-draw quantities of a fitted loyalty model, in NumPy with the draws on the first axis.

Everything is rebuilt from the posterior alone (``param`` rows, the loyalty variables and the
``loyalty`` root attribute), so saved posteriors can be summarised later. Where loyalty is a
nonlinear function of its drivers (interaction, asymmetry), population quantities (loyalty's SD,
the satisfied-but-not-loyal share, effects of raising a driver) are averages over each cell's
latent distribution, taken on a fixed scrambled Sobol' sample of driver scores (quasi Monte Carlo:
the same points for every draw and cell, so differences between draws are not Monte Carlo noise),
with loyalty's own residual integrated analytically or by Gauss-Hermite.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr
from scipy.special import ndtr, ndtri

from ..algebra.matrices import RamLayout, ram_layout
from ..bayes.draws import model_spec, row_draws
from ..bayes.parameterization import ram_tensors
from ..errors import DataError
from .likelihood import folded_mean

QMC_POINTS = 1024
_QMC_SEED = 20261124


@dataclass(frozen=True)
class LoyaltyInfo:
    """What a loyalty posterior is made of: the roles, outcomes and form (its ``loyalty`` root
    attribute), and the cells (``constant_data``: each cell's sector and segment codes and size,
    with the sectors' and segments' labels as the ``sector`` and ``segment`` coords)."""

    loyalty: str
    drivers: tuple[str, ...]
    interaction: tuple[str, str] | None
    asymmetry: tuple[str, str] | None
    sectors: tuple[str, ...]
    segments: tuple[str, ...]
    cells: tuple[int, ...]
    cell_sector: np.ndarray
    cell_segment: np.ndarray
    cell_sizes: np.ndarray
    outcomes: tuple[dict, ...]
    form: str
    latents: tuple[str, ...]
    surface: tuple[str, str] | None = None
    diminishing: tuple[str, ...] = ()

    _ROLES = ("loyalty", "drivers", "interaction", "asymmetry", "outcomes", "form", "latents", "surface", "diminishing")

    def to_json(self) -> str:
        """The roles, outcomes and form as the posterior's ``loyalty`` attribute (the cells are data)."""
        return json.dumps({k: getattr(self, k) for k in self._ROLES})

    def cell_data(self) -> xr.Dataset:
        """The cells as the posterior's ``constant_data``: codes, sizes, and labelled sectors/segments."""
        coords = {"cell": np.asarray(self.cells, int), "sector": list(self.sectors)}
        if self.segments:
            coords["segment"] = list(self.segments)
        return xr.Dataset(
            {
                "cell_sector": ("cell", np.asarray(self.cell_sector, int)),
                "cell_segment": ("cell", np.asarray(self.cell_segment, int)),
                "cell_size": ("cell", np.asarray(self.cell_sizes, int)),
            },
            coords=coords,
        )

    @classmethod
    def from_post(cls, post: xr.DataTree) -> LoyaltyInfo:
        text = post.attrs.get("loyalty")
        if text is None:
            raise DataError("this posterior does not come from fit_loyalty (no 'loyalty' attribute)")
        if "constant_data" not in post.children or "cell_sector" not in post["constant_data"].data_vars:
            raise DataError(
                "this loyalty posterior has no cells in its 'constant_data' group (it was saved "
                "by an earlier version of loyaltymodels); refit it with fit_loyalty"
            )
        d = json.loads(text)
        cd = post["constant_data"].dataset
        return cls(
            d["loyalty"],
            tuple(d["drivers"]),
            tuple(d["interaction"]) if d["interaction"] else None,
            tuple(d["asymmetry"]) if d["asymmetry"] else None,
            tuple(str(x) for x in cd["sector"].values),
            tuple(str(x) for x in cd["segment"].values) if "segment" in cd.coords else (),
            tuple(int(c) for c in cd["cell"].values),
            cd["cell_sector"].values.astype(int),
            cd["cell_segment"].values.astype(int),
            cd["cell_size"].values.astype(int),
            tuple(d["outcomes"]),
            d["form"],
            tuple(d["latents"]),
            tuple(d["surface"]) if d.get("surface") else None,
            tuple(d.get("diminishing", ())),
        )

    @property
    def nonlinear(self) -> bool:
        return (
            self.interaction is not None
            or self.asymmetry is not None
            or self.surface is not None
            or bool(self.diminishing)
        )

    def index(self, name: str) -> int:
        return self.latents.index(name)


def group_matrices(layout: RamLayout, rows: np.ndarray) -> dict[str, np.ndarray]:
    """Per draw and group: ``lam (D, G, p, q)``, ``nu``, ``theta``, latent ``alpha``, ``beta``
    (latent paths), ``psi`` (residual covariances), implied latent ``mean`` and ``cov``."""
    p, q = layout.n_observed, layout.n - layout.n_observed
    out: dict[str, list[np.ndarray]] = {k: [] for k in ("nu", "lam", "theta", "beta", "alpha", "psi", "mean", "cov")}
    for g in range(1, layout.ngroups + 1):
        A, S, m = ram_tensors(layout, rows, g, np)
        B = A[..., p:, p:]
        T = np.linalg.inv(np.eye(q) - B)
        out["nu"].append(m[..., :p])
        out["lam"].append(A[..., :p, p:])
        out["theta"].append(np.diagonal(S, axis1=-2, axis2=-1)[..., :p])
        out["beta"].append(B)
        out["alpha"].append(m[..., p:])
        out["psi"].append(S[..., p:, p:])
        out["mean"].append(np.einsum("...ij,...j->...i", T, m[..., p:]))
        out["cov"].append(T @ S[..., p:, p:] @ np.swapaxes(T, -1, -2))
    return {k: np.stack(v, axis=1) for k, v in out.items()}


@dataclass(frozen=True)
class Draws:
    """What the summaries need, draws flattened to one axis ``D`` (``chain * draw``)."""

    info: LoyaltyInfo
    mats: dict
    extra: dict  # interaction, asymmetry, outcome_slope, outcome_intercept, cuts_<name>: (D, ...)
    shape: tuple[int, int]

    @classmethod
    def from_post(cls, post: xr.DataTree, max_draws: int | None = None) -> Draws:
        info = LoyaltyInfo.from_post(post)
        spec = model_spec(post)
        rows = row_draws(post, spec)
        ds = post["posterior"].dataset
        shape = (ds.sizes["chain"], ds.sizes["draw"])
        keep = _thin(rows.shape[0], max_draws)
        extra = {}
        own = ("interaction", "asymmetry", "surface", "diminishing", "outcome_slope", "outcome_intercept")
        for name in ds.data_vars:
            if name in own or str(name).startswith("cuts_"):
                v = ds[name].to_numpy()
                extra[name] = v.reshape(shape[0] * shape[1], *v.shape[2:])[keep]
        return cls(info, group_matrices(ram_layout(spec), rows[keep]), extra, shape)

    @property
    def n(self) -> int:
        return self.mats["nu"].shape[0]

    def take(self, idx: slice | np.ndarray) -> Draws:
        """The same quantities for the draws ``idx`` only."""
        return Draws(
            self.info, {k: v[idx] for k, v in self.mats.items()}, {k: v[idx] for k, v in self.extra.items()}, self.shape
        )


def chunked(fn: Callable[..., Any], dr: Draws, *args: Any, size: int = 128) -> Any:
    """``fn(dr, *args)`` evaluated on blocks of draws and joined along the draw axis (the
    quasi-Monte-Carlo points make a full-size array too large to hold at once)."""
    parts = [fn(dr.take(slice(a, a + size)), *args) for a in range(0, dr.n, size)]
    first = parts[0]
    if isinstance(first, dict):
        return {k: np.concatenate([p[k] for p in parts]) for k in first}
    if isinstance(first, tuple):
        return tuple(np.concatenate([p[k] for p in parts]) for k in range(len(first)))
    return np.concatenate(parts)


def _thin(n: int, max_draws: int | None) -> np.ndarray:
    if max_draws is None or n <= max_draws:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, max_draws).round().astype(int))


def qmc_normal(dim: int, n: int = QMC_POINTS) -> np.ndarray:
    """A fixed scrambled Sobol' sample of ``n`` standard normal points in ``dim`` dimensions."""
    from scipy.stats import qmc

    u = qmc.Sobol(dim, scramble=True, seed=_QMC_SEED).random(n)
    return ndtri(np.clip(u, 1e-12, 1 - 1e-12))


# -- loyalty as a function of the drivers ----------------------------------------------------------
def driver_points(dr: Draws, base: np.ndarray | None = None) -> np.ndarray:
    """Points ``(D, G, M, q)`` of every latent other than loyalty, from each draw's and cell's
    latent normal (all latents, loyalty's column left at its mean)."""
    info, mats = dr.info, dr.mats
    q = len(info.latents)
    iL = info.index(info.loyalty)
    other = [k for k in range(q) if k != iL]
    base = qmc_normal(len(other)) if base is None else base
    cov = mats["cov"][:, :, other][:, :, :, other]
    chol = np.linalg.cholesky(cov + 1e-12 * np.eye(len(other)))
    pts = np.zeros(cov.shape[:2] + (base.shape[0], q))
    pts[..., other] = mats["mean"][:, :, None, other] + base @ np.swapaxes(chol, -1, -2)  # (D, G, M, q - 1)
    pts[..., iL] = mats["mean"][:, :, None, iL]
    return pts


def centres(dr: Draws) -> tuple[np.ndarray, np.ndarray]:
    """Expectations ``(D, G)`` of the interaction product and of the absolute gap in each cell."""
    info, m, c = dr.info, dr.mats["mean"], dr.mats["cov"]
    prod = absd = np.zeros(m.shape[:2])
    if info.interaction:
        i, j = (info.index(v) for v in info.interaction)
        prod = m[..., i] * m[..., j] + c[..., i, j]
    if info.asymmetry:
        e, p = (info.index(v) for v in info.asymmetry)
        absd = folded_mean(m[..., e] - m[..., p], np.sqrt(c[..., e, e] + c[..., p, p] - 2 * c[..., e, p]))
    return prod, absd


def loyalty_mean_at(dr: Draws, pts: np.ndarray) -> np.ndarray:
    """E[loyalty | other latents] at points ``(D, G, M, q)`` -> ``(D, G, M)``."""
    info, mats = dr.info, dr.mats
    iL = info.index(info.loyalty)
    beta = mats["beta"][:, :, iL, :].copy()
    beta[..., iL] = 0.0
    mu = mats["alpha"][:, :, None, iL] + (pts @ beta[..., None])[..., 0]
    return mu + nonlinear_at(dr, pts)


def nonlinear_at(dr: Draws, pts: np.ndarray) -> np.ndarray:
    info = dr.info
    out = np.zeros(pts.shape[:-1])
    if not info.nonlinear:
        return out
    prod, absd = centres(dr)
    if info.interaction:
        i, j = (info.index(v) for v in info.interaction)
        out = out + dr.extra["interaction"][:, None, None] * (pts[..., i] * pts[..., j] - prod[..., None])
    if info.asymmetry:
        e, p = (info.index(v) for v in info.asymmetry)
        out = out - 0.5 * dr.extra["asymmetry"][:, None, None] * (np.abs(pts[..., e] - pts[..., p]) - absd[..., None])
    if info.surface:
        from .surface import surface_at

        b_cell = dr.extra["surface"][:, info.cell_sector]  # (D, G, 3)
        out = out + surface_at((info.index(info.surface[0]), info.index(info.surface[1])), b_cell, dr.mats, pts)
    for k, v in enumerate(info.diminishing):  # c_k (X_k^2 - E[X_k^2]) in the cell
        i = info.index(v)
        second = dr.mats["mean"][..., i] ** 2 + dr.mats["cov"][..., i, i]
        out = out + dr.extra["diminishing"][:, k, None, None] * (pts[..., i] ** 2 - second[..., None])
    return out


def loyalty_moments(dr: Draws) -> tuple[np.ndarray, np.ndarray]:
    """Mean and SD ``(D, G)`` of latent loyalty in every cell; exact for the linear model, the
    nonlinear terms' share by quasi Monte Carlo (see the module docstring)."""
    info, mats = dr.info, dr.mats
    iL = info.index(info.loyalty)
    mean, var = mats["mean"][..., iL].copy(), mats["cov"][..., iL, iL].copy()
    if info.nonlinear:
        pts = driver_points(dr)
        f = nonlinear_at(dr, pts)
        lin = loyalty_mean_at(dr, pts) - f
        fc, lc = f - f.mean(-1, keepdims=True), lin - lin.mean(-1, keepdims=True)
        var = var + (fc**2).mean(-1) + 2 * (fc * lc).mean(-1)
    return mean, np.sqrt(var)


def standardized(dr: Draws) -> dict[str, np.ndarray]:
    """Standardized (std_all) quantities per draw and cell: ``weight (D, G, K)`` = raw weight x SD
    of the driver / SD of loyalty in the cell; ``interaction`` = gamma SD_B SD_E / SD_L;
    ``asymmetry`` = d sqrt(SD_E SD_P) / SD_L (the gap in the cell's own driver SDs); ``loyalty_sd``."""
    info, mats = dr.info, dr.mats
    iL = info.index(info.loyalty)
    _, sd_l = loyalty_moments(dr)
    sd = np.sqrt(np.diagonal(mats["cov"], axis1=-2, axis2=-1))
    idx = [info.index(v) for v in info.drivers]
    out = {"weight": mats["beta"][:, :, iL, idx] * sd[..., idx] / sd_l[..., None], "loyalty_sd": sd_l}
    if info.interaction:
        i, j = (info.index(v) for v in info.interaction)
        out["interaction"] = dr.extra["interaction"][:, None] * sd[..., i] * sd[..., j] / sd_l
    if info.asymmetry:
        e, p = (info.index(v) for v in info.asymmetry)
        out["asymmetry"] = dr.extra["asymmetry"][:, None] * np.sqrt(sd[..., e] * sd[..., p]) / sd_l
    return out


def pooled_loyalty_sd(dr: Draws) -> np.ndarray:
    """SD ``(D,)`` of latent loyalty over all respondents (the cells' mixture, by cell size)."""
    mean, sd = loyalty_moments(dr)
    w = dr.info.cell_sizes / dr.info.cell_sizes.sum()
    grand = mean @ w
    return np.sqrt((sd**2 + (mean - grand[:, None]) ** 2) @ w)


def mixture_median(mu: np.ndarray, s: np.ndarray, tol: float = 1e-12) -> np.ndarray:
    """Median ``(...)`` of the equal-weight normal mixture with means ``mu (..., M)`` and SDs ``s``
    (``(..., 1)`` or ``(..., M)``): Newton's method on the mixture's CDF, kept inside a bracket that
    shrinks at every step (a step that leaves it is replaced by the bracket's midpoint), so it
    converges whatever the mixture. About 6 iterations where plain bisection to the same precision
    takes 60 CDF evaluations over every point (the cost of a nonlinear fit's post-processing)."""
    lo, hi = mu.min(-1) - 6 * s.max(-1), mu.max(-1) + 6 * s.max(-1)
    m = mu.mean(-1)
    for _ in range(100):
        z = (m[..., None] - mu) / s
        f = ndtr(z).mean(-1) - 0.5
        if np.abs(f).max(initial=0.0) <= tol:
            break
        lo, hi = np.where(f < 0, m, lo), np.where(f < 0, hi, m)
        slope = (np.exp(-0.5 * z * z) / s).mean(-1) / np.sqrt(2 * np.pi)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = m - f / slope
        inside = (step >= lo) & (step <= hi)
        m = np.where(np.abs(f) <= tol, m, np.where(inside, step, 0.5 * (lo + hi)))  # converged: kept
    return m


def satisfied_not_loyal_share(dr: Draws, experience: str) -> np.ndarray:
    """Share ``(D, G)`` of customers above the median of ``experience`` who are below the median of
    loyalty, under each draw's latent distribution of each cell (the generator's definition).

    Linear model: loyalty and experience are bivariate normal with correlation r, and the share is
    ``1/2 - arcsin(r)/pi`` exactly. Nonlinear: quasi Monte Carlo over the drivers with loyalty's
    normal residual integrated analytically (Rao-Blackwell), loyalty's median by bisection.
    """
    info, mats = dr.info, dr.mats
    iL, iE = info.index(info.loyalty), info.index(experience)
    if not info.nonlinear:
        c = mats["cov"]
        r = c[..., iL, iE] / np.sqrt(c[..., iL, iL] * c[..., iE, iE])
        return 0.5 - np.arcsin(np.clip(r, -1, 1)) / np.pi
    pts = driver_points(dr)
    mu = loyalty_mean_at(dr, pts)
    s = np.sqrt(mats["psi"][..., iL, iL])[..., None]
    med = mixture_median(mu, s)
    sat = pts[..., iE] > mats["mean"][..., None, iE]
    p_below = ndtr((med[..., None] - mu) / s)
    return (p_below * sat).sum(-1) / sat.sum(-1)
