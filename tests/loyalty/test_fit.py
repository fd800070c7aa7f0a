"""fit_loyalty and its tables on the linear (marginal) form: a modest recovery check against the
generator's truth, reproducibility, the netCDF round trip, the ML comparison, and bad input.

The fits here share one compiled model (module-scoped fixtures, short chains); the claims'
switched-on/off checks and the nonlinear and behaviour forms, which compile for 1-2 minutes each,
are in ``test_loyalty_claims.py`` (slow).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import loyaltymodels as lm
from loyaltymodels.errors import ConvergenceWarning, DataError, SpecError
from loyaltymodels.loyalty.build import make_design

SAMPLER = dict(draws=300, tune=300, chains=2)


def truth_weights(truth: pd.DataFrame) -> pd.DataFrame:
    """The generator's standardized weights as ``sector, driver, truth`` (segments averaged)."""
    t = truth[truth.parameter.isin(["w_beliefs", "w_experience"])]
    t = t.groupby(["sector", "parameter"], as_index=False).value.mean()
    return t.assign(driver=t.parameter.map({"w_beliefs": "Beliefs", "w_experience": "Experience"}))[
        ["sector", "driver", "value"]
    ].rename(columns={"value": "truth"})


@pytest.fixture(scope="module")
def scenario():
    # the recovery scenario of the issue: 4 sectors x 300 respondents, 0-10 items
    return lm.loyalty_scenario(300, sectors=4, seed=11)


@pytest.fixture(scope="module")
def post(scenario):
    data, _ = scenario
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # short chains on purpose
        return lm.fit_loyalty(lm.loyalty_model(), data, sector="sector", seed=3, **SAMPLER)


@pytest.fixture(scope="module")
def weights(post, scenario):
    table = lm.driver_weights(post)
    return table.merge(truth_weights(scenario[1]), on=["sector", "driver"], how="left")


def test_driver_weights_layout(weights):
    assert list(weights.columns[:7]) == ["sector", "driver", "mean", "sd", "ci_lower", "ci_upper", "prob_largest"]
    assert list(dict.fromkeys(weights.sector)) == ["luxury", "retail", "telecom", "banking", "pooled"]
    sums = weights.groupby("sector").prob_largest.sum()
    assert np.allclose(sums, 1.0)


def test_recovery_of_sector_weights(weights):
    w = weights.dropna(subset=["truth"])
    mae = float((w["mean"] - w.truth).abs().mean())
    covered = ((w.ci_lower <= w.truth) & (w.truth <= w.ci_upper)).mean()
    assert mae <= 0.08, f"MAE of standardized weights {mae:.3f}"
    assert covered >= 0.75, f"90% intervals cover {covered:.0%} of the true weights"


def test_largest_driver_identified_where_truth_differs(weights, scenario):
    truth = truth_weights(scenario[1]).pivot(index="sector", columns="driver", values="truth")
    clear = truth[(truth.Beliefs - truth.Experience).abs() >= 0.3 - 1e-9]
    assert len(clear) >= 2  # luxury (0.55 vs 0.20) and banking (0.20 vs 0.50)
    for sector, row in clear.iterrows():
        right = "Beliefs" if row.Beliefs > row.Experience else "Experience"
        got = weights[(weights.sector == sector) & (weights.driver == right)].prob_largest.item()
        assert got > 0.8, f"{sector}: P({right} largest) = {got:.2f}"


def test_satisfied_not_loyal_near_truth(post, scenario):
    table = lm.satisfied_not_loyal(post, split="median").set_index("sector")
    truth = scenario[1].query("parameter == 'satisfied_not_loyal'").set_index("sector").value
    for sector, value in truth.items():
        row = table.loc[sector]
        # the interval, widened by the generator's Monte Carlo error and the short chains
        assert row.ci_lower - 0.03 <= value <= row.ci_upper + 0.03, (sector, value, row.to_dict())
    assert (table["mean"] > 0.2).all()  # claim 5: a sizeable share of satisfied customers is not loyal


def test_invest_where_matches_true_weights(post, scenario):
    # linear model: raising a driver by 1 SD moves loyalty by its standardized weight
    inv = lm.invest_where(post, scale="standardized").query("target == 'loyalty'")
    got = inv.merge(truth_weights(scenario[1]), on=["sector", "driver"])
    assert float((got["mean"] - got.truth).abs().max()) < 0.2
    assert set(inv.columns) >= {"sector", "driver", "target", "mean", "sd", "ci_lower", "ci_upper", "prob_best"}


