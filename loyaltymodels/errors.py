"""The package's exceptions and warnings, in one place.

Every message names what is wrong (the line and column of the syntax, the column, row and
value of the data, the parameter of the model) and says what to do about it.
"""

from __future__ import annotations

import re

# NumPy 2 writes a scalar's repr as np.int64(4) or np.float64(0.5); messages format row labels and
# values with !r, and pandas 2.3 hands back numpy scalars, so "row np.int64(4)" reached users.
_NUMPY_SCALAR = re.compile(r"\bnp\.(?:u?int|float|complex|bool_|str_|bytes_|datetime64|timedelta64)\d*\((.*?)\)")


class LoyaltyModelsError(Exception):
    """Base class of every error raised on purpose by loyaltymodels.

    Its message shows numpy scalars as the values they hold (``row 4``, not ``row np.int64(4)``).

    Examples
    --------
    >>> import numpy as np
    >>> str(LoyaltyModelsError(f"row {np.int64(4)!r} holds {np.float64(0.5)!r} and {np.str_('a')!r}"))
    "row 4 holds 0.5 and 'a'"
    """

    def __init__(self, *args: object) -> None:
        if args and isinstance(args[0], str):
            args = (_NUMPY_SCALAR.sub(r"\1", args[0]), *args[1:])
        super().__init__(*args)


class SpecError(LoyaltyModelsError, ValueError):
    """A model specification (lavaan syntax or parameter table) that cannot be used.

    Attributes
    ----------
    line, column : int or None
        1-based position in the syntax, when the error has one.
    expected : str or None
        What the parser expected at that position.
    """

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        column: int | None = None,
        expected: str | None = None,
        source_line: str | None = None,
    ) -> None:
        self.line, self.column, self.expected = line, column, expected
        self.source_line = source_line
        text = message
        if line is not None:
            where = f"line {line}" + (f", column {column}" if column is not None else "")
            text = f"{where}: {message}"
            if source_line is not None and column is not None:
                text += f"\n    {source_line}\n    {' ' * (column - 1)}^"
        super().__init__(text)


class DataError(LoyaltyModelsError, ValueError):
    """Data that cannot be used as given (missing column, non-numeric value, bad file...).

    Attributes
    ----------
    column, row, value
        Where the problem is, when it has a place (``row`` is the index label).
    """

    def __init__(self, message: str, *, column: str | None = None, row: object = None, value: object = None) -> None:
        self.column, self.row, self.value = column, row, value
        super().__init__(message)


def plain(value: object) -> object:
    """A NumPy scalar as the Python value it holds (messages show ``row 4``, not
    ``row np.int64(4)``, NumPy 2's repr); anything else unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> f"row {plain(np.int64(4))!r}, value {plain(np.float64(0.5))!r}, {plain('x')!r}"
    "row 4, value 0.5, 'x'"
    """
    if type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0:
        return value.item()  # type: ignore[attr-defined]
    return value


class ConvergenceError(LoyaltyModelsError, RuntimeError):
    """An estimation that did not converge, so no result can be trusted."""


class StoreError(LoyaltyModelsError, ValueError):
    """A results directory that holds another run's results (different scenario, seed, versions...)
    or cannot be read; the message names the difference."""


class ArgumentError(LoyaltyModelsError, ValueError, TypeError):
    """An argument that cannot be used as given (``draws=0``, a seed that is not a non-negative
    integer, ``ci=95``, an unknown method name...); the message names the argument, the value
    given and what to pass instead.

    It is also a ``ValueError`` and a ``TypeError``, the built-in exceptions it replaces, so code
    written to catch those keeps working.
    """


class LoyaltyModelsWarning(UserWarning):
    """Base class of the package's warnings."""


class SemWarning(LoyaltyModelsWarning):
    """An ML solution that exists but should not be trusted as is (Heywood case, ...)."""


class ConvergenceWarning(LoyaltyModelsWarning):
    """MCMC draws that fail a convergence check (R-hat, ESS, divergences, E-BFMI...)."""


class DataWarning(LoyaltyModelsWarning):
    """Data that can be used but deserve attention (missing values dropped, ...)."""


__all__ = [
    "LoyaltyModelsError",
    "SpecError",
    "DataError",
    "ConvergenceError",
    "StoreError",
    "ArgumentError",
    "LoyaltyModelsWarning",
    "SemWarning",
    "ConvergenceWarning",
    "DataWarning",
]
