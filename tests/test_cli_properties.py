"""Property-based test of the command line on generated bad arguments: every command, each option
given a value it cannot take (numbers out of range, text where a number goes, unknown names and
columns, paths in missing folders or with the wrong extension, files that are not what they should
be), one at a time. Every run ends with exit code 2 and one line ``error: ...``, no traceback, and
before any fit: each value is refused when it is read."""

from __future__ import annotations

import pytest
from hypothesis import event
from hypothesis import strategies as st
from typer.testing import CliRunner

from loyaltymodels import datasets
from loyaltymodels.cli import app
from tests.properties import fast_and_slow

runner = CliRunner()
#: Text a user can type (no NUL: argv cannot hold one).
TEXT = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), min_size=1, max_size=12)
NOT_INT = TEXT.filter(lambda s: not s.strip().lstrip("+-").isdigit())


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli_props")
    (d / "hs.lav").write_text(datasets.HS_MODEL)
    (d / "latin.lav").write_bytes("Fidélité =~ x1 + x2 + x3\n".encode("latin-1"))
    (d / "bad.lav").write_text("visual =~ x1 + + x2\n")
    datasets.load_holzinger_swineford().to_csv(d / "hs.csv", index=False)
    datasets.load_holzinger_swineford().assign(school="one").to_csv(d / "one.csv", index=False)
    (d / "notes.txt").write_text("not a survey\x00")
    (d / "other.json").write_text('{"format": "else"}')
    (d / "cut.json").write_text('{"format": "loyaltymodels.SemFit", "spec": {')
    (d / "text.nc").write_text("not a posterior")
    return d


