"""The doctor's checks. Each answers OK, WARN or FAIL with a one-line reason; `needs`
names the checks whose results it builds on (it is skipped when one of them failed).

docs/doctor.md lists them with what makes each one pass, warn or fail.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib.util
import socket
import time
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from ssmctl.doctor.model import FAIL, OK, WARN, CheckResult, DoctorContext
from ssmctl.errors import SsmctlError

Outcome = tuple[str, str]
"""(verdict, reason)."""
_ATTEMPTS = 2  # the doctor reports problems; it does not wait them out
_PREFERENCES = "SSM-SessionManagerRunShell"


@dataclasses.dataclass(frozen=True)
class Check:
    name: str
    probe: Callable[[DoctorContext], Outcome]
    needs: tuple[str, ...] = ()
    with_target: bool = False
    """Only when a TARGET was given."""

    def applies(self, context: DoctorContext) -> bool:
        return context.target is not None or not self.with_target

    def run(self, context: DoctorContext) -> CheckResult:
        """The outcome; an exception becomes a FAIL naming it (a check never raises)."""
        try:
            verdict, reason = self.probe(context)
        except SsmctlError as exc:
            verdict, reason = FAIL, exc.message
        except Exception as exc:
            from ssmctl.aws import translate

            error = translate(exc)
            verdict, reason = FAIL, error.message if error else f"{type(exc).__name__}: {exc}"
        return CheckResult(self.name, verdict, reason)


def _client(context: DoctorContext, service: str) -> Any:
    return context.aws.client(service, max_attempts=_ATTEMPTS)


def _ago(moment: dt.datetime | None) -> str:
    from ssmctl.timespec import format_duration

    if moment is None:
        return "never"
    return format_duration(dt.datetime.now(dt.timezone.utc) - moment) + " ago"


# --- local -------------------------------------------------------------------------------


def plugin(context: DoctorContext) -> Outcome:
    from ssmctl.engines.plugin import locate_plugin
    from ssmctl.errors import PluginError

    try:
        found = locate_plugin(context.env, context.plugin_path)
    except PluginError as exc:
        # The first sentence says what is wrong; the rest is install instructions.
        problem = exc.message.split(". ")[0].rstrip(".")
        if importlib.util.find_spec("ssmctl.engines.native") is not None:
            return WARN, (
                f"{problem}: connect uses ssmctl's native engine instead (install the plugin "
                "for KMS-encrypted sessions)"
            )
        return FAIL, f"{problem}: ssmctl connect needs it (see ssmctl connect --help)"
    return OK, f"session-manager-plugin {found.version_text} at {found.path}"


def region(context: DoctorContext) -> Outcome:
    where = f" (from {context.region_source})" if context.region_source else ""
    return OK, context.aws.region + where


# --- the service -------------------------------------------------------------------------


def endpoint(context: DoctorContext) -> Outcome:
    url = str(_client(context, "ssm").meta.endpoint_url)
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    via = ""
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(host):
        proxied = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        host, port, via = proxied.hostname or "", proxied.port or 80, f" through proxy {proxy}"
    began = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=5):
            pass
    except OSError as exc:
        return FAIL, (
            f"cannot reach {url}{via}: {exc.strerror or exc}; check the network, the proxy "
            "settings or --endpoint-url"
        )
    return OK, f"{url} reachable{via} ({(time.monotonic() - began) * 1000:.0f} ms)"


def credentials(context: DoctorContext) -> Outcome:
    identity = _client(context, "sts").get_caller_identity()
    context.remember("identity", identity)
    return OK, f"{identity['Arn']} (account {identity['Account']})"


def preferences(context: DoctorContext) -> Outcome:
    import botocore.exceptions
    import yaml

    from ssmctl.aws import error_code

    ssm = _client(context, "ssm")
    where = context.aws.region
    try:
        described = ssm.describe_document(Name=_PREFERENCES)["Document"]
        content = ssm.get_document(Name=_PREFERENCES)["Content"]
    except botocore.exceptions.ClientError as exc:
        code = error_code(exc)
        if code == "InvalidDocument":
            context.remember("preferences", {})
            return WARN, (
                f"no {_PREFERENCES} document in {where}: sessions run with the defaults and "
                "are not logged; set preferences with ssmctl prefs (or the console)"
            )
        if code in ("AccessDenied", "AccessDeniedException"):
            return (
                WARN,
                f"cannot read the preferences in {where} ({code}): it takes "
                "ssm:DescribeDocument and ssm:GetDocument",
            )
        raise
    loaded = yaml.safe_load(content) if content else {}
    inputs = loaded.get("inputs") if isinstance(loaded, dict) else None
    context.remember("preferences", inputs if isinstance(inputs, dict) else {})
    default, latest = described.get("DefaultVersion"), described.get("LatestVersion")
    if default != latest:
        return WARN, (
            f"{_PREFERENCES} default version {default} is not the latest ({latest}): sessions "
            f"without a document (and the console) use version {default}; make {latest} the "
            "default"
        )
    return OK, f"{_PREFERENCES} in {where}, version {default} (default and latest)"


def session_logging(context: DoctorContext) -> Outcome:
    inputs = context.recall("preferences")
    if inputs is None:
        return WARN, "unknown: the preferences could not be read"
    sinks = []
    bucket = inputs.get("s3BucketName")
    if bucket:
        prefix = str(inputs.get("s3KeyPrefix") or "").strip("/")
        sinks.append(f"S3 bucket {bucket}" + (f" (prefix {prefix}/)" if prefix else ""))
    group = inputs.get("cloudWatchLogGroupName")
    if group:
        streaming = (
            " (streaming)"
            if str(inputs.get("cloudWatchStreamingEnabled")).lower() == "true"
            else ""
        )
        sinks.append(f"CloudWatch Logs group {group}{streaming}")
    if not sinks:
        return WARN, "session output is not logged: set s3BucketName or cloudWatchLogGroupName"
    return OK, "session output goes to " + " and ".join(sinks)


# --- the target --------------------------------------------------------------------------


def target(context: DoctorContext) -> Outcome:
    from ssmctl.selection import choose_one
    from ssmctl.targets import resolve

    assert context.target is not None
    where = context.aws.region
    found = resolve(context.target, region=where, client=lambda s: _client(context, s))
    instance = choose_one(found, context.target, where, require_online=False)
    context.remember("instance", instance)
    label = instance.instance_id + (f" ({instance.name})" if instance.name else "")
    if not instance.managed:
        return FAIL, f"{label}: {instance.availability()}"
    if not instance.online:
        return FAIL, (
            f"{label}: SSM ping status {instance.ping_status}, last ping "
            f"{_ago(instance.last_ping)}: check the SSM agent, its IAM role (instance profile) "
            "and its network path to SSM"
        )
    last = instance.last_ping
    age = dt.datetime.now(dt.timezone.utc) - last if last else None
    if age is not None and age > dt.timedelta(minutes=context.stale_ping_minutes):
        return WARN, f"{label} is Online but its agent last pinged {_ago(last)}"
    agent = f", agent {instance.agent_version}" if instance.agent_version else ""
    return OK, f"{label} Online, last ping {_ago(last)}{agent}"


def access(context: DoctorContext) -> Outcome:
    from ssmctl.access.check import SimulatorDenied, check_access, resolve_principal
    from ssmctl.errors import AwsError

    instance = context.recall("instance")
    identity = context.recall("identity")
    iam = _client(context, "iam")
    try:
        principal = resolve_principal(iam, context.principal or identity["Arn"])
        verdict = check_access(
            iam,
            principal,
            instance,
            account=identity["Account"],
            partition=identity["Arn"].split(":")[1],
        )
    except SimulatorDenied:
        return (
            WARN,
            "cannot tell: you may not call iam:SimulatePrincipalPolicy (someone who may can "
            "run ssmctl access check --principal)",
        )
    except AwsError as exc:
        return WARN, f"cannot tell: {exc.message}"
    if verdict.allowed:
        return OK, verdict.summary().removeprefix("ALLOWED: ")
    refused = "; ".join(f"{r.kind}: {r.reason()}" for r in verdict.resources if not r.allowed)
    return FAIL, f"{verdict.summary().removeprefix('DENIED: ')} ({refused})"


CHECKS: tuple[Check, ...] = (
    Check("plugin", plugin),
    Check("region", region),
    Check("endpoint", endpoint, needs=("region",)),
    Check("credentials", credentials, needs=("region",)),
    Check("preferences", preferences, needs=("credentials",)),
    Check("logging", session_logging, needs=("preferences",)),
    Check("target", target, needs=("credentials",), with_target=True),
    Check("access", access, needs=("target",), with_target=True),
)
