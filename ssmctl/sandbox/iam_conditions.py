"""Condition operators: whether one condition of a statement holds for a request.

Semantics follow IAM's documentation:
- a key the request lacks: a positive operator is false, a negated one (StringNotEquals,
  ArnNotLike, ...) true, any `...IfExists` true; `Null` tests exactly that;
- several policy values are alternatives (OR); several keys and operators are ANDed by
  the caller;
- `ForAnyValue:` holds when some request value matches (false for a missing key),
  `ForAllValues:` when every request value matches (true for a missing key).
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
from collections.abc import Callable

from ssmctl.sandbox.iam_match import Context, arn_like, like, lookup, substitute
from ssmctl.sandbox.iam_policy import Condition

Compare = Callable[[str, str, Context, bool], bool]
"""(request value, policy value, context, variables?) -> match."""


def _string_equals(value: str, wanted: str, context: Context, variables: bool) -> bool:
    resolved = substitute(wanted, context, variables)
    return resolved is not None and value == resolved


def _string_equals_fold(value: str, wanted: str, context: Context, variables: bool) -> bool:
    resolved = substitute(wanted, context, variables)
    return resolved is not None and value.casefold() == resolved.casefold()


def _string_like(value: str, wanted: str, context: Context, variables: bool) -> bool:
    return like(wanted, value, context, variables)


def _arn_like(value: str, wanted: str, context: Context, variables: bool) -> bool:
    return arn_like(wanted, value, context, variables)


def _bool(value: str, wanted: str, context: Context, variables: bool) -> bool:
    return value.lower() == wanted.lower()


def _binary(value: str, wanted: str, context: Context, variables: bool) -> bool:
    try:
        return base64.b64decode(value, validate=True) == base64.b64decode(wanted, validate=True)
    except ValueError:
        return False


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _date(text: str) -> float | None:
    number = _number(text)
    if number is not None:
        return number  # epoch seconds
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)).timestamp()


def _ordered(parse: Callable[[str], float | None], test: Callable[[float, float], bool]) -> Compare:
    def compare(value: str, wanted: str, context: Context, variables: bool) -> bool:
        a, b = parse(value), parse(wanted)
        return a is not None and b is not None and test(a, b)

    return compare


def _ip(value: str, wanted: str, context: Context, variables: bool) -> bool:
    try:
        return ipaddress.ip_address(value) in ipaddress.ip_network(wanted, strict=False)
    except ValueError:
        return False


def _equal(a: float, b: float) -> bool:
    return a == b


def _less(a: float, b: float) -> bool:
    return a < b


def _at_most(a: float, b: float) -> bool:
    return a <= b


def _greater(a: float, b: float) -> bool:
    return a > b


def _at_least(a: float, b: float) -> bool:
    return a >= b


# Base operator -> (the positive comparison, negated?).
_OPERATORS: dict[str, tuple[Compare, bool]] = {
    "StringEquals": (_string_equals, False),
    "StringNotEquals": (_string_equals, True),
    "StringEqualsIgnoreCase": (_string_equals_fold, False),
    "StringNotEqualsIgnoreCase": (_string_equals_fold, True),
    "StringLike": (_string_like, False),
    "StringNotLike": (_string_like, True),
    "ArnEquals": (_arn_like, False),
    "ArnLike": (_arn_like, False),
    "ArnNotEquals": (_arn_like, True),
    "ArnNotLike": (_arn_like, True),
    "Bool": (_bool, False),
    "BinaryEquals": (_binary, False),
    "IpAddress": (_ip, False),
    "NotIpAddress": (_ip, True),
}
for _prefix, _parse in (("Numeric", _number), ("Date", _date)):
    _OPERATORS[f"{_prefix}Equals"] = (_ordered(_parse, _equal), False)
    _OPERATORS[f"{_prefix}NotEquals"] = (_ordered(_parse, _equal), True)
    _OPERATORS[f"{_prefix}LessThan"] = (_ordered(_parse, _less), False)
    _OPERATORS[f"{_prefix}LessThanEquals"] = (_ordered(_parse, _at_most), False)
    _OPERATORS[f"{_prefix}GreaterThan"] = (_ordered(_parse, _greater), False)
    _OPERATORS[f"{_prefix}GreaterThanEquals"] = (_ordered(_parse, _at_least), False)


def holds(condition: Condition, context: Context, variables: bool) -> bool:
    """Whether `condition` is true for the request described by `context`."""
    present = lookup(context, condition.key)
    if condition.operator == "Null":
        return (present is None or not present) == (condition.values[0].lower() == "true")
    compare, negated = _OPERATORS[condition.operator]

    def matches(value: str) -> bool:
        return any(compare(value, wanted, context, variables) for wanted in condition.values)

    if not present:
        if condition.if_exists:
            return True
        if condition.qualifier == "ForAllValues":
            return True
        if condition.qualifier == "ForAnyValue":
            return False
        return negated
    if condition.qualifier == "ForAllValues":
        return all(matches(v) != negated for v in present)
    if condition.qualifier == "ForAnyValue":
        return any(matches(v) != negated for v in present)
    hit = any(matches(v) for v in present)
    return not hit if negated else hit
