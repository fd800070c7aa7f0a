"""fit_bayes end to end: output layout, reproducibility, cache, sign trap, round trip, multigroup.

Fast tests keep draws few and models small; the checks against lavaan's published estimates and
the agreement of likelihood forms are marked slow.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import loyaltymodels as lm
from loyaltymodels.datasets import HS_MODEL, POLDEM_MODEL
from loyaltymodels.spec.provenance import spec_from_attrs

SMALL = "f =~ x1 + x2 + x3 + x4"


@pytest.fixture(scope="module")
def hs_compiled(hs):
    return lm.compile_model(HS_MODEL, hs)


@pytest.fixture(scope="module")
def small_post():
    data, _ = lm.simulate("f =~ 0.8*x1 + 0.7*x2 + 0.6*x3 + 0.5*x4", n=150, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lm.fit_bayes(
            SMALL,
            data,
            seed=1,
            draws=150,
            tune=150,
            chains=2,
            cores=1,
            sampler="pymc",
            progressbar=False,
            posterior_predictive=True,
            prior_predictive=True,
        )


def test_same_seed_same_draws_and_cache(hs_compiled, hs):
    a = lm.fit_compiled(hs_compiled, draws=100, tune=100, chains=2, seed=7)
    again = lm.compile_model(HS_MODEL, hs)  # same structure: served from the cache
    assert again.compile_seconds == 0.0 and again.sampler == "nutpie"
    b = lm.fit_compiled(again, draws=100, tune=100, chains=2, seed=7)
    xr.testing.assert_identical(a["posterior"].to_dataset(), b["posterior"].to_dataset())
    c = lm.fit_compiled(again, draws=100, tune=100, chains=2, seed=8)
    assert not np.array_equal(a["posterior"]["param"].values, c["posterior"]["param"].values)


def test_no_chain_falls_into_the_sign_trap(hs_compiled):
    """docs/findings.md: with default starts 1-4 of 4 chains were trapped in a flipped-factor mode."""
    post = lm.fit_compiled(hs_compiled, draws=300, tune=300, chains=4, seed=3)
    p = post["posterior"]["param"]
    loadings = p.where(p.op == "=~", drop=True).median("draw")
    lv_var = p.sel(parameter=["visual~~visual", "textual~~textual", "speed~~speed"]).median("draw")
    assert float(loadings.min()) > 0.2 and float(loadings.max()) < 3  # lavaan: 0.55 to 1.18
    assert float(lv_var.min()) > 0.15  # lavaan: 0.38 to 0.98


def test_fit_compiled_new_data_and_wrong_structure(hs_compiled, hs):
    boot = hs.sample(len(hs), replace=True, random_state=1).reset_index(drop=True)
    post = lm.fit_compiled(hs_compiled, boot, draws=50, tune=100, chains=1, seed=1)
    assert post["observed_data"]["y"].shape == (301, 9)
    np.testing.assert_allclose(post["observed_data"]["y"].values, boot[[f"x{i}" for i in range(1, 10)]].values)
    with pytest.raises(lm.DataError, match="structure"):
        lm.fit_compiled(hs_compiled, hs.iloc[:100].assign(x1=np.where(np.arange(100) < 3, np.nan, hs.x1[:100])))


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"draws": 0}, "draws=0"),
        ({"chains": 0}, "chains=0"),
        ({"tune": -1}, "tune=-1"),
        ({"draws": 10.0}, "draws=10.0"),  # refused, not truncated
        ({"cores": 0}, "cores=0"),
        ({"seed": -1}, "seed=-1"),
        ({"target_accept": 1.5}, "target_accept=1.5"),
    ],
)
def test_sampler_settings_are_refused_by_name_before_compiling(hs_compiled, hs, monkeypatch, settings, named):
    # numpy's reshape error, xarray's KeyError 'chain', an OverflowError or a TypeError, before
    with pytest.raises(lm.ArgumentError, match=named):
        lm.fit_compiled(hs_compiled, **settings)
    import loyaltymodels.bayes.fit as bayes_fit

    def never(*args, **kwargs):
        raise AssertionError("compiled before the sampler settings were checked")

    monkeypatch.setattr(bayes_fit, "compile_model", never)
    with pytest.raises(lm.ArgumentError, match=named):
        lm.fit_bayes(HS_MODEL, hs, **settings)


def test_sampler_and_density_names_are_arguments(hs):
    with pytest.raises(lm.ArgumentError, match="sampler='stan': choose one of"):
        lm.compile_model(HS_MODEL, hs, sampler="stan")
    with pytest.raises(lm.ArgumentError, match="density='numba': choose one of"):
        lm.compile_model(HS_MODEL, hs, density="numba")


def test_layout_contract(small_post):
    post = small_post
    assert set(post.children) >= {
        "posterior",
        "sample_stats",
        "observed_data",
        "posterior_predictive",
        "prior",
        "prior_predictive",
    }
    # the pointwise log-likelihood grows with the respondents: not stored, computed when asked
    assert "log_likelihood" not in post.children
    param = post["posterior"]["param"]
    assert param.dims == ("chain", "draw", "parameter")
    assert list(param.parameter.values[:4]) == ["f=~x1", "f=~x2", "f=~x3", "f=~x4"]
    assert {"lhs", "op", "rhs", "group"} <= set(param.coords)
    assert post["posterior"]["std_all"].dims == param.dims
    assert float(param.sel(parameter="f=~x1").std()) == 0.0  # fixed marker
    assert lm.add_log_likelihood(post)["log_likelihood"]["y"].dims == ("chain", "draw", "respondent")
    assert post["observed_data"]["y"].dims == ("respondent", "item")
    assert post["posterior_predictive"]["y"].dims == ("chain", "draw", "respondent", "item")
    for name in ("diverging", "energy", "tree_depth", "step_size", "lp"):
        assert name in post["sample_stats"]
    dims = {d for node in post.subtree for d in node.dims}
    assert not any(d.endswith("_dim_0") for d in dims)
    assert spec_from_attrs(post.attrs).table.equals(lm.parse_model(SMALL, meanstructure=True).table)
    assert "pymc" in post.attrs["package_versions"] and post.attrs["missing"] == "fiml"


def test_summary_merges_with_the_parameter_table(small_post):
    s = lm.bayes_summary(small_post)
    for col in (
        "mean",
        "sd",
        "median",
        "ci_lower",
        "ci_upper",
        "r_hat",
        "ess_bulk",
        "ess_tail",
        "std_all_mean",
        "std_all_ci_lower",
        "std_all_ci_upper",
    ):
        assert col in s
    assert s.attrs["ci"] == lm.defaults.CI_POSTERIOR == 0.9
    table = lm.parse_model(SMALL, meanstructure=True).partable
    merged = table.merge(s, on=["lhs", "op", "rhs", "group"], how="left", validate="1:1")
    assert merged["mean"].notna().all()
    free = s[s.free]
    assert (free.ci_lower < free["median"]).all() and (free["median"] < free.ci_upper).all()
    assert free.r_hat.notna().all()


def test_netcdf_round_trip(small_post, tmp_path):
    path = tmp_path / "post.nc"
    small_post.to_netcdf(path)
    back = lm.load_posterior(path)
    assert set(back.children) == set(small_post.children)
    for name in small_post.children:
        xr.testing.assert_identical(back[name].to_dataset(), small_post[name].to_dataset())
    assert back.attrs == small_post.attrs
    pd.testing.assert_frame_equal(lm.bayes_summary(back), lm.bayes_summary(small_post))


def test_load_posterior_names_files_it_cannot_read(small_post, tmp_path):
    # h5py's OSError ("file signature not found", "unable to open file") named no fix, before
    with pytest.raises(lm.DataError, match=r"no saved posterior at '.*gone.nc'; check the path"):
        lm.load_posterior(tmp_path / "gone.nc")
    (tmp_path / "fit.json").write_text('{"format": "loyaltymodels.SemFit"}')
    with pytest.raises(lm.DataError, match=r"'.*fit.json' is not a saved posterior: the file is not a netCDF-4"):
        lm.load_posterior(tmp_path / "fit.json")
    small_post.to_netcdf(tmp_path / "post.nc")
    whole = (tmp_path / "post.nc").read_bytes()
    (tmp_path / "cut.nc").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(lm.DataError, match=r"'.*cut.nc' could not be read as a saved posterior"):
        lm.load_posterior(tmp_path / "cut.nc")
    xr.DataTree(xr.Dataset({"a": ("x", np.arange(3.0))})).to_netcdf(tmp_path / "other.nc")
    with pytest.raises(lm.DataError, match=r"'.*other.nc' is a netCDF file but not a posterior"):
        lm.load_posterior(tmp_path / "other.nc")


def test_multigroup_missing_defined_and_equal_labels():
    model = "f =~ x1 + a*x2 + x3\nf ~~ x4\nd := 2*a"
    data, _ = lm.simulate("f =~ 0.8*x1 + 0.7*x2 + 0.6*x3\nf ~~ 0.3*x4", n=[90, 70], seed=4)
    data = data.mask(np.random.default_rng(0).random(data.shape) < 0.05).assign(group=data["group"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        post = lm.fit_bayes(
            model,
            data,
            group="group",
            group_equal=("loadings",),
            seed=2,
            draws=100,
            tune=150,
            chains=1,
            progressbar=False,
        )
    p = post["posterior"]["param"]
    np.testing.assert_array_equal(p.sel(parameter="f=~x3").values, p.sel(parameter="f=~x3.g2").values)
    np.testing.assert_allclose(p.sel(parameter="d").values, 2 * p.sel(parameter="f=~x2").values)
    assert set(np.unique(post["observed_data"]["group"].values)) == {1, 2}
    assert np.isnan(post["observed_data"]["y"].values).any()
    assert np.isfinite(lm.add_log_likelihood(post)["log_likelihood"]["y"].values).all()


def test_nutpie_failure_falls_back_to_pymc(monkeypatch):
    import nutpie

    from loyaltymodels.bayes.sampling import SamplerWarning

    def broken(*args, **kwargs):
        raise RuntimeError("no compiler")

    monkeypatch.setattr(nutpie, "compile_pymc_model", broken)
    data, _ = lm.simulate("f =~ 0.8*x1 + 0.7*x2 + 0.6*x3 + 0.5*x4", n=150, seed=3)
    with pytest.warns(SamplerWarning, match="PyMC"):  # the graph path (the kernel compiles nothing)
        compiled = lm.compile_model(SMALL, data, cache=False, density="pytensor")
    assert compiled.sampler == "pymc"


@pytest.mark.slow
def test_holzinger_swineford_against_lavaan(hs_compiled):
    # lavaan tutorial (cfa(HS.model, data = HolzingerSwineford1939)): estimate (standard error)
    ref = {
        "visual=~x2": (0.554, 0.100),
        "visual=~x3": (0.729, 0.109),
        "textual=~x5": (1.113, 0.065),
        "textual=~x6": (0.926, 0.055),
        "speed=~x8": (1.180, 0.165),
        "speed=~x9": (1.082, 0.151),
        "visual~~visual": (0.809, 0.145),
        "textual~~textual": (0.979, 0.112),
        "speed~~speed": (0.384, 0.086),
        "visual~~textual": (0.408, 0.074),
        "visual~~speed": (0.262, 0.056),
        "textual~~speed": (0.173, 0.049),
        "x1~~x1": (0.549, 0.114),
    }
    post = lm.fit_compiled(hs_compiled, seed=2026)
    _against(post, ref)


@pytest.mark.slow
def test_political_democracy_against_lavaan(poldem):
    # lavaan tutorial (sem(model, data = PoliticalDemocracy)); semopy's pd_lavaan_params.csv agrees
    ref = {
        "dem60~ind60": (1.483, 0.399),
        "dem65~ind60": (0.572, 0.221),
        "dem65~dem60": (0.837, 0.098),
        "ind60=~x2": (2.180, 0.139),
        "ind60=~x3": (1.819, 0.152),
    }
    post = lm.fit_bayes(POLDEM_MODEL, poldem, seed=2026, progressbar=False)
    _against(post, ref)


def _against(post, ref):
    s = lm.bayes_summary(post).set_index("name")
    dev_median = {k: abs(s.loc[k, "median"] - v) / se for k, (v, se) in ref.items()}
    dev_mean = {k: abs(s.loc[k, "mean"] - v) / se for k, (v, se) in ref.items()}
    assert max(dev_median.values()) < 0.5, dev_median
    assert max(dev_mean.values()) < 0.8, dev_mean
    assert s.loc[s.free, "r_hat"].max() <= 1.01


@pytest.mark.slow
def test_marginal_and_conditional_forms_agree():
    data, _ = lm.simulate("f =~ 0.8*x1 + 0.7*x2 + 0.6*x3 + 0.7*x4", n=200, seed=21)
    posts = [
        lm.fit_bayes(SMALL, data, form=f, seed=5, draws=2000, progressbar=False) for f in ("marginal", "conditional")
    ]
    s = [lm.bayes_summary(p).set_index("name") for p in posts]
    free = s[0].index[s[0].free]
    gap = (s[0].loc[free, "mean"] - s[1].loc[free, "mean"]).abs() / s[0].loc[free, "sd"]
    assert gap.max() < 0.15, gap.sort_values().tail()


@pytest.mark.slow
def test_ordinal_parameter_recovery():
    model = "f =~ 0.8*u1 + 0.7*u2 + 0.6*u3 + 0.7*u4 + 0.8*u5"
    data, truth = lm.simulate(model, n=500, seed=8, scale=(1, 5))
    post = lm.fit_bayes("f =~ u1 + u2 + u3 + u4 + u5", data, ordinal="auto", std_lv=True, seed=3, progressbar=False)
    s = lm.bayes_summary(post)
    assert s.loc[s.free, "r_hat"].max() <= 1.01
    # simulate(): y* = l f + e with var(f) = var(e) = 1, i.e. the theta parameterisation itself,
    # cut at thresholds given on the z scale of y* (sd sqrt(1 + l^2))
    est = s.set_index(["lhs", "op", "rhs"])
    inside, z = [], []
    for item, lam in zip(["u1", "u2", "u3", "u4", "u5"], [0.8, 0.7, 0.6, 0.7, 0.8]):
        row = est.loc[("f", "=~", item)]
        assert row.ci_lower - 0.05 < lam < row.ci_upper + 0.05
        inside.append(row.ci_lower < lam < row.ci_upper)
        z.append((row["mean"] - lam) / row.sd)
        for k, tau_z in enumerate(truth[(truth.op == "|") & (truth.lhs == item)].value, start=1):
            row = est.loc[(item, "|", f"t{k}")]
            tau = tau_z * np.sqrt(1 + lam**2)
            assert row.ci_lower - 0.1 < tau < row.ci_upper + 0.1
            inside.append(row.ci_lower < tau < row.ci_upper)
            z.append((row["mean"] - tau) / row.sd)
    # the slack above is per parameter (25 of them: all inside their 90% intervals would happen
    # only 7% of the time); taken together, the intervals must cover as 90% intervals do: >= 19
    # of 25 inside (binomial, P(<= 18) = 0.9%), and the mean |z| near E|N(0,1)| = 0.80 (< 0.80 +
    # 3 standard errors = 1.16)
    assert sum(inside) >= 19, sum(inside)
    assert np.mean(np.abs(z)) < 1.16, np.mean(np.abs(z))
    assert "eta" in post["posterior"] and post["posterior"]["eta"].dims[-2:] == ("respondent", "factor")
