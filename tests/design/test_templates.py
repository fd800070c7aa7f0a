"""The data templates: read back by the libraries a fieldwork agency and a researcher use (pyreadstat,
openpyxl/pandas), with the labels the questionnaire gave them, and read by read_survey with them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyreadstat
import pytest

import loyaltymodels as lm
from loyaltymodels.design.templates import SPSS_LABEL_BYTES
from loyaltymodels.errors import DataError


@pytest.fixture(scope="module")
def q():
    return lm.questionnaire(language="fr", scale="1-5", brand="Orange", sectors=["banque", "télécom"], waves=2)


def test_sav_template_round_trips_through_pyreadstat(q, tmp_path):
    path = q.to_sav(tmp_path / "modèle.sav")
    df, meta = pyreadstat.read_sav(str(path))
    assert len(df) == 0 and meta.column_names == q.columns
    for r in q.items.itertuples():
        assert meta.column_names_to_labels[r.name] == r.text  # every French wording fits in 256 bytes
        expected = {float(k): v for k, v in r.labels.items()}
        assert meta.variable_value_labels.get(r.name, {}) == expected
    assert meta.variable_value_labels["sector"] == {1.0: "banque", 2.0: "télécom"}
    assert meta.variable_measure["img1"] == "ordinal" and meta.variable_measure["purchases_12m"] == "scale"
    assert meta.variable_measure["bought_12m"] == "nominal"
    assert meta.column_names_to_labels["img1"] == "Ce que dit et fait Orange inspire confiance."
    assert meta.variable_value_labels["cli_rec"][1.0] == "Très probable"  # the CLI's 1 = very likely


def test_returned_sav_is_read_with_its_labels_and_validates(q, tmp_path):
    data, _ = q.simulate(120, seed=4)
    path = q.to_sav(tmp_path / "retour.sav", data)
    back = lm.read_survey(path)
    assert back.attrs["column_labels"]["nps"] == q.text("nps")
    assert back.attrs["value_labels"]["nps"] == {0: "Pas du tout probable", 10: "Extrêmement probable"}
    assert back.attrs["value_labels"]["sector"] == {1: "banque", 2: "télécom"}
    np.testing.assert_array_equal(back[q.questions].to_numpy(), data[q.questions].to_numpy(dtype=float))
    frame, report = q.validate_data(back)  # sector codes 1, 2 are the study's sectors, named again
    assert report.n_used == 240 and list(frame.columns[:3]) == ["img1", "img2", "img3"]
    assert report.group_sizes == {"banque": 120, "télécom": 120} and back.sector.iloc[0] == 1  # input untouched


def test_long_labels_are_cut_where_spss_cuts_them(tmp_path):
    q = lm.questionnaire(["image", "quality", "intention"], brand="B" * 300, items_per_construct=2)
    path = q.to_sav(tmp_path / "long.sav")
    _, meta = pyreadstat.read_sav(str(path))
    label = meta.column_names_to_labels["img1"]
    assert label.endswith("…") and len(label.encode("utf-8")) <= SPSS_LABEL_BYTES
    assert q.codebook().set_index("variable").at["img1", "label"].count("B") == 300  # the codebook keeps it whole


def test_xlsx_template_has_labels_and_cell_rules(q, tmp_path):
    from openpyxl import load_workbook

    path = q.to_xlsx(tmp_path / "modèle.xlsx")
    book = load_workbook(path)
    assert book.sheetnames == ["data", "variables", "values"]
    header = [c.value for c in book["data"][1]]
    assert header == q.columns
    rules = {
        str(dv.sqref).split(":")[0]: (dv.formula1, dv.formula2) for dv in book["data"].data_validations.dataValidation
    }
    column = {name: k for k, name in enumerate(header)}
    from openpyxl.utils import get_column_letter

    assert rules[f"{get_column_letter(column['img1'] + 1)}2"] == ("1", "5")
    assert rules[f"{get_column_letter(column['nps'] + 1)}2"] == ("0", "10")
    back = lm.read_survey(q.to_xlsx(tmp_path / "retour.xlsx", q.simulate(50, seed=1)[0]))
    assert back.attrs["column_labels"]["img2"] == q.text("img2")
    assert back.attrs["value_labels"]["img2"] == q.labels("img2")
    assert back.attrs["source"]["sheet"] == "data"
    q.validate_data(back)


def test_csv_template_and_codebook(q, tmp_path):
    assert lm.questionnaire(items_per_construct=2).to_csv(tmp_path / "en.csv").read_text().startswith("respondent_id,")
    path = q.to_csv(tmp_path / "modele.csv")  # French: ';' as French Excel writes CSV
    assert path.read_text(encoding="utf-8").strip() == ";".join(q.columns)
    book = pd.read_csv(tmp_path / "modele_codebook.csv", sep=";")
    assert list(book.variable) == q.columns
    assert book.set_index("variable").at["img1", "values"].startswith("1 = Pas du tout d'accord; 2 = ")
    filled = q.to_csv(tmp_path / "filled.csv", q.simulate(30, seed=2)[0], sep=";")
    back = lm.read_survey(filled)
    assert back.shape == (60, len(q.columns)) and back.attrs["source"]["sep"] == ";"
    # read back with the labels its codebook keeps, as the SPSS and Excel templates are
    assert back.attrs["column_labels"]["img1"] == q.text("img1")
    assert back.attrs["value_labels"]["img1"] == q.labels("img1")
    assert back.attrs["value_labels"]["nps"] == q.labels("nps")
    q.validate_data(back)


def test_filling_a_template_needs_every_column(q, tmp_path):
    data, _ = q.simulate(10, seed=1)
    with pytest.raises(DataError, match="'sat2'"):
        q.to_sav(tmp_path / "x.sav", data.drop(columns="sat2"))
    with pytest.raises(DataError, match="'bnque' is not one of the study's sectors"):
        q.to_sav(tmp_path / "x.sav", data.assign(sector="bnque"))


def test_codebook_lists_every_column(q):
    book = q.codebook()
    assert list(book.variable) == q.columns
    row = book.set_index("variable").loc["nps"]
    assert (row.scale, row.measure, row.indices) == ("0-10", "ordinal", "nps:x")
    assert "Reichheld" in row.source and "translated for loyaltymodels" in row.source
