"""Opaque, tamper-evident NextToken values and keyset pagination.

A token carries the sort key of the last item returned and a fingerprint of the query;
it is signed with a per-sandbox secret, so a made-up, edited or foreign token is refused
(as AWS refuses them) instead of silently restarting the listing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


class BadToken(ValueError):
    """The NextToken was not issued by this sandbox for this query."""


class TokenCodec:
    """Signs and checks NextToken values for one sandbox."""

    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret or secrets.token_bytes(32)

    def encode(self, kind: str, query: object, position: Sequence[Any]) -> str:
        payload = json.dumps(
            {"k": kind, "q": _fingerprint(query), "p": list(position)}, separators=(",", ":")
        ).encode()
        body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
        return f"{body}.{self._sign(body)}"

    def decode(self, token: str, kind: str, query: object) -> list[Any]:
        """The position stored in `token`; BadToken if it is not ours or not for this query."""
        body, _, signature = token.partition(".")
        if not body or not hmac.compare_digest(signature, self._sign(body)):
            raise BadToken(token)
        try:
            data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except ValueError:
            raise BadToken(token) from None
        if data.get("k") != kind or data.get("q") != _fingerprint(query):
            raise BadToken(token)
        position = data.get("p")
        if not isinstance(position, list):
            raise BadToken(token)
        return position

    def _sign(self, body: str) -> str:
        digest = hmac.new(self._secret, body.encode(), hashlib.sha256).digest()[:18]
        return base64.urlsafe_b64encode(digest).decode()


def _fingerprint(query: object) -> str:
    text = json.dumps(query, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def keyset_page(
    items: Sequence[T],
    key: Callable[[T], list[Any]],
    after: list[Any] | None,
    limit: int,
) -> tuple[list[T], list[Any] | None]:
    """The page of `items` (sorted ascending by `key`) following `after`.

    Returns the page and the position to continue from (None on the last page). Keyset
    positions stay right when items are added or removed between calls.
    """
    start = 0
    if after is not None:
        start = next((i for i, item in enumerate(items) if key(item) > after), len(items))
    page = list(items[start : start + limit])
    more = start + limit < len(items)
    return page, (key(page[-1]) if more and page else None)
