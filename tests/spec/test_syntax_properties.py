"""Property-based tests of the parser on generated models: the syntax round trip
``parse_model(spec.to_syntax())``, only :class:`SpecError` out of any text, and large models parsed.

The generated models use every modifier the syntax has (fixed values with signs and exponents,
``NA``, labels, ``start()``, ``lower()``/``upper()`` with ``Inf``, ``c(...)`` vectors of numbers,
labels or ``NA``, ``prior()``), regressions, covariances, intercepts, several left-hand sides,
definitions and constraints, under random options; the hostile texts are random strings over the
syntax's alphabet and valid models with characters or tokens inserted, deleted or replaced.
"""

from __future__ import annotations

import math
import re
import warnings

import pandas as pd
from hypothesis import assume, event
from hypothesis import strategies as st

import loyaltymodels as lm
from loyaltymodels.errors import SpecError
from loyaltymodels.spec.model import COLUMNS, SpecWarning
from tests.properties import fast_and_slow

NUMBERS = st.one_of(
    st.sampled_from([0.0, 1.0, -1.0, 0.5, 2.0, 1e-3, -0.25, 1e5]),
    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, width=64),
)
LABELS = st.sampled_from(["a", "b", "c", "lam1", "beta_2", "v.1"])


def number(x: float) -> str:
    """A number as a user types it: repr (shortest round trip), sometimes in e-notation."""
    text = repr(float(x)).removesuffix(".0")
    return text


@st.composite
def modifier(draw: st.DrawFn, ngroups: int, op: str) -> str:
    """``mod*`` before one term (possibly several modifiers, possibly none)."""
    parts = []
    kind = draw(st.sampled_from(["none", "none", "fixed", "free", "label", "start", "bounds", "vector", "prior"]))
    if kind == "fixed":
        parts.append(number(draw(NUMBERS)))
    elif kind == "free":
        parts.append("NA")
    elif kind == "label":
        parts.append(draw(LABELS))
    elif kind == "start":
        parts.append(f"start({number(draw(NUMBERS))})")
    elif kind == "bounds":
        lo = draw(st.one_of(st.just("-Inf"), NUMBERS.map(number)))
        if draw(st.booleans()):
            parts.append(f"lower({lo})")
        if draw(st.booleans()):
            hi = draw(st.one_of(st.just("Inf"), NUMBERS.map(number)))
            parts.append(f"upper({hi})")
    elif kind == "vector":
        if draw(st.booleans()):
            values = [draw(st.one_of(st.just("NA"), NUMBERS.map(number))) for _ in range(ngroups)]
        else:
            values = [draw(st.one_of(st.just("NA"), LABELS)) for _ in range(ngroups)]
        parts.append(f"c({', '.join(values)})")
    elif kind == "prior" and op != "~1":
        parts.append('prior("normal(0,10)")')
    if draw(st.booleans()) and kind in ("fixed", "free"):  # two modifiers on one term
        parts.append(draw(LABELS))
    return "".join(p + "*" for p in parts)


