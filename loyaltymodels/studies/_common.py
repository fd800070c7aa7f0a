"""What every study shares: the result object, fast/full settings, and the comparison with the
published numbers (typed in :mod:`loyaltymodels.datasets.published`, never computed here).

The studies, one function per analysis, each returning a :class:`Study` (tidy tables with ``published`` and
``difference`` columns, fit measures, notes on provenance and interpretation):

- :func:`ecsi`: the European Customer Satisfaction Index model (Tenenhaus et al. 2005) on the bundled
  bank-customer survey, by PLS path modelling (plspm's published numbers), ML SEM and Bayesian SEM.
- :func:`holzinger_swineford`: the lavaan tutorial's CFA, and invariance by school.
- :func:`political_democracy`: the lavaan tutorial's SEM.
- :func:`beliefs_experience`: beliefs + experience -> loyalty on the ECSI data, ML and Bayesian.

The published numbers live in :mod:`loyaltymodels.datasets.published`, with their sources. Studies
with a Bayesian or bootstrap part take ``fast=``: small draws and resamples for tests and quick
looks; by default ``fast`` follows the environment variable ``LOYALTYMODELS_FAST``.
"""

from __future__ import annotations

import os
import textwrap
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import xarray as xr

    from ..sem.fit import SemFit

#: Environment variable that switches every study (and notebook) to its fast mode.
FAST_ENV = "LOYALTYMODELS_FAST"

#: Sampler and bootstrap sizes of the two modes. Fast mode is for tests and quick looks: its
#: posteriors are too short for convergence diagnostics and its intervals are rough.
MODES: dict[str, dict[str, int]] = {
    "fast": {"draws": 150, "tune": 150, "chains": 2, "bootstrap": 100},
    "full": {"draws": 1000, "tune": 1000, "chains": 4, "bootstrap": 1000},
}

_KEY = ["lhs", "op", "rhs", "group"]


