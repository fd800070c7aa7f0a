"""Reproducibility: the versions and the mode this paper was generated with."""

from __future__ import annotations

import datetime as dt
import platform

import pandas as pd

from loyaltymodels.spec.provenance import package_versions

from .common import Section, num, word


def make(fast: bool) -> Section:
    """Versions table (``loyaltymodels.spec.provenance.package_versions``), date, mode and machine."""
    versions = package_versions()
    tab = pd.DataFrame({"package": list(versions), "version": list(versions.values())})
    return Section(
        numbers={
            "date": word(dt.date.today().isoformat()),
            "mode": word("fast (short chains)" if fast else "full"),
            "python": word(versions["python"]),
            "loyaltymodels": word(versions["loyaltymodels"]),
            "ci": num(95, 0),  # every interval in the paper is a 95% interval
            "machine": word(f"{platform.machine()} {platform.system()}"),
        },
        tables={"versions": tab},
    )
