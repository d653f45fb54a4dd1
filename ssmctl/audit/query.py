"""What an audit asks for: a time range and filters, and how LookupEvents is queried for it.

LookupEvents takes exactly one lookup attribute per call, so the other criteria are
applied here, to every event a source yields (`EventFilter`). Which attribute to send is
chosen per query (`lookup_attributes`):

- one `--user` and no other user: `Username=<name>` (one stream: that person's calls,
  across every service; CloudTrail's Username is the IAM user or role session name);
- otherwise one `EventName=<name>` stream per wanted event (StartSession, ResumeSession,
  TerminateSession), merged by time.

`EventSource=ssm.amazonaws.com` is never the default: it returns every SSM call, and in
a real account agents' `UpdateInstanceInformation` heartbeats and applications'
`GetParameter` calls outnumber session events by orders of magnitude. It stays
available to library callers (`attribute="source"`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence

from ssmctl.audit.events import EVENT_SOURCE, SESSION_EVENTS, AuditEvent, session_owner_name
from ssmctl.errors import UsageError

ATTRIBUTE_CHOICES = ("auto", "name", "user", "source")


@dataclasses.dataclass(frozen=True)
class EventQuery:
    """A time range (inclusive) and filters; empty filters match everything."""

    since: dt.datetime
    until: dt.datetime
    users: tuple[str, ...] = ()
    """User names (IAM user, role session name, SSO user or e-mail) or ARNs of the caller."""
    targets: tuple[str, ...] = ()
    """Instance / node ids."""
    events: tuple[str, ...] = SESSION_EVENTS
    session_ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.since > self.until:
            raise UsageError("--since is later than --until")
        unknown = [e for e in self.events if e not in SESSION_EVENTS]
        if unknown or not self.events:
            raise UsageError(
                f"unknown session event {', '.join(unknown) or '(none)'}; "
                f"expected {', '.join(SESSION_EVENTS)}"
            )

    def in_range(self, when: dt.datetime) -> bool:
        return self.since <= when <= self.until

    def user_matches(self, event: AuditEvent) -> bool:
        if not self.users:
            return True
        return any(_same_user(wanted, event.user_name, event.user_arn) for wanted in self.users)


def _same_user(wanted: str, name: str, arn: str) -> bool:
    if wanted.startswith("arn:"):
        return wanted == arn
    return wanted.lower() == name.lower()


def parse_event_names(text: str) -> tuple[str, ...]:
    """`start,terminate` or `StartSession,TerminateSession` -> canonical names, in order."""
    names: list[str] = []
    for part in text.split(","):
        word = part.strip().lower()
        if not word:
            continue
        found = next(
            (e for e in SESSION_EVENTS if word in (e.lower(), e.lower().removesuffix("session"))),
            None,
        )
        if found is None:
            raise UsageError(
                f"unknown session event {part.strip()!r}; expected start, resume, terminate "
                f"(or {', '.join(SESSION_EVENTS)})"
            )
        if found not in names:
            names.append(found)
    if not names:
        raise UsageError("--event needs at least one event name")
    return tuple(names)


class EventFilter:
    """Applies a query to the events a source yields, in time order.

    Resume and Terminate records carry no target: with a target filter they are kept
    when their session's Start was kept (so the filter remembers those session ids; the
    Start must be in the range for its later events to follow).
    """

    def __init__(self, query: EventQuery) -> None:
        self.query = query
        self._sessions: set[str] = set()

    def __call__(self, event: AuditEvent) -> bool:
        query = self.query
        if not query.in_range(event.time) or event.event not in query.events:
            return False
        if not query.user_matches(event):
            return False
        if query.session_ids and event.session_id not in query.session_ids:
            return False
        if query.targets:
            if event.event == "StartSession":
                if event.target not in query.targets:
                    return False
                if event.session_id:
                    self._sessions.add(event.session_id)
            elif event.session_id not in self._sessions:
                return False
        return True


def lookup_attributes(query: EventQuery, attribute: str = "auto") -> list[tuple[str, str]]:
    """The LookupEvents attribute(s) for a query: one stream each (module docstring)."""
    if attribute not in ATTRIBUTE_CHOICES:
        raise ValueError(f"attribute must be one of {ATTRIBUTE_CHOICES}")
    user = _single_user_name(query.users)
    if attribute == "user" or (attribute == "auto" and user is not None):
        if user is None:
            raise UsageError("looking events up by user needs exactly one --user")
        return [("Username", user)]
    if attribute == "source":
        return [("EventSource", EVENT_SOURCE)]
    return [("EventName", name) for name in query.events]


def _single_user_name(users: Sequence[str]) -> str | None:
    if len(users) != 1:
        return None
    user = users[0]
    if user.startswith("arn:"):
        # arn:aws:iam::1:user/path/name, arn:aws:sts::1:assumed-role/Role/session-name
        return user.rsplit("/", 1)[-1] if "/" in user else None
    return user


def owner_matches(users: Sequence[str], session_id: str, owner_arn: str | None) -> bool:
    """Whether a session belongs to one of `users` (by its owner ARN or its id's prefix)."""
    if not users:
        return True
    name = session_owner_name(session_id)
    return any(_same_user(u, name, owner_arn or "") for u in users)
