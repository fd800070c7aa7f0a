"""lavaan model syntax -> flat list of formulas (one :class:`Formula` per term).

The pipeline is small and typed: :func:`.tokens.statements` strips comments, splits on ``;`` and
joins continued lines while remembering where every character came from; :func:`.tokens.tokenize`
turns a statement into tokens; :func:`parse` reads each statement into :class:`Formula` objects.
All operators and modifiers are declared once, in :data:`.tokens.OPERATORS` and
:data:`.tokens.MODIFIERS`. Defaults (fixed first loadings, variances, ...) are not added here:
that is :mod:`.partable`'s job.
"""

from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass, field
from typing import Any

from ..errors import SpecError
from .tokens import _OPERATOR_LIST, _UNSUPPORTED_MODIFIERS, MODIFIERS, OPERATORS, Statement, Token, statements, tokenize

__all__ = ["Formula", "parse", "OPERATORS", "MODIFIERS", "statements", "tokenize"]


@dataclass
class Formula:
    """One term of the syntax: ``lhs op rhs`` with its modifiers (one value, or one per group)."""

    lhs: str
    op: str
    rhs: str
    fixed: list[float] | None = None  # numeric values (NaN = NA = free); len 1 or ngroups
    label: list[str] | None = None  # labels ("" = none)
    start: list[float] | None = None
    lower: list[float] | None = None
    upper: list[float] | None = None
    prior: str | None = None
    line: int = 0
    col: int = 0
    names: list[str] = field(default_factory=list)  # labels used by an expression (:=, ==, <, >)


class _Reader:
    """Recursive-descent reader over the tokens of one statement."""

    def __init__(self, st: Statement, toks: list[Token]):
        self.st, self.toks, self.i = st, toks, 0

    @property
    def tok(self) -> Token:
        return self.toks[self.i]

    def next(self) -> Token:
        t = self.toks[self.i]
        self.i += 1
        return t

    def fail(self, expected: str, tok: Token | None = None) -> SpecError:
        tok = tok or self.tok
        found = "the end of the formula" if tok.kind == "end" else repr(tok.text)
        return SpecError(
            f"expected {expected}, found {found}",
            line=tok.line,
            column=tok.col,
            expected=expected,
            source_line=self.st.lines.get(tok.line),
        )

    def expect(self, text: str, what: str) -> Token:
        if self.tok.text != text:
            raise self.fail(what)
        return self.next()


def parse(syntax: str) -> list[Formula]:
    """Parse lavaan syntax into a flat list of formulas (no defaults added).

    Examples
    --------
    >>> [(f.lhs, f.op, f.rhs, f.fixed, f.label) for f in parse("f =~ 1*x1 + a*x2")]
    [('f', '=~', 'x1', [1.0], None), ('f', '=~', 'x2', None, ['a'])]
    """
    out: list[Formula] = []
    for st in statements(syntax):
        out.extend(_parse_statement(st))
    if not out:
        raise SpecError("the model syntax is empty: write at least one formula, e.g. 'F =~ x1 + x2 + x3'")
    return out


def _parse_statement(st: Statement) -> list[Formula]:
    toks = tokenize(st)
    depth, op_at = 0, None
    for k, t in enumerate(toks):
        if t.text == "(":
            depth += 1
        elif t.text == ")":
            depth -= 1
        elif t.kind == "op" and depth == 0:
            op_at = k
            break
    if op_at is None:
        raise SpecError(
            f"no operator in {st.text!r}",
            line=st.pos[0][0],
            column=st.pos[0][1],
            expected=f"one of {_OPERATOR_LIST}",
            source_line=st.lines.get(st.pos[0][0]),
        )
    op_tok = toks[op_at]
    lhs_toks, rhs_toks = toks[:op_at], toks[op_at + 1 :]
    if OPERATORS[op_tok.text][1] == "expression":
        return [_parse_expression_statement(st, op_tok, lhs_toks, rhs_toks)]
    r = _Reader(st, lhs_toks + [Token("end", "", op_tok.line, op_tok.col)])
    lhs_names = _read_lhs(r, op_tok.text)
    r = _Reader(st, rhs_toks)
    terms = _read_terms(r, op_tok)
    out = []
    for name in lhs_names:
        for op, rhs, mods, tok in terms:
            f = Formula(lhs=name, op=op, rhs=rhs, line=op_tok.line, col=op_tok.col, **mods)
            _check_term(st, f, tok)
            out.append(f)
    return out


#: What a variable on both sides of an operator would mean, and why it cannot be estimated.
_SELF_LOOPS = {
    "=~": "measures itself: a latent variable cannot be among its own indicators",
    "<~": "forms itself: a composite cannot be among its own indicators",
    "~": "is regressed on itself",
}


