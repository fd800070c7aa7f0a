"""The ``loyaltymodels`` command line: fit, simulate, index and report from the shell.

Every command reads a model (a file of lavaan syntax, or ``-`` for standard input) and survey data
in any format :func:`loyaltymodels.read_survey` reads, prints readable tables, and writes files for
machines (JSON, CSV, Excel, netCDF: the format each file's extension names). Errors print one line
saying what is wrong and what to do; the exit code is 2 for usage and data errors, 1 for a fit that
did not converge, 0 otherwise. ``--debug`` shows the Python traceback as well, with the same exit
code. Output paths and sampler settings are checked before any data are read or any fit runs.
"""

from __future__ import annotations

import json
import sys
import traceback
import warnings
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import pandas as pd
import typer
from typer.core import TyperGroup

from . import __version__
from .defaults import check_sampler_args
from .errors import ConvergenceError, ConvergenceWarning, LoyaltyModelsError, SpecError

if TYPE_CHECKING:
    import xarray as xr


def _click_error(err: BaseException, name: str = "ClickException") -> bool:
    """Whether ``err`` is click's ``name`` exception: typer >= 0.2x ships its own copy of click
    (``typer._click``), older typer uses click itself, so the class is matched by name."""
    return any(c.__name__ == name for c in type(err).__mro__)


class _OneLineGroup(TyperGroup):
    """The command group with click's usage errors on one line (``error: ...``, exit code 2), as
    the package's own errors are: typer's default is a framed block of several lines."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except typer.Abort:
            typer.echo("error: aborted", err=True)
            code = 1
        except Exception as err:
            if _click_error(err, "NoArgsIsHelpError"):  # bare 'loyaltymodels': the help, as before
                err.show()  # type: ignore[attr-defined]
                code = 2
            elif _click_error(err):
                text = " ".join(err.format_message().split())  # type: ignore[attr-defined]
                ctx = getattr(err, "ctx", None)
                hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
                typer.echo(f"error: {text}{hint}", err=True)
                code = getattr(err, "exit_code", 2)
            else:
                raise
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    cls=_OneLineGroup,
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Customer-loyalty models: SEM, Bayesian SEM, loyalty drivers, indices.",
    context_settings={"help_option_names": ["-h", "--help"]},
)
_STATE = {"debug": False, "quiet": False}

ModelArg = Annotated[str, typer.Argument(help="File of lavaan model syntax, or - to read it from stdin.")]
DataArg = Annotated[Path, typer.Argument(help="Survey data: .csv, .tsv, .xlsx, .sav, .zsav, .dta or .parquet.")]
CsvFormat = Annotated[
    str,
    typer.Option(
        "--csv-format",
        help="CSV outputs: standard (, and .) or excel-fr (; decimal comma, UTF-8 with BOM, for French Excel).",
        callback=lambda value: _csv_format(value),
    ),
]


def _csv_format(value: str) -> str:
    from .data.files import CSV_FORMATS

    if value not in CSV_FORMATS:
        raise typer.BadParameter(f"{value!r}: choose {' or '.join(CSV_FORMATS)}", param_hint="'--csv-format'")
    return value


class NotConverged(Exception):
    """Raised inside a command when the fit ran but its diagnostics failed (exit code 1)."""


def _version(value: bool) -> None:
    if value:
        typer.echo(f"loyaltymodels {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show Python tracebacks on errors.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars (samplers, bootstrap, ...).")] = False,
) -> None:
    """Fit customer-loyalty models from the shell. Run a command with --help for an example."""
    _STATE["debug"] = debug
    _STATE["quiet"] = quiet


def _progress() -> bool:
    """Progress bars are on in the command line unless --quiet."""
    return not _STATE["quiet"]


def _cli_words(text: str) -> str:
    """A message in the command line's words: the package's messages name Python arguments
    (``missing='fiml'``), which on the command line are options (``--missing fiml``)."""
    return text.replace("missing='fiml'", "--missing fiml")


def _one_line_warning(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> None:
    """A warning as one line, ``warning: ...``, without Python's file path and source line."""
    text = _cli_words(" ".join(str(message).split()))
    typer.echo(f"warning: {text}", err=True)


@contextmanager
def _errors():
    """One line per error, the documented exit codes, and no traceback unless --debug."""
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _one_line_warning
            yield
    except (typer.Exit, typer.Abort, SystemExit):
        raise
    except BrokenPipeError:  # output piped into head & co: not an error
        sys.stderr.close()
        raise typer.Exit(0) from None
    except Exception as err:
        code = 1 if isinstance(err, (ConvergenceError, NotConverged)) else 2
        if _STATE["debug"]:  # the traceback as well, never another exit code
            traceback.print_exc(file=sys.stderr)
        text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        if isinstance(err, (FileNotFoundError, IsADirectoryError, PermissionError)):
            text = f"cannot read {getattr(err, 'filename', '') or text}: {err.strerror or err}"
        elif not isinstance(err, (LoyaltyModelsError, NotConverged, KeyError, ValueError, typer.BadParameter)):
            text = f"{type(err).__name__}: {text} (run with --debug for the traceback)"
        typer.echo(f"error: {_cli_words(text)}", err=True)
        raise typer.Exit(code) from None


