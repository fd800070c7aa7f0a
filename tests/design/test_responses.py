"""Simulated answers: the truth they are drawn from is the truth they show in large samples."""

from __future__ import annotations

import numpy as np
import pytest

import loyaltymodels as lm
from loyaltymodels.design.responses import congruence_surface, population_model, surface_responses, surface_variance
from loyaltymodels.errors import SpecError


def test_answers_are_codes_of_each_question():
    q = lm.questionnaire(outcomes=("bought_12m", "purchases_12m", "wallet_share", "switched_12m", "tenure_years"))
    data, truth = q.simulate(500, seed=1)
    assert list(data.columns) == q.columns and data.respondent_id.is_unique
    for r in q.items.itertuples():
        v = data[r.name]
        assert v.min() >= r.lo and (np.isnan(r.hi) or v.max() <= r.hi), r.name
        if r.kind in ("rating", "yes_no", "count"):
            assert (v == v.round()).all(), r.name
    assert data.bought_12m.mean() == pytest.approx(0.75, abs=0.06)
    assert truth.attrs["model"] == q.to_syntax()
    # behaviour follows loyalty: those who bought score higher on the loyalty questions
    loyal = data[list(q.factors["Loyalty"])].mean(axis=1)
    assert loyal[data.bought_12m == 1].mean() > loyal[data.bought_12m == 0].mean()
    assert np.corrcoef(loyal, data.cli_rec)[0, 1] < -0.3  # the CLI's 1 is the loyal answer


def test_same_seed_same_answers():
    q = lm.questionnaire(items_per_construct=2, sectors=["a", "b"])
    a, _ = q.simulate(50, seed=9)
    b, _ = q.simulate(50, seed=9)
    assert a.equals(b)


def test_large_sample_shows_the_population_correlations():
    q = lm.questionnaire(["image", "quality", "intention"], items_per_construct=3, indices=(), outcomes=())
    data, _ = q.simulate(40_000, weights=(0.4, 0.3), rho=0.5, loading=0.8, seed=2)
    # continuous answers would correlate 0.8^2 within a construct; 7-point ratings slightly less
    r = data[["img1", "img2"]].corr().iloc[0, 1]
    assert 0.55 < r < 0.64
    # between constructs: loadings x the latents' correlation (beliefs-experience 0.5)
    r = data[["img1", "qual1"]].corr().iloc[0, 1]
    assert 0.27 < r < 0.33


def test_population_model_checks_its_arguments():
    q = lm.questionnaire(["image", "quality", "intention"], indices=(), outcomes=())
    with pytest.raises(SpecError, match=r"explain 1\.18 >= 1"):
        population_model(q, (0.7, 0.7), rho=0.2)
    with pytest.raises(SpecError, match="'Promise' is not a driver"):
        population_model(q, {"Promise": 0.3})
    with pytest.raises(SpecError, match=r"loading=1\.2"):
        population_model(q, loading=1.2)
    with pytest.raises(SpecError, match="gap= needs promise"):
        population_model(q, gap=0.3)
    with pytest.raises(SpecError, match="no weights for sector 'b'"):
        lm.questionnaire(sectors=["a", "b"]).simulate(10, weights={"a": (0.1, 0.1, 0.1)})


def test_surface_variance_and_draws():
    b = congruence_surface(0.2, level=0.3, curvature=0.05)
    rng = np.random.default_rng(4)
    x, y = rng.multivariate_normal([0, 0], [[1, 0.3], [0.3, 1]], size=400_000).T
    mc = np.var(b["b1"] * x + b["b2"] * y + b["b3"] * x**2 + b["b4"] * x * y + b["b5"] * y**2)
    assert surface_variance(b, 0.3) == pytest.approx(mc, rel=0.01)
    data, truth = surface_responses(
        20_000, rng, beliefs=["p"], experience=["e"], loyalty=["l1", "l2"], surface=b, scale=(0, 10), loading=0.9
    )
    assert set(np.unique(data.p)) <= set(range(11)) and truth.parameter.tolist()[-1] == "rho"
    with pytest.raises(SpecError, match="explains"):
        surface_responses(10, rng, beliefs=["p"], experience=["e"], loyalty=["l"], surface=congruence_surface(0.6))
