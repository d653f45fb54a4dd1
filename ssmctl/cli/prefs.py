"""`ssmctl prefs`: Session Manager preferences, per region, as commands or as code."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ssmctl.cli.context import App
from ssmctl.cli.errors import failure_text
from ssmctl.cli.options import common_options
from ssmctl.cli.registry import exit_codes_epilog
from ssmctl.errors import AwsError, ExitStatus, UsageError

if TYPE_CHECKING:
    from ssmctl.aws import AwsContext
    from ssmctl.prefs_checks import Desired, Prepared
    from ssmctl.prefs_document import DocumentState, Outcome, Plan
    from ssmctl.prefs_file import PrefsFile

_yes = click.option(
    "--yes", "-y", is_flag=True, help="Do not ask for confirmation (needed when not on a terminal)."
)
_dry_run = click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")


@click.group(epilog=exit_codes_epilog())
def prefs() -> None:
    """Session Manager preferences: the SSM-SessionManagerRunShell document of each region.

    They say where transcripts go (S3, CloudWatch Logs), how long a session may idle or
    last, the KMS key for session encryption, the Run As user and the shell profiles.
    Every change writes a new document version and makes it the default. See
    docs/prefs.md.
    """


@prefs.command("show", epilog=exit_codes_epilog())
@common_options(fan_out=True)
def show(app: App) -> int:
    """Show each region's preferences: every input, defaults marked as such.

    The values are those of the document's default version (what the console and
    sessions without a document name use), with its default and latest version numbers;
    a warning says when the latest version differs. A region without the document is
    reported (AWS's defaults apply there), not an error. Exits 1 if a region could not be
    read.
    """
    from ssmctl.cli.prefs_render import SHOW_COLUMNS, show_record, show_rows, write_show_tables
    from ssmctl.prefs_document import read_state
    from ssmctl.regions import fan_out

    aws = app.aws()
    regions = app.regions(aws)
    results = fan_out(regions, lambda region: read_state(aws.client("ssm", region), region))
    failures = [r for r in results if r.error is not None]
    if failures and len(failures) == len(results) and failures[0].error is not None:
        raise failures[0].error
    states = [r.value for r in results if r.value is not None]
    _warn_lagging(app, states)
    output = app.settings.output
    if output == "table":
        write_show_tables(states, app.stdout, color=app.settings.color)
        app.stdout.flush()
    elif output == "text":
        app.render((row for s in states for row in show_rows(s)), SHOW_COLUMNS)
    else:
        app.render((show_record(s) for s in states), SHOW_COLUMNS)
    for failure in failures:
        app.notice(f"ssmctl: warning: {failure.region}: {failure_text(failure.error)}")
    return 1 if failures else 0


@prefs.command("set", epilog=exit_codes_epilog())
@click.argument("assignments", nargs=-1, required=True, metavar="KEY=VALUE...")
@_dry_run
@_yes
@common_options(fan_out=True)
def set_(app: App, assignments: tuple[str, ...], dry_run: bool, yes: bool) -> int:
    """Change some preferences in every selected region.

    Each value is checked first (type, range, KMS key format; a bucket or log group must
    exist), in every region, before anything changes. Shows the changes (before -> after)
    and asks on a terminal; refuses without --yes when not on a terminal. Creates the
    document where there is none. Exits 1 if a region failed.

    KEYs: s3BucketName, s3KeyPrefix, s3EncryptionEnabled, cloudWatchLogGroupName,
    cloudWatchEncryptionEnabled, cloudWatchStreamingEnabled, idleSessionTimeout (minutes,
    1-60), maxSessionDuration (minutes, 1-1440), kmsKeyId, runAsEnabled, runAsDefaultUser,
    shellProfile.linux, shellProfile.windows. An empty VALUE restores the default.
    """
    from ssmctl.prefs import INIT_VALUES, parse_assignments

    values = parse_assignments(assignments)
    _need_consent(app, yes or dry_run)
    return _change(
        app,
        lambda state: {**(state.default.values if state.exists else INIT_VALUES), **values},
        dry_run=dry_run,
        yes=yes,
    )


@prefs.command("diff", epilog=exit_codes_epilog())
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@common_options(fan_out=True)
def diff(app: App, file: Path) -> int:
    """Show what `prefs apply FILE` would change, per region (drift detection).

    Exits 0 when every selected region holds what FILE says, 5 when something would
    change, 1 if a region could not be read, 2 if FILE is invalid or names a bucket or
    log group that does not exist.
    """
    from ssmctl.prefs_checks import prepare
    from ssmctl.prefs_file import load_prefs_file

    spec = load_prefs_file(file)
    aws = app.aws()
    regions = app.regions(aws)
    _note_unselected(app, spec, regions)
    prepared = prepare(aws, regions, lambda state: spec.values_for(state.region))
    if prepared.problems:
        raise _problem_error(prepared, spec, "")
    _warn_lagging(app, [p.state for p in prepared.plans])
    _write_plans(app, prepared.plans)
    for region, error in prepared.failures:
        app.notice(f"ssmctl: warning: {region}: {failure_text(error)}")
    if prepared.failures:
        return int(ExitStatus.AWS_ERROR)
    drift = any(p.action != "none" for p in prepared.plans)
    return int(ExitStatus.DRIFT) if drift else 0


@prefs.command("apply", epilog=exit_codes_epilog())
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@_dry_run
@_yes
@common_options(fan_out=True)
def apply(app: App, file: Path, dry_run: bool, yes: bool) -> int:
    """Make every selected region hold the preferences in FILE (prefs.yaml).

    FILE states the whole preferences: what it does not mention takes AWS's default.
    Everything is validated for every region before anything changes; the changes are
    shown and, on a terminal, confirmed (--yes otherwise). Exits 1 if a region failed.
    """
    from ssmctl.prefs_file import load_prefs_file

    spec = load_prefs_file(file)
    _need_consent(app, yes or dry_run)
    return _change(
        app, lambda state: spec.values_for(state.region), dry_run=dry_run, yes=yes, spec=spec
    )


@prefs.command("init", epilog=exit_codes_epilog())
@click.argument("assignments", nargs=-1, metavar="[KEY=VALUE]...")
@common_options(fan_out=True)
def init(app: App, assignments: tuple[str, ...]) -> int:
    """Create the preferences document where it does not exist yet.

    It holds AWS's defaults (idle timeout 20 minutes, no transcripts, no encryption
    requirements, no Run As) with CloudWatch streaming on, plus any KEY=VALUE given. A
    region that has the document is left as it is (result `exists`). Exits 1 if a region
    failed.
    """
    from ssmctl.prefs import INIT_VALUES, parse_assignments
    from ssmctl.prefs_checks import prepare
    from ssmctl.prefs_document import Outcome

    values = {**INIT_VALUES, **parse_assignments(assignments)}
    aws = app.aws()
    prepared = prepare(
        aws, app.regions(aws), lambda state: state.default.values if state.exists else values
    )
    _ready(prepared, None)
    outcomes = {
        p.region: Outcome(
            p.region,
            "exists",
            p.state.default_version,
            p.state.default_version,
            detail="left as it is (change it with prefs set or prefs apply)",
        )
        for p in prepared.plans
        if p.state.exists
    }
    created = _write(aws, [p for p in prepared.plans if not p.state.exists])
    outcomes.update({o.region: o for o in created})
    return _report(app, [outcomes[p.region] for p in prepared.plans])


# -- shared steps ---------------------------------------------------------------------


def _need_consent(app: App, given: bool) -> None:
    if not given and not (app.stdin_isatty and app.stderr_isatty):
        raise UsageError("refusing to change preferences without --yes when not on a terminal")


def _change(
    app: App, desired: Desired, *, dry_run: bool, yes: bool, spec: PrefsFile | None = None
) -> int:
    """Validate every region, show the changes, confirm, write; one result per region."""
    from ssmctl.cli.prefs_render import write_diff
    from ssmctl.prefs_checks import prepare

    aws = app.aws()
    regions = app.regions(aws)
    if spec is not None:
        _note_unselected(app, spec, regions)
    prepared = prepare(aws, regions, desired)
    _ready(prepared, spec)
    plans = prepared.plans
    _warn_lagging(app, [p.state for p in plans])
    if dry_run:
        _write_plans(app, plans)
        return 0
    pending = [p for p in plans if p.action != "none"]
    if not pending:
        where = ", ".join(p.region for p in plans)
        app.notice(f"No changes: the preferences in {where} are already as asked.")
        return _report(app, [_unchanged(p) for p in plans])
    write_diff(plans, app.stderr)
    if not yes and not click.confirm("Apply these changes?", default=False, err=True):
        app.notice("Nothing changed.")
        return int(ExitStatus.INTERRUPTED)
    written = {o.region: o for o in _write(aws, pending)}
    outcomes: list[Outcome] = [written.get(p.region) or _unchanged(p) for p in plans]
    return _report(app, outcomes)


def _unchanged(planned: Plan) -> Outcome:
    from ssmctl.prefs_document import Outcome

    version = planned.state.default_version
    return Outcome(planned.region, "unchanged", version, version)


def _write(aws: AwsContext, plans: Sequence[Plan]) -> list[Outcome]:
    from ssmctl.prefs_document import Outcome, apply_plan
    from ssmctl.regions import fan_out

    by_region = {p.region: p for p in plans}
    results = fan_out(
        list(by_region),
        lambda region: apply_plan(aws.client("ssm", region), by_region[region]),
    )
    outcomes = []
    for result in results:
        if result.value is not None:
            outcomes.append(result.value)
            continue
        planned = by_region[result.region]
        version = planned.state.default_version
        outcomes.append(
            Outcome(
                result.region,
                "failed",
                version,
                version,
                planned.changes,
                failure_text(result.error),
            )
        )
    return outcomes


def _report(app: App, outcomes: Sequence[Outcome]) -> int:
    from ssmctl.cli.prefs_render import RESULT_COLUMNS, result_records

    app.render(result_records(outcomes), RESULT_COLUMNS)
    return 1 if any(o.result == "failed" for o in outcomes) else 0


def _ready(prepared: Prepared, spec: PrefsFile | None) -> None:
    """Stop before any change if a region could not be read or a value names nothing."""
    if prepared.failures:
        region, error = prepared.failures[0]
        count = len(prepared.failures) - 1
        more = f" (and {count} more regions)" if count else ""
        raise AwsError(f"{region}: {failure_text(error)}{more}; nothing changed in any region")
    if prepared.problems:
        raise _problem_error(prepared, spec, "; nothing changed in any region")


def _problem_error(prepared: Prepared, spec: PrefsFile | None, suffix: str) -> UsageError:
    """One line for the first problem (with every region it occurs in) and a count."""
    from ssmctl.prefs import PrefsValueError

    first = prepared.problems[0]
    same = [
        p.region
        for p in prepared.problems
        if (p.key, p.value, p.message) == (first.key, first.value, first.message)
    ]
    regions = ", ".join(same)
    if spec is not None:
        where = f"{spec.where(first.region, first.key)}: {first.key}"
        text = f"{where} {first.value!r} ({regions}): {first.message}"
    else:
        text = f"{regions}: {first.key} {first.value!r}: {first.message}"
    more = len(prepared.problems) - len(same)
    return PrefsValueError(text + (f" (and {more} more problems)" if more else "") + suffix)


def _warn_lagging(app: App, states: Sequence[DocumentState]) -> None:
    from ssmctl.cli.prefs_render import lag_warning

    for state in states:
        warning = lag_warning(state)
        if warning:
            app.notice(f"ssmctl: warning: {state.region}: {warning}")


def _write_plans(app: App, plans: Sequence[Plan]) -> None:
    from ssmctl.cli.prefs_render import DIFF_COLUMNS, diff_rows, write_diff

    output = app.settings.output
    if output == "table":
        write_diff(plans, app.stdout)
    elif output == "text":
        app.render(diff_rows(plans), DIFF_COLUMNS)
    else:
        app.render((p.to_record() for p in plans), DIFF_COLUMNS)


def _note_unselected(app: App, spec: PrefsFile, regions: Sequence[str]) -> None:
    for region in spec.regions:
        if region not in regions:
            app.notice(f"ssmctl: note: {spec.path}: regions.{region} is not selected; skipped")
