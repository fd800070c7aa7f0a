"""The validation every fit runs (``lm.validate_data``): what passes untouched, missing values and
their policies, and errors that name the column, the row and the value."""

from __future__ import annotations

import copy
import json
import warnings

import numpy as np
import pandas as pd
import pytest

import loyaltymodels as lm
from loyaltymodels import datasets
from loyaltymodels.errors import DataError, DataWarning
from tests.survey_support import ITEMS, TWO_FACTORS


# -- validation: what passes -----------------------------------------------------------------------
def test_ecsi_passes_untouched(ecsi):
    spec = lm.parse_model(datasets.ECSI_MODEL)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out, report = lm.validate_data(spec, ecsi)
    pd.testing.assert_frame_equal(out, ecsi[spec.observed].astype(float))
    assert (report.n_total, report.n_used, report.n_dropped, report.dropped_rows) == (250, 250, 0, ())
    assert report.missing.eq(0).all() and list(report.missing.index) == spec.observed
    assert report.policy == "listwise" and report.group is None and report.ordinal == {}
    assert str(report) == "Listwise deletion: no missing values, all 250 rows used."


def test_ordinal_auto_on_ecsi(ecsi):
    _, report = lm.validate_data(datasets.ECSI_MODEL, ecsi, ordinal="auto")
    assert len(report.ordinal) == 27
    assert all(set(c) <= set(range(11)) and len(c) >= 8 for c in report.ordinal.values())
    assert report.ordinal["imag4"][0] == 3 and report.ordinal["loy2"] == list(range(1, 11))


def test_output_frame_and_input_untouched(survey):
    data = survey.astype({"loy3": object}).set_axis([f"r{i}" for i in range(12)])
    data.loc["r4", "loy3"] = " 4,5 "  # text with a decimal comma and blanks
    data.loc["r5", "loy3"] = ""  # blank text is missing
    data.loc["r2", "sat2"] = np.nan
    data.attrs = {"source": {"path": "x.csv", "format": "csv"}, "value_labels": {"sat1": {1: "low"}}}
    before = copy.deepcopy(data)
    with pytest.warns(DataWarning, match=r"2 of 12 rows dropped"):
        out, report = lm.validate_data(TWO_FACTORS, data, group="sector", min_rows=3)
    pd.testing.assert_frame_equal(data, before)
    assert data.attrs == before.attrs and data.dtypes.equals(before.dtypes)
    assert list(out.columns) == [*ITEMS, "sector"]
    assert out[ITEMS].dtypes.eq("float64").all()
    assert out.sector.tolist() == data.sector.drop(["r2", "r5"]).tolist()
    assert out.index.tolist() == [f"r{i}" for i in range(12) if i not in (2, 5)]
    assert out.loc["r4", "loy3"] == 4.5 and report.dropped_rows == ("r2", "r5")
    assert report.group_sizes == {"bank": 5, "telecom": 5}
    assert out.attrs == data.attrs and out.attrs is not data.attrs
    out.attrs["value_labels"]["sat1"][2] = "high"  # a deep copy: the input's labels stay as they were
    assert data.attrs == before.attrs
    assert report.source == {"path": "x.csv", "format": "csv"}


def test_conversions(survey):
    data = survey.copy()
    data["sat1"] = data.sat1 > 2  # bool -> 0/1
    data["sat2"] = data.sat2.astype("Int64").mask(data.index == 0)  # nullable int with <NA>
    data["sat3"] = pd.Categorical(data.sat3, categories=[1, 2, 3, 4, 5], ordered=True)
    out, _report = lm.validate_data(TWO_FACTORS, data, missing="fiml")
    assert out.sat1.tolist() == (survey.sat1 > 2).astype(float).tolist()
    assert np.isnan(out.sat2[0]) and out.sat2[1:].tolist() == survey.sat2[1:].astype(float).tolist()
    assert out.sat3.tolist() == survey.sat3.astype(float).tolist()


