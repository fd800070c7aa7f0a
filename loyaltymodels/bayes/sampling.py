"""Compiling and running the samplers: nutpie by default, PyMC's NUTS as fallback.

With nutpie, the marginal form is evaluated by one generic numba kernel
(:mod:`loyaltymodels.bayes.density.kernel`, compiled once per machine, the model's structure passed as
data, as blavaan does with its one Stan program), so a new model costs no compile. Anything the
kernel does not cover (other forms, ordinal items, truncated non-normal priors, a ``pm.Model`` with
added variables or potentials) is compiled from the PyMC graph (``nutpie.compile_pymc_model``).

Compiled models are cached in-process by *structure* (parameter table, priors, likelihood form and
data shapes, not data values): a second fit of the same structure only swaps the data
(``with_data``), which is what repeated fits (calibration, power analysis) need. PyTensor's and
numba's own disk caches make the first compile in a new process cheaper than a cold one.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..defaults import ModelCache, one_blas_thread
from ..errors import ArgumentError, LoyaltyModelsWarning
from .data import DataSummary
from .model import ModelParts, constrained, data_values, start_point, unconstrained
from .parameterization import Plan

if TYPE_CHECKING:
    import pymc as pm

    from .density.program import DensityProgram

SAMPLERS = ("nutpie", "pymc")
#: ``density=``: ``"auto"`` (the generic kernel when it covers the model), ``"kernel"``, ``"pytensor"``.
DENSITIES = ("auto", "kernel", "pytensor")
#: Compiled models of this process, by structure.
_CACHE: ModelCache[CompiledSEM] = ModelCache(maxsize=16)
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
    density : ``"kernel"`` (the generic numba log density) or ``"pytensor"`` (the PyMC graph).
    """

    parts: ModelParts
    key: tuple = field(repr=False)
    sampler: str = "nutpie"
    compiled: Any = field(default=None, repr=False)  # nutpie's compiled model (None for PyMC's NUTS)
    compile_seconds: float = 0.0
    density: str = "pytensor"
    program: DensityProgram | None = field(default=None, repr=False)

    @property
    def model(self) -> pm.Model:
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


def compile_parts(parts: ModelParts, sampler: str = "nutpie", cache: bool = True, density: str = "auto") -> CompiledSEM:
    """Compile (or fetch from the cache) the sampler's function for ``parts``.

    With nutpie and ``density="auto"`` the generic kernel is used when it covers the model and
    ``parts.model`` is the one :func:`build_pymc` made (nothing added); otherwise the PyMC graph.
    """
    if sampler not in SAMPLERS:
        raise ArgumentError(f"sampler={sampler!r}: choose one of {SAMPLERS}")
    if density not in DENSITIES:
        raise ArgumentError(f"density={density!r}: choose one of {DENSITIES}")
    start = time.perf_counter()  # the kernel's (cached) machine code loads with kernel_unsupported
    why: str | None = "not asked for"
    if sampler == "nutpie" and density != "pytensor":
        try:
            why = kernel_unsupported(parts)
        except Exception as err:
            if density == "kernel":
                raise
            why = _kernel_failed(err)
    if density == "kernel" and why:
        raise ArgumentError(
            f"density='kernel': the generic kernel cannot evaluate this model ({why}); use density='auto'"
        )
    use_kernel = why is None
    key = structure_key(parts.plan, parts.summary, parts.form) + (sampler, use_kernel)
    hit = _CACHE.get(key) if cache else None
    if hit is not None:
        return dataclasses.replace(
            hit, parts=dataclasses.replace(hit.parts, summary=parts.summary), compile_seconds=0.0
        )
    compiled = None
    if use_kernel:
        from .density import program as density_program

        try:
            program = density_program.make_program(parts.plan, parts.summary)
            model = kernel_model(program, parts.plan)
        except Exception as err:
            if density == "kernel":
                raise
            _kernel_failed(err)
        else:
            out = CompiledSEM(parts, key, sampler, model, time.perf_counter() - start, "kernel", program)
            return _remember(out, cache)
        key = key[:-1] + (False,)
    if sampler == "nutpie":
        try:
            import nutpie

            compiled = nutpie.compile_pymc_model(parts.model)
        except Exception as err:
            warnings.warn(
                f"nutpie could not compile the model ({type(err).__name__}: {err}); sampling with PyMC's NUTS instead",
                SamplerWarning,
                stacklevel=3,
            )
            sampler = "pymc"
    out = CompiledSEM(parts, key, sampler, compiled, time.perf_counter() - start)
    return _remember(out, cache)


