"""What produced a result: package versions and the model specification, stored with every saved
result (JSON for ML fits, netCDF attributes for posteriors) so it can be read back and rebuilt."""

from __future__ import annotations

import functools
import json
import platform
from collections.abc import Mapping
from importlib import metadata
from typing import Any

import numpy as np

from ..errors import DataError
from .model import ModelSpec, parse_model

_PACKAGES = (
    "loyaltymodels",
    "numpy",
    "scipy",
    "pandas",
    "xarray",
    "semopy",
    "pymc",
    "pytensor",
    "nutpie",
    "arviz",
    "arviz-base",
    "arviz-stats",
    "dask",
)


def package_versions() -> dict[str, str]:
    """Versions of Python and of the packages results depend on (read without importing them).

    Examples
    --------
    >>> v = package_versions()
    >>> sorted(v)[:3], v["python"].count(".")
    (['arviz', 'arviz-base', 'arviz-stats'], 2)
    """
    return dict(_versions())


@functools.cache
def _versions() -> tuple[tuple[str, str], ...]:
    """Read once per process: the metadata lookups cost tens of milliseconds."""
    out = [("python", platform.python_version())]
    for name in _PACKAGES:
        try:
            out.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            out.append((name, "not installed"))
    return tuple(out)


def spec_attrs(spec: ModelSpec) -> dict[str, str]:
    """Flat, serialisable attributes that identify ``spec`` (syntax and options, as JSON text)."""
    return {"model_syntax": spec.syntax, "spec_options": json.dumps(jsonable(dict(spec.options)), sort_keys=True)}


def spec_from_attrs(attrs: Mapping[Any, Any]) -> ModelSpec:
    """Rebuild the :class:`ModelSpec` stored by :func:`spec_attrs`.

    Examples
    --------
    >>> spec = parse_model("f =~ x1 + x2 + x3", std_lv=True)
    >>> spec_from_attrs(spec_attrs(spec)).partable.equals(spec.partable)
    True
    """
    missing = [k for k in ("model_syntax", "spec_options") if k not in attrs]
    if missing:
        raise DataError(
            f"no model specification in these attributes (missing {', '.join(missing)}): the result was not "
            "saved by loyaltymodels (fit_sem, fit_bayes, fit_loyalty)"
        )
    options = json.loads(attrs["spec_options"])
    for key in ("group_equal", "group_partial"):
        options[key] = tuple(options.get(key) or ())
    return parse_model(attrs["model_syntax"], **options)


def jsonable(x: Any) -> Any:
    """The plain JSON value of ``x``, for every file the package writes: dicts (keys made JSON keys),
    lists from lists, tuples and sets, Python numbers from NumPy scalars and arrays, callables as
    their import path (``module:qualname``), anything else (timestamps, paths) as its text.

    Examples
    --------
    >>> jsonable({np.int64(1): (np.float64(0.5), {"a"}), "f": np.mean})
    {1: [0.5, ['a']], 'f': 'numpy:mean'}
    """
    if isinstance(x, dict):
        return {_json_key(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (set, frozenset)):
        x = sorted(x, key=str)
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return jsonable(x.tolist())
    if isinstance(x, np.generic):
        x = x.item()
    if x is None or isinstance(x, (str, int, float, bool)):
        return x
    if callable(x):
        return f"{getattr(x, '__module__', '?')}:{getattr(x, '__qualname__', repr(x))}"
    return str(x)


def _json_key(x: Any) -> Any:
    x = x.item() if isinstance(x, np.generic) else x
    return x if isinstance(x, (str, int, float, bool)) or x is None else str(x)