def test_compare_fits_puts_ml_beside_bayes(post, scenario):
    table = lm.compare_fits(post)
    assert len(table) == 8 and table.ml_est.notna().all()
    got = table.merge(truth_weights(scenario[1]), on=["sector", "driver"])
    assert float((got.ml_est - got.truth).abs().mean()) < 0.1
    # partial pooling: the hierarchical weights spread less across sectors than the ML ones
    assert table.bayes_mean.std() <= table.ml_est.std() + 0.02


def test_same_seed_same_draws_and_input_untouched(post, scenario):
    data, _ = scenario
    before = data.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        again = lm.fit_loyalty(lm.loyalty_model(), data, sector="sector", seed=3, **SAMPLER)
    pd.testing.assert_frame_equal(data, before)
    np.testing.assert_array_equal(again["posterior"]["std_weight"].values, post["posterior"]["std_weight"].values)


def test_cells_travel_as_codes_and_labelled_coords(scenario):
    # the sector and segment columns under the user's own names; the posterior keeps those names,
    # the cells as integer codes and the labels as coords, each respondent's sector and segment
    # equal to the data's
    data, _ = scenario
    data = data.rename(columns={"sector": "secteur d'activité"}).assign(
        anciennete=np.where(np.arange(len(data)) % 3 == 0, "nouveau", "ancien")
    )
    design = make_design(lm.loyalty_model(), data, sector="secteur d'activité", segment="anciennete")
    sectors = list(pd.unique(data["secteur d'activité"]))
    assert list(design.sectors) == sectors and list(design.segments) == ["nouveau", "ancien"]
    code = design.summary.group_labels  # group g of the model is the cell with this code
    np.testing.assert_array_equal(np.asarray(code) // 2, design.cell_sector)
    np.testing.assert_array_equal(np.asarray(code) % 2, design.cell_segment)
    g = design.summary.group - 1
    rows = data.loc[design.summary.index]
    assert (np.asarray(sectors)[design.cell_sector[g]] == rows["secteur d'activité"].to_numpy()).all()
    assert (np.asarray(["nouveau", "ancien"])[design.cell_segment[g]] == rows["anciennete"].to_numpy()).all()


def test_posterior_names_the_user_columns_and_labels_cells(post, scenario):
    data, _ = scenario
    assert post.attrs["group_column"] == "sector" and post.attrs["segment_column"] == ""
    cd = post["constant_data"].dataset
    assert list(cd["sector"].values) == list(pd.unique(data["sector"]))
    assert cd["cell_size"].sum() == len(data) and cd["cell"].dtype.kind == "i"
    obs = post["observed_data"].dataset
    by_row = pd.Series(obs["sector"].values, index=obs["respondent"].values)
    assert (by_row.loc[data.index].to_numpy() == data["sector"].to_numpy()).all()
    assert "|" not in post.attrs["loyalty"]


def test_loyalty_tables_say_their_interval_level(post, scenario):
    _data, _ = scenario
    for name, table in {
        "driver_weights": lm.driver_weights(post),
        "invest_where": lm.invest_where(post),
        "satisfied_not_loyal": lm.satisfied_not_loyal(post),
        "compare_fits": lm.compare_fits(post),
    }.items():
        assert table.attrs.get("ci") == lm.defaults.CI_POSTERIOR, name
    assert lm.driver_weights(post, mass=0.5).attrs["ci"] == 0.5


def test_netcdf_round_trip(post, tmp_path):
    path = tmp_path / "loyalty.nc"
    post.to_netcdf(path)
    back = xr.open_datatree(path)
    pd.testing.assert_frame_equal(lm.driver_weights(back), lm.driver_weights(post))
    pd.testing.assert_frame_equal(lm.satisfied_not_loyal(back), lm.satisfied_not_loyal(post))
    assert "package_versions" in back.attrs and back.attrs["density"] == "kernel"
    # the pointwise log-likelihood is not stored (it grows with the respondents): computed on demand
    assert "log_likelihood" not in back.children
    assert float(lm.loo(back).elpd) == pytest.approx(float(lm.loo(post).elpd))
    # what it takes to redo the fit travels with it
    assert {k: back.attrs[k] for k in ("seed", "draws", "tune", "chains", "target_accept")} == {
        "seed": 3,
        "draws": SAMPLER["draws"],
        "tune": SAMPLER["tune"],
        "chains": SAMPLER["chains"],
        "target_accept": 0.9,
    }


def test_loo_works_on_the_posterior(post):
    from loyaltymodels.bayes.diagnostics import loo

    res = loo(post)
    assert np.isfinite(res.elpd)


def test_short_chains_warn_loudly(scenario):
    with pytest.warns(ConvergenceWarning):
        lm.fit_loyalty(lm.loyalty_model(), scenario[0], sector="sector", seed=1, draws=20, tune=20, chains=2)


def test_plots_return_axes(post, scenario):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = lm.plot_driver_weights(post, truth=scenario[1])
    assert len(ax.get_yticklabels()) == 5
    plt.close("all")


def test_tables_of_claims_not_fitted_say_so(post):
    with pytest.raises(SpecError, match="interaction=True"):
        lm.balance_effects(post)
    with pytest.raises(SpecError, match="outcomes="):
        lm.outcome_effects(post)
    with pytest.raises(SpecError, match="interaction=True"):
        lm.plot_balance(post)


# -- bad input: clear errors before any sampling ----------------------------------------------------
@pytest.fixture(scope="module")
def small():
    data, _ = lm.loyalty_scenario(
        {"retail": 200, "banking": 12}, sectors=["retail", "banking"], outcomes={"churn": -1.0}, seed=5
    )
    return data


def test_sector_with_too_few_respondents(small):
    with pytest.raises(DataError, match=r"sector 'banking' has 12 respondent\(s\)"):
        lm.fit_loyalty(lm.loyalty_model(), small, sector="sector")


def test_behaviour_column_not_binary(small):
    bad = small.assign(churn=small.churn.astype(float))
    bad.loc[3, "churn"] = 0.5
    with pytest.raises(DataError, match=r"'churn'.*row 3"):
        lm.fit_loyalty(lm.loyalty_model(), bad, min_size=10, outcomes={"churn": "churn"})
    with pytest.raises(DataError, match="must be 0/1"):
        lm.fit_loyalty(
            lm.loyalty_model(),
            small.assign(churn=small.churn * 2),
            min_size=10,
            outcomes={"churn": ("churn", "binary")},
        )


def test_outcome_latent_not_in_model(small):
    with pytest.raises(SpecError, match="'Trust', which is not a latent variable"):
        lm.fit_loyalty(lm.loyalty_model(), small, min_size=10, outcomes={"churn": ("churn", "Trust")})


def test_missing_columns_are_named(small):
    with pytest.raises(DataError, match=r"no sector column 'Sector'.*did you mean 'sector'"):
        lm.fit_loyalty(lm.loyalty_model(), small, sector="Sector")
    with pytest.raises(DataError, match="no column 'churned'"):
        lm.fit_loyalty(lm.loyalty_model(), small, min_size=10, outcomes={"churn": "churned"})


def test_model_without_loyalty_regression(small):
    with pytest.raises(SpecError, match="no loyalty regression"):
        lm.fit_loyalty("Beliefs =~ bel1 + bel2 + bel3\nLoyalty =~ loy1 + loy2 + loy3", small, min_size=10)


def test_not_a_loyalty_posterior():
    with pytest.raises(DataError, match="fit_loyalty"):
        lm.driver_weights(xr.DataTree())


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"draws": 0}, "draws=0"),
        ({"chains": -2}, "chains=-2"),
        ({"tune": -1}, "tune=-1"),
        ({"draws": 300.0}, "draws=300.0"),  # refused, not truncated
        ({"cores": 0}, "cores=0"),
        ({"seed": -1}, "seed=-1"),
        ({"target_accept": 0}, "target_accept=0"),  # was silently replaced by the default 0.9
        ({"target_accept": 1.2}, "target_accept=1.2"),
    ],
)
def test_sampler_settings_refused_before_the_model_is_built(small, settings, named):
    with pytest.raises(lm.ArgumentError, match=named):
        lm.fit_loyalty(lm.loyalty_model(), small, min_size=10, **settings)