def _check_term(st: Statement, f: Formula, tok: Token) -> None:
    """Refuse what no estimator can identify, as lavaan refuses it, naming the parameter:
    a variable on both sides of ``=~ <~ ~``, fixed values and starts that are not finite numbers,
    bounds that leave no room (``lower()`` above ``upper()``)."""
    name = f"'{f.lhs} {f.op} {f.rhs}'" if f.op != "~1" else f"'{f.lhs} ~ 1'"

    def fail(message: str, expected: str) -> SpecError:
        return SpecError(
            f"{name} {message}", line=tok.line, column=tok.col, expected=expected, source_line=st.lines.get(tok.line)
        )

    if f.op in _SELF_LOOPS and f.lhs == f.rhs:
        raise fail(_SELF_LOOPS[f.op] + "; remove this term", "another variable")
    for key, what in (("fixed", "fixed value"), ("start", "starting value")):
        values = getattr(f, key) or []
        if any(math.isinf(v) for v in values):
            raise fail(f"has an infinite {what}; write a finite number (or NA)", "a finite number")
    lower = [math.nan if v == -math.inf else v for v in (f.lower or [])]
    upper = [math.nan if v == math.inf else v for v in (f.upper or [])]
    if any(v == math.inf for v in lower) or any(v == -math.inf for v in upper):
        raise fail("has lower(Inf) or upper(-Inf), which no value satisfies; remove the bound", "a finite bound")
    # an infinite bound in its own direction is no bound at all: stored as NaN, as an absent one
    f.lower, f.upper = (lower or None), (upper or None)
    if lower and upper:
        n = max(len(lower), len(upper))
        for g in range(n):
            lo, hi = lower[g if len(lower) > 1 else 0], upper[g if len(upper) > 1 else 0]
            if lo > hi:  # NaN (no bound) compares False
                where = f" in group {g + 1}" if n > 1 else ""
                raise fail(
                    f"has lower({_num(lo)}) above upper({_num(hi)}){where}: no value satisfies both; "
                    "swap or correct the bounds",
                    "lower() <= upper()",
                )
    for g, value in enumerate(f.fixed or []):
        lo = lower[g if len(lower) > 1 else 0] if lower else math.nan
        hi = upper[g if len(upper) > 1 else 0] if upper else math.nan
        if value < lo or value > hi:
            raise fail(
                f"is fixed to {_num(value)}, outside its own bounds "
                f"[{_num(-math.inf if math.isnan(lo) else lo)}, {_num(math.inf if math.isnan(hi) else hi)}]; "
                "drop the bounds or fix it inside them",
                "a fixed value within lower() and upper()",
            )


def _num(x: float) -> str:
    """A number as the syntax writes it (``Inf`` as R does)."""
    if math.isinf(x):
        return "Inf" if x > 0 else "-Inf"
    return repr(float(x)).removesuffix(".0")


def _read_lhs(r: _Reader, op: str) -> list[str]:
    names = []
    while True:
        t = r.tok
        if t.kind != "name":
            raise r.fail(f"a variable name before '{op}'")
        names.append(r.next().text)
        if r.tok.kind == "end":
            return names
        if r.tok.text != "+":
            raise r.fail(f"'+' or '{op}' after {names[-1]!r}")
        r.next()


def _read_terms(r: _Reader, op_tok: Token) -> list[tuple[str, str, dict, Token]]:
    op = op_tok.text
    terms = []
    if r.tok.kind == "end":
        what = {
            "=~": "at least one indicator",
            "<~": "at least one indicator",
            "~": "at least one predictor (or 1 for an intercept)",
            "~~": "a variable name",
            "|": "thresholds t1, t2, ...",
        }.get(op, "a term")
        raise r.fail(f"{what} after '{op}'")
    while True:
        first = r.tok
        mods = _read_modifiers(r)
        t = r.tok
        if t.kind == "name":
            term_op, rhs = op, r.next().text
            if op == "|" and not re.fullmatch(r"t\d+", rhs):
                raise r.fail("a threshold name t1, t2, ... after '|'", t)
        elif t.kind == "number" and op == "~" and float(t.text) == 1.0:
            r.next()
            term_op, rhs = "~1", ""
        else:
            wanted = "a variable name" + (" or 1 (an intercept)" if op == "~" else "")
            raise r.fail(wanted)
        terms.append((term_op, rhs, mods, first))
        if r.tok.kind == "end":
            return terms
        if r.tok.text != "+":
            raise r.fail(f"'+' or the end of the formula after {rhs or '1'!r}")
        r.next()


