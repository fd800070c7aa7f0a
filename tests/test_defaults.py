"""The cross-cutting policies of ``loyaltymodels.defaults``: one cache policy, one BLAS-thread
limiter, one seed policy, one pair of interval masses."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import loyaltymodels as lm
from loyaltymodels.defaults import CI_ML, CI_POSTERIOR, ModelCache, one_blas_thread, resolve_seed


@settings(max_examples=200, deadline=None)
@given(ops=st.lists(st.tuples(st.sampled_from(["get", "put"]), st.integers(0, 6)), max_size=60), size=st.integers(1, 4))
def test_cache_keeps_the_most_recently_used_keys(ops, size):
    # reference: a plain list ordered by last use, written without OrderedDict
    cache, order = ModelCache(maxsize=size), []
    for op, key in ops:
        if op == "put":
            cache.put(key, str(key))
            order = [k for k in order if k != key] + [key]
            order = order[-size:]
        else:
            got = cache.get(key)
            assert got == (str(key) if key in order else None)
            if key in order:
                order = [k for k in order if k != key] + [key]
    assert sorted(order) == sorted(k for k in range(7) if k in cache) and len(cache) == len(order)


def test_every_compiled_model_cache_follows_the_policy():
    from loyaltymodels.bayes import sampling
    from loyaltymodels.loyalty import fit
    from loyaltymodels.power import batch

    for module in (sampling, fit, batch):
        assert isinstance(module._CACHE, ModelCache) and module._CACHE.maxsize >= 8


def test_one_blas_thread_limits_and_restores():
    from threadpoolctl import threadpool_info

    def blas_threads():
        return {i["filepath"]: i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}

    before = blas_threads()
    with one_blas_thread():
        assert set(blas_threads().values()) <= {1}
    assert blas_threads() == before


def test_seed_policy():
    assert resolve_seed(np.int64(5)) == 5
    fresh = {resolve_seed(None) for _ in range(5)}
    assert len(fresh) == 5 and all(0 <= s < 2**31 for s in fresh)


def test_interval_masses_are_the_documented_ones():
    assert (CI_POSTERIOR, CI_ML) == (0.90, 0.95)
    assert lm.defaults.CI_POSTERIOR is CI_POSTERIOR


def test_every_table_with_an_interval_says_its_level():
    # ML and the indices at 95% (lavaan's level), posterior summaries at 90%; the loyalty tables
    # are checked on their fitted posterior in tests/loyalty/test_fit.py
    from loyaltymodels.datasets import HS_MODEL, POLDEM_MODEL, load_holzinger_swineford, load_political_democracy

    fit = lm.fit_sem(HS_MODEL, load_holzinger_swineford())
    poldem = lm.fit_sem(POLDEM_MODEL, load_political_democracy())
    post = lm.fit_bayes(
        HS_MODEL, load_holzinger_swineford(), draws=100, tune=100, chains=2, seed=1, progressbar=False, check=False
    )
    answers = np.array([9, 10, 3, 7, 8, 10, 0, 6])
    tables = {
        "SemFit.parameters": (fit.parameters, CI_ML),
        "effects": (poldem.effects(), CI_ML),
        "nps": (lm.nps(answers), CI_ML),
        "nps_difference": (lm.nps_difference(answers, answers[::-1]), CI_ML),
        "csat": (lm.csat([5, 4, 2, 4], ci=0.8), 0.8),
        "ces": (lm.ces([4, 6, 6, 4]), CI_ML),
        "bayes_summary": (lm.bayes_summary(post), CI_POSTERIOR),
        "factor_scores": (lm.factor_scores(post), CI_POSTERIOR),
        "pls": (
            lm.fit_pls(
                "f =~ x1 + x2 + x3\ng =~ x4 + x5 + x6\ng ~ f", load_holzinger_swineford(), bootstrap=20, seed=1
            ).paths,
            CI_ML,
        ),
    }
    for name, (table, mass) in tables.items():
        assert any("ci_lower" in c for c in table.columns), name
        assert table.attrs.get("ci") == mass, f"{name}: attrs['ci'] = {table.attrs.get('ci')!r}"
    assert fit.parameters.round(3).attrs["ci"] == CI_ML  # pandas keeps it through everyday steps


def test_sampler_settings_and_seeds_are_checked_with_their_names():
    import pytest

    from loyaltymodels.defaults import check_sampler_args, check_seed

    check_sampler_args(draws=1, tune=0, chains=1, cores=1, seed=0, target_accept=0.8)
    check_sampler_args(draws=np.int64(500), chains=np.int32(2), seed=np.uint32(7))
    for kwargs, fragment in (
        ({"draws": 0}, "draws=0: draws per chain must be an integer of at least 1"),
        ({"draws": 500.0}, "draws=500.0"),  # refused, not truncated
        ({"draws": True}, "draws=True"),
        ({"tune": -1}, "tune=-1"),
        ({"chains": 0}, "chains=0: the number of chains"),
        ({"cores": 0}, "cores=0"),
        ({"seed": -3}, "seed=-3: a seed is a non-negative integer"),
        ({"seed": "1"}, "seed='1'"),
        ({"target_accept": 1.0}, "target_accept=1.0"),
    ):
        with pytest.raises(lm.ArgumentError, match=fragment):
            check_sampler_args(**kwargs)
    with pytest.raises(ValueError):  # still catchable as the built-ins it replaces
        check_seed(1.5)
    with pytest.raises(TypeError):
        check_seed(1.5)
    with pytest.raises(lm.ArgumentError, match="seed=-1"):
        resolve_seed(-1)
    check_seed(np.random.default_rng(1), generator=True)
