"""What a power analysis simulates: scenarios.

A :class:`Scenario` says how to draw one data set of size ``n`` with its truth, and which model to
fit to it (what counts as a detection is a :class:`~loyaltymodels.power.targets.Target`). Scenarios
are small, picklable objects: Dask ships them to the workers, and :meth:`Scenario.describe` (plain
JSON) goes into the run's manifest so that a rerun can tell whether it is asked the same question.

Ready-made: :func:`loyalty_power_scenario` (:func:`loyaltymodels.loyalty_scenario`, ``n`` per
sector) and :func:`model_power_scenario` (:func:`loyaltymodels.simulate`); any picklable callable
``(n, rng) -> (data, truth)`` is a generator too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ArgumentError
from ..spec.provenance import jsonable

__all__ = ["Scenario", "loyalty_power_scenario", "model_power_scenario", "GENERATORS"]

GENERATORS = ("loyalty", "simulate")


@dataclass(frozen=True)
class Scenario:
    """How to draw one replication: a generator, its arguments, the model fitted to the draw.

    Parameters
    ----------
    generator : {"loyalty", "simulate"} or callable
        ``"loyalty"``: :func:`loyaltymodels.loyalty_scenario` (``n`` is per sector);
        ``"simulate"``: :func:`loyaltymodels.simulate` (``kwargs`` hold ``model``, ``params``...);
        or a picklable (module-level) callable ``(n, rng) -> (data, truth)``.
    kwargs : mapping
        Arguments of the generator besides ``n`` and the random generator.
    model : str, optional
        lavaan syntax fitted to each data set (default: ``truth.attrs["model"]``, else the
        generator's ``model`` argument).
    fit_options : mapping
        Passed to :func:`loyaltymodels.fit_sem` or :func:`loyaltymodels.compile_model`
        (``group``, ``group_equal``, ...).
    n_label : str
        Name of the sample-size column of the results (``"n_per_sector"`` for loyalty scenarios).

    Examples
    --------
    >>> import numpy as np
    >>> sc = Scenario("loyalty", {"sectors": ["retail"], "scale": None}, n_label="n_per_sector")
    >>> data, truth = sc.generate(50, np.random.default_rng(1))
    >>> data.shape, sc.fitted_model(truth).splitlines()[-1]
    ((50, 13), 'Loyalty ~ Beliefs + Experience')
    """

    generator: str | Callable = "loyalty"
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    model: str | None = None
    fit_options: Mapping[str, Any] = field(default_factory=dict)
    n_label: str = "n"

    def __post_init__(self) -> None:
        if isinstance(self.generator, str) and self.generator not in GENERATORS:
            raise ArgumentError(
                f"generator {self.generator!r}: choose one of {GENERATORS} or pass a callable (n, rng) -> (data, truth)"
            )
        if self.generator == "simulate" and "model" not in self.kwargs:
            raise ArgumentError("a 'simulate' scenario needs kwargs={'model': '<lavaan syntax>', ...}")

    def generate(self, n: int, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
        """One data set of size ``n`` drawn with ``rng``, and its truth."""
        if callable(self.generator):
            return self.generator(int(n), rng)
        if self.generator == "loyalty":
            from ..data.scenarios import loyalty_scenario

            return loyalty_scenario(int(n), seed=rng, **self.kwargs)
        from ..data.synthetic import simulate  # "simulate": __post_init__ admits no other name

        kw = dict(self.kwargs)
        return simulate(kw.pop("model"), int(n), seed=rng, **kw)

    def fitted_model(self, truth: pd.DataFrame) -> str:
        """The lavaan syntax fitted to every replication."""
        model = self.model or truth.attrs.get("model") or self.kwargs.get("model")
        if not model:
            raise ArgumentError(
                "the scenario names no model to fit: pass Scenario(model=...) or return "
                "truth with truth.attrs['model'] from the generator"
            )
        return model

    def describe(self) -> dict:
        """JSON description (for the manifest of a stored run)."""
        return {
            "generator": jsonable(self.generator),
            "kwargs": jsonable(dict(self.kwargs)),
            "model": self.model,
            "fit_options": jsonable(dict(self.fit_options)),
            "n_label": self.n_label,
        }


def loyalty_power_scenario(
    sectors: int | Sequence[str] | None = None,
    weights: Mapping[str, tuple[float, float]] | tuple[float, float] | None = None,
    *,
    rho: float = 0.4,
    scale: str | Sequence[int] | None = (0, 10),
    group_equal: Sequence[str] = ("loadings", "intercepts"),
    **kwargs: Any,
) -> Scenario:
    """A :func:`loyaltymodels.loyalty_scenario` to power: the beliefs + experience -> loyalty model
    fitted by sector, with loadings and intercepts equal across sectors (metric + scalar invariance).

    ``n`` in :func:`loyaltymodels.power_analysis` is then the number of respondents **per sector**
    (the results call the column ``n_per_sector``). Further ``kwargs`` go to ``loyalty_scenario``
    (``interaction``, ``asymmetry``, ``items``...).

    Examples
    --------
    >>> sc = loyalty_power_scenario(weights={"retail": (0.4, 0.3), "banking": (0.35, 0.35)})
    >>> sc.fit_options, sc.n_label
    ({'group': 'sector', 'group_equal': ('loadings', 'intercepts')}, 'n_per_sector')
    """
    kw = {"sectors": sectors, "weights": weights, "rho": rho, "scale": scale, **kwargs}
    kw = {k: v for k, v in kw.items() if v is not None or k == "scale"}
    return Scenario(
        "loyalty", kw, fit_options={"group": "sector", "group_equal": tuple(group_equal)}, n_label="n_per_sector"
    )


def model_power_scenario(
    model: str, params: Mapping[str, float] | None = None, *, fit_model: str | None = None, **kwargs: Any
) -> Scenario:
    """A :func:`loyaltymodels.simulate` scenario: data drawn from ``model`` (numbers in the syntax
    are population values), ``fit_model`` (default: ``model`` itself) fitted to each draw.

    Examples
    --------
    >>> sc = model_power_scenario("y ~ 0.2*x", fit_model="y ~ x")
    >>> sc.generator, sc.model
    ('simulate', 'y ~ x')
    """
    return Scenario("simulate", {"model": model, "params": dict(params or {}), **kwargs}, model=fit_model or model)