def _read_modifiers(r: _Reader) -> dict:
    """Read ``mod*mod*...`` before a term's variable; return Formula keyword arguments."""
    mods: dict = {}

    def put(key: str, value: Any, tok: Token) -> None:
        if key in mods:
            raise SpecError(
                f"two {key} modifiers on one term",
                line=tok.line,
                column=tok.col,
                expected=f"at most one {key} modifier per term",
                source_line=r.st.lines.get(tok.line),
            )
        mods[key] = value

    while _looks_like_modifier(r):
        t = r.tok
        if t.kind == "number" or t.text in ("-", "Inf"):
            put("fixed", [_read_number(r)], t)
        elif t.kind == "name" and t.text == "NA":
            r.next()
            put("fixed", [math.nan], t)
        elif t.kind == "string":
            put("label", [r.next().text[1:-1]], t)
        elif t.kind == "name" and r.toks[r.i + 1].text == "(":
            fname = t.text
            if fname in _UNSUPPORTED_MODIFIERS:
                raise SpecError(
                    _UNSUPPORTED_MODIFIERS[fname], line=t.line, column=t.col, source_line=r.st.lines.get(t.line)
                )
            if fname not in MODIFIERS:
                raise r.fail(f"a modifier ({', '.join(m + '()' for m in MODIFIERS)}), a number, NA or a label")
            r.next()
            r.next()
            if fname == "c":  # _read_vector consumes the closing parenthesis itself
                kind, values = _read_vector(r)
                put(kind, values, t)
                r.i -= 1
            elif fname in {"label", "equal"}:
                s = r.tok
                if s.kind not in {"string", "name"}:
                    raise r.fail(f"a quoted label inside {fname}()")
                put("label", [r.next().text.strip("\"'")], t)
            elif fname == "prior":
                s = r.tok
                if s.kind != "string":
                    raise r.fail('a quoted prior inside prior(), e.g. prior("normal(0,1)")')
                put("prior", r.next().text[1:-1], t)
            else:  # start, lower, upper: a number or c(...) of numbers
                if r.tok.text == "c" and r.toks[r.i + 1].text == "(":
                    r.next(), r.next()
                    kind, values = _read_vector(r)
                    if kind != "fixed":
                        raise r.fail(f"numbers inside {fname}(c(...))")
                    put(fname, values, t)
                else:
                    put(fname, [_read_number(r, allow_na=fname == "start")], t)
            r.expect(")", f"')' to close {fname}(")
        elif t.kind == "name":
            put("label", [r.next().text], t)
        else:
            raise r.fail("a modifier")
        sep = r.next()
        if sep.text == "?":  # lavaan's 0.5?x: a starting value, not a fixed one
            if "fixed" not in mods or len(mods["fixed"]) != 1:
                raise r.fail("a number before '?'", sep)
            mods["start"] = mods.pop("fixed")
    return mods


def _looks_like_modifier(r: _Reader) -> bool:
    """A modifier is whatever stands before a top-level ``*`` or ``?`` in the current term."""
    depth = 0
    # iterate from r.i, never over a slice ``r.toks[r.i:]``: copying the rest of the formula for
    # every term made a formula with many terms quadratic
    for k in range(r.i, len(r.toks)):
        t = r.toks[k]
        if t.text == "(":
            depth += 1
        elif t.text == ")":
            depth -= 1
        elif depth == 0 and t.text in {"*", "?"}:
            return True
        elif depth == 0 and (t.text == "+" or t.kind == "end"):
            return False
    return False


def _read_number(r: _Reader, allow_na: bool = False) -> float:
    """A number, ``-`` signed; ``Inf`` too (the bounds' "no bound", as R writes it). A literal
    too large for a float (``1e999``) is refused here rather than becoming ``inf``."""
    sign = 1.0
    if r.tok.text == "-":
        r.next()
        sign = -1.0
    t = r.tok
    if t.kind == "number":
        value = float(t.text)
        if math.isinf(value):
            raise SpecError(
                f"the number {t.text} is too large to be a value (beyond {sys.float_info.max:.3g}); "
                "write a finite number, or Inf in lower()/upper() for no bound",
                line=t.line,
                column=t.col,
                expected="a finite number",
                source_line=r.st.lines.get(t.line),
            )
        r.next()
        return sign * value
    if t.kind == "name" and t.text == "Inf":
        r.next()
        return sign * math.inf
    if allow_na and t.text == "NA":
        r.next()
        return math.nan
    raise r.fail("a number")


