"""What produced a result: package versions and the model specification, stored with every saved
result (JSON for ML fits, netCDF attributes for posteriors) so it can be read back and rebuilt."""

from __future__ import annotations

import json
import platform
from importlib import metadata
from typing import Any

from .model import ModelSpec, parse_model

_PACKAGES = ("loyaltymodels", "numpy", "scipy", "pandas", "xarray", "semopy", "pymc", "pytensor",
             "nutpie", "arviz", "arviz-base", "arviz-stats", "dask")


def package_versions() -> dict[str, str]:
    """Versions of Python and of the packages results depend on (read without importing them).

    Examples
    --------
    >>> v = package_versions()
    >>> sorted(v)[:3], v["python"].count(".")
    (['arviz', 'arviz-base', 'arviz-stats'], 2)
    """
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def spec_attrs(spec: ModelSpec) -> dict[str, str]:
    """Flat, serialisable attributes that identify ``spec`` (syntax and options, as JSON text)."""
    return {"model_syntax": spec.syntax,
            "spec_options": json.dumps(dict(spec.options), default=_jsonable, sort_keys=True)}


def spec_from_attrs(attrs: dict[str, Any]) -> ModelSpec:
    """Rebuild the :class:`ModelSpec` stored by :func:`spec_attrs`.

    Examples
    --------
    >>> spec = parse_model("f =~ x1 + x2 + x3", std_lv=True)
    >>> spec_from_attrs(spec_attrs(spec)).partable.equals(spec.partable)
    True
    """
    options = json.loads(attrs["spec_options"])
    for key in ("group_equal", "group_partial"):
        options[key] = tuple(options.get(key) or ())
    return parse_model(attrs["model_syntax"], **options)


def _jsonable(x: Any) -> Any:
    if hasattr(x, "item"):  # numpy scalars
        return x.item()
    if isinstance(x, (set, tuple)):
        return list(x)
    return str(x)