@st.composite
def models(draw: st.DrawFn) -> tuple[str, dict]:
    """A model (lavaan syntax) and the options to parse it with."""
    ngroups = draw(st.integers(1, 3))
    n_lv = draw(st.integers(1, 4))
    observed = [f"x{i}" for i in range(1, 25)]
    lines, used = [], 0
    for k in range(n_lv):
        terms = [draw(modifier(ngroups, "=~")) + observed[used + j] for j in range(draw(st.integers(1, 5)))]
        used += len(terms)
        lhs = f"F{k}" if k or not draw(st.booleans()) else "F0 + G0"  # several left-hand sides
        lines.append(f"{lhs} =~ " + " + ".join(terms))
    lvs = [f"F{k}" for k in range(n_lv)]
    for _ in range(draw(st.integers(0, 3))):
        y, x = draw(st.sampled_from(lvs + observed[:used])), draw(st.sampled_from(lvs + observed[:30]))
        if x != y:
            lines.append(f"{y} ~ {draw(modifier(ngroups, '~'))}{x}")
    for _ in range(draw(st.integers(0, 2))):
        a, b = draw(st.sampled_from(observed[:used] + lvs)), draw(st.sampled_from(observed[:used] + lvs))
        lines.append(f"{a} ~~ {draw(modifier(ngroups, '~~'))}{b}")
    if draw(st.booleans()):
        lines.append(f"{observed[0]} ~ {draw(modifier(ngroups, '~1'))}1")
    labels = sorted(set(re.findall(r"(?<![\w.])(a|b|c|lam1|beta_2|v\.1)(?=[*,)])", " ".join(lines))))
    if labels and draw(st.booleans()):
        x, y = draw(st.sampled_from(labels)), draw(st.sampled_from(labels))
        lines.append(f"def1 := {x}*{y} + exp({x}) - 2^{y}")
    if labels and draw(st.booleans()):
        x, y = draw(st.sampled_from(labels)), draw(st.sampled_from(labels))
        lines.append(draw(st.sampled_from([f"{x} == {y}", f"{x} == 2*{y} + 1", f"{x} > 0", f"{y} < 3", f"{x} >= -1"])))
    sep = draw(st.sampled_from(["\n", "; ", "\n\n   ", "  # comment\n"]))
    options: dict = {}
    if draw(st.booleans()):
        options["std_lv"] = True
    if ngroups > 1 or draw(st.booleans()):
        options["ngroups"] = ngroups
    if ngroups > 1 and draw(st.booleans()):
        options["group_equal"] = draw(st.lists(st.sampled_from(["loadings", "intercepts", "residuals"]), max_size=2))
    if draw(st.booleans()):
        options["meanstructure"] = True
    return sep.join(lines), options


def _parse(text: str, **options: object) -> lm.ModelSpec | None:
    """The spec, or None when the model is refused with a SpecError (the only error allowed)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", SpecWarning)  # a repeated formula: warned and ignored, as lavaan
        try:
            spec = lm.parse_model(text, **options)
        except SpecError as err:
            assert str(err).strip(), "an error without a message"
            event("SpecError")
            return None
        event("parsed")
        return spec


def round_trip(model: tuple[str, dict]) -> None:
    """``to_syntax`` gives back the same table: alone for what the syntax holds (groups included),
    with the spec's options for what only options say (std_lv, group_equal...)."""
    text, options = model
    spec = _parse(text, **options)
    assume(spec is not None)
    assert spec is not None
    t = spec.partable
    assert list(t.columns) == COLUMNS
    for col in ("value", "start", "lower", "upper"):
        assert not t[col].isin([math.inf, -math.inf]).any(), f"an infinite {col} in the table"
    written = spec.to_syntax()
    back = _parse(written, **spec.options)
    assert back is not None, f"to_syntax wrote syntax that parse_model refuses:\n{written}"
    pd.testing.assert_frame_equal(back.partable, t)
    assert back.to_syntax() == written  # and writing again changes nothing
    if set(options) <= {"ngroups"}:  # nothing but the syntax: the text alone is enough
        alone = _parse(written)
        assert alone is not None
        pd.testing.assert_frame_equal(alone.partable, t)


test_round_trip, test_round_trip_many = fast_and_slow(models(), fast=60, slow=3000)(round_trip)

# -- hostile text ----------------------------------------------------------------------------------
ALPHABET = "abcxyzFG0123456789 .,;:+-*/^()=~<>|!#'\"\n\t?%cNAInfstartlowerupperlabelprior\u00e9"
FRAGMENTS = ["=~", "~~", "~", ":=", "==", "<", ">", "|", "+", "*", "(", ")", "c(", "NA", "Inf", "1e999", "-", "\n", ";"]


