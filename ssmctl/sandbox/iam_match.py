"""Matching in IAM policies: `*`/`?` wildcards, `${...}` policy variables, ARN segments.

A request context maps condition keys (compared case-insensitively, so stored lower-case)
to their values. A variable whose key the context lacks (or holds several values for)
cannot be substituted, and a pattern containing it matches nothing, as in IAM.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

Context = Mapping[str, tuple[str, ...]]
"""Lower-cased condition key -> its values."""

_TOKEN = re.compile(r"\$\{([^}]*)\}|\*|\?|[^$*?]+|\$")
_LITERAL_ESCAPES = {"*": "*", "?": "?", "$": "$"}


def lookup(context: Context, key: str) -> tuple[str, ...] | None:
    return context.get(key.lower())


def substitute(text: str, context: Context, variables: bool) -> str | None:
    """`text` with its policy variables replaced (no wildcards); None if one is unknown."""
    regex = _regex(text, context, variables=variables, wildcards=False)
    if regex is None:
        return None
    # With wildcards off the regex is an escaped literal: undo the escaping.
    return re.sub(r"\\(.)", r"\1", regex, flags=re.DOTALL)


def like(
    pattern: str, value: str, context: Context, variables: bool, *, fold: bool = False
) -> bool:
    """`value` matches the glob `pattern` (* any run, ? one character)."""
    regex = _regex(pattern, context, variables=variables, wildcards=True)
    if regex is None:
        return False
    return re.fullmatch(regex, value, re.DOTALL | (re.IGNORECASE if fold else 0)) is not None


def action_matches(pattern: str, action: str) -> bool:
    """Action names are case-insensitive; `*` and `?` are wildcards; no variables."""
    return like(pattern, action, {}, False, fold=True)


def arn_like(pattern: str, arn: str, context: Context, variables: bool) -> bool:
    """IAM ARN matching: each of the six colon-separated parts is matched on its own."""
    if pattern == "*":
        return True
    regex_parts = _arn_regexes(pattern, context, variables)
    if regex_parts is None:
        return False
    parts = arn.split(":", 5)
    if len(parts) != 6 or len(regex_parts) != 6:
        return False
    return all(
        re.fullmatch(regex, part, re.DOTALL) is not None
        for regex, part in zip(regex_parts, parts, strict=True)
    )


def _arn_regexes(pattern: str, context: Context, variables: bool) -> list[str] | None:
    """The regex of each ARN part of `pattern` (split on literal colons only)."""
    parts: list[str] = [""]
    for match in _TOKEN.finditer(pattern):
        token = match.group(0)
        if match.group(1) is not None or token in ("*", "?", "$"):
            piece = _regex(token, context, variables=variables, wildcards=True)
            if piece is None:
                return None
            parts[-1] += piece
            continue
        pieces = token.split(":")
        parts[-1] += re.escape(pieces[0])
        for piece in pieces[1:]:
            if len(parts) < 6:
                parts.append(re.escape(piece))
            else:
                parts[-1] += re.escape(":" + piece)
    return parts


def _regex(text: str, context: Context, *, variables: bool, wildcards: bool) -> str | None:
    out: list[str] = []
    for match in _TOKEN.finditer(text):
        piece, name = match.group(0), match.group(1)
        if name is not None and variables:
            if name in _LITERAL_ESCAPES:
                out.append(re.escape(_LITERAL_ESCAPES[name]))
                continue
            values = lookup(context, name.strip())
            if values is None or len(values) != 1:
                return None
            out.append(re.escape(values[0]))
        elif piece == "*" and wildcards:
            out.append(".*")
        elif piece == "?" and wildcards:
            out.append(".")
        else:
            out.append(re.escape(piece))
    return "".join(out)
