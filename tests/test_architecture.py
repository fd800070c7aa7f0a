"""The package's rooms and their rules (README, "Architecture"), checked on the code itself.

Every import of the package is read with ``ast`` (lazy imports inside functions included) and held
against the layering below; a new module that breaks a rule fails here with the file and the import.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

import loyaltymodels as lm

PACKAGE = Path(lm.__file__).parent
BASE = {"errors", "defaults"}
#: room -> the rooms it may import (besides itself). Lower rooms never import higher ones.
ALLOWED = {
    "errors": set(),
    "defaults": {"errors"},  # a policy (seeds, sampler settings) raises the package's own errors
    "spec": BASE,
    "algebra": BASE | {"spec"},
    "data": BASE | {"spec", "algebra"},
    "datasets": BASE,
    "indices": BASE | {"spec", "algebra", "data"},
    "sem": BASE | {"spec", "algebra", "data"},
    "bayes": BASE | {"spec", "algebra", "data"},
    "pls": BASE | {"spec", "algebra", "data"},
    "loyalty": BASE | {"spec", "algebra", "data", "bayes", "sem"},
    # retention joins the survey's latents to behaviour; it reuses bayes' convergence checks
    "retention": BASE | {"spec", "algebra", "data", "bayes"},
    "power": BASE | {"spec", "algebra", "data", "indices", "sem", "bayes", "loyalty"},
    "studies": BASE | {"spec", "algebra", "data", "datasets", "indices", "sem", "bayes", "pls", "loyalty"},
    "design": BASE | {"spec", "algebra", "data", "indices", "sem", "bayes", "loyalty", "power"},
}
APPLICATION = {"__init__", "cli", "report", "demo", "plain"}  # the top floor may import any room
HEAVY = (
    "pymc",
    "pytensor",
    "nutpie",
    "semopy",
    "numba",
    "arviz",
    "dask",
    "pymc_marketing",
    "lifelines",
    "distributed",
    "matplotlib",
)

#: ``loyaltymodels.__all__`` before the package was laid out in rooms: every name stays.
PUBLIC_API = [
    "ConvergenceError",
    "ConvergenceWarning",
    "DataError",
    "DataWarning",
    "LoyaltyModelsError",
    "SemWarning",
    "SpecError",
    "parse_model",
    "ModelSpec",
    "to_syntax",
    "simulate",
    "loyalty_scenario",
    "loyalty_model",
    "read_survey",
    "validate_data",
    "DataReport",
    "nps",
    "nps_difference",
    "secure_customer_index",
    "customer_loyalty_index",
    "csat",
    "ces",
    "latent_index",
    "plot_nps",
    "fit_pls",
    "PlsFit",
    "check_convergence",
    "add_log_likelihood",
    "loo",
    "waic",
    "compare",
    "ppmc",
    "fit_indices",
    "factor_scores",
    "fit_sem",
    "SemFit",
    "invariance",
    "path_diagram",
    "build_model",
    "fit_bayes",
    "compile_model",
    "fit_compiled",
    "bayes_summary",
    "load_posterior",
    "default_priors",
    "fit_loyalty",
    "build_loyalty_model",
    "default_loyalty_priors",
    "driver_weights",
    "outcome_effects",
    "invest_where",
    "balance_effects",
    "satisfied_not_loyal",
    "promise_gap",
    "diminishing_returns",
    "compare_fits",
    "plot_driver_weights",
    "plot_balance",
    "plot_outcome_curves",
    "power_analysis",
    "power_summary",
    "read_power_records",
    "plot_power",
    "fit_many",
    "Scenario",
    "loyalty_power_scenario",
    "model_power_scenario",
    "Target",
    "weights_differ",
    "parameter_nonzero",
    # issue 24: behaviour after the survey
    "fit_retention",
    "build_retention_model",
    "retention_effects",
    "survival_curves",
    "expected_lifetime",
    "plot_survival_curves",
]


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("").parts
        yield path, rel


def _room(parts: tuple[str, ...]) -> str:
    return parts[1] if len(parts) > 1 else "__init__"


def _imports():
    """``(file, line, importing room, imported module parts, names)`` of every package import."""
    for path, rel in _modules():
        pkg = rel[:-1]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = pkg[: len(pkg) - node.level + 1]
                    target = base + (tuple(node.module.split(".")) if node.module else ())
                else:
                    target = tuple((node.module or "").split("."))
                if target[0] == "loyaltymodels":
                    names = [a.name for a in node.names]
                    if node.module is None or target == ("loyaltymodels",):  # from . import mod
                        for n in names:
                            yield path, node.lineno, _room(rel), target + (n,), [n]
                    else:
                        yield path, node.lineno, _room(rel), target, names
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.startswith("loyaltymodels"):
                        yield path, node.lineno, _room(rel), tuple(a.name.split(".")), []


def test_the_public_api_is_unchanged():
    assert set(PUBLIC_API) <= set(lm.__all__)
    for name in PUBLIC_API:
        obj = getattr(lm, name)
        assert getattr(obj, "__module__", "loyaltymodels").startswith("loyaltymodels"), name


def test_at_most_eight_modules_at_the_top():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= 8, top


def test_no_upward_import_and_no_private_name_across_rooms():
    bad = []
    for path, line, room, target, names in _imports():
        other = _room(target) if len(target) > 1 else "__init__"
        where = f"{path.relative_to(PACKAGE.parent)}:{line}"
        if other != room and room not in APPLICATION:
            if other not in ALLOWED.get(room, set()):
                bad.append(f"{where}: {room} imports {'.'.join(target)} ({other} is not below {room})")
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private:
                bad.append(f"{where}: {room} imports private {private} from {'.'.join(target)}")
    assert not bad, "\n".join(bad)


def test_sem_and_bayes_never_import_each_other():
    assert "bayes" not in ALLOWED["sem"] and "sem" not in ALLOWED["bayes"]


def test_spec_and_algebra_use_only_numpy_scipy_pandas():
    stdlib = set(sys.stdlib_module_names)
    found = defaultdict(set)
    for path, rel in _modules():
        if _room(rel) not in ("spec", "algebra"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            mods = (
                [node.module]
                if isinstance(node, ast.ImportFrom) and not node.level and node.module
                else [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            for m in mods:
                top = m.split(".")[0]
                if top not in stdlib and top not in {"numpy", "scipy", "pandas", "loyaltymodels"}:
                    found[str(path.relative_to(PACKAGE.parent))].add(top)
    assert not found, dict(found)


def test_each_room_has_a_short_door():
    for init in sorted(PACKAGE.glob("*/__init__.py")):
        tree = ast.parse(init.read_text(encoding="utf-8"))
        doc = ast.get_docstring(tree)
        assert doc and doc.count(".") >= 1 and "\n\n" not in doc.strip(), f"{init}: one-sentence docstring"
        exported = [
            n
            for n in tree.body
            if isinstance(n, (ast.Assign, ast.AnnAssign))
            and any(
                getattr(t, "id", None) == "__all__" for t in (n.targets if isinstance(n, ast.Assign) else [n.target])
            )
        ]
        assert exported, f"{init} has no explicit __all__"
        if init.parent.name not in ("studies", "datasets"):
            room = __import__(f"loyaltymodels.{init.parent.name}", fromlist=["__all__"])
            modules = {p.stem for p in init.parent.glob("*.py")} | {p.name for p in init.parent.iterdir() if p.is_dir()}
            clash = modules & set(room.__all__)
            assert not clash, f"{init.parent.name}: modules named like re-exported names: {clash}"


def test_importing_the_package_and_its_rooms_loads_no_heavy_back_end():
    rooms = sorted(p.parent.name for p in PACKAGE.glob("*/__init__.py"))
    code = (
        "import sys, loyaltymodels\n"
        + "".join(f"import loyaltymodels.{r}\n" for r in rooms)
        + f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


@pytest.mark.parametrize(
    "name", sorted(set(PUBLIC_API) - {"Scenario", "Target", "PlsFit", "SemFit", "DataReport", "ModelSpec"})
)
def test_public_functions_have_typed_signatures_and_examples(name):
    import inspect

    obj = getattr(lm, name)
    if inspect.isclass(obj):
        return
    sig = inspect.signature(obj)
    untyped = [
        p
        for p in sig.parameters.values()
        if p.annotation is inspect.Parameter.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    assert not untyped, f"lm.{name}: parameters without a type hint: {[p.name for p in untyped]}"
    assert sig.return_annotation is not inspect.Signature.empty, f"lm.{name} has no return type"
