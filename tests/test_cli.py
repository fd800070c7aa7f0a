"""The command line through typer's test runner: every command on bundled data, JSON read back
and compared with the Python API, and bad input giving one line and the documented exit code."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import loyaltymodels as lm
from loyaltymodels import datasets
from loyaltymodels.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    (d / "hs.lav").write_text(datasets.HS_MODEL)
    (d / "be.lav").write_text(datasets.BELIEFS_EXPERIENCE_MODEL)
    datasets.load_holzinger_swineford().to_csv(d / "hs.csv", index=False)
    datasets.load_ecsi().to_csv(d / "ecsi.csv", sep=";", index=False)  # a European export
    return d


def run(*args, input=None):
    return runner.invoke(app, [str(a) for a in args], input=input)


def one_error_line(result, code):
    assert result.exit_code == code, result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "Traceback" not in result.output
    return lines[0]


def test_version_and_help():
    assert run("--version").output.strip() == f"loyaltymodels {lm.__version__}"
    for command in ("sem", "bayes", "loyalty", "invariance", "simulate", "indices", "report", "study", "design"):
        out = run(command, "--help")
        assert out.exit_code == 0 and "Example: loyaltymodels " + command in out.output


def test_sem_json_equals_the_python_api(files, tmp_path):
    out = tmp_path / "fit.json"
    res = run("sem", files / "hs.lav", files / "hs.csv", "--json", out, "--csv", tmp_path / "p.csv")
    assert res.exit_code == 0, res.output
    assert "85.306" in res.output  # lavaan's chi-square for this model
    saved = json.loads(out.read_text())
    assert saved["fit_measures"]["chisq"] == pytest.approx(85.3055, abs=1e-3)
    api = lm.fit_sem(datasets.HS_MODEL, datasets.load_holzinger_swineford())
    back = lm.SemFit.from_json(out) if hasattr(lm, "SemFit") else None
    table = pd.read_csv(tmp_path / "p.csv")
    np.testing.assert_allclose(table["est"], api.parameters["est"], rtol=1e-9)
    if back is not None:
        np.testing.assert_allclose(back.parameters["se"], api.parameters["se"], rtol=1e-9)


def test_model_from_stdin_and_semicolon_csv(files):
    res = run("sem", "-", files / "ecsi.csv", input=datasets.BELIEFS_EXPERIENCE_MODEL)
    assert res.exit_code == 0, res.output
    assert "Number of observations" in res.output and "250" in res.output


def test_invariance_table(files, tmp_path):
    out = tmp_path / "inv.json"
    res = run(
        "invariance",
        files / "hs.lav",
        files / "hs.csv",
        "--group",
        "school",
        "--levels",
        "configural,metric,scalar",
        "--out",
        out,
    )
    assert res.exit_code == 0, res.output
    rows = json.loads(out.read_text())
    # lavaan tutorial: configural 115.851 (48), metric 124.044 (54), scalar 164.103 (60)
    assert [round(r["chisq"], 3) for r in rows] == [115.851, 124.044, 164.103]
    assert [r["df"] for r in rows] == [48, 54, 60]


def test_sem_estimators_weights_and_ordered_items(files, tmp_path):
    res = run("sem", files / "hs.lav", files / "hs.csv", "--estimator", "MLR")
    assert res.exit_code == 0, res.output
    assert "87.132" in res.output and "Yuan-Bentler" in res.output  # the scaled test beside 85.306
    hs = datasets.load_holzinger_swineford().assign(w=1.0)
    hs.to_csv(tmp_path / "hs_w.csv", index=False)
    res = run("sem", files / "hs.lav", tmp_path / "hs_w.csv", "--weights", "w", "--json", tmp_path / "w.json")
    assert res.exit_code == 0, res.output
    saved = json.loads((tmp_path / "w.json").read_text())
    assert saved["info"]["estimator"] == "MLR" and saved["fit_measures"]["chisq_scaled"] == pytest.approx(
        87.132, abs=1e-3
    )
    res = run("sem", files / "be.lav", files / "ecsi.csv", "--ordered", "all")
    assert res.exit_code == 0, res.output
    assert "WLSMV" in res.output and "Thresholds" in res.output and "imag1|t1" in res.output
    err = one_error_line(run("sem", files / "hs.lav", files / "hs.csv", "--estimator", "GLS"), 2)
    assert "choose among ML, MLR, MLM, WLSMV" in err


def test_invariance_with_a_robust_estimator_and_fiml(files, tmp_path):
    out = tmp_path / "inv.csv"
    res = run(
        "invariance",
        files / "hs.lav",
        files / "hs.csv",
        "--group",
        "school",
        "--levels",
        "configural,metric",
        "--estimator",
        "MLR",
        "--missing",
        "fiml",
        "--out",
        out,
    )
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out)
    assert table.chisq.round(3).tolist() == [115.851, 124.044]  # complete data: FIML = ML
    assert table.diff_method.iloc[1] == "satorra.bentler.2001"


def test_simulate_is_reproducible(files, tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    for out in (a, b):
        assert (
            run(
                "simulate",
                files / "be.lav",
                "--n",
                120,
                "--seed",
                3,
                "--scale",
                "0-10",
                "--out",
                out,
                "--truth",
                tmp_path / "truth.csv",
            ).exit_code
            == 0
        )
    assert a.read_bytes() == b.read_bytes()
    data = pd.read_csv(a)
    expected, _ = lm.simulate(datasets.BELIEFS_EXPERIENCE_MODEL, 120, seed=3, scale="0-10")
    pd.testing.assert_frame_equal(data, expected, check_dtype=False)


def test_indices_match_the_api(tmp_path):
    path = "data/synthetic/indices_survey.csv"
    out = tmp_path / "ix.json"
    res = run("indices", path, "--nps", "recommend", "--by", "wave", "--csat", "csat", "--out", out)
    assert res.exit_code == 0, res.output
    rows = pd.DataFrame(json.loads(out.read_text()))
    frame = pd.read_csv(path)
    api = lm.nps("recommend", data=frame, by="wave")
    got = rows[rows["index"] == "NPS"].reset_index(drop=True)
    np.testing.assert_allclose(got.estimate, api.estimate)
    np.testing.assert_allclose(got.ci_lower, api.ci_lower)
    assert one_error_line(run("indices", path), 2).startswith("error: name at least one index")
    assert "'recomend' not found" in one_error_line(run("indices", path, "--nps", "recomend"), 2)


def test_bayes_exit_code_1_when_not_converged_and_report(files, tmp_path):
    out = tmp_path / "post.nc"
    res = run(
        "bayes",
        files / "hs.lav",
        files / "hs.csv",
        "--draws",
        60,
        "--tune",
        60,
        "--chains",
        1,
        "--seed",
        1,
        "--out",
        out,
    )
    # 60 draws cannot reach 400 effective draws: the posterior is saved, the exit code says "do not use"
    assert res.exit_code == 1, res.output
    assert out.exists() and "did not converge" in res.output
    rep = run("report", out, "--html", tmp_path / "r.html")
    assert rep.exit_code == 0, rep.output
    assert "Posterior summary" in rep.output and (tmp_path / "r.html").read_text().count("<img") >= 1


def test_report_of_a_sem_fit(files, tmp_path):
    out = tmp_path / "fit.json"
    run("sem", files / "hs.lav", files / "hs.csv", "--json", out)
    rep = run("report", out, "--html", tmp_path / "r.html")
    assert rep.exit_code == 0 and "Parameter Estimates" in rep.output
    page = (tmp_path / "r.html").read_text()
    assert "Path diagram" in page and "data:image/png;base64" in page


@pytest.mark.parametrize(
    "args,fragment",
    [
        (("sem", "missing.lav", "{d}/hs.csv"), "model file 'missing.lav' not found"),
        (("sem", "{d}/hs.lav", "{d}/missing.csv"), "missing.csv"),
        (("sem", "{d}/hs.lav", "{d}/hs.lav"), ".lav"),  # unreadable format
        (("sem", "{d}/bad.lav", "{d}/hs.csv"), "line 2, column"),  # bad syntax
        (("sem", "{d}/typo.lav", "{d}/hs.csv"), "did you mean 'x2'"),  # unknown column
        (("invariance", "{d}/hs.lav", "{d}/hs.csv", "--group", "shcool"), "shcool"),
        (("report", "{d}/hs.lav"), "expected a .json"),
        (("study", "nonsense"), "unknown study"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(files, args, fragment):
    (files / "bad.lav").write_text("visual =~ x1 + x2\ntextual =~ x4 + * x5\n")
    (files / "typo.lav").write_text("visual =~ x1 + X2 + x3\n")
    line = one_error_line(run(*[a.format(d=files) for a in args]), 2)
    assert fragment in line


def test_usage_error_exit_code_2():
    assert "Missing argument 'model'" in one_error_line(run("sem"), 2)
    assert "Invalid value for '--n'" in one_error_line(run("simulate", "x.lav", "--n", "many"), 2)
    assert "No such option: --bogus" in one_error_line(run("sem", "--bogus"), 2)
    assert "No such command 'fit'" in one_error_line(run("fit"), 2)


def test_outputs_are_written_in_the_format_their_extension_names(files, tmp_path):
    # --out x.xlsx used to hold CSV text; it is a workbook that Excel (openpyxl) reads back
    args = ("simulate", files / "be.lav", "--n", 50, "--seed", 3, "--scale", "0-10")
    assert run(*args, "--out", tmp_path / "d.xlsx", "--truth", tmp_path / "t.xlsx").exit_code == 0
    assert run(*args, "--out", tmp_path / "d.csv").exit_code == 0
    assert (tmp_path / "d.xlsx").read_bytes()[:2] == b"PK"
    book = pd.read_excel(tmp_path / "d.xlsx", engine="openpyxl")
    pd.testing.assert_frame_equal(book, pd.read_csv(tmp_path / "d.csv"), check_dtype=False)
    assert set(pd.read_excel(tmp_path / "t.xlsx", engine="openpyxl").columns) >= {"lhs", "op", "rhs", "value"}
    res = run("sem", files / "hs.lav", files / "hs.csv", "--csv", tmp_path / "p.xlsx")
    assert res.exit_code == 0 and pd.read_excel(tmp_path / "p.xlsx").shape[0] > 20
    assert ".xls' is not one of" in one_error_line(run(*args, "--out", tmp_path / "d.xls"), 2)
    assert ".csv' is not one of .nc" in one_error_line(
        run("bayes", files / "hs.lav", files / "hs.csv", "--out", tmp_path / "p.csv"), 2
    )


def test_unwritable_outputs_and_bad_sampler_settings_fail_before_anything_is_read(files, tmp_path, monkeypatch):
    def no_data(path):
        raise AssertionError("the data were read before the arguments were checked")

    monkeypatch.setattr("loyaltymodels.cli._data", no_data)
    nowhere = tmp_path / "missing" / "post.nc"
    model, data = files / "hs.lav", files / "hs.csv"
    for command, extra in (("bayes", ()), ("loyalty", ("--sector", "school"))):
        line = one_error_line(run(command, model, data, *extra, "--out", nowhere), 2)
        assert f"cannot write '{nowhere}': the folder '{nowhere.parent}' does not exist" in line
        for option, value, fragment in (
            ("--draws", 0, "draws=0: draws per chain must be an integer of at least 1"),
            ("--chains", 0, "chains=0: the number of chains must be an integer of at least 1"),
            ("--tune", -5, "tune=-5"),
            ("--seed", -1, "seed=-1: a seed is a non-negative integer"),
        ):
            assert fragment in one_error_line(run(command, model, data, *extra, option, value), 2)
    for args in (
        ("sem", model, data, "--json", tmp_path / "missing" / "fit.json"),
        ("sem", model, data, "--csv", tmp_path / "missing" / "p.csv"),
        ("invariance", model, data, "--group", "school", "--out", tmp_path / "missing" / "i.csv"),
        ("indices", data, "--nps", "x1", "--out", tmp_path / "missing" / "i.csv"),
        ("simulate", model, "--n", 10, "--out", tmp_path / "missing" / "d.csv"),
    ):
        assert "cannot write" in one_error_line(run(*args), 2)


def test_debug_keeps_the_exit_code_and_adds_the_traceback(files):
    for args, code in (
        (("sem", "missing.lav", files / "hs.csv"), 2),
        (("simulate", files / "hs.lav", "--n", 0, "--out", "d.csv"), 2),
    ):
        plain, debug = run(*args), run("--debug", *args)
        assert plain.exit_code == debug.exit_code == code
        assert "Traceback" in debug.output and debug.output.strip().splitlines()[-1] == plain.output.strip()


def test_model_files_and_saved_results_that_cannot_be_read(files, tmp_path):
    latin = tmp_path / "latin.lav"
    latin.write_bytes("Fidélité =~ x1 + x2 + x3\n".encode("latin-1"))
    assert "model file" in (line := one_error_line(run("sem", latin, files / "hs.csv"), 2)) and "not UTF-8" in line
    bom = tmp_path / "bom.lav"
    bom.write_bytes(b"\xef\xbb\xbf" + datasets.HS_MODEL.encode())
    assert run("sem", bom, files / "hs.csv").exit_code == 0
    assert "is a folder" in one_error_line(run("sem", tmp_path, files / "hs.csv"), 2)
    (tmp_path / "other.json").write_text('{"a": 1}')
    assert "is not a saved ML fit" in one_error_line(run("report", tmp_path / "other.json"), 2)
    (tmp_path / "cut.json").write_text('{"format": "loyaltymodels.SemFit", "spec": {')
    assert "invalid JSON at line 1" in one_error_line(run("report", tmp_path / "cut.json"), 2)
    (tmp_path / "text.nc").write_text("not a posterior")
    assert "text.nc' is not a saved posterior" in one_error_line(run("report", tmp_path / "text.nc"), 2)
    import xarray as xr

    xr.DataTree.from_dict({"/a": xr.Dataset({"x": ("i", [1.0])})}).to_netcdf(tmp_path / "foreign.nc", engine="h5netcdf")
    assert "not a posterior saved by fit_bayes" in one_error_line(run("report", tmp_path / "foreign.nc"), 2)


def test_invariance_on_a_one_level_group(files, tmp_path):
    one = tmp_path / "one.csv"
    datasets.load_holzinger_swineford().assign(school="Pasteur").to_csv(one, index=False)
    line = one_error_line(run("invariance", files / "hs.lav", one, "--group", "school"), 2)
    assert "has only one level ('Pasteur')" in line


def _has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def test_study_runs_fast(tmp_path):
    out = tmp_path / "s.json"
    res = run("study", "holzinger", "--fast", "--out", out)
    assert res.exit_code == 0, res.output
    saved = json.loads(out.read_text())
    api = lm.studies.holzinger_swineford(fast=True).frames()
    assert set(saved) == set(api)
    np.testing.assert_allclose([r["est"] for r in saved["parameters"]], api["parameters"]["est"], rtol=1e-12)


def test_loyalty_on_bundled_sectors_equals_the_api_and_reports(tmp_path):
    from loyaltymodels.data.read import read_survey

    model, data = tmp_path / "loyalty.lav", Path(__file__).resolve().parents[1] / "data" / "synthetic" / "sectors.csv"
    model.write_text(lm.loyalty_model())
    out, weights = tmp_path / "post.nc", tmp_path / "weights.json"
    sampler = ("--draws", 150, "--tune", 150, "--chains", 2, "--seed", 4)
    res = run("loyalty", model, data, "--sector", "sector", *sampler, "--out", out, "--csv", weights)
    # short chains may fail the ESS check (exit 1, draws saved); anything else is a failure
    assert res.exit_code in (0, 1) and out.exists(), res.output
    assert "Standardized driver weights by sector" in res.output and "Traceback" not in res.output
    saved = pd.DataFrame(json.loads(weights.read_text()))
    api = lm.driver_weights(
        lm.fit_loyalty(
            lm.loyalty_model(), read_survey(data), sector="sector", seed=4, draws=150, tune=150, chains=2, check=False
        )
    )
    np.testing.assert_allclose(saved["mean"], api["mean"], rtol=1e-10)
    assert list(saved.sector) == list(api.sector)
    rep = run("report", out)
    assert rep.exit_code == 0 and "Standardized driver weights" in rep.output, rep.output
    bad = run("loyalty", model, data, "--sector", "sectr")
    assert "did you mean 'sector'" in one_error_line(bad, 2)
    assert "name=COLUMN" in one_error_line(run("loyalty", model, data, "--sector", "sector", "--outcome", "churn"), 2)


def test_loyalty_claims_from_the_command_line_equal_the_api(tmp_path):
    """--promise-pair and --diminishing give promise_gap's and diminishing_returns' tables of the
    same fit as the API; --surface prints the congruence verdict; a malformed pair is one line."""
    from loyaltymodels.data.read import read_survey
    from tests.loyalty import test_promise

    model, data = tmp_path / "promise.lav", tmp_path / "promise.csv"
    model.write_text(test_promise.MODEL)
    frame = test_promise.numpy_truth("shortfall", n=150)
    frame.to_csv(data, index=False)
    sampler = ("--draws", 150, "--tune", 150, "--chains", 2, "--seed", 3)
    pairs = [a for p, e in test_promise.PAIRS.items() for a in ("--promise-pair", f"{p}={e}")]
    res = run("loyalty", model, data, "--sector", "sector", *sampler, *pairs, "--diminishing", "Experience")
    assert res.exit_code in (0, 1) and "Traceback" not in res.output, res.output
    assert "The promise gap" in res.output and "Diminishing returns" in res.output
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        post = lm.fit_loyalty(
            test_promise.MODEL,
            read_survey(data),  # as the command reads it
            sector="sector",
            promise_pairs=test_promise.PAIRS,
            diminishing=["Experience"],
            seed=3,
            draws=150,
            tune=150,
            chains=2,
            check=False,
        )
        gap = lm.promise_gap(post)
    row = gap[(gap.sector == "pooled") & (gap.quantity == "slope_difference")].iloc[0]
    assert f"{row['mean']:.3f}" in res.output  # the CLI's table is the API's, rounded to 3 digits
    curv = lm.diminishing_returns(post).set_index("quantity").loc["curvature", "mean"]
    assert f"{curv:.3f}" in res.output

    surf = run("loyalty", model, data, "--sector", "sector", *sampler, "--surface", "--continuous")
    assert surf.exit_code in (0, 1) and "Congruence of the drivers" in surf.output, surf.output
    assert "line of congruence" in surf.output
    bad = run("loyalty", model, data, "--sector", "sector", "--promise-pair", "pro1")
    assert "PROMISE_ITEM=EXPERIENCE_ITEM" in one_error_line(bad, 2)


def test_design_writes_the_questionnaire_files_and_the_plan(tmp_path):
    import pyreadstat

    out = tmp_path / "study"
    args = ("design", "--out", out, "--language", "fr", "--brand", "Acme", "--scale", "1-5", "--items", 3)
    plan_args = ("--sectors", "retail=0.3:0.1:0.3,telecom=0.1:0.1:0.5", "--nps", "30:35:35,25:35:40", "--seed", 7)
    res = run(*args, *plan_args, "--no-simulate")
    assert res.exit_code == 0, res.output
    assert "drivers, in the order of --sectors weights: Beliefs, Promise, Experience" in res.output
    assert "**Sample plan**" in res.output and "per wave" in res.output
    q = lm.questionnaire(language="fr", brand="Acme", scale="1-5", items_per_construct=3, sectors=["retail", "telecom"])
    assert (out / "model.lav").read_text().strip() == q.to_syntax()
    assert (out / "questionnaire.md").read_text(encoding="utf-8") == q.to_markdown()
    _, meta = pyreadstat.read_sav(str(out / "template.sav"))
    assert meta.column_names == q.columns and meta.variable_value_labels["sector"] == {1.0: "retail", 2.0: "telecom"}
    plan = pd.read_csv(out / "plan.csv")
    api = lm.sample_size(
        q,
        sectors={"retail": (0.3, 0.1, 0.3), "telecom": (0.1, 0.1, 0.5)},
        nps=[(0.30, 0.35, 0.35), (0.25, 0.35, 0.40)],
        seed=7,
        simulate=False,
    )
    np.testing.assert_allclose(plan.n_analytic, api.table.n_analytic)
    assert (out / "power_curves.png").exists()
    only = run("design", "--out", tmp_path / "q", "--constructs", "image,quality,intention", "--indices", "nps")
    assert only.exit_code == 0 and not (tmp_path / "q" / "plan.md").exists()
    assert "did you mean 'quality'" in one_error_line(
        run("design", "--out", tmp_path, "--constructs", "image,qualty"), 2
    )
    assert "retail=0.3:0.2:0.4" in one_error_line(run("design", "--out", tmp_path, "--sectors", "retail=high"), 2)


@pytest.mark.slow  # two fits, ~100 s on a shared machine
def test_retention_equals_the_api_and_checks_arguments_before_the_data(tmp_path):
    data, truth = lm.loyalty_scenario(30, sectors=2, follow_up=6, seed=1)
    model, csv = tmp_path / "ret.lav", tmp_path / "followed.csv"
    model.write_text(truth.attrs["model"])
    data.to_csv(csv, index=False)
    out, effects = tmp_path / "post.nc", tmp_path / "effects.csv"
    sampler = ("--draws", 60, "--tune", 80, "--chains", 2, "--seed", 3)
    args = ("retention", model, csv, "--sector", "sector", "--tenure", "tenure", *sampler)
    res = run(*args, "--out", out, "--csv", effects)
    # short chains may fail the convergence checks (exit 1, draws saved); anything else is a failure
    assert res.exit_code in (0, 1) and out.exists(), res.output
    assert "Retention effects" in res.output and "Traceback" not in res.output
    saved = pd.read_csv(effects)
    api = lm.retention_effects(
        lm.fit_retention(
            truth.attrs["model"],
            data,
            sector="sector",
            tenure="tenure",
            draws=60,
            tune=80,
            chains=2,
            seed=3,
            check=False,
        )
    )
    np.testing.assert_allclose(saved["est"], api["est"], rtol=1e-10)
    assert list(saved.effect) == list(api.effect) and list(saved.sector) == list(api.sector)
    # arguments are checked before the data are read: the data file below does not exist
    missing = tmp_path / "nowhere.csv"
    assert ".nc" in one_error_line(run("retention", model, missing, "--out", tmp_path / "post.txt"), 2)
    assert "three" in one_error_line(run("retention", model, missing, "--purchases", "f,r"), 2)
    assert "--purchases" in one_error_line(run("retention", model, missing, "--purchases-only"), 2)
    assert "not found" in one_error_line(run("retention", model, missing), 2)
    assert "'tme'" in one_error_line(run("retention", model, csv, "--time", "tme"), 2)
    assert run("retention", model, csv, "--draws", 0).exit_code == 2
