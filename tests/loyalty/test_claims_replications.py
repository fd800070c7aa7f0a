"""The replication study of issue 19's claims (benchmarks/claims.py) runs, resumes and summarises.

Two replications of every condition into a temporary directory: not a result (those are in
benchmarks/results/claims.txt), a check that the harness cannot rot.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _claims():
    spec = importlib.util.spec_from_file_location("benchmark_claims", ROOT / "benchmarks" / "claims.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_claims_harness_runs_resumes_and_summarises(tmp_path):
    from loyaltymodels.power.batch import dask_client

    claims = _claims()
    names = list(claims.CONDITIONS)
    # a threaded in-process worker: the module loaded from its path needs no pickling
    with dask_client(None, 1, processes=False) as client:
        assert claims.run(tmp_path, reps=2, client=client) == 2 * len(names)
        assert claims.run(tmp_path, reps=2, client=client) == 0  # every (condition, rep) is done
    csv = tmp_path / "claims.csv"
    rec = pd.read_csv(csv)
    assert list(rec.columns) == claims.COLUMNS
    assert set(zip(rec.condition, rec.rep)) == {(c, r) for c in names for r in (0, 1)}
    assert (rec.error.isna() | (rec.error == "")).all(), rec.error.dropna().unique()
    est = rec[rec.kind == "estimate"]
    assert (est.ci_lower <= est.ci_upper).all() and est.truth.notna().all()
    assert (rec.max_rhat > 0.9).all() and (rec.divergences >= 0).all()

    verdicts = claims.write_summary(csv, tmp_path / "claims.txt")
    expected = {
        "condition",
        "reps",
        "not_converged",
        "failed",
        "coverage",
        "coverage_lower",
        "coverage_upper",
        "median_fit_s",
        "load_start",
        "load_end",
        "claim",
        "rate_is",
        "rate",
        "rate_lower",
        "rate_upper",
    }
    assert expected <= set(verdicts.columns)
    assert set(verdicts.condition) == set(names) and (verdicts.reps == 2).all()
    rated = verdicts[verdicts.rate_is != ""]  # the strong truths are coverage only
    assert set(verdicts.condition) - set(rated.condition) == {"boxes_strong", "boxes_strong_prior1"}
    assert ((rated.rate_lower <= rated.rate) & (rated.rate <= rated.rate_upper)).all()
    # a former-prior condition fits the same data sets as its twin
    keys = rec.drop_duplicates(["condition", "rep"]).set_index(["condition", "rep"]).spawn_key
    for r in (0, 1):
        assert keys[("promise_shortfall_prior05", r)] == keys[("promise_shortfall", r)]
        assert keys[("surface_linear_prior1", r)] == keys[("surface_linear", r)]
    assert keys[("boxes_determined_wide", 0)] != keys[("boxes_determined", 0)]
    # every condition whose truth lacks its claim reports a false-positive rate
    off = verdicts[verdicts.condition.isin(["surface_concave", "surface_linear", "promise_symmetric"])]
    assert (off.rate_is == "false_positive").all() and len(off) >= 3
    text = (tmp_path / "claims.txt").read_text()
    assert "Coverage per quantity" in text and "surface_concave" in text

    # a replication is its seed's: rerun, the same estimates
    again = pd.DataFrame(claims.replicate("boxes_weak", 1))
    stored = rec[(rec.condition == "boxes_weak") & (rec.rep == 1) & (rec.kind == "estimate")]
    np.testing.assert_allclose(again[again.kind == "estimate"].estimate.to_numpy(), stored.estimate.to_numpy())
