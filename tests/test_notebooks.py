"""The notebooks: stored without outputs, and each runs top to bottom in fast mode.

Fast mode (``LOYALTYMODELS_FAST=1``) shrinks the draws, bootstrap and replications; ``make
notebooks`` runs them at full size. A notebook whose package functions have not landed yet (listed
in its metadata) is skipped with the reason.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
EXPECTED = [
    "01_quickstart",
    "02_ecsi_reproduction",
    "03_sectors_and_behaviour",
    "04_loyalty_indices",
    "05_power_analysis",
    "06_study_design",
    "07_retention",
]


def _runner():
    spec = importlib.util.spec_from_file_location("run_notebooks", ROOT / "notebooks" / "run_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_notebooks_are_there():
    assert [p.stem for p in NOTEBOOKS] == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_clean(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.nbformat == 4
    dirty = [
        i
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count") is not None)
    ]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs or execution counts; clear them before committing"
    source = "\n".join(c.source for c in nb.cells)
    assert "is_fast()" in source, "each notebook reads LOYALTYMODELS_FAST through lm.studies.is_fast()"
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_in_fast_mode(path):
    runner = _runner()
    missing = runner.missing_requirements(path)
    if missing:
        pytest.skip(f"{path.name} needs lm.{', lm.'.join(missing)}, not on this branch yet")
    # No wall-clock assertion: a busy machine must not fail the suite (run times live in
    # notebooks/README.md and `--durations`); the per-cell timeout only stops a hung kernel.
    nb, _seconds = runner.execute(path, fast=True, timeout=1800)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors


def _installed_extras() -> set[str]:
    """The distributions `make install` installs: the project's dependencies and the extras its recipe names."""
    import re
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    recipe = (ROOT / "Makefile").read_text().split("$(STAMP): pyproject.toml", 1)[1].split("\n\n", 1)[0]
    extras = re.findall(r"-e '\.\[([^\]]+)\]'", recipe)
    assert extras, "make install's recipe installs the package with its extras (pip install -e '.[...]')"
    specs = list(project["dependencies"])
    for name in extras[0].split(","):
        specs += project["optional-dependencies"][name.strip()]
    return {re.split(r"[\s\[<>=!~;]", s, maxsplit=1)[0].lower().replace("_", "-") for s in specs}


def test_make_install_brings_what_the_notebooks_need():
    import re
    import sys

    declared = _installed_extras()
    # running and converting notebooks (`jupyter nbconvert` is what notebooks/README.md tells users to run)
    needed = {"nbconvert", "nbclient", "nbformat", "ipykernel"}
    for path in NOTEBOOKS:  # and every library a notebook imports
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code":
                needed |= set(re.findall(r"^\s*(?:import|from)\s+([A-Za-z_]\w*)", cell.source, flags=re.M))
    needed -= set(sys.stdlib_module_names) | {"loyaltymodels"}
    missing = {n for n in needed if n.lower().replace("_", "-") not in declared}
    assert not missing, f"make install does not install {sorted(missing)}: add them to pyproject.toml"


def test_make_test_prints_the_slowest_and_no_test_asserts_on_time():
    import re

    recipe = (ROOT / "Makefile").read_text().split("\ntest:", 1)[1].split("\n\n", 1)[0]
    assert "--durations" in recipe, "make test prints the slowest tests"
    timed = re.compile(r"assert\b[^\n]*\b(elapsed|seconds|duration|wall|perf_counter|monotonic|time\.time)\b[^\n]*[<>]")
    offenders = [
        f"{p.relative_to(ROOT)}:{i}"
        for p in sorted((ROOT / "tests").rglob("*.py"))
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if timed.search(line) and not line.lstrip().startswith("timed = ")  # not this pattern itself
    ]
    assert not offenders, f"timed assertions (move timings to benchmarks/): {offenders}"