def is_fast(fast: bool | None = None) -> bool:
    """``fast`` if given, else whether ``LOYALTYMODELS_FAST`` is set to a true value ("1", "true").

    >>> is_fast(False), is_fast(True)
    (False, True)
    """
    if fast is not None:
        return bool(fast)
    return os.environ.get(FAST_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def run_settings(fast: bool | None, seed: int, **given: int | None) -> dict[str, Any]:
    """The sizes of this run: the mode's defaults, overridden by the arguments that are not None."""
    mode = "fast" if is_fast(fast) else "full"
    out: dict[str, Any] = {"mode": mode, "seed": seed, **MODES[mode]}
    out.update({k: int(v) for k, v in given.items() if v is not None})
    return out


@contextmanager
def collecting(into: list[str]) -> Iterator[None]:
    """Record the warnings of a block (their text goes to the study's ``warnings``, once each)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for w in caught:
        text = str(w.message)
        if text not in into:
            into.append(text)


@dataclass(frozen=True)
class Study:
    """One published analysis reproduced: our numbers beside the published ones.

    Attributes
    ----------
    name, title : str
        Short name (the function's) and what was reproduced.
    parameters : DataFrame
        One row per parameter and estimator: ``lhs op rhs group estimator est se ci_lower
        ci_upper`` (and more per study), ``published`` (the published estimate; NaN where the
        source gives none) and ``difference`` (ours minus published); with ``published_se``,
        ``se_difference``, ``published_std_all``, ``std_all_difference`` where the source prints
        SEs and standardized values, and ``tolerance`` (half a unit of the source's last digit,
        or the issue's 1e-6 for full-precision references).
    fit : DataFrame
        Fit measures: ``model estimator measure value published difference tolerance``.
    notes : str
        Provenance of the data and of the published numbers, and what the comparison shows.
    tables : dict of DataFrame
        Further tables of the study (R^2, invariance, latent correlations, weights ...).
    fits : dict
        The fitted objects (``SemFit``, ``PlsFit``, posterior ``DataTree``) for further work.
    settings : dict
        Mode (fast or full), seed, draws, tune, chains, bootstrap.
    warnings : tuple of str
        Warnings raised while fitting (collinearity, convergence), each once.
    """

    name: str
    title: str
    parameters: pd.DataFrame = field(repr=False)
    fit: pd.DataFrame = field(repr=False)
    notes: str = field(repr=False)
    tables: Mapping[str, pd.DataFrame] = field(default_factory=dict, repr=False)
    fits: Mapping[str, Any] = field(default_factory=dict, repr=False)
    settings: Mapping[str, Any] = field(default_factory=dict, repr=False)
    warnings: tuple[str, ...] = field(default=(), repr=False)

    @property
    def paths(self) -> pd.DataFrame:
        """The regression rows (``~``) of :attr:`parameters`."""
        return self.parameters[self.parameters.op == "~"].reset_index(drop=True)

    def frames(self) -> dict[str, pd.DataFrame]:
        """Every table of the study by name: ``parameters``, ``fit`` and the ``tables``."""
        return {"parameters": self.parameters, "fit": self.fit, **dict(self.tables)}

    def deviations(self) -> pd.DataFrame:
        """The largest absolute difference from the published numbers, per table, estimator and
        quantity, with the row where it occurs and whether every row is within ``tolerance``."""
        checks = [
            ("parameters", self.parameters, q, c)
            for q, c in (("est", "difference"), ("se", "se_difference"), ("std_all", "std_all_difference"))
        ]
        checks += [
            (name, frame, "value", "difference")
            for name, frame in {"fit": self.fit, **self.tables}.items()
            if name != "parameters"
        ]
        rows = []
        for table, frame, quantity, col in checks:
            if col not in frame:
                continue
            by = "estimator" if "estimator" in frame else "model"
            for who, part in frame.dropna(subset=[col]).groupby(by, sort=False):
                r = part.loc[part[col].abs().idxmax()]
                tol = part["tolerance"] if "tolerance" in part else pd.Series(np.nan, part.index)
                rows.append(
                    {
                        "table": table,
                        "estimator": who,
                        "quantity": quantity,
                        "compared": len(part),
                        "max_abs_difference": abs(r[col]),
                        "at": _label(r),
                        "within_tolerance": bool((part[col].abs() <= tol + 1e-12).all()),
                    }
                )
        return pd.DataFrame(
            rows, columns=["table", "estimator", "quantity", "compared", "max_abs_difference", "at", "within_tolerance"]
        )

    def summary(self, digits: int = 3) -> None:
        """Print the notes, the comparison tables and the warnings."""
        print(f"{self.title}\n{'=' * len(self.title)}")
        print(
            textwrap.fill(
                f"Mode: {self.settings.get('mode')} "
                f"({', '.join(f'{k}={v}' for k, v in self.settings.items() if k != 'mode')})",
                100,
            )
        )
        print("\n" + self.notes + "\n")
        cols = [
            c
            for c in ["lhs", "op", "rhs", "group", "estimator", "est", "se", "published", "difference"]
            if c in self.parameters
        ]
        print(self.parameters[cols].round(digits).to_string(index=False))
        print("\nFit measures:")
        print(self.fit.drop(columns=["tolerance", "source"], errors="ignore").round(digits).to_string(index=False))
        for name, tab in self.tables.items():
            print(f"\n{name}:")
            print(tab.round(digits).to_string(index=False))
        if self.warnings:
            print("\nWarnings raised while fitting:")
            for w in self.warnings:
                print(textwrap.fill(w, 100, initial_indent="  - ", subsequent_indent="    "))

    def __repr__(self) -> str:
        d = self.deviations()
        worst = "" if d.empty else f", largest deviation {d.max_abs_difference.max():.2g}"
        return f"Study({self.name!r}, {len(self.parameters)} parameter rows, mode={self.settings.get('mode')!r}{worst})"


def _label(r: pd.Series) -> str:
    if "measure" in r:
        return f"{r.get('model', '')} {r['measure']}".strip()
    if "lhs" not in r:  # e.g. an R^2 table: the first column names the row
        return str(r.iloc[0])
    grp = f" [group {int(r['group'])}]" if "group" in r and pd.notna(r["group"]) and r["group"] > 1 else ""
    return f"{r['lhs']} {r['op']} {r['rhs']}{grp}"


def compare_parameters(
    ours: pd.DataFrame, published: pd.DataFrame | None, tolerance: float | None = None
) -> pd.DataFrame:
    """Add ``published difference`` (and ``_se``/``_std_all`` pairs where published) to ``ours``.

    ``ours`` has ``lhs op rhs group est`` (``se``, ``std_all`` optional); ``published`` the same
    keys with ``est`` (``se``, ``std_all``, ``decimals`` optional). Rows without a published
    counterpart get NaN. ``tolerance`` defaults to half a unit of the last printed decimal.
    """
    out = ours.copy()
    if published is None:
        out["published"] = np.nan
        out["difference"] = np.nan
        return out
    pub = published.copy()
    keep = [c for c in ("est", "se", "std_all") if c in pub]
    pub = pub[_KEY + keep + (["decimals"] if "decimals" in pub else [])].rename(
        columns={"est": "published", "se": "published_se", "std_all": "published_std_all"}
    )
    out = out.merge(pub, on=_KEY, how="left")
    out["difference"] = out["est"] - out["published"]
    if "published_se" in out and "se" in out:
        out["se_difference"] = out["se"] - out["published_se"]
    if "published_std_all" in out and "std_all" in out:
        out["std_all_difference"] = out["std_all"] - out["published_std_all"]
    if tolerance is not None:
        out["tolerance"] = np.where(out["published"].notna(), tolerance, np.nan)
    elif "decimals" in out:
        out["tolerance"] = 0.5 * 10.0 ** -out["decimals"]
    return out.drop(columns=["decimals"], errors="ignore")


def compare_measures(
    values: Mapping[str, float],
    published: pd.DataFrame | None,
    *,
    model: str,
    estimator: str = "ML",
    measures: list[str] | None = None,
) -> pd.DataFrame:
    """Fit measures as rows ``model estimator measure value published difference tolerance``.

    The measures are those published for ``model`` plus ``measures``; a measure we do not
    compute is NaN (and then shows as a NaN difference, not as agreement).
    """
    pub = pd.DataFrame(columns=["measure", "published", "decimals", "source"])
    if published is not None:
        pub = published[published.model == model]
    names = list(dict.fromkeys(list(pub["measure"]) + list(measures or [])))
    rows = []
    for m in names:
        hit = pub[pub.measure == m]
        p = float(hit["published"].iloc[0]) if len(hit) else np.nan
        dec = hit["decimals"].iloc[0] if len(hit) else np.nan
        v = float(values.get(m, np.nan))
        rows.append(
            {
                "model": model,
                "estimator": estimator,
                "measure": m,
                "value": v,
                "published": p,
                "difference": v - p,
                "tolerance": 0.5 * 10.0**-dec if pd.notna(dec) else np.nan,
                "source": hit["source"].iloc[0] if len(hit) else "",
            }
        )
    return pd.DataFrame(rows)


def wrap(*paragraphs: str) -> str:
    """Notes text: each paragraph filled to 100 columns, paragraphs separated by a blank line."""
    return "\n\n".join(textwrap.fill(" ".join(p.split()), 100) for p in paragraphs if p)


def std_all_covariance(fit: SemFit, rows: list[tuple[str, str, str]]) -> tuple[np.ndarray, np.ndarray]:
    """Standardized (std.all) estimates of ``rows`` of an ML fit and their delta-method covariance
    matrix (``J V J'``, ``J`` the Jacobian of the standardization at the estimates, ``V`` the
    covariance of the free parameters); its diagonal gives the ``std_all_se`` of the fit."""
    from ..algebra.matrices import standardized
    from ..sem.inference import jacobian

    problem, t = fit.problem, fit.spec.table
    idx = []
    for lhs, op, rhs in rows:
        hit = np.flatnonzero(
            (t.lhs == lhs).to_numpy() & (t.op == op).to_numpy() & (t.rhs == rhs).to_numpy() & (t.group == 1).to_numpy()
        )
        if len(hit) != 1:
            raise KeyError(f"'{lhs} {op} {rhs}' is not a row of the model")
        idx.append(int(hit[0]))

    def fun(theta):
        return standardized(fit.spec, problem.layout, problem.values(theta), "std_all")[..., idx]

    J = jacobian(fun, fit.theta)
    return np.asarray(fun(fit.theta)), J @ fit.vcov.to_numpy() @ J.T


def std_all_draws(post: xr.DataTree, rows: list[tuple[str, str, str]]) -> np.ndarray:
    """Posterior draws (``(samples, len(rows))``) of the std.all values of ``rows``."""
    x = post["posterior"]["std_all"].stack(sample=("chain", "draw")).transpose("sample", "parameter")
    lhs, op, rhs, grp = (x[c].to_numpy() for c in ("lhs", "op", "rhs", "group"))
    cols = []
    for a, o, b in rows:
        hit = np.flatnonzero((lhs == a) & (op == o) & (rhs == b) & (grp == 1))
        if len(hit) != 1:
            raise KeyError(f"'{a} {o} {b}' is not in the posterior")
        cols.append(int(hit[0]))
    return x.to_numpy()[:, cols]
