"""Survey files in (the validation every fit runs is tested in test_validate.py).

Files of each format are written in ``tmp_path`` by other writers (pandas, pyreadstat, or bytes typed
by hand for the European CSV exports) and read back; expected frames, labels and missing-value counts
are written out in the tests, not produced by the code under test.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import loyaltymodels as lm
from loyaltymodels import datasets
from loyaltymodels.errors import DataError
from tests.survey_support import ITEMS


def write_bytes(path, text: str, encoding: str) -> str:
    path.write_bytes(text.encode(encoding))
    return str(path)


# -- CSV -------------------------------------------------------------------------------------------
def test_csv_comma_round_trip(tmp_path, survey):
    path = tmp_path / "survey.csv"
    survey.to_csv(path, index=False)
    df = lm.read_survey(path)
    pd.testing.assert_frame_equal(df, survey, check_dtype=False)
    assert df[ITEMS].dtypes.eq("int64").all() and df.price.dtype == "float64"
    assert df.attrs["source"] == {
        "path": str(path),
        "format": "csv",
        "sep": ",",
        "decimal": ".",
        "thousands": None,
        "encoding": "utf-8",
    }
    assert df.attrs["value_labels"] == {} and df.attrs["column_labels"] == {}


def test_csv_european_export(tmp_path):
    # semicolons, decimal comma, "." thousands, a quoted field holding the separator, accents in
    # cp1252, and the trailing separator Excel leaves on every line
    text = (
        "id;qualité;Zufriedenheit_ü;umsatz;kommentar;\r\n"
        '1;3,5;7;1.234,5;"gut; sehr";\r\n'
        '2;4;8,25;980,0;"";\r\n'
        '3;2,75;10;12.000,75;"naïve";\r\n'
    )
    df = lm.read_survey(write_bytes(tmp_path / "export.csv", text, "cp1252"))
    expected = pd.DataFrame(
        {
            "id": [1, 2, 3],
            "qualité": [3.5, 4.0, 2.75],
            "Zufriedenheit_ü": [7.0, 8.25, 10.0],
            "umsatz": [1234.5, 980.0, 12000.75],
            "kommentar": ["gut; sehr", np.nan, "naïve"],
        }
    )
    pd.testing.assert_frame_equal(df, expected, check_dtype=False)
    assert df["qualité"].dtype == "float64"
    src = df.attrs["source"]
    assert (src["sep"], src["decimal"], src["thousands"], src["encoding"]) == (";", ",", ".", "cp1252")


def test_csv_bom_tab_and_explicit_options(tmp_path):
    df = lm.read_survey(write_bytes(tmp_path / "bom.csv", "\ufeffa,b\n1,2\n3,4\n", "utf-8"))
    assert list(df.columns) == ["a", "b"] and df.attrs["source"]["encoding"] == "utf-8-sig"
    df = lm.read_survey(write_bytes(tmp_path / "tab.tsv", "a\tb\n1,5\t2\n3\t4,5\n", "utf-8"))
    assert df.attrs["source"]["sep"] == "\t" and df.a.tolist() == [1.5, 3.0] and df.b.tolist() == [2.0, 4.5]
    # "1,234": a decimal comma in a ;-separated file, a thousands separator in a ,-separated one
    path = write_bytes(tmp_path / "semi.csv", "a;b\n1,234;2\n", "utf-8")
    assert lm.read_survey(path).a.tolist() == [1.234]
    # a wrong sep is obeyed, and the record it splits into more fields than the header is named
    # (pandas used to take the extra field as the index and read "234;2" as the value of "a;b")
    with pytest.raises(DataError, match=r"line 2 has 2 fields, more than the 1 of the header \(sep=','\)"):
        lm.read_survey(path, sep=",")
    path = write_bytes(tmp_path / "comma.csv", 'a,b\n"1,234",2\n', "utf-8")
    df = lm.read_survey(path)
    assert df.a.tolist() == [1234] and df.attrs["source"]["thousands"] == ","
    assert lm.read_survey(path, decimal=",").a.tolist() == [1.234]


def test_csv_encoding_given_and_wrong(tmp_path):
    path = write_bytes(tmp_path / "latin.csv", "prénom,x\nÉlodie,1\n", "latin-1")
    assert lm.read_survey(path, encoding="latin-1").columns.tolist() == ["prénom", "x"]
    with pytest.raises(DataError, match=r"cannot be decoded as utf-8.*leave encoding= unset") as err:
        lm.read_survey(path, encoding="utf-8")
    assert isinstance(err.value.__cause__, UnicodeDecodeError)


# -- Excel -----------------------------------------------------------------------------------------
def test_xlsx_two_sheets(tmp_path, survey):
    path = tmp_path / "survey.xlsx"
    second = pd.DataFrame({"x": [1.5, 2.5], "y": ["a", "b"]})
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        survey.to_excel(writer, sheet_name="wave 1", index=False)
        second.to_excel(writer, sheet_name="wave 2", index=False)
    first = lm.read_survey(path)
    pd.testing.assert_frame_equal(first, survey, check_dtype=False)
    assert first[ITEMS].dtypes.eq("int64").all()
    assert first.attrs["source"] == {"path": str(path), "format": "excel", "sheet": "wave 1"}
    for sheet in ("wave 2", 1, -1):
        pd.testing.assert_frame_equal(lm.read_survey(path, sheet=sheet), second, check_dtype=False)
    with pytest.raises(DataError, match=r"no sheet 'wave 3'; its sheets are 'wave 1', 'wave 2'"):
        lm.read_survey(path, sheet="wave 3")
    with pytest.raises(DataError, match=r"has 2 sheet\(s\).*sheet=2 is out of range"):
        lm.read_survey(path, sheet=2)


def test_xlsx_duplicated_header(tmp_path):
    path = tmp_path / "dup.xlsx"
    pd.DataFrame([[1, 2, 3]], columns=["q1", "q2", "q1"]).to_excel(path, index=False)
    with pytest.raises(DataError, match=r"duplicated column names: 'q1' \(2 times\)") as err:
        lm.read_survey(path)
    assert err.value.column == "q1"


def test_xlsx_label_sheets(tmp_path, survey):
    # a workbook written by hand as the questionnaire templates lay it out: data, variables, values
    path = tmp_path / "labelled.xlsx"
    variables = pd.DataFrame({"variable": ["sat1", "loy1"], "label": ["Êtes-vous satisfait ?", "Reviendrez-vous ?"]})
    values = pd.DataFrame({"variable": ["sat1", "sat1"], "code": [1, 5], "label": ["Pas du tout", "Tout à fait"]})
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        survey.to_excel(writer, sheet_name="data", index=False)
        variables.to_excel(writer, sheet_name="variables", index=False)
        values.to_excel(writer, sheet_name="values", index=False)
    df = lm.read_survey(path)
    pd.testing.assert_frame_equal(df, survey, check_dtype=False)
    assert df.attrs["column_labels"] == {"sat1": "Êtes-vous satisfait ?", "loy1": "Reviendrez-vous ?"}
    assert df.attrs["value_labels"] == {"sat1": {1: "Pas du tout", 5: "Tout à fait"}}
    assert lm.read_survey(path, sheet="variables").attrs["column_labels"] == {}  # labels of the data sheet only


def test_csv_codebook_beside_the_file(tmp_path, survey):
    # a CSV template's labels live in <name>_codebook.csv, written with the same separator
    survey.to_csv(tmp_path / "retour.csv", sep=";", index=False)
    book = pd.DataFrame(
        {
            "variable": ["sat1", "loy1"],
            "label": ["Êtes-vous satisfait ?", "Reviendrez-vous ?"],
            "values": ["1 = Pas du tout; 5 = Tout à fait", "1 = Non; oui, peut-être; 2 = Oui"],
        }
    )
    book.to_csv(tmp_path / "retour_codebook.csv", sep=";", index=False)
    df = lm.read_survey(tmp_path / "retour.csv")
    pd.testing.assert_frame_equal(df, survey, check_dtype=False)
    assert df.attrs["column_labels"] == {"sat1": "Êtes-vous satisfait ?", "loy1": "Reviendrez-vous ?"}
    assert df.attrs["value_labels"] == {
        "sat1": {1: "Pas du tout", 5: "Tout à fait"},
        "loy1": {1: "Non; oui, peut-être", 2: "Oui"},
    }
    survey.to_csv(tmp_path / "plain.csv", index=False)
    assert lm.read_survey(tmp_path / "plain.csv").attrs["value_labels"] == {}  # no codebook, no labels


# -- SPSS and Stata --------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".sav", ".zsav"])
def test_spss_labels_and_user_missing(tmp_path, suffix):
    import pyreadstat

    written = pd.DataFrame(
        {
            "sat1": [1.0, 2.0, 9.0, 5.0, np.nan],
            "loy1": [3.0, 98.0, 99.0, 4.0, 1.0],
            "city": ["Köln", "Lyon", "Porto", "Lyon", "Köln"],
        }
    )
    path = tmp_path / f"survey{suffix}"
    pyreadstat.write_sav(
        written,
        path,
        compress=suffix == ".zsav",
        column_labels={"sat1": "Overall satisfaction", "loy1": "Would recommend"},
        variable_value_labels={"sat1": {1: "very low", 5: "very high", 9: "don't know"}},
        missing_ranges={"sat1": [9], "loy1": [{"lo": 98, "hi": 99}]},
    )
    df = lm.read_survey(path)
    expected = written.copy()
    expected.loc[2, "sat1"] = np.nan  # 9 is user-missing
    expected.loc[[1, 2], "loy1"] = np.nan  # 98-99 is a user-missing range
    pd.testing.assert_frame_equal(df, expected, check_dtype=False)
    assert df.sat1.dtype == "float64" and df.loy1.dtype == "float64"  # codes stay numbers
    assert df.attrs["value_labels"] == {"sat1": {1: "very low", 5: "very high", 9: "don't know"}}
    assert df.attrs["column_labels"] == {"sat1": "Overall satisfaction", "loy1": "Would recommend"}
    src = df.attrs["source"]
    assert src["format"] == "spss" and src["user_missing"] == {
        "sat1": {"codes": [[9, 9]], "count": 1},
        "loy1": {"codes": [[98, 99]], "count": 2},
    }
    json.dumps(df.attrs)  # metadata can be saved with a result


def test_stata_labels(tmp_path):
    import pyreadstat

    written = pd.DataFrame({"sat1": [1.0, 2.0, 3.0, np.nan], "gender": [0.0, 1.0, 1.0, 0.0]})
    path = tmp_path / "survey.dta"
    pyreadstat.write_dta(
        written,
        path,
        column_labels={"sat1": "Satisfaction"},
        variable_value_labels={"gender": {0: "male", 1: "female"}},
    )
    df = lm.read_survey(path)
    pd.testing.assert_frame_equal(df, written)
    assert df.attrs["value_labels"] == {"gender": {0: "male", 1: "female"}}
    assert df.attrs["column_labels"] == {"sat1": "Satisfaction"}
    assert df.attrs["source"]["format"] == "stata"


# -- reading errors --------------------------------------------------------------------------------
def test_read_errors(tmp_path):
    with pytest.raises(DataError, match=r"no file at '.*nowhere\.csv'.*check the path"):
        lm.read_survey(tmp_path / "nowhere.csv")
    with pytest.raises(DataError, match=r"is a directory"):
        lm.read_survey(tmp_path)
    for name, hint in [
        ("survey.json", r"supported: \.csv, .*\.sav, \.zsav, \.dta, \.parquet\)$"),
        ("old.xls", r"save it as \.xlsx"),
    ]:
        (tmp_path / name).write_text("{}")
        with pytest.raises(DataError, match=rf"unsupported extension '\.\w+'.*{hint}"):
            lm.read_survey(tmp_path / name)
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(DataError, match=r"empty\.csv' is empty \(0 bytes\)"):
        lm.read_survey(tmp_path / "empty.csv")
    (tmp_path / "blank.csv").write_text("\n \n")
    with pytest.raises(DataError, match=r"is empty \(only blank lines\)"):
        lm.read_survey(tmp_path / "blank.csv")
    (tmp_path / "header.csv").write_text("a;b\n")
    with pytest.raises(DataError, match=r"has column names but no rows"):
        lm.read_survey(tmp_path / "header.csv")
    (tmp_path / "dup.csv").write_text("q1,q2,q1,,\n1,2,3,,\n")
    with pytest.raises(DataError, match=r"duplicated column names: 'q1' \(2 times\); rename them"):
        lm.read_survey(tmp_path / "dup.csv")
    with pytest.raises(DataError, match=r"sheet= applies to Excel files only"):
        lm.read_survey(datasets.ecsi_path(), sheet=1)
    with pytest.raises(DataError, match=r"sep= and decimal= apply to CSV files only"):
        lm.read_survey(write_bytes(tmp_path / "survey.sav", "x", "ascii"), sep=";")
    with pytest.raises(DataError, match=r"encoding= does not apply to Excel"):
        lm.read_survey(write_bytes(tmp_path / "survey.xlsx", "x", "ascii"), encoding="cp1252")


@pytest.mark.parametrize(
    "name, reader", [("bad.xlsx", "openpyxl"), ("bad.sav", "pyreadstat read_sav"), ("bad.dta", "pyreadstat read_dta")]
)
def test_corrupt_files_name_the_reader(tmp_path, name, reader):
    (tmp_path / name).write_bytes(b"this is not what the extension says" * 10)
    with pytest.raises(DataError, match=rf"could not be read as an .*\({reader}") as err:
        lm.read_survey(tmp_path / name)
    assert err.value.__cause__ is not None  # chained, not swallowed


def test_file_to_fit_ready_frame(tmp_path, ecsi):
    """A European export of the ECSI survey gives back the bundled data, with its source stated."""
    path = tmp_path / "ecsi.csv"
    ecsi.to_csv(path, sep=";", decimal=",", index=False, encoding="cp1252")
    out, report = lm.validate_data(datasets.BELIEFS_EXPERIENCE_MODEL, lm.read_survey(path))
    spec = lm.parse_model(datasets.BELIEFS_EXPERIENCE_MODEL)
    pd.testing.assert_frame_equal(out, ecsi[spec.observed].astype(float), check_like=False)
    assert out.attrs["source"]["sep"] == ";" and report.source["path"] == str(path)
    assert str(report).splitlines()[-1] == f"Source: {path} (csv, sep ';', decimal '.', encoding 'utf-8')."


def test_csv_records_must_have_the_headers_width(tmp_path):
    # one field more than the header on every row: pandas took the first field as the index and
    # shifted every value one column (x1 read 2, 6 instead of 1, 5)
    path = write_bytes(tmp_path / "wide.csv", "x1,x2,x3\n1,2,3,4\n5,6,7,8\n", "utf-8")
    with pytest.raises(DataError, match=r"wide.csv' line 2 has 4 fields, more than the 3 of the header") as err:
        lm.read_survey(path)
    assert err.value.row == 2
    # a truncated last record (the export stopped mid-row) is not filled with NaN silently
    path = write_bytes(tmp_path / "cut.csv", "x1,x2,x3\n1,2,3\n5,6\n", "utf-8")
    with pytest.raises(DataError, match=r"line 3 has 2 fields, fewer than the 3 .* truncated"):
        lm.read_survey(path)
    # trailing separators (blank extra fields) are the habit of many exports, and read as they are
    path = write_bytes(tmp_path / "trailing.csv", "x1,x2,x3\n1,2,3,\n5,6,7,\n", "utf-8")
    df = lm.read_survey(path)
    assert df.columns.tolist() == ["x1", "x2", "x3"] and df.x1.tolist() == [1, 5] and df.x3.tolist() == [3, 7]
    # a quoted separator or line break inside a field is one field
    path = write_bytes(tmp_path / "quoted.csv", 'x1,note\n1,"a, b"\n2,"two\nlines"\n', "utf-8")
    assert lm.read_survey(path).note.tolist() == ["a, b", "two\nlines"]
