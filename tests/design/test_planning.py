"""sample_size(): the analytic answer against closed forms written here, and the simulation against the
analytic answer within its Monte Carlo uncertainty (an NPS change, a regression weight); the plan for
a questionnaire study, end to end."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pytest
from scipy import stats

import loyaltymodels as lm
from loyaltymodels.errors import SpecError

matplotlib.use("Agg")
WAVES = [(0.30, 0.35, 0.35), (0.25, 0.35, 0.40)]


def _within_monte_carlo(curves):
    """Every simulated power within 3.3 Monte Carlo SDs of the analytic power (0.1% each, two-sided)."""
    for r in curves.itertuples():
        sd = math.sqrt(r.power_analytic * (1 - r.power_analytic) / r.reps)
        assert abs(r.power - r.power_analytic) <= 3.3 * sd + 1e-9, (r.target, r.n, r.power, r.power_analytic)


def test_nps_change_matches_the_difference_of_two_proportions(client):
    q = lm.questionnaire(["image", "quality", "intention"], indices=["nps"], outcomes=())
    plan = lm.sample_size(
        q,
        targets=["nps"],
        nps=WAVES,
        nps_method="wald",
        reps=1000,
        grid=(0.5, 1.0),
        seed=3,
        client=client,
        progress=False,
    )
    row = plan.table.iloc[0]
    # written out here: NPS = p - d of a trinomial, Var = (p + d - (p - d)^2) / n, two waves independent
    var1 = sum(p + d - (p - d) ** 2 for d, _, p in WAVES)
    delta = (WAVES[1][2] - WAVES[1][0]) - (WAVES[0][2] - WAVES[0][0])
    z = stats.norm.ppf(0.975)
    n = math.ceil(((z + stats.norm.ppf(0.8)) * math.sqrt(var1) / delta) ** 2)
    assert row.n_analytic in (n - 1, n) and row.unit == "per wave" and row.effect == pytest.approx(10.0)
    power_at_n = stats.norm.cdf(delta * math.sqrt(n / var1) - z) + stats.norm.cdf(-delta * math.sqrt(n / var1) - z)
    assert power_at_n >= 0.8 and row.power_analytic == pytest.approx(
        stats.norm.cdf(delta * math.sqrt(row.n_analytic / var1) - z)
        + stats.norm.cdf(-delta * math.sqrt(row.n_analytic / var1) - z)
    )
    assert len(plan.curves) == 2
    _within_monte_carlo(plan.curves)
    assert row.agree


def test_regression_weight_matches_the_exact_t_test(client):
    plan = lm.sample_size("y ~ 0.25*x", reps=400, grid=(1.0,), seed=4, client=client, progress=False)
    row = plan.table.iloc[0]
    # the exact power of the t test of a slope, y = 0.25 x + e with unit variances (noncentral t)
    for n in plan.curves.n:
        t = stats.t.ppf(0.975, n - 2)
        exact = stats.nct.sf(t, n - 2, 0.25 * math.sqrt(n)) + stats.nct.cdf(-t, n - 2, 0.25 * math.sqrt(n))
        analytic = plan.curves.set_index("n").at[n, "power_analytic"]
        assert analytic == pytest.approx(exact, abs=0.015)
    assert row.sd1 == pytest.approx(1.0, abs=0.02) and 120 <= row.n_analytic <= 132
    _within_monte_carlo(plan.curves)


def test_a_questionnaire_plan_end_to_end(client):
    q = lm.questionnaire(["image", "promise", "quality", "intention"], items_per_construct=3, scale="1-5")
    sectors = {"retail": (0.35, 0.1, 0.2), "telecom": (0.1, 0.1, 0.45)}
    plan = lm.sample_size(q, sectors=sectors, nps=WAVES, reps=8, grid=(1.0,), seed=5, client=client, progress=False)
    t = plan.table.set_index("target")
    assert list(t.index) == [
        "weights_differ[retail]",
        "weights_differ[telecom]",
        "sectors_differ[Beliefs: retail vs telecom]",
        "sectors_differ[Experience: telecom vs retail]",
        "congruence",
        "nps_change",
    ]
    assert t.loc["weights_differ[retail]", "effect"] == pytest.approx(0.15)
    assert t.loc["sectors_differ[Experience: telecom vs retail]", "effect"] == pytest.approx(0.25)
    assert t.loc["congruence", "effect"] < 0 and t.loc["congruence", "unit"] == "per sector"
    assert (t.n >= t.n_analytic).all() and (t.n % 10 == 0).all()
    assert set(plan.curves.target) == set(t.index) and (plan.curves.reps == 8).all()
    per_sector = plan.respondents.set_index("unit").n
    assert per_sector["per sector"] == t[t.unit == "per sector"].n.max()
    assert per_sector["total (2 sectors)"] == 2 * per_sector["per sector"]
    text = plan.to_markdown()
    assert "| Do Beliefs and Experience weigh differently on Loyalty in retail? |" in text
    fig = plan.plot()
    assert len([ax for ax in fig.axes if ax.get_visible()]) == 6
    again = lm.sample_size(q, sectors=sectors, nps=WAVES, seed=5, simulate=False)
    assert again.table.n_analytic.tolist() == plan.table.n_analytic.tolist()  # same seed, same plan


def test_equal_weights_have_nothing_to_detect():
    q = lm.questionnaire(["image", "quality", "intention"], items_per_construct=2, indices=(), outcomes=())
    plan = lm.sample_size(q, sectors={"a": (0.3, 0.3), "b": (0.3, 0.3)}, targets=["within"], simulate=False, seed=1)
    assert np.isinf(plan.table.n_analytic).all() and np.isnan(plan.table.power_analytic).all()
    assert plan.respondents.targets.iloc[0] == "no effect to detect"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(targets=["nps"]), "'nps' needs the NPS of the two waves"),
        (dict(targets=["nps"], nps=[(0.5, 0.5, 0.5), (0.3, 0.3, 0.4)]), "each adding to 1"),
        (dict(targets=["between"]), "at least two sectors"),
        (dict(targets=["loyalty"]), "'loyalty' is not one of within, between"),
        (dict(targets=[{"kind": "surface"}]), "kind 'surface' is not one of"),
        (dict(power=1.2), "power=1.2"),
        (dict(sectors=["retail", "banking"]), "two-driver questionnaires"),
    ],
)
def test_bad_plans_say_what_to_do(kwargs, message):
    q = lm.questionnaire(items_per_construct=2)
    with pytest.raises(SpecError, match=message):
        lm.sample_size(q, simulate=False, **kwargs)


def test_sector_weights_are_required_when_the_questionnaire_has_sectors():
    with pytest.raises(SpecError, match="give the weights you expect in each of"):
        lm.sample_size(lm.questionnaire(sectors=["a", "b"]), simulate=False)
    with pytest.raises(SpecError, match="design must be a Questionnaire"):
        lm.sample_size(42)  # type: ignore[arg-type]


def test_an_nps_change_needs_no_sector_weights():
    # the NPS question does not go through the model: a questionnaire with sectors plans it alone
    q = lm.questionnaire(items_per_construct=2, sectors=["retail", "banking", "telecom"])
    plan = lm.sample_size(q, targets=["nps"], nps=WAVES, simulate=False)
    assert list(plan.table.target) == ["nps_change"]
    assert plan.table.iloc[0].unit == "per wave"
    with pytest.raises(SpecError, match="weights you expect in each of"):
        lm.sample_size(q, targets=["nps", "within"], nps=WAVES, simulate=False)
