"""The OLS response surface: coefficients and standard errors against statsmodels, the delta-method
intervals against their coverage over replications, and Humberg, Nestler & Back's conditions on and
off on truths written here in NumPy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from loyaltymodels.design.responses import congruence_surface, surface_responses
from loyaltymodels.design.surface import (
    QUANTITIES,
    composite_surface,
    congruence_holds,
    ols_surface,
    surface_quantities,
)


def _drivers(n, rng, rho=0.4):
    return rng.multivariate_normal([0, 0], [[1, rho], [rho, 1]], size=n).T


def test_coefficients_and_ses_equal_statsmodels():
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(3)
    x, y = _drivers(300, rng)
    z = 0.3 * x + 0.2 * y - 0.1 * (x - y) ** 2 + rng.normal(0, 1, 300)
    X = sm.add_constant(np.column_stack([x, y, x**2, x * y, y**2]))
    ref = sm.OLS(z, X).fit()
    t = ols_surface(x, y, z).set_index("quantity")
    np.testing.assert_allclose(t.loc[["b1", "b2", "b3", "b4", "b5"], "estimate"], ref.params[1:], rtol=1e-10)
    np.testing.assert_allclose(t.loc[["b1", "b2", "b3", "b4", "b5"], "se"], ref.bse[1:], rtol=1e-8)
    ci = ref.conf_int(0.05)[1:]
    np.testing.assert_allclose(t.loc[["b1", "b2", "b3", "b4", "b5"], ["ci_lower", "ci_upper"]], ci, rtol=1e-8)
    # a4 is linear in b: its SE is exact, sqrt(c' V c)
    c = np.array([0, 0, 0, 1, -1, 1])
    assert t.at["a4", "se"] == pytest.approx(np.sqrt(c @ ref.cov_params() @ c), rel=1e-6)


def test_principal_axis_formulas_on_a_rotated_ridge():
    # z = -(y - (0.5 + 2 x))^2 / 5: a ridge along y = 0.5 + 2 x, plus a little curvature along it
    b = np.array([[-0.4 + 0.02, 0.2, -0.8 - 0.01, 0.8, -0.2]])  # expanded by hand below
    x0, y0 = 1.0, 2.5  # a stationary point on that line
    # build b from the form -(y - a - s x)^2 / 5 - 0.01 (x - x0)^2 with a = 0.5, s = 2
    a, s = 0.5, 2.0
    b3, b4, b5 = -(s**2) / 5 - 0.01, 2 * s / 5, -1 / 5
    b1, b2 = -2 * a * s / 5 + 0.02 * x0, 2 * a / 5
    q = surface_quantities(np.array([[b1, b2, b3, b4, b5]]))[0]
    out = dict(zip(QUANTITIES, q))
    assert out["p11"] == pytest.approx(s, rel=2e-2) and out["p10"] == pytest.approx(a, abs=0.1)
    assert b.shape == (1, 5) and np.isfinite([x0, y0]).all()


@pytest.mark.parametrize(
    ("truth", "supported"),
    [
        (lambda x, y: 0.25 * (x + y) - 0.15 * (x - y) ** 2 - 0.05 * (x + y) ** 2, True),
        (lambda x, y: 0.3 * x + 0.3 * y, False),  # no congruence: a4 = 0
        (lambda x, y: 0.3 * x + 0.4 * y - 0.15 * y**2, False),  # diminishing returns of experience only
        (lambda x, y: 0.4 * x + 0.2 * y - 0.15 * (x - y) ** 2, False),  # mismatch with unequal slopes: a3 != 0
    ],
)
def test_congruence_conditions_on_truths_written_here(truth, supported):
    rng = np.random.default_rng(5)
    x, y = _drivers(20_000, rng)
    z = truth(x, y) + rng.normal(0, 0.8, len(x))
    assert congruence_holds(ols_surface(x, y, z))["supported"] is supported


def test_delta_method_intervals_cover():
    rng = np.random.default_rng(8)
    b = congruence_surface(0.2)
    hits = {k: 0 for k in ("a4", "p10", "p11")}
    true = dict(zip(QUANTITIES, surface_quantities(np.array([[b[k] for k in ("b1", "b2", "b3", "b4", "b5")]]))[0]))
    reps = 300
    for _ in range(reps):
        x, y = _drivers(400, rng)
        z = b["b1"] * x + b["b2"] * y + b["b3"] * x**2 + b["b4"] * x * y + b["b5"] * y**2 + rng.normal(0, 0.7, 400)
        t = ols_surface(x, y, z).set_index("quantity")
        for k in hits:
            hits[k] += t.at[k, "ci_lower"] <= true[k] <= t.at[k, "ci_upper"]
    for k, h in hits.items():  # 95% intervals: 300 replications give 0.95 -/+ 0.03
        assert 0.90 <= h / reps <= 0.99, (k, h / reps)


def test_composite_scores_keep_the_line_of_congruence():
    rng = np.random.default_rng(2)
    data, truth = surface_responses(
        30_000,
        rng,
        beliefs=["p1", "p2", "p3"],
        experience=["e1", "e2", "e3"],
        loyalty=["l1", "l2"],
        surface=congruence_surface(0.2),
    )
    t = composite_surface(data, ["p1", "p2", "p3"], ["e1", "e2", "e3"], ["l1", "l2"])
    assert congruence_holds(t)["supported"]
    assert truth.set_index("parameter").value.to_dict()["b4"] == pytest.approx(0.3)
    assert t.attrs["ci"] == 0.95 and isinstance(t, pd.DataFrame)
