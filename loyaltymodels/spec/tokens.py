"""lavaan model syntax, lexical level: the operator and modifier tables, comments and ``;``
removed, continued lines joined (:func:`statements`), and tokens with their line and column
(:func:`tokenize`). :mod:`.syntax` reads the tokens into formulas.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

from ..errors import SpecError

#: Every lavaan operator: symbol -> (meaning, kind). ``kind`` says how the two sides are read:
#: "model" operators take variable names, "expression" operators take arithmetic on labels.
#: Longer symbols must be tried first when scanning (``~~`` before ``~``), hence the ordering.
OPERATORS: dict[str, tuple[str, str]] = {
    "~*~": ("scale factor of a latent response", "model"),
    "=~": ("is measured by (reflective)", "model"),
    "<~": ("is formed by (composite)", "model"),
    "~~": ("covaries with", "model"),
    ":=": ("is defined as", "expression"),
    "==": ("equals (constraint)", "expression"),
    "<=": ("is at most (constraint)", "expression"),
    ">=": ("is at least (constraint)", "expression"),
    "~": ("is regressed on", "model"),
    "<": ("is less than (constraint)", "expression"),
    ">": ("is greater than (constraint)", "expression"),
    "|": ("has thresholds", "model"),
}
#: Function-style modifiers allowed before ``*`` in a term (``start(0.5)*x``), with their meaning.
MODIFIERS: dict[str, str] = {
    "start": "starting value",
    "label": "label",
    "equal": "label shared with another parameter",
    "lower": "lower bound",
    "upper": "upper bound",
    "prior": "prior distribution (blavaan)",
    "c": "one value per group",
}
_UNSUPPORTED_MODIFIERS = {
    "efa": 'EFA blocks (efa("set")*) are not supported yet',
    "rv": "random slopes (rv()) are not supported yet",
}
_OPERATOR_LIST = ", ".join(OPERATORS)

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<op>~\*~|=~|<~|~~|:=|==|<=|>=|~|<|>|\|)
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>(?:[^\W\d]|\.)[\w.\u0300-\u036f]*)
  | (?P<string>"[^"]*"|'[^']*')
  | (?P<punct>[-+*/^(),?])
""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    kind: str  # op, number, name, string, punct, end
    text: str
    line: int
    col: int


@dataclass
class Statement:
    """One formula of the syntax, with the source position of each of its characters."""

    text: str
    pos: list[tuple[int, int]]  # (line, column) of each character of ``text``
    lines: dict[int, str]  # original source lines, for error messages

    def error(self, message: str, index: int | None, expected: str | None = None) -> SpecError:
        if index is None or not self.pos:
            line, col = self.pos[0] if self.pos else (None, None)
        else:
            line, col = self.pos[min(index, len(self.pos) - 1)]
            if index >= len(self.pos):  # "at the end": just after the last character
                col += 1
        return SpecError(
            message,
            line=line,
            column=col,
            expected=expected,
            source_line=self.lines.get(line) if line is not None else None,
        )


def _strip_comment(line: str) -> str:
    """Drop a ``#`` or ``!`` comment, ignoring comment characters inside quotes."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch in "#!":
            return line[:i]
    return line


def _has_operator(text: str) -> bool:
    return any(kind == "op" for kind, _, _ in _scan(text))


def _scan(text: str) -> Iterator[tuple[str, str, int]]:
    """Yield (kind, text, start) for ``text``; unknown characters come back as kind 'bad'."""
    i = 0
    while i < len(text):
        m = _TOKEN_RE.match(text, i)
        if m is None:
            yield "bad", text[i], i
            i += 1
            continue
        kind = m.lastgroup
        assert kind is not None  # every alternative of _TOKEN_RE is a named group
        if kind != "ws":
            yield kind, m.group(), i
        i = m.end()