# -- validation: missing values --------------------------------------------------------------------
def test_listwise_counts_and_statement(planted):
    with pytest.warns(DataWarning, match=r"3 of 12 rows dropped.*use missing='fiml'"):
        out, report = lm.validate_data(TWO_FACTORS, planted)
    assert report.missing.to_dict() == {"sat1": 2, "sat2": 0, "sat3": 0, "loy1": 0, "loy2": 2, "loy3": 0}
    assert (report.n_used, report.n_dropped, report.dropped_rows) == (9, 3, (3, 7, 11))
    assert out.index.tolist() == [0, 1, 2, 4, 5, 6, 8, 9, 10] and not out.isna().any().any()
    assert report.statement == "Listwise deletion: 3 of 12 rows dropped (missing values in sat1 x2, loy2 x2)."
    saved = json.loads(json.dumps(report.to_dict()))
    assert saved["dropped_rows"] == [3, 7, 11] and saved["missing"]["loy2"] == 2
    assert saved["policy"] == "listwise" and saved["statement"] == report.statement


def test_fiml_keeps_partial_rows(planted):
    data = planted.copy()
    data.loc[5, ITEMS] = np.nan  # one respondent with nothing observed
    with pytest.warns(DataWarning, match=r"11 of 12 rows kept.*1 row with no observed value dropped"):
        out, report = lm.validate_data(TWO_FACTORS, data, missing="ml")
    assert report.policy == "fiml" and report.dropped_rows == (5,) and report.n_used == 11
    assert report.missing.to_dict() == {"sat1": 3, "sat2": 1, "sat3": 1, "loy1": 1, "loy2": 3, "loy3": 1}
    assert out.isna().sum().sum() == 4  # the planted NaNs, left to the estimator
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, report = lm.validate_data(TWO_FACTORS, planted, missing="fiml")
    assert report.n_dropped == 0 and "4 missing values left to the estimator" in report.statement


def test_missing_none_names_first_row(planted, survey):
    with pytest.raises(
        DataError,
        match=r"column 'loy2', row 3 is missing \(4 missing values in all\) "
        r"and missing='none'",
    ) as err:
        lm.validate_data(TWO_FACTORS, planted, missing="none")
    assert (err.value.column, err.value.row) == ("loy2", 3)
    _, report = lm.validate_data(TWO_FACTORS, survey, missing="none")
    assert report.statement == "No missing values (missing='none'): all 12 rows used."
    with pytest.raises(DataError, match=r"missing='pairwise' is not a missing-data policy"):
        lm.validate_data(TWO_FACTORS, survey, missing="pairwise")


def test_missing_group_rows_dropped(survey):
    data = survey.copy()
    data.loc[4, "sector"] = None
    with pytest.warns(DataWarning, match=r"1 of 12 rows dropped \(missing values in sector x1\)"):
        _, report = lm.validate_data("F =~ sat1 + sat2", data, group="sector")
    assert report.dropped_rows == (4,) and report.missing["sector"] == 1
    assert report.group_sizes == {"bank": 5, "telecom": 6}
    assert "Groups (sector): bank 5, telecom 6." in str(report)


# -- validation: errors name column, row and value -------------------------------------------------
def test_missing_columns_suggest_names(ecsi):
    with pytest.raises(
        DataError,
        match=r"^column 'Imag1' not found; did you mean 'imag1'\? "
        r"\(names are case-sensitive\)",
    ) as err:
        lm.validate_data("F =~ Imag1 + imag2 + imag3", ecsi)
    assert err.value.column == "Imag1"
    with pytest.raises(
        DataError,
        match=r"column 'imag_2' not found; did you mean 'imag2'\?.*"
        r"also missing: 'zzz'",
    ):
        lm.validate_data("F =~ imag1 + imag_2 + zzz", ecsi)
    with pytest.raises(DataError, match=r"column 'zzz' not found among the 28 columns \(imag1, imag2"):
        lm.validate_data("F =~ imag1 + imag2 + zzz", ecsi)
    with pytest.raises(DataError, match=r"group column 'Gender' not found; did you mean 'gender'\?"):
        lm.validate_data("F =~ imag1 + imag2 + imag3", ecsi, group="Gender")


def test_non_numeric_value_named(survey):
    data = survey.astype({"loy2": object})
    data.index = range(10, 22)
    data.loc[17, "loy2"] = "n/a"
    data.loc[19, "loy2"] = "dk"
    with pytest.raises(
        DataError,
        match=r"^column 'loy2', row 17: 'n/a' is not a number \(also 'dk'\); "
        r"recode it or set it to NaN$",
    ) as err:
        lm.validate_data(TWO_FACTORS, data)
    assert (err.value.column, err.value.row, err.value.value) == ("loy2", 17, "n/a")
    text = survey.astype({"sat1": "str"})
    text.loc[2, "sat1"] = "3.5.1"
    with pytest.raises(DataError, match=r"column 'sat1', row 2: '3\.5\.1' is not a number"):
        lm.validate_data(TWO_FACTORS, text)


