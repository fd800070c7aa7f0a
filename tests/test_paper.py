"""The paper's numbers: every placeholder resolves, no number is typed into the text, and the cheap
sections equal an independent computation from the package (the PDF build itself: slow test)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import loyaltymodels as lm
from loyaltymodels import datasets
from paper import build, render
from paper.sections import CHEAP, SECTIONS, claims
from paper.sections.common import num

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "paper" / "paper.md"
RESULTS = ROOT / "benchmarks" / "results"


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> tuple[Path, dict]:
    """Every section generated in fast mode into a temporary directory. The claims use their ML and
    composite-score path even where the package has the Bayesian loyalty model: its fit takes
    minutes even in fast mode (the slow build test runs it); both paths write the same keys."""
    out = tmp_path_factory.mktemp("generated")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(claims, "BAYES_AVAILABLE", False)
        return out, build.generate(out, fast=True)


def body_and_references(text: str) -> tuple[str, str]:
    body, _, refs = text.partition("\n## References")
    assert refs, "paper.md has no References section"
    return body, refs


def literal_numbers(text: str) -> list[str]:
    """Digits in the text outside placeholders and HTML tags that are neither part of an
    identifier (``x1``, ``bel1``) nor the year of a cited reference."""
    body, refs = body_and_references(text)
    years = set(re.findall(r"\((\d{4})\)\.", refs))
    bare = re.sub(r"<[^>]*>", " ", render.PLACEHOLDER.sub(" ", body))  # tags' attributes are not text
    bad = []
    for token in re.findall(r"[\w.\-]*\d[\w.\-]*", bare):
        token = token.strip(".-")
        if re.fullmatch(r"[A-Za-z_]+\d+", token) or token in years:
            continue
        bad.append(token)
    return bad


def test_rule_catches_typed_numbers():
    text = (
        '<p class="a1" x="2">Kept x1 and (Rosseel 2012); typed 0.53, 95%, n = 30, 1999.</p>\n'
        "## References\nR. (2012). T."
    )
    assert literal_numbers(text) == ["0.53", "95", "30", "1999"]


def test_no_number_is_typed_into_the_text():
    assert literal_numbers(SOURCE.read_text()) == []


def test_every_placeholder_resolves(generated):
    out, numbers = generated
    text = render.expand(SOURCE.read_text(), out, numbers)
    assert "{{" not in text and "}}" not in text
    used = {m.strip() for m in render.PLACEHOLDER.findall(SOURCE.read_text())}
    missing = {k for k in used if ":" not in k} - set(numbers)
    assert not missing
    assert all(k.split(".")[0] in SECTIONS for k in numbers)


def test_unknown_placeholder_is_an_error(generated):
    out, numbers = generated
    with pytest.raises(KeyError, match=r"studies\.nonexistent"):
        render.expand("x {{studies.nonexistent}}", out, numbers)


def test_every_table_and_figure_of_the_text_is_generated(generated):
    out, _ = generated
    for kind, name, _ in render.BLOCK.findall(SOURCE.read_text()):
        ext = {"table": "md", "figure": "png", "include": "txt"}[kind]
        assert (out / f"{name}.{ext}").stat().st_size > 0


def _text(numbers: dict, key: str) -> str:
    return numbers[key]["text"]


def test_ecsi_numbers_equal_the_package(generated):
    _, numbers = generated
    fit = lm.fit_sem(datasets.ECSI_MODEL, datasets.load_ecsi())
    p = fit.parameters.set_index(["lhs", "op", "rhs"])
    assert _text(numbers, "studies.sat_loy_ml") == num(p.loc[("LOY", "~", "SAT"), "std_all"])["text"]
    assert _text(numbers, "studies.df") == str(int(fit.fit_measures["df"]))
    # PLS against plspm's published reference (a file the code did not produce)
    ref = pd.read_csv(ROOT / "loyaltymodels" / "datasets" / "ecsi_pls_reference.csv")
    assert np.isclose(numbers["studies.sat_loy_pls"]["value"], _reference_path(ref, "LOY", "SAT"), atol=1e-6)
    assert numbers["studies.pls_max_dev"]["value"] < 1e-6


def _reference_path(ref: pd.DataFrame, lhs: str, rhs: str) -> float:
    row = ref[(ref["from"] == rhs) & (ref["to"] == lhs)]
    assert len(row) == 1, f"{rhs} -> {lhs} not in the reference"
    return float(row.path_coefficient.iloc[0])


def test_lavaan_numbers_come_from_the_recorded_run(generated):
    _, numbers = generated
    rec = pd.read_csv(RESULTS / "against_r.csv").set_index("model")
    assert numbers["studies.lavaan_est_dev"]["value"] == pytest.approx(rec.loc["ECSI", "max_abs_diff_est"])
    assert _text(numbers, "speed.lavaan_version") == rec.loc["ECSI", "lavaan_version"]


def test_index_coverage_equals_the_recorded_exact_values(generated):
    """The exact coverages in the paper equal the bracketed exact values that
    benchmarks/indices_coverage.py recorded (its own code)."""
    out, numbers = generated
    recorded = (RESULTS / "indices_coverage.txt").read_text()
    row = re.search(r"^\s+10\s+80\s+\S+ \[([\d.]+)\].*?\s+\S+ \[([\d.]+)\]", recorded, re.M)
    assert _text(numbers, "indices.adj_n80_small") == row.group(1)
    assert _text(numbers, "indices.wald_n80_small") == row.group(2)
    tab = pd.read_csv(out / "index_coverage.csv")
    assert (tab.drop(columns="n") > 75).all().all() and (tab.drop(columns="n") < 100).all().all()


def test_model_numbers_equal_the_spec(generated):
    _, numbers = generated
    spec = lm.parse_model(lm.loyalty_model())
    assert numbers["model.n_items"]["value"] == len(spec.observed)
    assert numbers["model.n_latents"]["value"] == len(spec.latents)


def test_built_numbers_equal_a_fresh_computation(generated):
    """If the paper was built (paper/generated exists), its cheap sections equal a regeneration."""
    path = build.GENERATED / "numbers.json"
    if not path.exists():
        pytest.skip("paper not built (make paper)")
    built = json.loads(path.read_text())
    _, fresh = generated
    # repro (date, mode) legitimately differs between a full build and this fast one
    cheap = [k for k in fresh if k.split(".")[0] in CHEAP and not k.startswith("repro.")]
    assert {k: built.get(k, {}).get("text") for k in cheap} == {k: fresh[k]["text"] for k in cheap}


def test_markdown_table_marks_missing_values():
    md = render.markdown_table(pd.DataFrame({"a": [0.5, np.nan], "ok": [True, False]}))
    assert md.splitlines()[2:] == ["| 0.5 | yes |", "| — | no |"]


@pytest.mark.slow
def test_make_paper_builds_the_pdf():
    """The whole build (make paper's Python entry, in the fast mode conftest sets): a PDF of
    several pages with the title. It rewrites paper/generated and paper/paper.pdf."""
    pypdf = pytest.importorskip("pypdf")
    pytest.importorskip("weasyprint")
    assert build.main([]) == 0
    reader = pypdf.PdfReader(str(build.HERE / "paper.pdf"))
    assert len(reader.pages) >= 4
    assert "beliefs, experience and loyalty" in reader.pages[0].extract_text()


def test_build_announces_each_section_before_it_runs_and_quiet_turns_progress_off(tmp_path, monkeypatch, capsys):
    from paper.sections import common
    from paper.sections.common import Section

    seen = []

    def section(name):
        def make(fast):
            # what the section's samplers are told, and what the user saw before it started
            seen.append((name, common.PROGRESS, capsys.readouterr().err))
            return Section(numbers={"x": num(1.0)})

        return make

    monkeypatch.setattr(build, "SECTIONS", {"premier": section("premier"), "second": section("second")})
    build.generate(tmp_path, fast=True, progress=True)
    assert [(n, p) for n, p, _ in seen] == [("premier", True), ("second", True)]
    assert "[1/2] premier" in seen[0][2] and "[2/2] second" in seen[1][2]
    seen.clear()
    build.generate(tmp_path, fast=True, progress=False)
    assert [p for _, p, _ in seen] == [False, False] and "[1/2]" not in seen[0][2]
    # python -m paper.build --quiet passes progress=False
    calls = {}
    monkeypatch.setattr(build, "generate", lambda out, **kw: calls.update(kw))
    monkeypatch.setattr(build, "GENERATED", tmp_path)
    monkeypatch.setattr(build, "render_html", lambda *a, **k: "")
    assert build.main(["--quiet", "--no-pdf"]) == 0 and calls["progress"] is False
    assert build.main(["--no-pdf"]) == 0 and calls["progress"] is None