def _model(source: str) -> str:
    if source == "-":
        text = sys.stdin.read()
    else:
        path = Path(source)
        if not path.is_file():
            what = "is a folder" if path.is_dir() else "not found"
            raise SpecError(f"model file {source!r} {what}; give a file of lavaan syntax or - for stdin")
        try:
            text = path.read_text(encoding="utf-8-sig")  # Notepad's UTF-8 starts with a BOM
        except UnicodeDecodeError as exc:
            byte = exc.object[exc.start : exc.start + 1]
            raise SpecError(
                f"model file {source!r} is not UTF-8 text (byte {exc.start}: {byte!r}); "
                "save it as UTF-8 (names with accents are fine then)"
            ) from None
    if not text.strip():
        raise SpecError("the model is empty; write lavaan syntax such as 'F =~ x1 + x2 + x3'")
    return text


def _data(path: Path) -> pd.DataFrame:
    from .data.read import read_survey

    return read_survey(path)


def _show(table: pd.DataFrame, title: str | None = None, digits: int = 3) -> None:
    if title:
        typer.echo(f"\n{title}")
    with pd.option_context("display.max_rows", 500, "display.max_columns", 50, "display.width", 160):
        typer.echo(table.round(digits).to_string(index=False))


def _write_table(table: pd.DataFrame, out: Path | None, csv_format: str = "standard") -> None:
    if out is None:
        return
    from .data.files import write_table

    write_table(table, out, csv_format=csv_format)
    typer.echo(f"wrote {out}")


#: What each kind of output may be called (the extension says the format).
_POSTERIOR = (".nc",)


def _outputs(**paths: tuple[Path | None, Iterable[str] | None]) -> None:
    """Check every output path before any work ("cannot write ..." now, not after the fit):
    ``option=(path, allowed extensions)``; tables may take any extension :func:`write_table` knows."""
    from .data.files import TABLE_FORMATS, check_writable

    for option, (path, suffixes) in paths.items():
        if path is not None:
            allowed = TABLE_FORMATS if suffixes is None else suffixes
            check_writable(path, suffixes=allowed, what=f"--{option.replace('_', '-')} file")


def _estimation(estimator: str | None, ordered: str | None, weights: str | None) -> dict:
    """fit_sem's estimator, ordered and sampling_weights from --estimator, --ordered, --weights."""
    items: bool | tuple[str, ...] | None = None
    if ordered is not None:
        items = True if ordered.strip().lower() in ("all", "true") else _csv_list(ordered)
    return dict(estimator=estimator, ordered=items, sampling_weights=weights)


def _csv_list(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip()) if value else ()


def _verdict(post: xr.DataTree, var_names: list[str] | None = None) -> pd.DataFrame:
    """The convergence report, printed before any estimate: each failing parameter once (held
    equal across sectors, it is one parameter), named with its sector, and one line saying what
    to do. Returns the failed checks (empty when all is well)."""
    from .bayes.diagnostics import check_convergence
    from .plain import convergence_sentence

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        problems = check_convergence(post, warn=False, var_names=var_names or ("param",))
    if len(problems):
        table = problems[["check", "parameter", "value", "threshold"]]
        _show(table.head(15), f"Convergence: NOT converged ({len(problems)} failed check(s)):")
        if len(problems) > 15:
            typer.echo(f"... and {len(problems) - 15} more")
    typer.echo(("\n" if not len(problems) else "") + convergence_sentence(problems))
    return problems


def _check(problems: pd.DataFrame) -> None:
    """Exit code 1 after the outputs are written, when the draws failed their checks."""
    if len(problems):
        raise NotConverged(
            f"the sampler did not converge ({len(problems)} failed check(s)); "
            "the draws were saved, but rerun with more --draws/--tune before using them"
        )


