"""The latent forms' pointwise log-likelihood, computed when asked (loyalty/loglik.py), not by the fit.

The posterior rebuilds its own design from its attributes and ``observed_data``; the reference is
the design built from the user's data frame as the fit built it (other column names, sector labels
and order), so these tests fail if the rebuild mixes up cells, respondents or outcome codes.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import loyaltymodels as lm
from loyaltymodels.bayes.draws import model_spec, row_draws
from loyaltymodels.errors import ConvergenceWarning
from loyaltymodels.loyalty import loglik
from loyaltymodels.loyalty.build import make_design


@pytest.fixture(scope="module")
def fitted():
    data, _ = lm.loyalty_scenario(
        {"retail": 150, "banking": 120},
        sectors=["retail", "banking"],
        interaction=0.2,
        outcomes={"churn": -1.0},
        seed=31,
    )
    data = data.rename(columns={"sector": "région"}).sample(frac=1.0, random_state=3)  # not in cell order
    data.index = [f"r{i}" for i in range(len(data))]
    data.loc[data.index[:15], "churn"] = np.nan  # outcomes missing for some
    kw = dict(sector="région", interaction=True, outcomes={"churn": "churn"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        post = lm.fit_loyalty(lm.loyalty_model(), data, draws=60, tune=150, chains=2, seed=4, **kw)
    return post, data, kw


@pytest.fixture(scope="module")
def whole(fitted):
    """The posterior with its log-likelihood computed once, as ``add_log_likelihood`` gives it."""
    return lm.add_log_likelihood(fitted[0])


def _reference(post, data, kw):
    """The log-likelihood by the design the fit built from the user's frame (by label)."""
    design = make_design(lm.loyalty_model(), data, **kw)
    rows = row_draws(post, model_spec(post))
    ll = loglik.loglik_draws(design, rows, post["posterior"].dataset)
    return pd.DataFrame(ll, columns=np.asarray(design.summary.index))


def test_the_fit_stores_no_pointwise_array_and_records_the_hook(fitted):
    post, _, _ = fitted
    assert "log_likelihood" not in post.children
    assert post.attrs["likelihood_form"] == "scores"
    assert post.attrs["log_likelihood_by"] == loglik.HOOK
    assert "outcome_value" in post["observed_data"].dataset


def test_computed_on_demand_equals_the_design_built_from_the_users_data(fitted, whole):
    post, data, kw = fitted
    full = whole["log_likelihood"].dataset["y"]
    got = full.stack(s=("chain", "draw")).transpose("s", "respondent").to_pandas()
    ref = _reference(post, data, kw)[got.columns]
    assert np.isfinite(got.to_numpy()).all()
    np.testing.assert_allclose(got.to_numpy(), ref.to_numpy(), rtol=1e-12, atol=1e-10)


def test_blocks_equal_the_whole_and_loo_matches(fitted, whole, monkeypatch):
    post, _, _ = fitted
    full = whole["log_likelihood"].dataset["y"]
    part, part_labels = loglik.log_likelihood_block(post, slice(40, 97))
    np.testing.assert_array_equal(part, full.to_numpy().reshape(-1, full.sizes["respondent"])[:, 40:97])
    assert list(part_labels) == list(full["respondent"].values[40:97])
    one = lm.loo(whole)  # the stored array
    from loyaltymodels.bayes import diagnostics

    monkeypatch.setattr(diagnostics, "LOO_BLOCK", 12_000)  # 100 respondents per block: 3 blocks
    blocks = lm.loo(post)
    assert np.isfinite(one.elpd)
    assert blocks.elpd == pytest.approx(one.elpd, rel=1e-9)


def test_float32_on_request(fitted):
    post, _, _ = fitted
    ll64, _ = loglik.log_likelihood_block(post, slice(0, 30))
    ll32, _ = loglik.log_likelihood_block(post, slice(0, 30), dtype=np.float32)
    assert ll32.dtype == np.float32
    np.testing.assert_allclose(ll32, ll64, rtol=1e-6)


def test_saved_and_loaded_posterior_gives_the_same_numbers(fitted, tmp_path):
    post, _, _ = fitted
    path = tmp_path / "post.nc"
    post.to_netcdf(path)
    back = xr.open_datatree(path)
    a, _ = loglik.log_likelihood_block(post, slice(0, 50))
    b, _ = loglik.log_likelihood_block(back, slice(0, 50))
    np.testing.assert_array_equal(a, b)


def test_quasi_monte_carlo_error_is_small(fitted, monkeypatch):
    """32 fixed points of the drivers' scores against 1,024: the integral the LOO needs."""
    post, _, _ = fitted
    thin = post.isel(draw=slice(0, 3))
    few, _ = loglik.log_likelihood_block(thin)
    monkeypatch.setattr(loglik, "SCORE_POINTS", 1024)
    many, _ = loglik.log_likelihood_block(thin)
    err = np.abs(few - many)
    print(f"\nQMC 32 vs 1024 points: largest |diff| {err.max():.2e}, mean {err.mean():.2e}")
    assert err.max() < 0.05 and err.mean() < 0.01


def test_short_scale_items_fitted_as_continuous_rebuild_as_continuous(fitted):
    """A latent-form fit of 1-5 items with ordinal=None must not rebuild as ordinal (the default)."""
    post, _, _ = fitted
    likert = post.copy()
    y = likert["observed_data"].dataset["y"]
    z = (y - y.mean("respondent")) / y.std("respondent")
    likert["observed_data"] = likert["observed_data"].dataset.assign(y=(3 + 1.2 * z).round().clip(1, 5))
    design, _, _ = loglik.design_of(likert)
    assert design.form == "scores" and not design.summary.ordinal


def test_an_edited_hook_is_refused(fitted):
    post, _, _ = fitted
    bad = post.copy()
    bad.attrs["log_likelihood_by"] = "os:system"
    with pytest.raises(lm.errors.DataError, match="log_likelihood_by"):
        lm.add_log_likelihood(bad)