def _kernel_failed(err: Exception) -> str:
    warnings.warn(
        f"the generic density kernel failed ({type(err).__name__}: {err}); compiling the PyMC graph instead",
        SamplerWarning,
        stacklevel=4,
    )
    return f"the kernel failed ({type(err).__name__})"


def _remember(out: CompiledSEM, cache: bool) -> CompiledSEM:
    return _CACHE.put(out.key, out) if cache else out


def kernel_unsupported(parts: ModelParts) -> str | None:
    """Why the generic kernel cannot stand in for ``parts.model`` (``None``: it can)."""
    from .density.program import unsupported

    why = unsupported(parts.plan, parts.summary, parts.form)
    if parts.built is None:  # the model will be build_pymc's own: nothing added to check
        return why
    m = parts.model
    if why is None and (
        [rv.name for rv in m.free_RVs] != [g.name for g in parts.plan.rvs]
        or m.observed_RVs
        or m.deterministics
        or not {p.name for p in m.potentials} <= {"loglik", "positive_definite"}
    ):
        why = "the PyMC model has variables or potentials that build_model did not add"
    return why


def clear_cache() -> None:
    """Forget every compiled model of this process."""
    _CACHE.clear()


def run(
    compiled: CompiledSEM,
    summary: DataSummary,
    *,
    draws: int,
    tune: int,
    chains: int,
    seed: int,
    cores: int | None,
    progressbar: bool,
    target_accept: float | None = None,
    max_treedepth: int = 10,
) -> Any:
    """Sample; returns the sampler's own DataTree (constrained draws of the random variables).

    BLAS is kept to one thread while sampling: the chains already occupy the cores, and
    OpenBLAS's own threads beside them made one small triangular solve take 20-30 ms on a
    2-core machine (PyMC's NUTS forks its chain processes, which inherit the limit).
    """
    with one_blas_thread():
        return _run(
            compiled,
            summary,
            draws=draws,
            tune=tune,
            chains=chains,
            seed=seed,
            cores=cores,
            progressbar=progressbar,
            target_accept=target_accept,
            max_treedepth=max_treedepth,
        )