@app.command()
def sem(
    model: ModelArg,
    data: DataArg,
    group: Annotated[str | None, typer.Option(help="Column defining groups (multigroup model).")] = None,
    group_equal: Annotated[
        str | None, typer.Option(help="Comma-separated: loadings,intercepts,residuals,means,lv.variances,regressions.")
    ] = None,
    std_lv: Annotated[bool, typer.Option(help="Identify latents by unit variance.")] = False,
    missing: Annotated[str, typer.Option(help="listwise or fiml.")] = "listwise",
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples (percentile CIs).")] = 0,
    seed: Annotated[int | None, typer.Option(help="Seed for the bootstrap.")] = None,
    estimator: Annotated[str | None, typer.Option(help="ML, MLR, MLM or WLSMV (lavaan's; default as lavaan).")] = None,
    ordered: Annotated[str | None, typer.Option(help="'all' or comma-separated ordered items (WLSMV).")] = None,
    weights: Annotated[str | None, typer.Option(help="Column of sampling weights (robust SEs, as lavaan).")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Save the fit (lossless JSON).")] = None,
    csv_out: Annotated[Path | None, typer.Option("--csv", help="Save the parameter table (CSV).")] = None,
    csv_format: CsvFormat = "standard",
) -> None:
    """Fit a structural-equation model by ML, as lavaan would.

    Example: loyaltymodels sem model.lav survey.csv --group sector --json fit.json
    """
    with _errors():
        from .sem.fit import fit_sem

        _outputs(json=(json_out, (".json",)), csv=(csv_out, None))
        fit = fit_sem(
            _model(model),
            _data(data),
            group=group,
            group_equal=_csv_list(group_equal),
            std_lv=std_lv,
            missing=missing,
            bootstrap=bootstrap,
            seed=seed,
            progress=_progress(),
            **_estimation(estimator, ordered, weights),
        )
        fit.summary()
        if json_out:
            fit.to_json(json_out)
            typer.echo(f"wrote {json_out}")
        _write_table(fit.parameters, csv_out, csv_format)


@app.command()
def bayes(
    model: ModelArg,
    data: DataArg,
    draws: Annotated[int, typer.Option(help="Draws per chain after tuning.")] = 1000,
    tune: Annotated[int, typer.Option(help="Tuning draws per chain.")] = 1000,
    chains: Annotated[int, typer.Option(help="Number of chains.")] = 4,
    seed: Annotated[int | None, typer.Option(help="Seed: same seed, same draws.")] = None,
    group: Annotated[str | None, typer.Option(help="Column defining groups.")] = None,
    ordinal: Annotated[str | None, typer.Option(help="'auto' or comma-separated ordinal items.")] = None,
    out: Annotated[Path | None, typer.Option(help="Save the posterior (netCDF).")] = None,
    csv_out: Annotated[Path | None, typer.Option("--csv", help="Save the summary table (CSV).")] = None,
    csv_format: CsvFormat = "standard",
) -> None:
    """Fit a Bayesian SEM (blavaan's priors; nutpie) and summarise the posterior.

    Example: loyaltymodels bayes model.lav survey.csv --draws 1000 --chains 4 --seed 1 --out post.nc
    """
    with _errors():
        check_sampler_args(draws=draws, tune=tune, chains=chains, seed=seed)
        _outputs(out=(out, _POSTERIOR), csv=(csv_out, None))
        from .bayes.fit import bayes_summary, fit_bayes

        items = ordinal if ordinal in (None, "auto") else list(_csv_list(ordinal))
        post = fit_bayes(
            _model(model),
            _data(data),
            draws=draws,
            tune=tune,
            chains=chains,
            seed=seed,
            group=group,
            ordinal=items,
            check=False,
            progressbar=_progress(),
        )
        problems = _verdict(post)
        if out:
            post.to_netcdf(out)
            typer.echo(f"wrote {out}")
        summary = bayes_summary(post)
        group_col = "group_label" if "group_label" in summary else "group"
        cols = [
            c
            for c in ("lhs", "op", "rhs", group_col, "mean", "sd", "ci_lower", "ci_upper", "r_hat", "ess_bulk")
            if c in summary
        ]
        level = f"{summary.attrs.get('ci', 0.9):.0%} intervals"
        shown = summary.loc[summary.free if "free" in summary else slice(None), cols]
        _show(shown, f"Posterior summary ({level}):")
        _write_table(summary, csv_out, csv_format)
        _check(problems)


@app.command()
def loyalty(
    model: ModelArg,
    data: DataArg,
    sector: Annotated[str, typer.Option(help="Column naming each respondent's sector.")],
    segment: Annotated[str | None, typer.Option(help="Column of customer segments.")] = None,
    outcome: Annotated[list[str] | None, typer.Option(help="Behaviour outcome as name=COLUMN (repeatable).")] = None,
    interaction: Annotated[bool, typer.Option(help="Add the beliefs x experience interaction.")] = False,
    surface: Annotated[
        bool,
        typer.Option(
            help="Fit the response surface of the two drivers and test their congruence (does imbalance cost loyalty?)."
        ),
    ] = False,
    promise_pair: Annotated[
        list[str] | None,
        typer.Option(
            help="A promise item and the experience item asking the same attribute, as PROMISE=EXPERIENCE "
            "(repeatable): the gap gets a measured zero (does a broken promise cost loyalty?)."
        ),
    ] = None,
    diminishing: Annotated[
        list[str] | None,
        typer.Option(help="A driver whose returns may diminish (repeatable; does exceeding expectations add little?)."),
    ] = None,
    continuous: Annotated[
        bool,
        typer.Option(help="Treat 1-5/1-7 items as continuous (faster; prints how much that moves the weights)."),
    ] = False,
    draws: Annotated[int, typer.Option(help="Draws per chain.")] = 1000,
    tune: Annotated[int, typer.Option(help="Tuning draws per chain.")] = 1000,
    chains: Annotated[int, typer.Option(help="Number of chains.")] = 4,
    seed: Annotated[int | None, typer.Option(help="Seed.")] = None,
    out: Annotated[Path | None, typer.Option(help="Save the posterior (netCDF).")] = None,
    csv_out: Annotated[Path | None, typer.Option("--csv", help="Save the driver weights (CSV).")] = None,
    csv_format: CsvFormat = "standard",
) -> None:
    """Fit the hierarchical loyalty model: weights of beliefs and experience by sector.

    Example: loyaltymodels loyalty model.lav survey.csv --sector sector --outcome churn=churned --out post.nc

    The claims: --surface (congruence of beliefs and experience), --promise-pair pro1=exp1 ... (the
    measured promise gap, slopes below and above it), --diminishing Experience (curvature).
    """
    with _errors():
        check_sampler_args(draws=draws, tune=tune, chains=chains, seed=seed)
        _outputs(out=(out, _POSTERIOR), csv=(csv_out, None))
        import loyaltymodels as lm

        outcomes = _assignments(outcome, "--outcome", "name=COLUMN")
        pairs = _assignments(promise_pair, "--promise-pair", "PROMISE_ITEM=EXPERIENCE_ITEM")
        syntax, frame = _model(model), _data(data)
        post = lm.fit_loyalty(
            syntax,
            frame,
            sector=sector,
            segment=segment,
            outcomes=outcomes or None,
            interaction=interaction,
            surface=surface,
            promise_pairs=pairs or None,
            diminishing=list(diminishing) if diminishing else None,
            ordinal=None if continuous else "auto",
            draws=draws,
            tune=tune,
            chains=chains,
            seed=seed,
            progressbar=_progress(),
            check=False,
        )
        problems = _verdict(post)
        if out:
            post.to_netcdf(out)
            typer.echo(f"wrote {out}")
        weights = lm.driver_weights(post)
        level = f"{weights.attrs.get('ci', 0.9):.0%} intervals"
        _show(weights, f"Standardized driver weights by sector ({level}; pooled = the hierarchical mean sector):")
        if post.attrs.get("ordinal_sensitivity"):
            typer.echo(f"\nSensitivity: {post.attrs['ordinal_sensitivity']}")
        if outcomes:
            _show(lm.outcome_effects(post), f"Behaviour outcomes (per SD of loyalty; {level}):")
        _claims(post, surface, bool(pairs), bool(diminishing), level)
        _write_table(weights, csv_out, csv_format)
        _plain_loyalty(weights, syntax, frame, sector, problems)
        _check(problems)


def _assignments(items: list[str] | None, option: str, shape: str) -> dict[str, str]:
    """``KEY=VALUE`` options (repeatable) as a dict, or a BadParameter showing the expected shape."""
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise typer.BadParameter(f"{option} {item!r} should look like {shape}")
        out[key] = value
    return out


def _claims(post: Any, surface: bool, pairs: bool, diminishing: bool, level: str) -> None:
    """The tables of the claims asked for (issue 19), each under a title saying what it answers."""
    import loyaltymodels as lm

    if surface:
        verdict = lm.congruence(post)
        title = f"Congruence of the drivers (Humberg et al. 2019's conditions; {level}):"
        _show(verdict, title)
        if verdict.attrs.get("line"):
            typer.echo(f"  line of congruence: {verdict.attrs['line']}")
    if pairs:
        _show(
            lm.promise_gap(post), f"The promise gap (experience minus promise, measured on the paired items; {level}):"
        )
    if diminishing:
        _show(lm.diminishing_returns(post), f"Diminishing returns of the drivers named ({level}):")


def _plain_loyalty(
    weights: pd.DataFrame, syntax: str, frame: pd.DataFrame, sector: str, problems: pd.DataFrame
) -> None:
    """The closing sentences: which driver weighs more where, how sure, and whether the model fits
    (lavaan's fit measures of the same model by ML, one group per sector)."""
    from .plain import fit_sentences, weight_sentences
    from .sem.fit import fit_sem

    typer.echo("\nIn plain words:")
    if len(problems):
        typer.echo("  (The sampler did not converge: the sentences below are provisional.)")
    for line in weight_sentences(weights):
        typer.echo(f"  {line}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = fit_sem(syntax, frame, group=sector, missing="fiml", group_equal=("loadings", "intercepts"))
        lines = fit_sentences(fit)
    except (LoyaltyModelsError, ValueError) as err:  # the Bayesian answer stands without the ML check
        lines = [f"The model's fit could not be checked by ML ({str(err).splitlines()[0]})."]
    for line in lines:
        typer.echo(f"  {line}")


@app.command()
def invest(
    result: Annotated[Path, typer.Argument(help="A loyalty posterior (.nc) saved by 'loyaltymodels loyalty --out'.")],
    points: Annotated[float, typer.Option(help="Rise of a driver's items, in questionnaire points.")] = 1.0,
    out: Annotated[Path | None, typer.Option(help="Save the table (.csv, .xlsx, .json ...).")] = None,
    csv_format: CsvFormat = "standard",
) -> None:
    """Where to invest: what one more point on each driver buys in loyalty and behaviour, by sector.

    Example: loyaltymodels invest post.nc --points 1 --out invest.xlsx
    """
    with _errors():
        _outputs(out=(out, None))
        from .bayes.fit import load_posterior
        from .loyalty.investment import invest as run
        from .plain import invest_sentences

        table = run(load_posterior(result), points=points)
        level = f"{table.attrs.get('ci', 0.9):.0%} intervals"
        _show(table, f"Gain from {points:g} more point(s) on each driver ({level}):")
        _write_table(table, out, csv_format)
        typer.echo("\nIn plain words:")
        for line in invest_sentences(table):
            typer.echo(f"  {line}")


@app.command()
def invariance(
    model: ModelArg,
    data: DataArg,
    group: Annotated[str, typer.Option(help="Column defining the groups to compare.")],
    levels: Annotated[str, typer.Option(help="Comma-separated levels.")] = "configural,metric,scalar,strict",
    missing: Annotated[str, typer.Option(help="listwise or fiml.")] = "listwise",
    estimator: Annotated[str | None, typer.Option(help="ML, MLR, MLM or WLSMV (lavaan's; default as lavaan).")] = None,
    ordered: Annotated[str | None, typer.Option(help="'all' or comma-separated ordered items (WLSMV).")] = None,
    weights: Annotated[str | None, typer.Option(help="Column of sampling weights (robust SEs, as lavaan).")] = None,
    out: Annotated[Path | None, typer.Option(help="Save the table (.csv or .json).")] = None,
    csv_format: CsvFormat = "standard",
) -> None:
    """Measurement invariance across groups, with lavaan's chi-square difference tests.

    Example: loyaltymodels invariance model.lav survey.sav --group country --out invariance.csv
    """
    with _errors():
        from .sem.invariance_tests import invariance as run

        _outputs(out=(out, None))
        found = run(
            _model(model),
            _data(data),
            group=group,
            levels=_csv_list(levels),
            missing=missing,
            progress=_progress(),
            **_estimation(estimator, ordered, weights),
        )
        table = cast("pd.DataFrame", found).reset_index()  # the level names are the rows' names: configural, metric ...
        _show(table, "Measurement invariance:")
        _write_table(table, out, csv_format)


@app.command()
def simulate(
    model: ModelArg,
    n: Annotated[int, typer.Option("--n", help="Respondents (per group).")],
    out: Annotated[Path, typer.Option(help="Where to write the data (.csv, .tsv, .xlsx, .sav, .dta, .parquet).")],
    seed: Annotated[int | None, typer.Option(help="Seed: same seed, same data.")] = None,
    scale: Annotated[str | None, typer.Option(help="Rating scale such as 0-10 (default: continuous).")] = None,
    truth: Annotated[Path | None, typer.Option(help="Also write the true parameter table (.csv, .xlsx...).")] = None,
    csv_format: CsvFormat = "standard",
) -> None:
    """Simulate survey data from a model (population values in the syntax, lavaan's defaults).

    Example: loyaltymodels simulate model.lav --n 500 --seed 1 --scale 0-10 --out data.csv
    """
    with _errors():
        from .data.files import write_table
        from .data.synthetic import simulate as run

        _outputs(out=(out, None), truth=(truth, None))
        data, table = run(_model(model), n, seed=seed, scale=scale)
        write_table(data, out, csv_format=csv_format)
        typer.echo(f"wrote {out} ({len(data)} rows, {data.shape[1]} columns)")
        if truth:
            write_table(table, truth, csv_format=csv_format)
            typer.echo(f"wrote {truth}")


@app.command()
def indices(
    data: DataArg,
    nps: Annotated[str | None, typer.Option(help="Column of the recommendation question.")] = None,
    scale: Annotated[str, typer.Option(help="Scale of the NPS question.")] = "0-10",
    by: Annotated[str | None, typer.Option(help="Column to group by (segment, wave...).")] = None,
    csat: Annotated[str | None, typer.Option(help="Column of a satisfaction question (top-2 box).")] = None,
    csat_scale: Annotated[str, typer.Option(help="Scale of the CSAT question.")] = "1-5",
    ces: Annotated[str | None, typer.Option(help="Column of the customer-effort question.")] = None,
    ces_scale: Annotated[str, typer.Option(help="Scale of the CES question.")] = "1-7",
    sci: Annotated[
        str | None, typer.Option(help="Secure Customer Index: satisfaction,repurchase,recommend columns.")
    ] = None,
    sci_scale: Annotated[str, typer.Option(help="Scale of the SCI questions.")] = "1-5",
    cli: Annotated[
        str | None, typer.Option(help="Customer Loyalty Index: recommend,repurchase,try_others columns (1-6).")
    ] = None,
    method: Annotated[str, typer.Option(help="NPS interval: adjusted_wald, wald or bayes.")] = "adjusted_wald",
    out: Annotated[Path | None, typer.Option(help="Save all tables (.csv or .json).")] = None,
    csv_format: CsvFormat = "standard",
) -> None:
    """Loyalty indices with intervals: NPS, CSAT, CES, Secure Customer Index, Customer Loyalty Index.

    Example: loyaltymodels indices survey.csv --nps recommend --scale 0-10 --by wave --csat csat
    """
    with _errors():
        from .indices import promoter as ix
        from .indices import satisfaction as sx

        _outputs(out=(out, None))
        frame = _data(data)
        tables = []
        if nps:
            nps_method = cast("ix.NpsMethod", method)  # nps checks it, and its message names the choices
            tables.append(ix.nps(nps, scale=scale, by=by, method=nps_method, data=frame).assign(index="NPS"))
        if csat:
            tables.append(sx.csat(csat, scale=csat_scale, by=by, data=frame).assign(index="CSAT"))
        if ces:
            tables.append(sx.ces(ces, scale=ces_scale, by=by, data=frame).assign(index="CES"))
        if sci:
            cols = _three(sci, "--sci")
            tables.append(sx.secure_customer_index(*cols, scale=sci_scale, by=by, data=frame).assign(index="SCI"))
        if cli:
            cols = _three(cli, "--cli")
            tables.append(sx.customer_loyalty_index(*cols, by=by, data=frame).assign(index="CLI"))
        if not tables:
            raise typer.BadParameter(
                "name at least one index: --nps COL, --csat COL, --ces COL, --sci A,B,C or --cli A,B,C"
            )
        for t in tables:
            keep = ["index"] + [c for c in t if c != "index"]
            _show(t[keep], f"{t['index'].iloc[0]}:")
        _write_table(pd.concat(tables, ignore_index=True), out, csv_format)


def _three(value: str, option: str) -> tuple[str, str, str]:
    cols = _csv_list(value)
    if len(cols) != 3:
        raise typer.BadParameter(f"{option} takes three comma-separated columns, got {value!r}")
    return cols


@app.command()
def retention(
    model: ModelArg,
    data: DataArg,
    time: Annotated[str, typer.Option(help="Column: periods observed after the survey (1, 2, ...).")] = "time",
    event: Annotated[str, typer.Option(help="Column: 1 if the customer left, 0 if still one (censored).")] = "event",
    sector: Annotated[str | None, typer.Option(help="Column of sectors (effects partially pooled).")] = None,
    tenure: Annotated[str | None, typer.Option(help="Column: periods as a customer at the survey.")] = None,
    acquisition: Annotated[
        str | None, typer.Option(help="Column: 0/1 for prospects (did they convert), blank for customers.")
    ] = None,
    purchases: Annotated[
        str | None, typer.Option(help="Repeat purchase: three columns frequency,recency,T (BG/NBD).")
    ] = None,
    purchases_only: Annotated[
        bool, typer.Option(help="Fit repeat purchase only (no --time/--event); needs --purchases.")
    ] = False,
    churn: Annotated[
        str, typer.Option(help="How leaving is modelled: hazard (discrete-time) or sbg (shifted-beta-geometric).")
    ] = "hazard",
    draws: Annotated[int, typer.Option(min=1, help="Draws per chain after tuning.")] = 1000,
    tune: Annotated[int, typer.Option(min=0, help="Tuning draws per chain.")] = 1000,
    chains: Annotated[int, typer.Option(min=1, help="Number of chains.")] = 4,
    seed: Annotated[int | None, typer.Option(help="Seed: same seed, same draws.")] = None,
    out: Annotated[Path | None, typer.Option(help="Save the posterior (netCDF, .nc).")] = None,
    csv_out: Annotated[Path | None, typer.Option("--csv", help="Save the effects table (.csv or .json).")] = None,
) -> None:
    """Retention (and acquisition, repeat purchase) after a survey, driven by its latent constructs.

    Example: loyaltymodels retention model.lav followed.csv --sector sector --tenure tenure --out post.nc
    """
    with _errors():
        # every argument checked before the data are read (a long read, then a usage error, wastes time)
        buys = _three(purchases, "--purchases") if purchases else None
        if purchases_only and buys is None:
            raise typer.BadParameter("--purchases-only needs --purchases frequency,recency,T")
        for path, option, suffixes in ((out, "--out", (".nc",)), (csv_out, "--csv", (".csv", ".json"))):
            if path is None:
                continue
            if path.suffix.lower() not in suffixes:
                raise typer.BadParameter(f"{option} {path}: expected a {' or '.join(suffixes)} file")
            if not path.resolve().parent.is_dir():
                raise typer.BadParameter(f"{option} {path}: folder {path.parent} does not exist; create it first")
        text = _model(model)
        if not data.is_file():
            raise typer.BadParameter(f"data file {data} not found")
        import loyaltymodels as lm

        post = lm.fit_retention(
            text,
            _data(data),
            time=None if purchases_only else time,
            event=None if purchases_only else event,
            sector=sector,
            tenure=tenure,
            acquisition=acquisition,
            purchases=buys,
            churn=churn,
            draws=draws,
            tune=tune,
            chains=chains,
            seed=seed,
            progressbar=_progress(),
            check=False,
        )
        from .retention.fit import CHECKED  # the behaviour parameters, as fit_retention checks them

        problems = _verdict(post, [v for v in CHECKED if v in post.posterior])
        if out:
            post.to_netcdf(out)
            typer.echo(f"wrote {out}")
        table = None
        if any(v in post.posterior for v in ("hazard", "sbg_alpha_coef", "conversion")):
            table = lm.retention_effects(post)
            _show(table, "Retention effects (hazard ratios < 1 retain; conversion odds ratios):")
        if buys is not None:
            rate = post.posterior[["purchase_rate", "purchase_dropout"]].mean(("chain", "draw")).to_dataframe()
            rate = rate.reset_index()
            _show(rate, "Repeat purchase (log-scale shifts per SD of each latent, posterior means):")
            table = rate if table is None else table  # --purchases-only: the CSV holds these shifts
        if table is not None:
            _write_table(table, csv_out)
        _check(problems)


@app.command()
def report(
    result: Annotated[Path, typer.Argument(help="A saved fit: .json (sem) or .nc (bayes, loyalty).")],
    html: Annotated[Path | None, typer.Option(help="Write an HTML report with tables and plots.")] = None,
) -> None:
    """Tables (and, with --html, plots) of a saved fit.

    Example: loyaltymodels report fit.json --html report.html
    """
    with _errors():
        from .report import html_report, text_report

        _outputs(html=(html, (".html", ".htm")))
        typer.echo(text_report(result))
        if html:
            html_report(result, html)
            typer.echo(f"wrote {html}")


@app.command()
def study(
    name: Annotated[str, typer.Argument(help="ecsi, holzinger or poldem.")],
    out: Annotated[Path | None, typer.Option(help="Save the comparison tables (.json).")] = None,
    fast: Annotated[bool, typer.Option(help="Few draws / resamples (a quick look).")] = False,
) -> None:
    """Reproduce a published analysis and show our numbers beside the published ones.

    Example: loyaltymodels study ecsi --out ecsi.json
    """
    with _errors():
        runs = {"ecsi": "ecsi", "holzinger": "holzinger_swineford", "poldem": "political_democracy"}
        if name not in runs:
            raise typer.BadParameter(f"unknown study {name!r}; choose ecsi, holzinger or poldem")
        _outputs(out=(out, (".json",)))
        from . import studies

        result = getattr(studies, runs[name])(fast=fast)
        result.summary()
        if out:
            out.write_text(
                json.dumps(
                    {
                        k: json.loads(v.to_json(orient="records", double_precision=15))
                        for k, v in result.frames().items()
                    },
                    indent=1,
                )
            )
            typer.echo(f"wrote {out}")


# -- design: from the client's questions to the questionnaire files and the sample plan ------------
def _sector_weights(value: str | None) -> dict[str, tuple[float, ...]] | None:
    """``retail=0.3:0.1:0.3,telecom=0.1:0.1:0.5`` -> {sector: weights in the drivers' order}."""
    if not value:
        return None
    out = {}
    for part in _csv_list(value):
        name, _, numbers = part.partition("=")
        try:
            out[name.strip()] = tuple(float(x) for x in numbers.split(":"))
        except ValueError:
            raise typer.BadParameter(
                f"--sectors: {part!r} should look like retail=0.3:0.2:0.4 (the drivers' weights, in order)"
            ) from None
        if not name.strip() or not numbers:
            raise typer.BadParameter(f"--sectors: {part!r} should look like retail=0.3:0.2:0.4")
    return out


def _nps_waves(value: str | None) -> list[tuple[float, ...]] | None:
    """``30:35:35,25:35:40`` (percent or shares) -> two (detractors, passives, promoters) triples."""
    if not value:
        return None
    try:
        waves = [tuple(float(x) for x in w.split(":")) for w in _csv_list(value)]
    except ValueError:
        raise typer.BadParameter(
            f"--nps: {value!r} should look like 30:35:35,25:35:40 (detractors:passives:promoters per wave)"
        ) from None
    return [tuple(x / 100 for x in w) if sum(w) > 1.5 else w for w in waves]


@app.command()
def design(
    out: Annotated[Path, typer.Option(help="Directory for the questionnaire files and the sample plan.")],
    constructs: Annotated[
        str, typer.Option(help="Constructs to ask, comma-separated (beliefs, experience and loyalty ones).")
    ] = "image,promise,quality,satisfaction,intention",
    language: Annotated[str, typer.Option(help="en or fr.")] = "en",
    scale: Annotated[str, typer.Option(help="Scale of the construct questions: 1-5, 1-7 or 0-10.")] = "1-7",
    brand: Annotated[str | None, typer.Option(help="The brand named in the questions.")] = None,
    pairs: Annotated[bool, typer.Option(help="Ask the promise on the same attributes as experience.")] = True,
    indices: Annotated[
        str, typer.Option(help="Indices' questions to add: nps,sci,cli,csat,ces.")
    ] = "nps,sci,cli,csat,ces",
    outcomes: Annotated[str, typer.Option(help="Behaviour questions to add.")] = "bought_12m,purchases_12m",
    items: Annotated[int | None, typer.Option(help="Questions per construct (default: all the bank has).")] = None,
    sectors: Annotated[
        str | None, typer.Option(help="Expected weights per sector: retail=0.3:0.1:0.3,telecom=0.1:0.1:0.5.")
    ] = None,
    targets: Annotated[
        str | None, typer.Option(help="Questions to plan for: within,between,congruence,nps (default: all that apply).")
    ] = None,
    nps: Annotated[str | None, typer.Option(help="NPS shares of two waves: 30:35:35,25:35:40.")] = None,
    power: Annotated[float, typer.Option(help="Power to reach.")] = 0.8,
    reps: Annotated[int, typer.Option(help="Simulated surveys per sample size.")] = 200,
    simulate: Annotated[bool, typer.Option(help="Confirm the analytic answers by simulation.")] = True,
    seed: Annotated[int | None, typer.Option(help="Seed: same seed, same plan.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bars.")] = False,
) -> None:
    """From the client's questions to the questionnaire files and the sample plan.

    Writes the questionnaire (Markdown, HTML), its lavaan model, SPSS/Excel/CSV data templates with
    labels and, with --sectors or --nps, the sample plan (plan.md, plan.csv, power curves).

    Example: loyaltymodels design --out study --language fr --sectors retail=0.3:0.1:0.3,telecom=0.1:0.1:0.5
    --nps 30:35:35,25:35:40 --seed 1
    """
    with _errors():
        from .design import questionnaire, sample_size, write_design

        weights = _sector_weights(sectors)
        q = questionnaire(
            list(_csv_list(constructs)),
            language=language,
            scale=scale,
            promise_pairs=pairs,
            indices=_csv_list(indices),
            outcomes=_csv_list(outcomes),
            brand=brand,
            sectors=list(weights or ()),
            items_per_construct=items,
        )
        typer.echo(str(q))
        typer.echo(f"drivers, in the order of --sectors weights: {', '.join(q.drivers)}")
        plan = None
        if weights or nps:
            plan = sample_size(
                q,
                targets=list(_csv_list(targets)) or None,
                sectors=weights,
                power=power,
                nps=_nps_waves(nps),
                reps=reps,
                simulate=simulate,
                seed=seed,
                progress=not quiet,
            )
            typer.echo("")
            typer.echo(plan.to_markdown())
        for path in write_design(q, out, plan):
            typer.echo(f"wrote {path}")


def run() -> None:  # console-script entry point
    app()


if __name__ == "__main__":
    run()
