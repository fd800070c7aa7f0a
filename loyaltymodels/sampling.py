"""Compiling and running the samplers: nutpie by default, PyMC's NUTS as fallback.

Compiled models are cached in-process by *structure* (parameter table, priors, likelihood form and
data shapes, not data values): a second fit of the same structure only swaps the data
(``with_data``), which is what repeated fits (calibration, power analysis) need. PyTensor's and
numba's own disk caches make the first compile in a new process cheaper than a cold one.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from .bayes_data import DataSummary
from .bayes_model import (ModelParts, build_pymc, constrained, data_values, start_point,
                          unconstrained)
from .errors import LoyaltyModelsWarning
from .parameterization import Plan

SAMPLERS = ("nutpie", "pymc")
_CACHE: OrderedDict = OrderedDict()
_CACHE_SIZE = 16
#: Jitter (SD, unconstrained scale) added to the starting values of each chain.
JITTER = 0.05


class SamplerWarning(LoyaltyModelsWarning):
    """The requested sampler could not be used; another one was."""


@dataclass
class CompiledSEM:
    """A model compiled once for a structure; fit new data with :func:`loyaltymodels.fit_compiled`.

    Attributes
    ----------
    parts : the PyMC model, its plan (parameter table, priors) and the data it was built with.
    sampler : ``"nutpie"`` or ``"pymc"``.
    compile_seconds : wall time of the compile (0 when it came from the cache).
    """

    parts: ModelParts
    key: tuple = field(repr=False)
    sampler: str = "nutpie"
    compiled: object = field(default=None, repr=False)
    compile_seconds: float = 0.0

    @property
    def model(self):
        return self.parts.model

    @property
    def plan(self) -> Plan:
        return self.parts.plan


def structure_key(plan: Plan, summary: DataSummary, form: str) -> tuple:
    t = plan.table
    cols = ["lhs", "op", "rhs", "group", "free", "par", "label", "exo"]
    table = tuple(map(tuple, t[cols].astype(str).to_numpy()))
    fixed = tuple(np.nan_to_num(t["value"].to_numpy(float), nan=-999.0).round(12))
    priors = tuple(map(str, plan.priors["prior"]))
    return (table, fixed, priors, form, summary.structure_key(form == "conditional"))


def compile_parts(parts: ModelParts, sampler: str = "nutpie", cache: bool = True) -> CompiledSEM:
    """Compile (or fetch from the cache) the sampler's function for ``parts``."""
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {SAMPLERS}, not {sampler!r}")
    key = structure_key(parts.plan, parts.summary, parts.form) + (sampler,)
    if cache and key in _CACHE:
        _CACHE.move_to_end(key)
        hit = _CACHE[key]
        return dataclasses.replace(hit, parts=dataclasses.replace(hit.parts, summary=parts.summary),
                                   compile_seconds=0.0)
    start = time.perf_counter()
    compiled = None
    if sampler == "nutpie":
        try:
            import nutpie

            compiled = nutpie.compile_pymc_model(parts.model)
        except Exception as err:  # noqa: BLE001 - any failure of nutpie means: use PyMC
            warnings.warn(f"nutpie could not compile the model ({type(err).__name__}: {err}); "
                          "sampling with PyMC's NUTS instead", SamplerWarning, stacklevel=3)
            sampler = "pymc"
    out = CompiledSEM(parts, key, sampler, compiled, time.perf_counter() - start)
    if cache:
        _CACHE[key] = out
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return out


def clear_cache() -> None:
    """Forget every compiled model of this process."""
    _CACHE.clear()


def run(compiled: CompiledSEM, summary: DataSummary, *, draws: int, tune: int, chains: int,
        seed: int, cores: int | None, progressbar: bool, target_accept: float | None = None,
        max_treedepth: int = 10):
    """Sample; returns the sampler's own DataTree (constrained draws of the random variables)."""
    parts = compiled.parts
    values = data_values(parts.plan, summary, parts.form)
    ustart = unconstrained(parts.model, start_point(parts.plan, summary, parts.form))
    names = [v.name for v in parts.model.value_vars]
    flat = np.concatenate([np.ravel(ustart[n]) for n in names])
    if compiled.sampler == "nutpie":
        import nutpie

        def init(chain_seed):  # called by nutpie once per chain with a seed derived from `seed`
            rng = np.random.default_rng(chain_seed)
            return flat + JITTER * rng.standard_normal(flat.shape)

        known = {var.name for var in compiled.compiled.shared_var_keys}  # nutpie drops unused data
        model = compiled.compiled.with_data(**{k: v for k, v in values.items() if k in known})
        model = dataclasses.replace(model, initial_point_func=init)
        kwargs = {"target_accept": target_accept} if target_accept else {}
        return nutpie.sample(model, draws=draws, tune=tune, chains=chains, cores=cores, seed=seed,
                             progress_bar=progressbar, save_warmup=False, maxdepth=max_treedepth, **kwargs)
    import pymc as pm

    rng = np.random.default_rng(seed)
    inits = []
    for _ in range(chains):
        jittered, pos = {}, 0
        for n in names:
            size = np.size(ustart[n])
            jittered[n] = np.reshape(flat[pos:pos + size] + JITTER * rng.standard_normal(size),
                                     np.shape(ustart[n]))
            pos += size
        inits.append(constrained(parts.model, jittered))
    with parts.model:
        pm.set_data(values)
        return pm.sample(draws=draws, tune=tune, chains=chains, cores=cores or min(chains, 2),
                         random_seed=seed, initvals=inits, init="adapt_diag", nuts_sampler="pymc",
                         progressbar=progressbar, compute_convergence_checks=False,
                         target_accept=target_accept or 0.8,
                         nuts={"max_treedepth": max_treedepth})


def build_parts(plan: Plan, summary: DataSummary, form: str) -> ModelParts:
    return ModelParts(build_pymc(plan, summary, form), plan, summary, form)