def _run(
    compiled: CompiledSEM,
    summary: DataSummary,
    *,
    draws: int,
    tune: int,
    chains: int,
    seed: int,
    cores: int | None,
    progressbar: bool,
    target_accept: float | None,
    max_treedepth: int,
) -> Any:
    parts = compiled.parts
    kwargs = {"target_accept": target_accept} if target_accept else {}
    if compiled.density == "kernel":
        from .density.program import with_data

        assert compiled.program is not None  # a kernel model always carries its program
        program = with_data(compiled.program, parts.plan, summary)
        flat = program.unconstrain(start_point(parts.plan, summary, parts.form))
        return sample_kernel(
            compiled.compiled,
            program,
            flat,
            draws=draws,
            tune=tune,
            chains=chains,
            seed=seed,
            cores=cores,
            progressbar=progressbar,
            max_treedepth=max_treedepth,
            **kwargs,
        )
    values = data_values(parts.plan, summary, parts.form)
    ustart = unconstrained(parts.model, start_point(parts.plan, summary, parts.form))
    names = [v.name for v in parts.model.value_vars]
    flat = np.concatenate([np.ravel(ustart[n]) for n in names])
    if compiled.sampler == "nutpie":
        import nutpie

        known = {var.name for var in compiled.compiled.shared_var_keys}  # nutpie drops unused data
        model = compiled.compiled.with_data(**{k: v for k, v in values.items() if k in known})
        model = dataclasses.replace(model, initial_point_func=_jittered(flat))
        return nutpie.sample(
            model,
            draws=draws,
            tune=tune,
            chains=chains,
            cores=cores,
            seed=seed,
            progress_bar=progressbar,
            save_warmup=False,
            maxdepth=max_treedepth,
            **kwargs,
        )
    import pymc as pm

    rng = np.random.default_rng(seed)
    inits = []
    for _ in range(chains):
        jittered, pos = {}, 0
        for n in names:
            size = np.size(ustart[n])
            jittered[n] = np.reshape(flat[pos : pos + size] + JITTER * rng.standard_normal(size), np.shape(ustart[n]))
            pos += size
        inits.append(constrained(parts.model, jittered))
    with parts.model:
        pm.set_data(values)
        return pm.sample(
            draws=draws,
            tune=tune,
            chains=chains,
            cores=cores or min(chains, 2),
            random_seed=seed,
            initvals=inits,
            init="adapt_diag",
            nuts_sampler="pymc",
            progressbar=progressbar,
            compute_convergence_checks=False,
            target_accept=target_accept or 0.8,
            nuts={"max_treedepth": max_treedepth},
        )


def sample_kernel(
    sampler: Any,
    program: DensityProgram,
    start: np.ndarray,
    *,
    draws: int,
    tune: int,
    chains: int,
    seed: int,
    cores: int | None,
    progressbar: bool,
    max_treedepth: int = 10,
    **options: Any,
) -> Any:
    """Sample ``program`` with nutpie (``sampler`` from :func:`kernel_sampler`), each chain from
    ``start`` (unconstrained) plus a small jitter; returns nutpie's trace."""
    import nutpie

    model = sampler.prepared(program, _jittered(start))
    with one_blas_thread():
        return nutpie.sample(
            model,
            draws=draws,
            tune=tune,
            chains=chains,
            cores=cores,
            seed=seed,
            progress_bar=progressbar,
            save_warmup=False,
            maxdepth=max_treedepth,
            **options,
        )


def _jittered(flat: np.ndarray) -> Callable[[int], np.ndarray]:
    def init(chain_seed: int) -> np.ndarray:  # called by nutpie once per chain with a seed derived from `seed`
        rng = np.random.default_rng(chain_seed)
        return flat + JITTER * rng.standard_normal(flat.shape)

    return init


def build_parts(plan: Plan, summary: DataSummary, form: str) -> ModelParts:
    return ModelParts(plan, summary, form)


# -- nutpie on the generic kernel ----------------------------------------------------------------
def kernel_model(program: DensityProgram, plan: Plan) -> Any:
    """A nutpie model that calls the numba kernel's C entry points directly (no Python, no GIL
    per gradient), as nutpie does for its own numba-compiled PyMC models; through nutpie's public
    ``from_pyfunc`` (a Python call per gradient) if that internal interface is not there."""
    import pandas as pd

    names = plan.priors.set_index("par")["name"]
    dims = {g.name: (f"{g.name}_parameter",) for g in plan.rvs}
    coords = {f"{g.name}_parameter": pd.Index(names.loc[g.pars].tolist()) for g in plan.rvs}
    return kernel_sampler(program, dims, coords)


