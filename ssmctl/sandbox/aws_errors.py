"""AWS errors the sandbox's handlers raise; moto's dispatcher turns them into responses.

They live outside any `moto.*` module on purpose: moto maps exceptions raised from its
own modules to that module's service model, which these codes are not all part of.
"""

from __future__ import annotations

from typing import Any

from moto.core.exceptions import JsonRESTError
from werkzeug.exceptions import HTTPException

from ssmctl.sandbox.wire_errors import QUERY, render


class ApiError(JsonRESTError):
    """An error of a JSON-protocol service (`{"__type": code, "message": ...}`)."""

    def __init__(self, error_code: str, message: str, status: int = 400) -> None:
        super().__init__(error_code, message)
        self.code = status


class QueryApiError(HTTPException):
    """An error of a query-protocol service (sts, iam): an XML ErrorResponse."""

    def __init__(self, error_code: str, message: str, status: int, request_id: str) -> None:
        wire = render(QUERY, error_code, message, status, request_id)
        super().__init__(description=wire.body.decode())
        self.code = status
        self._headers = wire.headers

    def get_headers(self, *args: Any, **kwargs: Any) -> list[tuple[str, str]]:
        return list(self._headers)


def validation(field: str, value: object, constraint: str) -> ApiError:
    """AWS's model-validation error, e.g. for a MaxResults out of range."""
    return ApiError(
        "ValidationException",
        f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy "
        f"constraint: {constraint}",
    )


def check_range(field: str, value: int, low: int, high: int) -> None:
    """ValidationException unless low <= value <= high (AWS's wording)."""
    if value < low:
        raise validation(field, value, f"Member must have value greater than or equal to {low}")
    if value > high:
        raise validation(field, value, f"Member must have value less than or equal to {high}")