def statements(syntax: str) -> list[Statement]:
    """Split lavaan syntax into statements: comments removed, ``;`` split, continuations joined.

    A line (or ``;`` piece) without any operator continues the previous formula, as in lavaan,
    so a long formula may be broken anywhere, e.g. before or after a ``+``.
    """
    if not isinstance(syntax, str):
        raise SpecError(f"model syntax must be a string, got {type(syntax).__name__}")
    # Names are letters of any script, digits, '_' and '.' (lavaan's in a UTF-8 locale). NFC makes
    # 'qualité' typed with a combining accent (macOS, some exports) the same name as the precomposed one.
    syntax = unicodedata.normalize("NFC", syntax)
    lines = {i + 1: s for i, s in enumerate(syntax.splitlines())}
    # Each statement is gathered as a list of pieces and joined once at the end, and whether it
    # "ends open" is read from its last piece only: re-scanning or re-concatenating the whole
    # statement at every continued line made a formula written one term per line quadratic.
    pieces: list[list[str]] = []
    positions: list[list[tuple[int, int]]] = []
    open_end: list[bool] = []
    for lineno, raw in lines.items():
        body = _strip_comment(raw)
        start = 0
        for piece in _split_semicolons(body):
            text = piece
            lead = len(text) - len(text.lstrip())
            text = text.strip()
            col0 = start + lead + 1
            start += len(piece) + 1
            if not text:
                continue
            pos = [(lineno, col0 + k) for k in range(len(text))]
            if pieces and (open_end[-1] or not _has_operator(text)):
                positions[-1].append(positions[-1][-1])  # the joining space points at the previous end
                pieces[-1].append(text)
                positions[-1].extend(pos)
            else:
                pieces.append([text])
                positions.append(pos)
                open_end.append(False)
            open_end[-1] = _ends_open(text)
    return [Statement(" ".join(p), pos, lines) for p, pos in zip(pieces, positions)]


def _ends_open(text: str) -> bool:
    """True when a statement cannot end here (a trailing operator, ``+``, ``*`` or ``(``)."""
    toks = list(_scan(text))
    return bool(toks) and (toks[-1][0] == "op" or toks[-1][1] in {"+", "*", "(", ",", "-", "?"})


def _split_semicolons(line: str) -> list[str]:
    parts: list[str] = []
    cur: list[str] = []
    quote: str | None = None
    for ch in line:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch == ";":
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    parts.append("".join(cur))
    return parts


#: lavaan syntax that is recognised but not supported yet, with what to do instead.
UNSUPPORTED: dict[str, str] = {
    "block": "lavaan's block headers ('group: 1', 'level: 1') are not supported; write one model and "
    "pass group= to the fit (with c(...) modifiers for group-specific values)",
    ":": "latent interactions written 'f1:f2' are not supported in the syntax; use "
    "fit_loyalty(..., interaction=True) for a beliefs x experience interaction",
    "~*~": "scaling factors ('~*~') are not supported: ordinal items are declared with ordinal=[...]",
    "%": "the '%' operator (group weights, ...) is not supported",
}


def tokenize(st: Statement) -> list[Token]:
    """Tokens of one statement, each with its source line and column."""
    toks = []
    head = re.match(r"\s*(group|level|block|class)\s*:(?!=)", st.text)
    if head:
        raise st.error(UNSUPPORTED["block"], 0, expected="a model formula")
    for kind, text, i in _scan(st.text):
        if kind == "op" and text == "~*~":
            raise st.error(UNSUPPORTED["~*~"], i)
        if kind == "bad" and text in UNSUPPORTED:
            raise st.error(UNSUPPORTED[text], i)
        if kind == "bad":
            raise st.error(
                f"unexpected character {text!r}", i, expected="a variable name, a number, an operator or a modifier"
            )
        line, col = st.pos[i]
        toks.append(Token(kind, text, line, col))
    line, col = st.pos[-1]
    toks.append(Token("end", "", line, col + 1))
    return toks