def test_other_bad_values(survey):
    data = survey.astype({"sat2": float})
    data.loc[6, "sat2"] = np.inf
    with pytest.raises(DataError, match=r"column 'sat2', row 6: inf is infinite"):
        lm.validate_data(TWO_FACTORS, data)
    data = survey.copy()
    data["loy1"] = pd.Categorical(data.loy1.map({1: "no", 2: "no", 3: "maybe", 4: "yes", 5: "yes"}))
    with pytest.raises(DataError, match=r"column 'loy1' is categorical \(unordered.*\.cat\.codes"):
        lm.validate_data(TWO_FACTORS, data)
    data = survey.copy()
    data["loy3"] = pd.date_range("2024-01-01", periods=12)
    with pytest.raises(DataError, match=r"column 'loy3', row 0: Timestamp\('2024-01-01.*is not a number"):
        lm.validate_data(TWO_FACTORS, data)
    dup = pd.concat([survey, survey[["sat1"]]], axis=1)
    with pytest.raises(DataError, match=r"column 'sat1' appears 2 times"):
        lm.validate_data(TWO_FACTORS, dup)


def test_constant_columns(survey):
    data = survey.copy()
    data["sat3"] = 4
    with pytest.raises(DataError, match=r"column 'sat3' is constant \(every used row has 4\)") as err:
        lm.validate_data(TWO_FACTORS, data)
    assert err.value.value == 4
    data = survey.copy()
    data.loc[data.sector == "telecom", "loy1"] = 2
    lm.validate_data(TWO_FACTORS, data)  # varies overall
    with pytest.raises(DataError, match=r"column 'loy1' is constant in group 'telecom' \(every row has 2\)"):
        lm.validate_data("Loy =~ loy1 + loy2 + loy3", data, group="sector")
    data = survey.astype({"sat2": float})
    data.loc[:, "sat2"] = np.nan
    with pytest.raises(DataError, match=r"column 'sat2' has no observed value \(all 12 rows are missing\)"):
        lm.validate_data(TWO_FACTORS, data)


def test_too_few_rows(planted, survey):
    small = planted.iloc[:8]  # rows 3 and 7 incomplete -> 6 left for 6 variables
    with pytest.raises(
        DataError,
        match=r"only 6 usable rows after dropping 2 of 8 rows \(listwise\) for 6 "
        r"observed variables; at least 7 are needed.*missing='fiml'",
    ):
        lm.validate_data(TWO_FACTORS, small)
    with pytest.raises(DataError, match=r"group 'bank' has only 6 usable rows for 6 observed variables"):
        lm.validate_data(TWO_FACTORS, survey, group="sector")
    with pytest.raises(DataError, match=r"only 12 usable rows for min_rows=20"):
        lm.validate_data(TWO_FACTORS, survey, min_rows=20)
    with pytest.raises(DataError, match=r"has 2 groups but no group column"):
        lm.validate_data(lm.parse_model(TWO_FACTORS, ngroups=2), survey)


def test_ordinal_checks(survey):
    _, report = lm.validate_data(TWO_FACTORS, survey, ordinal=["sat1", "loy1"])
    assert report.ordinal == {
        "sat1": sorted(survey.sat1.unique().tolist()),
        "loy1": sorted(survey.loy1.unique().tolist()),
    }
    data = survey.astype({"loy1": float})
    data.loc[9, "loy1"] = 2.5
    with pytest.raises(DataError, match=r"ordinal column 'loy1', row 9: 2\.5 is not a whole number"):
        lm.validate_data(TWO_FACTORS, data, ordinal=["loy1"])
    _, report = lm.validate_data(TWO_FACTORS, data, ordinal="auto")
    assert "loy1" not in report.ordinal and len(report.ordinal) == 5
    with pytest.raises(DataError, match=r"ordinal item 'loy9' is not an observed variable.*did you mean"):
        lm.validate_data(TWO_FACTORS, survey, ordinal="loy9")
