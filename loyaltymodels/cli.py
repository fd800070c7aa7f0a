"""The ``loyaltymodels`` command line: fit, simulate, index and report from the shell.

Every command reads a model (a file of lavaan syntax, or ``-`` for standard input) and survey data
in any format :func:`loyaltymodels.read_survey` reads, prints readable tables, and writes files for
machines (JSON, CSV, netCDF). Errors print one line saying what is wrong and what to do; the exit
code is 2 for usage and data errors, 1 for a fit that did not converge, 0 otherwise. ``--debug``
shows the Python traceback instead.
"""

from __future__ import annotations

import json
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import pandas as pd
import typer

from . import __version__
from .errors import ConvergenceError, ConvergenceWarning, LoyaltyModelsError, SpecError

if TYPE_CHECKING:
    import xarray as xr

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Customer-loyalty models: SEM, Bayesian SEM, loyalty drivers, indices.",
    context_settings={"help_option_names": ["-h", "--help"]},
)
_STATE = {"debug": False}

ModelArg = Annotated[str, typer.Argument(help="File of lavaan model syntax, or - to read it from stdin.")]
DataArg = Annotated[Path, typer.Argument(help="Survey data: .csv, .tsv, .xlsx, .sav, .zsav or .dta.")]


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
) -> None:
    """Fit customer-loyalty models from the shell. Run a command with --help for an example."""
    _STATE["debug"] = debug


@contextmanager
def _errors():
    """One line per error, the documented exit codes, and no traceback unless --debug."""
    try:
        yield
    except (typer.Exit, typer.Abort, SystemExit):
        raise
    except BrokenPipeError:  # output piped into head & co: not an error
        sys.stderr.close()
        raise typer.Exit(0) from None
    except Exception as err:
        if _STATE["debug"]:
            raise
        code = 1 if isinstance(err, (ConvergenceError, NotConverged)) else 2
        text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        if isinstance(err, (FileNotFoundError, IsADirectoryError, PermissionError)):
            text = f"cannot read {getattr(err, 'filename', '') or text}: {err.strerror or err}"
        elif not isinstance(err, (LoyaltyModelsError, NotConverged, KeyError, ValueError, typer.BadParameter)):
            text = f"{type(err).__name__}: {text} (run with --debug for the traceback)"
        typer.echo(f"error: {text}", err=True)
        raise typer.Exit(code) from None


def _model(source: str) -> str:
    if source == "-":
        text = sys.stdin.read()
    else:
        path = Path(source)
        if not path.is_file():
            raise SpecError(f"model file {source!r} not found; give a file of lavaan syntax or - for stdin")
        text = path.read_text(encoding="utf-8")
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


def _write_table(table: pd.DataFrame, out: Path | None) -> None:
    if out is None:
        return
    if out.suffix.lower() == ".json":
        out.write_text(table.to_json(orient="records", double_precision=15, indent=1))
    else:
        table.to_csv(out, index=False)
    typer.echo(f"wrote {out}")


def _csv_list(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip()) if value else ()


def _estimation(estimator: str | None, ordered: str | None, weights: str | None) -> dict:
    """fit_sem's estimator, ordered and sampling_weights from --estimator, --ordered, --weights."""
    items: bool | tuple[str, ...] | None = None
    if ordered is not None:
        items = True if ordered.strip().lower() in ("all", "true") else _csv_list(ordered)
    return dict(estimator=estimator, ordered=items, sampling_weights=weights)


def _check(post: xr.DataTree) -> None:
    from .bayes.diagnostics import check_convergence

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        problems = check_convergence(post, warn=False)
    if len(problems):
        _show(problems[["check", "parameter", "value", "threshold"]].head(15), "Convergence problems:")
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
    estimator: Annotated[str | None, typer.Option(help="ML, MLR, MLM or WLSMV (lavaan's; default as lavaan).")] = None,
    ordered: Annotated[str | None, typer.Option(help="'all' or comma-separated ordered items (WLSMV).")] = None,
    weights: Annotated[str | None, typer.Option(help="Column of sampling weights (robust SEs, as lavaan).")] = None,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples (percentile CIs).")] = 0,
    seed: Annotated[int | None, typer.Option(help="Seed for the bootstrap.")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Save the fit (lossless JSON).")] = None,
    csv_out: Annotated[Path | None, typer.Option("--csv", help="Save the parameter table (CSV).")] = None,
) -> None:
    """Fit a structural-equation model by ML, as lavaan would.

    Example: loyaltymodels sem model.lav survey.csv --group sector --json fit.json
    """
    with _errors():
        from .sem.fit import fit_sem

        fit = fit_sem(
            _model(model),
            _data(data),
            group=group,
            group_equal=_csv_list(group_equal),
            std_lv=std_lv,
            missing=missing,
            bootstrap=bootstrap,
            seed=seed,
            **_estimation(estimator, ordered, weights),
        )
        fit.summary()
        if json_out:
            fit.to_json(json_out)
            typer.echo(f"wrote {json_out}")
        _write_table(fit.parameters, csv_out)


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
) -> None:
    """Fit a Bayesian SEM (blavaan's priors; nutpie) and summarise the posterior.

    Example: loyaltymodels bayes model.lav survey.csv --draws 1000 --chains 4 --seed 1 --out post.nc
    """
    with _errors():
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
        )
        if out:
            post.to_netcdf(out)
            typer.echo(f"wrote {out}")
        summary = bayes_summary(post)
        cols = [
            c
            for c in ("lhs", "op", "rhs", "group", "mean", "sd", "ci_lower", "ci_upper", "r_hat", "ess_bulk")
            if c in summary
        ]
        _show(summary.loc[summary.free if "free" in summary else slice(None), cols], "Posterior summary:")
        _write_table(summary, csv_out)
        _check(post)


