"""power_analysis and fit_many on Dask: same answers whatever the number of workers, a stopped run
resumes to exactly the uninterrupted result, a store never mixes two questions, power rises with n,
and (slow) the false-positive rate at effect 0 is the nominal 5%."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest
from scipy import stats

import loyaltymodels as lm
from loyaltymodels.errors import StoreError

matplotlib.use("Agg")

WEIGHTS = {"retail": (0.55, 0.15), "banking": (0.35, 0.35)}
SCENARIO = lm.loyalty_power_scenario(weights=WEIGHTS)
TARGETS = [lm.weights_differ("retail"), lm.weights_differ("banking")]
RUN = dict(n=[60, 150], reps=6, seed=2026, target=TARGETS, progress=False)
VOLATILE = ["elapsed", "setup", "worker"]  # timing and placement: the only columns allowed to differ


@pytest.fixture(scope="module")
def reference(client, tmp_path_factory):
    """The uninterrupted run on two workers."""
    return lm.power_analysis(SCENARIO, client=client, batch_size=2, store=tmp_path_factory.mktemp("ref"), **RUN)


def _records(result: pd.DataFrame) -> pd.DataFrame:
    return lm.read_power_records(result.attrs["store"])


def _stable(result: pd.DataFrame) -> pd.DataFrame:
    return _records(result).drop(columns=VOLATILE)


def test_result_table(reference):
    tab = reference.query("kind == 'target'")
    assert list(tab.n_per_sector) == [60, 150, 60, 150]
    assert (tab.reps == 6).all() and (tab.n_failed == 0).all()
    assert (tab.power_lower <= tab.power).all() and (tab.power <= tab.power_upper).all()
    params = reference.query("kind == 'parameter'")
    assert set(params.quantity) == {f"Loyalty~{f}[{s}] std_all" for f in ("Beliefs", "Experience") for s in WEIGHTS}
    assert params.set_index(["quantity", "n_per_sector"]).truth.loc["Loyalty~Beliefs[retail] std_all"].eq(0.55).all()
    assert reference.attrs["complete"] and reference.attrs["seed"] == 2026
    assert pd.concat([reference, reference]).shape == (2 * len(reference), reference.shape[1])


def test_model_set_up_once_per_worker(reference):
    rec = _records(reference)
    per_rep = rec.drop_duplicates(["n", "rep"])
    assert per_rep.worker.nunique() == 2  # both workers did replications...
    assert per_rep.groupby("worker").setup.sum().max() == 1  # ...and parsed the model once each


def test_one_worker_gives_the_same_result(reference, tmp_path):
    # the default path: a local cluster created (one worker) and closed by power_analysis
    one = lm.power_analysis(SCENARIO, n_workers=1, batch_size=5, store=tmp_path, **RUN)
    pd.testing.assert_frame_equal(_stable(one), _stable(reference))
    pd.testing.assert_frame_equal(one, reference)


def test_stopped_run_resumes_to_the_uninterrupted_result(client, reference, tmp_path):
    store = tmp_path / "study"
    part = lm.power_analysis(SCENARIO, client=client, store=store, batch_size=2, stop_after=2, **RUN)
    assert not part.attrs["complete"] and 2 <= len(_records(part)) < len(_records(reference))
    assert len(list(store.glob("part-*.parquet"))) >= 2 and (store / "_manifest.json").exists()
    (store / "part-junk.parquet.tmp").write_bytes(b"half a file")  # as a kill during a write leaves
    full = lm.power_analysis(SCENARIO, client=client, store=store, batch_size=3, **RUN)
    assert full.attrs["complete"] and not list(store.glob("*.tmp"))
    pd.testing.assert_frame_equal(_stable(full), _stable(reference))
    pd.testing.assert_frame_equal(full, reference)
    # a rerun recomputes nothing; more replications only add the missing ones
    before = {f.name for f in store.glob("part-*.parquet")}
    assert lm.power_analysis(SCENARIO, client=client, store=store, **RUN).equals(full)
    assert {f.name for f in store.glob("part-*.parquet")} == before
    more = lm.power_analysis(SCENARIO, client=client, store=store, **{**RUN, "reps": 8})
    old = _records(more).query("rep < 6").reset_index(drop=True)
    pd.testing.assert_frame_equal(old.drop(columns=VOLATILE), _stable(reference))
    assert lm.read_power_records(store).rep.max() == 7


def test_interrupted_run_resumes(client, reference, tmp_path, monkeypatch):
    # a KeyboardInterrupt while the third batch is being stored (as Ctrl-C or a kill would do)
    import loyaltymodels.power.analysis as power

    calls = []

    def flaky(path, frame):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return power_store_append(path, frame)

    power_store_append = power.append
    monkeypatch.setattr(power, "append", flaky)
    with pytest.raises(KeyboardInterrupt):
        lm.power_analysis(SCENARIO, client=client, store=tmp_path, batch_size=1, **RUN)
    monkeypatch.setattr(power, "append", power_store_append)
    assert len(lm.read_power_records(tmp_path).drop_duplicates(["n", "rep"])) == 2
    full = lm.power_analysis(SCENARIO, client=client, store=tmp_path, **RUN)
    pd.testing.assert_frame_equal(_stable(full), _stable(reference))


def _two_factor_data(n, rng):
    """A user's own generator: (n, rng) -> (data, truth), the model named in truth.attrs."""
    data, truth = lm.simulate("f =~ 0.8*x1 + 0.7*x2 + 0.6*x3; y ~ 0.25*f", n=n, seed=rng)
    truth.attrs["model"] = "f =~ x1 + x2 + x3; y ~ f"
    return data, truth