@st.composite
def mutated(draw: st.DrawFn) -> str:
    text, _ = draw(models())
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        how = draw(st.sampled_from(["insert", "delete", "replace", "fragment"]))
        if how == "insert":
            text = text[:at] + draw(st.sampled_from(ALPHABET)) + text[at:]
        elif how == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 5)) :]
        elif how == "replace":
            text = text[:at] + draw(st.sampled_from(ALPHABET)) + text[at + 1 :]
        else:
            text = text[:at] + draw(st.sampled_from(FRAGMENTS)) + text[at:]
    return text


def only_spec_errors(text: str) -> None:
    """Any text: a spec whose table is well formed, or a SpecError with a message; nothing else."""
    spec = _parse(text)
    if spec is None:
        return
    t = spec.partable
    assert list(t.columns) == COLUMNS and len(t)
    free = t[t.free]
    assert (free.par >= 0).all() and (t[~t.free].par == -1).all()
    assert set(free.par) == set(range(free.par.max() + 1)) if len(free) else True
    for col in ("value", "start", "lower", "upper"):
        assert not t[col].isin([math.inf, -math.inf]).any()


test_mutated_models_give_spec_errors_only, test_mutated_models_give_spec_errors_only_many = fast_and_slow(
    mutated(), fast=80, slow=5000
)(only_spec_errors)
test_random_text_gives_spec_errors_only, test_random_text_gives_spec_errors_only_many = fast_and_slow(
    st.text(alphabet=ALPHABET, max_size=80), fast=80, slow=5000
)(only_spec_errors)


# -- large models ----------------------------------------------------------------------------------
@st.composite
def large_models(draw: st.DrawFn) -> tuple[str, int, int]:
    """Up to a few hundred indicators, on one line per factor or one term per line."""
    n_lv = draw(st.integers(1, 6))
    per = draw(st.integers(20, 60))
    one_per_line = draw(st.booleans())
    lines = []
    for k in range(n_lv):
        items = [f"x{k}_{j}" for j in range(per)]
        lines.append(f"F{k} =~ " + ("\n    + ".join(items) if one_per_line else " + ".join(items)))
    return "\n".join(lines), n_lv, per


def large_model_parses(model: tuple[str, int, int]) -> None:
    """The work is done (time is measured in benchmarks/parser.py): lavaan's counts of rows and
    free parameters for k factors of m indicators each."""
    text, k, m = model
    spec = lm.parse_model(text)
    rows = k * m + k * m + k + k * (k - 1) // 2  # loadings, residual variances, factor (co)variances
    assert len(spec.partable) == rows
    assert spec.npar == k * (m - 1) + k * m + k + k * (k - 1) // 2
    assert spec.observed == [f"x{f}_{j}" for f in range(k) for j in range(m)]


test_large_models_parse, test_large_models_parse_many = fast_and_slow(large_models(), fast=10, slow=200)(
    large_model_parses
)


def test_the_examples_of_the_issue():
    """What the trial found, each now refused with the parameter named or answered right."""
    for text, fragment in (
        ("f =~ 1e999*x1 + x2 + x3", "1e999 is too large"),
        ("f =~ x1 + x2 + f", "'f =~ f' measures itself"),
        ("f =~ x1 + x2 + x3\nx1 ~ x1", "'x1 ~ x1' is regressed on itself"),
        ("f =~ x1 + lower(2)*upper(1)*x2 + x3", "'f =~ x2' has lower(2) above upper(1)"),
        ("f =~ a*x1 + b*x2 + x3\nab := a*b\nb", "between 'b' and 'b'"),
    ):
        try:
            lm.parse_model(text)
        except SpecError as err:
            assert fragment in str(err), (text, str(err))
        else:
            raise AssertionError(f"{text!r} was accepted")
    spec = lm.parse_model("f =~ c(1, 1)*x1 + x2 + upper(Inf)*x3")
    assert spec.ngroups == 2 and lm.parse_model(spec.to_syntax()).ngroups == 2