@app.command()
def loyalty(
    model: ModelArg,
    data: DataArg,
    sector: Annotated[str, typer.Option(help="Column naming each respondent's sector.")],
    segment: Annotated[str | None, typer.Option(help="Column of customer segments.")] = None,
    outcome: Annotated[list[str] | None, typer.Option(help="Behaviour outcome as name=COLUMN (repeatable).")] = None,
    interaction: Annotated[bool, typer.Option(help="Add the beliefs x experience interaction.")] = False,
    draws: Annotated[int, typer.Option(help="Draws per chain.")] = 1000,
    tune: Annotated[int, typer.Option(help="Tuning draws per chain.")] = 1000,
    chains: Annotated[int, typer.Option(help="Number of chains.")] = 4,
    seed: Annotated[int | None, typer.Option(help="Seed.")] = None,
    out: Annotated[Path | None, typer.Option(help="Save the posterior (netCDF).")] = None,
    csv_out: Annotated[Path | None, typer.Option("--csv", help="Save the driver weights (CSV).")] = None,
) -> None:
    """Fit the hierarchical loyalty model: weights of beliefs and experience by sector.

    Example: loyaltymodels loyalty model.lav survey.csv --sector sector --outcome churn=churned --out post.nc
    """
    with _errors():
        import loyaltymodels as lm

        outcomes = {}
        for item in outcome or []:
            name, sep, column = item.partition("=")
            if not sep or not name or not column:
                raise typer.BadParameter(f"--outcome {item!r} should look like name=COLUMN")
            outcomes[name] = column
        post = lm.fit_loyalty(
            _model(model),
            _data(data),
            sector=sector,
            segment=segment,
            outcomes=outcomes or None,
            interaction=interaction,
            draws=draws,
            tune=tune,
            chains=chains,
            seed=seed,
            progressbar=True,
            check=False,
        )
        if out:
            post.to_netcdf(out)
            typer.echo(f"wrote {out}")
        weights = lm.driver_weights(post)
        _show(weights, "Standardized driver weights by sector:")
        if outcomes:
            _show(lm.outcome_effects(post), "Behaviour outcomes (per SD of loyalty):")
        _write_table(weights, csv_out)
        _check(post)


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
) -> None:
    """Measurement invariance across groups, with lavaan's chi-square difference tests.

    Example: loyaltymodels invariance model.lav survey.sav --group country --out invariance.csv
    """
    with _errors():
        from .sem.invariance_tests import invariance as run

        table = run(
            _model(model),
            _data(data),
            group=group,
            levels=_csv_list(levels),
            missing=missing,
            **_estimation(estimator, ordered, weights),
        )
        _show(table, "Measurement invariance:")
        _write_table(table, out)


@app.command()
def simulate(
    model: ModelArg,
    n: Annotated[int, typer.Option("--n", help="Respondents (per group).")],
    out: Annotated[Path, typer.Option(help="Where to write the data (.csv).")],
    seed: Annotated[int | None, typer.Option(help="Seed: same seed, same data.")] = None,
    scale: Annotated[str | None, typer.Option(help="Rating scale such as 0-10 (default: continuous).")] = None,
    truth: Annotated[Path | None, typer.Option(help="Also write the true parameter table (.csv).")] = None,
) -> None:
    """Simulate survey data from a model (population values in the syntax, lavaan's defaults).

    Example: loyaltymodels simulate model.lav --n 500 --seed 1 --scale 0-10 --out data.csv
    """
    with _errors():
        from .data.synthetic import simulate as run

        data, table = run(_model(model), n, seed=seed, scale=scale)
        data.to_csv(out, index=False)
        typer.echo(f"wrote {out} ({len(data)} rows, {data.shape[1]} columns)")
        if truth:
            table.to_csv(truth, index=False)
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
) -> None:
    """Loyalty indices with intervals: NPS, CSAT, CES, Secure Customer Index, Customer Loyalty Index.

    Example: loyaltymodels indices survey.csv --nps recommend --scale 0-10 --by wave --csat csat
    """
    with _errors():
        from .indices import promoter as ix
        from .indices import satisfaction as sx

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
        _write_table(pd.concat(tables, ignore_index=True), out)


def _three(value: str, option: str) -> tuple[str, str, str]:
    cols = _csv_list(value)
    if len(cols) != 3:
        raise typer.BadParameter(f"{option} takes three comma-separated columns, got {value!r}")
    return cols


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