def kernel_sampler(program: DensityProgram, dims: Mapping[str, tuple[str, ...]], coords: Mapping[str, Any]) -> Any:
    """A nutpie model of a density program whose element vectors have ``dims`` over ``coords``
    (see :func:`kernel_model`); call ``.prepared(program, init)`` on it before sampling."""
    from .density import kernel as K

    try:
        from nutpie import _lib

        _lib.LogpFunc, _lib.ExpandFunc, _lib.PyMcModel, _lib.PySampler.from_pymc  # noqa: B018
        cls = _kernel_model_class()
        model = cls(
            dims=dims,
            program=program,
            coords_=coords,
            logp_address=program.logp_address,
            expand_address=K.c_expand.address,
            initial_point_func=None,
        )
        model._make_model(None)  # fails here, not in the sampler, if nutpie's internals changed
        return model
    except (ImportError, AttributeError, TypeError):
        return _pyfunc_model(program, dims, coords)


_KERNEL_CLASS: type | None = None


def _kernel_model_class() -> type:
    """nutpie's ``CompiledModel`` for C callbacks (mirrors nutpie's ``CompiledPyMCModel``)."""
    global _KERNEL_CLASS
    if _KERNEL_CLASS is not None:
        return _KERNEL_CLASS
    from nutpie import _lib
    from nutpie.sample import CompiledModel

    @dataclass(frozen=True)
    class KernelModel(CompiledModel):
        program: object = None
        coords_: dict | None = None
        logp_address: int = 0
        expand_address: int = 0
        initial_point_func: object = None
        # [ib address, ib size, fb address, fb size]: the kernel's user data
        header: np.ndarray | None = None

        def __post_init__(self):
            p = self.program
            head = np.array([p.ib.ctypes.data, p.ib.size, p.fb.ctypes.data, p.fb.size], np.int64)
            object.__setattr__(self, "header", head)

        @property
        def n_dim(self):
            return self.program.ndim

        @property
        def shapes(self):
            return {n: (k,) for n, k in zip(self.program.names, self.program.sizes)}

        @property
        def coords(self):
            return self.coords_

        def prepared(self, program, init):
            """This model on the data of ``program``, chains started by ``init(seed)``."""
            return dataclasses.replace(self, program=program, initial_point_func=init)

        def _make_sampler(self, settings, init_mean, cores, progress_type, extra_callback, extra_callback_rate, store):
            return _lib.PySampler.from_pymc(
                settings, cores, self._make_model(init_mean), progress_type, extra_callback, extra_callback_rate, store
            )

        def _make_model(self, init_mean):
            n = self.n_dim
            ptr = self.header.ctypes.data
            logp = _lib.LogpFunc(self.logp_address, ptr, self)  # `self` keeps the buffers alive
            expand = _lib.ExpandFunc(n, n, self.expand_address, ptr, self)
            dim_sizes = {k: len(v) for k, v in self.coords_.items()}
            variables = _lib.PyVariable.new_variables(
                list(self.program.names),
                ["float64"] * len(self.program.names),
                [(k,) for k in self.program.sizes],
                dim_sizes,
                self.dims,
            )

            def make_adapter(*args, **kwargs):
                from nutpie.transform_adapter import make_transform_adapter

                return make_transform_adapter()(*args, **kwargs, logp_fn=None)

            return _lib.PyMcModel(
                logp, expand, variables, n, dim_sizes, self.coords_, self.initial_point_func, make_adapter
            )

    _KERNEL_CLASS = KernelModel
    return KernelModel


@dataclass(frozen=True)
class _PyFuncKernel:
    """The kernel through nutpie's public ``from_pyfunc`` (slower: a Python call per gradient)."""

    dims: dict
    coords: dict

    def prepared(self, program, init):
        from nutpie.compiled_pyfunc import from_pyfunc

        def make_logp():
            return lambda x, **_: program.logp_and_grad(x)

        def make_expand(seed1, seed2, chain):
            return lambda x, **_: program.constrain(x)

        return from_pyfunc(
            program.ndim,
            make_logp,
            make_expand,
            [np.dtype("float64")] * len(program.names),
            [(k,) for k in program.sizes],
            list(program.names),
            coords=self.coords,
            dims=self.dims,
            make_initial_point_fn=init,
        )


def _pyfunc_model(program, dims, coords):
    return _PyFuncKernel(dims, coords)
