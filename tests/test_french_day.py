"""Issue 22's trial, as a French market researcher runs it: 400 respondents in 4 sectors,
accented column and latent names, ``;`` and decimal commas, 4% missing answers, a churn column;
the file is written here by NumPy alone (not by the package's generator), then read, fitted and
written back through the command line, and the outputs opened with the libraries a user would
open them with (pandas, openpyxl)."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import loyaltymodels as lm
from loyaltymodels.cli import app
from loyaltymodels.errors import DataWarning

SECTORS = ("Banque", "Télécom", "Énergie", "Assurance")
#: Standardized weights of (réputation, qualité de service) in each sector: the truth.
WEIGHTS = {"Banque": (0.6, 0.2), "Télécom": (0.2, 0.6), "Énergie": (0.4, 0.4), "Assurance": (0.55, 0.25)}
MODEL = """
Réputation =~ réputation_1 + réputation_2 + réputation_3
QualitéService =~ qualité_service_1 + qualité_service_2 + qualité_service_3
Fidélité =~ fidélité_1 + fidélité_2 + fidélité_3
Fidélité ~ Réputation + QualitéService
"""


def write_enquete(path: Path, n: int = 400, seed: int = 22) -> pd.DataFrame:
    """The client survey as French Excel exports it, and the complete data as a frame."""
    rng = np.random.default_rng(seed)
    sector = rng.integers(0, len(SECTORS), n)
    w = np.array([WEIGHTS[s] for s in SECTORS])[sector]
    b = rng.normal(size=n)
    e = 0.3 * b + np.sqrt(1 - 0.09) * rng.normal(size=n)
    mean = w[:, 0] * b + w[:, 1] * e
    resid = np.sqrt(np.maximum(1 - (w[:, 0] ** 2 + w[:, 1] ** 2 + 2 * 0.3 * w[:, 0] * w[:, 1]), 0.05))
    loy = mean + resid * rng.normal(size=n)
    cols: dict[str, np.ndarray] = {}
    for j in (1, 2, 3):
        cols[f"réputation_{j}"] = np.round(5 + 1.5 * b + rng.normal(size=n), 2)
        cols[f"qualité_service_{j}"] = np.round(5 + 1.5 * e + rng.normal(size=n), 2)
        cols[f"fidélité_{j}"] = np.round(5 + 1.5 * loy + rng.normal(size=n), 2)
    for v in cols.values():
        v[rng.random(n) < 0.04] = np.nan  # 4% missing answers, item by item
    churn = (rng.random(n) < 1 / (1 + np.exp(1.0 + 1.2 * loy))).astype(int)
    header = ["secteur", *cols, "résiliation"]
    lines = [";".join(header)]
    for i in range(n):
        values = ["" if np.isnan(cols[k][i]) else f"{cols[k][i]:.2f}".replace(".", ",") for k in cols]
        lines.append(";".join([SECTORS[sector[i]], *values, str(churn[i])]))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8-sig")  # Excel's "CSV UTF-8"
    return pd.DataFrame({"secteur": [SECTORS[s] for s in sector], **cols, "résiliation": churn})


@pytest.fixture(scope="module")
def enquete(tmp_path_factory):
    d = tmp_path_factory.mktemp("enquete")
    frame = write_enquete(d / "enquête.csv")
    (d / "modèle.lav").write_text(MODEL, encoding="utf-8")
    return d, frame


runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_the_file_reads_as_written(enquete):
    d, frame = enquete
    data = lm.read_survey(d / "enquête.csv")
    assert list(data.columns) == list(frame.columns)
    pd.testing.assert_frame_equal(data, frame, check_dtype=False)
    assert 0.02 < data.iloc[:, 1:-1].isna().to_numpy().mean() < 0.06


def test_sem_on_the_accented_model(enquete, tmp_path):
    d, frame = enquete
    res = run(
        "sem",
        d / "modèle.lav",
        d / "enquête.csv",
        "--group",
        "secteur",
        "--csv",
        tmp_path / "p.csv",
        "--csv-format",
        "excel-fr",
    )
    assert res.exit_code == 0, res.output
    out = res.output
    # lavaan's Used / Total when rows were dropped, every name whole (qualité_service_1, _2, _3)
    used = frame.iloc[:, 1:-1].notna().all(axis=1).sum()
    assert re.search(rf"\n {{2}}Number of observations +{used} +{len(frame)}\n", out)
    assert "(group " not in out and "Fidélité [Énergie]" in out  # R-square by sector name
    for j in (1, 2, 3):
        assert f"qualité_service_{j}" in out
    # the listwise warning is one line, without a Python file path or source line
    warning = [ln for ln in out.splitlines() if ln.startswith("warning: Listwise")]
    assert len(warning) == 1 and ".py" not in out.split("loyaltymodels 0")[0]
    # in the command's words: the option, not the Python argument
    assert "--missing fiml" in warning[0] and "missing='fiml'" not in out
    # the French Excel CSV, as pandas reads it with French settings
    text = (tmp_path / "p.csv").read_bytes()
    assert text.startswith(b"\xef\xbb\xbf")  # UTF-8 with a BOM: Excel shows the accents
    table = pd.read_csv(tmp_path / "p.csv", sep=";", decimal=",", encoding="utf-8-sig")
    api = lm.fit_sem(MODEL, frame, group="secteur")
    np.testing.assert_allclose(table["est"], api.parameters["est"], rtol=1e-9)
    assert "Réputation" in set(table.lhs)


def test_summary_returns_its_text(enquete, capsys):
    _, frame = enquete
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        fit = lm.fit_sem(MODEL, frame, missing="fiml")
    text = fit.summary()
    printed = capsys.readouterr().out
    assert isinstance(text, str) and text.strip() == printed.strip() and "Fidélité =~" in text
    assert fit.summary(print_=False) == text and capsys.readouterr().out == ""


def test_invariance_rows_named_with_delta_fit(enquete, tmp_path):
    d, _ = enquete
    out = tmp_path / "inv.xlsx"
    res = run("--quiet", "invariance", d / "modèle.lav", d / "enquête.csv", "--group", "secteur", "--out", out)
    assert res.exit_code == 0, res.output
    book = pd.read_excel(out, engine="openpyxl")  # a real workbook
    assert book["level"].tolist() == ["configural", "metric", "scalar", "strict"]
    for line, level in zip(res.output.split("Measurement invariance:")[1].strip().splitlines()[1:], book.level):
        assert line.split()[0] == level
    assert {"cfi_diff", "rmsea_diff", "chisq_diff"} <= set(book.columns)
    np.testing.assert_allclose(book.rmsea_diff[1:], np.diff(book.rmsea))
    assert book["df"].dtype.kind == "i" and book["npar"].dtype.kind == "i"


def test_csv_format_checked_before_the_fit(enquete, tmp_path):
    d, _ = enquete
    res = run("sem", d / "modèle.lav", d / "enquête.csv", "--csv", tmp_path / "p.csv", "--csv-format", "excel")
    assert res.exit_code == 2 and "excel-fr" in res.output
    assert not (tmp_path / "p.csv").exists()


# -- the loyalty model and the invest answer (compiles the loyalty density: slow) ------------------
@pytest.fixture(scope="module")
def loyalty_run(enquete, tmp_path_factory):
    d, _ = enquete
    out = tmp_path_factory.mktemp("fidelite") / "post.nc"
    res = run(
        "--quiet", "loyalty", d / "modèle.lav", d / "enquête.csv", "--sector", "secteur",
        "--outcome", "churn=résiliation", "--draws", 150, "--tune", 150, "--chains", 2, "--seed", 1, "--out", out,
    )  # fmt: skip
    return res, out


@pytest.mark.slow
def test_loyalty_command_verdict_first_and_plain_words(loyalty_run):
    res, _ = loyalty_run
    assert res.exit_code in (0, 1), res.output
    text = res.output
    verdict = text.index("Do not use these results yet" if res.exit_code else "The sampler converged")
    assert verdict < text.index("Standardized driver weights")  # the verdict before the estimates
    if res.exit_code:
        # "rhat  Fidélité=~fidélité_2 [all 4 sectors]  1.043  1.01": the parameter between check and numbers
        names = [" ".join(ln.split()[1:-2]) for ln in text[:verdict].splitlines() if ln.startswith(" rhat ")]
        assert len(names) == len(set(names)) and not any(".g" in n for n in names)
    plain = text.split("In plain words:")[1]
    for sector in SECTORS:
        assert f"{sector}: " in plain
    assert "weighs more in loyalty than" in plain and "probability" in plain and "RMSEA" in plain


@pytest.mark.slow
def test_invest_command_equals_an_independent_computation(loyalty_run, tmp_path):
    _, post_path = loyalty_run
    res = run("invest", post_path, "--out", tmp_path / "invest.xlsx")
    assert res.exit_code == 0, res.output
    table = pd.read_excel(tmp_path / "invest.xlsx", engine="openpyxl")
    assert "In plain words:" in res.output and "invest in" in res.output
    # linear model: one point on a driver's items moves its latent by 1 / mean loading, loyalty's
    # latent by weight / mean loading, and loyalty's items by that times their mean loading
    post = lm.load_posterior(post_path)
    ds, cd = post["posterior"].dataset, post["constant_data"].dataset
    par = ds["param"].stack(d=("chain", "draw"))

    def loading(latent):
        rows = (par.op == "=~") & (par.lhs == latent) & (par.group == 1)
        return par.sel(parameter=rows).mean("parameter").to_numpy()

    w = ds["weight"].stack(d=("chain", "draw")).transpose("cell", "driver", "d").to_numpy()
    drivers = [str(v) for v in ds["weight"].driver.values]
    sizes = cd["cell_size"].to_numpy()
    for k, drv in enumerate(drivers):
        gain = w[:, k, :] * loading("Fidélité") / loading(drv)  # (cell, draw)
        for s, sector in enumerate(cd["sector"].values):
            cells = cd["cell_sector"].to_numpy() == s
            expect = np.average(gain[cells], axis=0, weights=sizes[cells]).mean()
            got = table[(table.target == "loyalty") & (table.sector == sector) & (table.driver == drv)]["mean"].item()
            assert got == pytest.approx(expect, rel=1e-9)
        everyone = np.average(gain, axis=0, weights=sizes).mean()
        got = table[(table.target == "loyalty") & (table.sector == "all customers") & (table.driver == drv)][
            "mean"
        ].item()
        assert got == pytest.approx(everyone, rel=1e-9)
    # named apart from driver_weights' pooled row (the hierarchical mean sector, another quantity)
    assert "pooled" not in set(table.sector) and "pooled" in set(lm.driver_weights(post).sector)