def _read_vector(r: _Reader) -> tuple[str, list]:
    """``c(...)`` after its opening parenthesis: numbers/NA -> fixed values, else labels."""
    items: list[Token] = []
    values: list = []
    while True:
        t = r.tok
        if t.kind in {"number", "string"} or t.text == "-" or t.kind == "name":
            items.append(t)
            if t.kind == "number" or t.text in ("-", "Inf"):
                values.append(_read_number(r))
            else:
                r.next()
                values.append(math.nan if t.text == "NA" else t.text.strip("\"'"))
        else:
            raise r.fail("a number, NA or a label inside c(...)")
        if r.tok.text == ",":
            r.next()
            continue
        r.expect(")", "',' or ')' in c(...)")
        break
    if any(isinstance(v, str) for v in values):
        if any(isinstance(v, float) and not math.isnan(v) for v in values):
            raise r.fail("either numbers or labels in one c(...), not both", items[0])
        return "label", ["" if isinstance(v, float) else v for v in values]
    return "fixed", [float(v) for v in values]


_FUNCTIONS = {"exp", "log", "sqrt", "abs", "sin", "cos", "tan", "tanh", "pnorm", "plogis", "min", "max", "pow"}


def _parse_expression_statement(st: Statement, op_tok: Token, lhs: list[Token], rhs: list[Token]) -> Formula:
    op = op_tok.text
    if not lhs:
        raise SpecError(
            f"expected a name before '{op}'",
            line=op_tok.line,
            column=op_tok.col,
            expected="a parameter name or expression",
            source_line=st.lines.get(op_tok.line),
        )
    if len(rhs) <= 1:  # only the end token
        end = rhs[0]
        raise SpecError(
            f"expected an expression after '{op}', found the end of the formula",
            line=end.line,
            column=end.col,
            expected="an expression of labels",
            source_line=st.lines.get(end.line),
        )
    if op == ":=" and (len(lhs) != 1 or lhs[0].kind != "name"):
        raise SpecError(
            "expected one new parameter name before ':='",
            line=lhs[0].line,
            column=lhs[0].col,
            expected="a name",
            source_line=st.lines.get(lhs[0].line),
        )
    for side in (lhs, rhs):
        _check_expression(st, side)
    names = [t.text for t in lhs + rhs if t.kind == "name" and t.text not in _FUNCTIONS]
    if op == ":=":
        names = names[1:]
    text = {"<=": "<", ">=": ">"}.get(op, op)
    return Formula(lhs=_join(lhs), op=text, rhs=_join(rhs[:-1]), line=op_tok.line, col=op_tok.col, names=names)


def _check_expression(st: Statement, toks: list[Token]) -> None:
    """Read one side of ``:= == < >`` as arithmetic (lavaan's: numbers, labels, ``+ - * / ^``,
    parentheses, function calls), so that a malformed side is refused here, where its line and
    column are known. Without this, a continued line glued onto an expression passed unnoticed:
    ``ab := a*b`` followed by a line ``b`` read as ``a*bb``."""
    body = [t for t in toks if t.kind != "end"]
    end = toks[-1] if toks and toks[-1].kind == "end" else Token("end", "", body[-1].line, body[-1].col + 1)
    for t in body:
        if t.kind == "op":
            raise SpecError(
                f"a second operator {t.text!r} in one formula",
                line=t.line,
                column=t.col,
                expected="one operator per formula (use ';' or a new line)",
                source_line=st.lines.get(t.line),
            )
    r = _Reader(st, body + [end])
    _expr(r)
    if r.tok.kind != "end":
        prev = r.toks[r.i - 1]
        if r.tok.text == ")":
            raise r.fail("an operator or the end of the expression ('(' missing before this ')')")
        raise r.fail(f"an operator (+ - * / ^) between {prev.text!r} and {r.tok.text!r}")


def _expr(r: _Reader) -> None:
    _term(r)
    while r.tok.text in ("+", "-"):
        r.next()
        _term(r)


def _term(r: _Reader) -> None:
    _power(r)
    while r.tok.text in ("*", "/"):
        r.next()
        _power(r)


def _power(r: _Reader) -> None:
    _unary(r)
    if r.tok.text == "^":
        r.next()
        _power(r)


def _unary(r: _Reader) -> None:
    while r.tok.text in ("+", "-"):
        r.next()
    t = r.tok
    if t.kind == "number":
        if math.isinf(float(t.text)):
            raise r.fail("a finite number")
        r.next()
    elif t.kind == "name" and r.toks[r.i + 1].text == "(":
        r.next(), r.next()
        if r.tok.text != ")":
            _expr(r)
            while r.tok.text == ",":
                r.next()
                _expr(r)
        r.expect(")", f"',' or ')' to close {t.text}(")
    elif t.kind == "name":
        r.next()
    elif t.text == "(":
        r.next()
        _expr(r)
        r.expect(")", "')'")
    else:
        raise r.fail("a label, a number or '('")


def _join(toks: list[Token]) -> str:
    """Canonical text of an expression, without white space as lavaan stores it (``c+(a*b)``)."""
    return "".join(t.text for t in toks if t.kind != "end")