def _choose(draw: st.DrawFn, d: str) -> list[str]:
    """One command with exactly one bad value ({d} is the files folder)."""
    hs, lav, m = f"{d}/hs.csv", f"{d}/hs.lav", f"{d}/missing"
    ext = draw(st.sampled_from([".csv", ".json", ".nc", ".xlsx", ".html", ""]))
    # a missing folder, a "folder" that is a file, or the folder itself
    bad_path = draw(st.sampled_from([f"{m}/out{ext}", f"{d}/hs.lav/out{ext}", d]))
    wrong_ext = f"{d}/out" + draw(st.sampled_from([".xls", ".txt", ".docx", ".pdf", ".lav"]))
    small = st.integers(-(10**6), 0).map(str)
    cases = {
        "sem": [
            ["--missing", draw(TEXT.filter(lambda s: s.lower() not in ("listwise", "fiml", "ml")))],
            ["--bootstrap", draw(st.sampled_from(["-1", "1", "-100"]))],
            ["--bootstrap", draw(NOT_INT)],
            ["--seed", draw(st.integers(-(10**9), -1).map(str))],
            ["--group", draw(TEXT.filter(lambda s: s not in datasets.load_holzinger_swineford().columns))],
            [
                "--group-equal",
                draw(st.text("abcdefgh.,", min_size=1, max_size=10).filter(lambda s: s.strip(","))).strip(",") + "x",
            ],
            ["--json", draw(st.sampled_from([bad_path, wrong_ext]))],
            ["--csv", draw(st.sampled_from([bad_path, wrong_ext]))],
        ],
        "bayes": [
            ["--draws", draw(small)],
            ["--tune", draw(st.integers(-(10**6), -1).map(str))],
            ["--chains", draw(small)],
            ["--seed", draw(st.integers(-(10**9), -1).map(str))],
            ["--draws", draw(NOT_INT)],
            ["--out", draw(st.sampled_from([bad_path, wrong_ext, f"{d}/post.csv"]))],
            ["--csv", draw(st.sampled_from([bad_path, wrong_ext]))],
        ],
        "loyalty": [
            ["--sector", "school", "--draws", draw(small)],
            ["--sector", "school", "--chains", draw(small)],
            [
                "--sector",
                "school",
                "--outcome",
                draw(TEXT.filter(lambda s: "=" not in s or s.startswith("=") or s.endswith("="))),
            ],
            ["--sector", "school", "--out", draw(st.sampled_from([bad_path, wrong_ext]))],
            ["--draws", "10"],  # --sector missing: a usage error
        ],
        "invariance": [
            ["--group", draw(TEXT.filter(lambda s: s not in datasets.load_holzinger_swineford().columns))],
            [
                "--group",
                "school",
                "--levels",
                draw(
                    TEXT.filter(
                        lambda s: (
                            not set(s.split(",")) <= {"configural", "metric", "scalar", "strict", "means", "structural"}
                        )
                    )
                ),
            ],
            ["--group", "school", "--out", draw(st.sampled_from([bad_path, wrong_ext]))],
            ["--group", "school", "DATA=one"],
        ],
        "simulate": [
            ["--n", draw(small), "--out", f"{d}/sim.csv"],
            ["--n", draw(NOT_INT), "--out", f"{d}/sim.csv"],
            ["--n", "10", "--scale", draw(TEXT.filter(lambda s: not _is_scale(s))), "--out", f"{d}/sim.csv"],
            ["--n", "10", "--seed", draw(st.integers(-(10**9), -1).map(str)), "--out", f"{d}/sim.csv"],
            ["--n", "10", "--out", draw(st.sampled_from([bad_path, wrong_ext]))],
            ["--n", "10", "--out", f"{d}/sim.csv", "--truth", draw(st.sampled_from([bad_path, wrong_ext]))],
            ["--n", "10"],  # --out missing
        ],
        "indices": [
            ["--nps", draw(TEXT.filter(lambda s: s not in datasets.load_holzinger_swineford().columns))],
            ["--nps", "x1", "--scale", draw(TEXT.filter(lambda s: not _is_scale(s)))],
            ["--nps", "x1", "--method", draw(TEXT.filter(lambda s: s not in ("adjusted_wald", "wald", "bayes")))],
            ["--sci", draw(st.sampled_from(["x1", "x1,x2", "x1,x2,x3,x4"]))],
            ["--nps", "x1", "--out", draw(st.sampled_from([bad_path, wrong_ext]))],
            [],  # no index named
        ],
        "report": [
            [draw(st.sampled_from([f"{d}/other.json", f"{d}/cut.json", f"{d}/text.nc", f"{m}/fit.json", hs]))],
        ],
        "study": [[draw(TEXT.filter(lambda s: s not in ("ecsi", "holzinger", "poldem")))]],
        "unknown": [[draw(st.sampled_from(["fit", "sems", "--bogus"]))]],
    }
    command = draw(st.sampled_from(sorted(cases)))
    extra = draw(st.sampled_from(cases[command]))
    event(f"{command} {extra[0] if extra else '(none)'}")
    if command in ("report", "study"):
        return [command, *extra]
    if command == "unknown":
        return extra
    model = draw(st.sampled_from([lav, lav, lav, f"{d}/latin.lav", f"{d}/bad.lav", f"{m}.lav"]))
    data = hs
    if "DATA=one" in extra:
        extra, data = [e for e in extra if e != "DATA=one"], f"{d}/one.csv"
    elif draw(st.integers(0, 5)) == 0:
        data = draw(st.sampled_from([f"{m}.csv", f"{d}/notes.txt", f"{d}/hs.lav"]))
    if model != lav:  # the model, or the data, is the bad value: the options are then good ones
        extra = []
    if command == "indices":
        return [command, data, *extra]
    if command == "simulate":
        return [command, model, *(extra if extra else ["--n", "10", "--out", f"{d}/sim.csv"])]
    if command == "loyalty" and not extra:
        extra = ["--sector", "school"]
    return [command, model, data, *extra]


def _is_scale(s: str) -> bool:
    parts = s.replace(" ", "").split("-")
    return len(parts) == 2 and all(p.isdigit() for p in parts) and int(parts[0]) < int(parts[1])


@st.composite
def bad_arguments(draw: st.DrawFn) -> list[str]:
    return _choose(draw, "{d}")


def one_line_and_exit_2(files, args: list[str]) -> None:
    args = [a.replace("{d}", str(files)) for a in args]
    res = runner.invoke(app, args)
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert res.exit_code == 2, (args, res.exit_code, res.output)
    assert len(lines) == 1 and lines[0].startswith("error: "), (args, res.output)
    assert "Traceback" not in res.output and "(run with --debug" not in lines[0], (args, res.output)


test_bad_arguments_exit_2_with_one_line, test_bad_arguments_exit_2_with_one_line_many = fast_and_slow(
    bad_arguments(), fast=60, slow=2000
)(one_line_and_exit_2)