def _y_on_f_positive(fit, truth):
    row = fit.parameters.query("op == '~'").iloc[0]
    return bool(row.est > 0 and row.pvalue < 0.05)


def test_callable_scenario_and_custom_target(client):
    res = lm.power_analysis(
        _two_factor_data,
        client=client,
        n=[50, 400],
        reps=8,
        seed=3,
        progress=True,
        target=[_y_on_f_positive, lm.parameter_nonzero("y", "~", "f")],
    )
    tab = res.query("kind == 'target'").set_index(["quantity", "n"])
    # the same test two ways: a custom callable and the ready-made target agree replication by replication
    assert tab.loc["_y_on_f_positive", "n_detected"].tolist() == tab.loc["y~f", "n_detected"].tolist()
    assert tab.loc[("y~f", 400), "power"] > tab.loc[("y~f", 50), "power"]
    assert tab.loc[("y~f", 400), "truth"] == pytest.approx(0.25 / 0.8)  # marker scale: b / lambda_1
    assert list(res.columns[:3]) == ["kind", "quantity", "n"]


def _two_samples(n, rng):
    """Two groups of n, means 0 and 0.3: no model to fit, the target reads the data."""
    data = pd.DataFrame({"g": np.repeat([0, 1], n), "x": rng.normal(0, 1, 2 * n) + np.repeat([0.0, 0.3], n)})
    return data, pd.DataFrame({"parameter": ["difference"], "value": [0.3]})


def _t_test(data, truth):
    return bool(stats.ttest_ind(data.x[data.g == 1], data.x[data.g == 0]).pvalue < 0.05)


def test_estimator_none_hands_the_data_to_the_target(client):
    res = lm.power_analysis(
        _two_samples, n=[100, 200], reps=400, estimator="none", target=_t_test, seed=1, client=client, progress=False
    )
    power = res.set_index("n").power
    for n in (100, 200):  # the t test's exact power, written out here
        df, ncp = 2 * n - 2, 0.3 * np.sqrt(n / 2)
        exact = stats.nct.sf(stats.t.ppf(0.975, df), df, ncp) + stats.nct.cdf(-stats.t.ppf(0.975, df), df, ncp)
        assert abs(power[n] - exact) < 3.3 * np.sqrt(exact * (1 - exact) / 400)
    assert res.attrs["estimator"] == "none" and res.attrs["batch_size"] > 20  # cheap replications: big tasks


def test_batches_sized_by_time_give_the_same_records(client, reference, tmp_path):
    auto = lm.power_analysis(SCENARIO, client=client, store=tmp_path / "auto", **RUN)
    assert auto.attrs["batch_size"] is not None
    pd.testing.assert_frame_equal(_stable(auto), _stable(reference))
    assert reference.attrs["batch_size"] == 2  # as asked


def test_store_refuses_another_question(client, reference, tmp_path):
    store = tmp_path / "study"
    lm.power_analysis(SCENARIO, client=client, store=store, **{**RUN, "n": [60], "reps": 1})
    with pytest.raises(StoreError, match='\'seed_entropy\' differs, at seed_entropy: stored "2026", asked "1"'):
        lm.power_analysis(SCENARIO, client=client, store=store, **{**RUN, "n": [60], "seed": 1})
    with pytest.raises(StoreError, match="'targets' differs"):
        lm.power_analysis(SCENARIO, client=client, store=store, **{**RUN, "n": [60], "target": TARGETS[:1]})
    other = lm.loyalty_power_scenario(weights={**WEIGHTS, "retail": (0.5, 0.2)})
    with pytest.raises(
        StoreError,
        match=r"'scenario' differs, at scenario.kwargs.weights.retail: stored \[0.55, 0.15\], asked \[0.5, 0.2\]",
    ):
        lm.power_analysis(other, client=client, store=store, **{**RUN, "n": [60]})


def test_power_rises_with_n(client):
    sc = lm.loyalty_power_scenario(weights={"retail": (0.6, 0.1)}, scale=None)
    res = lm.power_analysis(sc, client=client, n=[40, 300], reps=12, seed=5, target=lm.weights_differ(), progress=False)
    power = res.query("kind == 'target'").set_index("n_per_sector").power
    assert power[40] < 0.8 <= power[300]


def test_failures_are_counted_not_dropped(client):
    # n = 6 per sector: too few respondents for 60 parameters; every failure shows in the table
    res = lm.power_analysis(SCENARIO, client=client, n=[6, 150], reps=3, seed=1, target=TARGETS[0], progress=False)
    tab = res.query("kind == 'target'").set_index("n_per_sector")
    assert tab.loc[6, "n_failed"] == 3 and tab.loc[6, "failure"] != "" and np.isnan(tab.loc[6, "power"])
    assert tab.loc[6, "power_all"] == 0 and tab.loc[150, "n_failed"] == 0
    with pytest.raises(RuntimeError, match="every replication failed"):
        lm.power_analysis(SCENARIO, client=client, n=[6], reps=2, seed=1, target=TARGETS[0], progress=False)


def test_plot_power(reference):
    fig = lm.plot_power(reference, nominal=0.05)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [t.name for t in TARGETS]
    assert ax.get_xlabel() == "n per sector"


def test_fit_many_matches_separate_fits(client):
    data, truth = lm.loyalty_scenario(120, weights=WEIGHTS, seed=4)
    model = truth.attrs["model"]
    broken = data[data.sector == "retail"].drop(columns="sector").assign(bel1=1.0)
    table = lm.fit_many(
        model,
        {**{s: g.drop(columns="sector") for s, g in data.groupby("sector", sort=False)}, "broken": broken},
        client=client,
        progress=False,
    )
    assert list(table.dataset.unique()) == ["retail", "banking", "broken"]
    direct = lm.fit_sem(model, data[data.sector == "retail"])
    got = table.query("dataset == 'retail'").reset_index(drop=True)
    np.testing.assert_allclose(got.est, direct.parameters.est, rtol=1e-10)
    failed = table.query("dataset == 'broken'")
    assert len(failed) == 1 and not failed.converged.item() and "bel1" in failed.error.item()
    measures = table.drop_duplicates("dataset").set_index("dataset")
    assert measures.loc["retail", "fit_chisq"] == pytest.approx(direct.fit_measures["chisq"])
    assert measures.loc["retail", "nobs"] == 120 and measures.loc["retail", "fit_df"] == direct.fit_measures["df"]
    assert not measures.loc["broken", "converged"]
    by = lm.fit_many(model, data, by="sector", client=client, progress=False)
    same = table.query("dataset != 'broken'")[by.columns].reset_index(drop=True)
    pd.testing.assert_frame_equal(by.drop(columns="seconds"), same.drop(columns="seconds"), check_dtype=False)


@pytest.mark.slow
def test_false_positive_rate_at_effect_zero_is_nominal(client):
    # equal weights in both sectors: every detection is a false positive
    sc = lm.loyalty_power_scenario(weights={"retail": (0.35, 0.35), "banking": (0.3, 0.3)})
    res = lm.power_analysis(sc, client=client, n=[200], reps=1000, seed=7, target=TARGETS, progress=False)
    tab = res.query("kind == 'target'")
    assert (tab.n_failed == 0).all()
    for row in tab.itertuples():
        assert row.power_lower <= 0.05 <= row.power_upper, row


@pytest.mark.slow
def test_bayes_power_reuses_one_compiled_model(client, tmp_path):
    sc = lm.loyalty_power_scenario(weights={"retail": (0.6, 0.1)}, scale=None)
    res = lm.power_analysis(
        sc,
        client=client,
        n=[150],
        reps=4,
        seed=3,
        estimator="bayes",
        target=lm.weights_differ(),
        fit_options={"draws": 400, "tune": 400, "chains": 2},
        progress=False,
        store=tmp_path,
    )
    rec = _records(res).drop_duplicates(["n", "rep"])
    assert rec.groupby("worker").setup.sum().max() == 1 and rec.converged.all()
    assert res.query("kind == 'target'").power.item() >= 0.75


@pytest.mark.slow
def test_fit_many_bayes(client):
    data, truth = lm.loyalty_scenario(150, weights=WEIGHTS, scale=None, seed=4)
    table = lm.fit_many(
        truth.attrs["model"],
        data,
        by="sector",
        estimator="bayes",
        client=client,
        seed=1,
        draws=500,
        tune=500,
        chains=2,
        progress=False,
    )
    assert list(table.dataset.unique()) == ["retail", "banking"] and table.converged.all()
    paths = table.query("op == '~'").set_index(["dataset", "rhs"]).std_all_mean
    assert paths["retail", "Beliefs"] > paths["retail", "Experience"]
    assert (table.fit_max_rhat < 1.05).all() and (table.fit_divergences == 0).all()
