"""Domain errors and their RFC 9457 problem documents.

Every error the API returns is a problem document with a stable snake_case `code` and the
request id. Services raise `AppError` subclasses; one set of handlers (registered in `app.py`)
turns them, and the framework's own errors, into responses. Endpoints never build error JSON.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any, ClassVar

import orjson

PROBLEM_MEDIA_TYPE = "application/problem+json"


class AppError(Exception):
    """An error with a status and a stable code that callers may branch on."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    title: ClassVar[str] = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
        extensions: Mapping[str, Any] | None = None,
    ) -> None:
        self.detail = detail or self.title
        self.instance_code = code or self.code
        self.headers = dict(headers or {})
        self.extensions = dict(extensions or {})
        super().__init__(self.detail)


class BadRequest(AppError):
    pass


class Unauthorized(AppError):
    status = 401
    code = "not_authenticated"
    title = "Authentication required"


class Forbidden(AppError):
    status = 403
    code = "forbidden"
    title = "Not allowed"


class NotFound(AppError):
    status = 404
    code = "not_found"
    title = "Not found"


class Conflict(AppError):
    status = 409
    code = "conflict"
    title = "Conflict"


class PayloadTooLarge(AppError):
    status = 413
    code = "payload_too_large"
    title = "Request body too large"


class RequestTimeout(AppError):
    status = 408
    code = "request_timeout"
    title = "Request timeout"


class UnsupportedMediaType(AppError):
    status = 415
    code = "unsupported_media_type"
    title = "Unsupported media type"


class ValidationFailed(AppError):
    status = 422
    code = "validation_failed"
    title = "Validation failed"


class InvalidFields(ValidationFailed):
    """Validation errors found by a service (a JSON part of a multipart body, say), reported as
    a request's own validation errors are: each with its location (where it was, then the
    field: `("payload", "tracks", 0)`), message and type, as pydantic gives them."""

    def __init__(self, errors: Sequence[Mapping[str, Any]]) -> None:
        super().__init__("The request has invalid fields; see `errors`.")
        self.errors = list(errors)


class RateLimited(AppError):
    status = 429
    code = "rate_limited"
    title = "Too many requests"


class ServiceUnavailable(AppError):
    status = 503
    code = "service_unavailable"
    title = "Service unavailable"


# Codes for errors raised by the framework itself (routing, body parsing).
STATUS_CODES: dict[int, str] = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    408: "request_timeout",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
}


def code_for_status(status: int) -> str:
    return STATUS_CODES.get(status, HTTPStatus(status).phrase.lower().replace(" ", "_"))


def problem_body(
    *,
    status: int,
    code: str,
    detail: str | None = None,
    title: str | None = None,
    request_id: str | None = None,
    errors: Sequence[Mapping[str, Any]] | None = None,
    extensions: Mapping[str, Any] | None = None,
) -> bytes:
    """Serialise a problem document (RFC 9457 section 3)."""
    phrase = HTTPStatus(status).phrase
    document: dict[str, Any] = {
        "type": f"urn:empulse:problem:{code}",
        "title": title or phrase,
        "status": status,
        "detail": detail or title or phrase,
        "code": code,
        "requestId": request_id,
    }
    if errors is not None:
        document["errors"] = list(errors)
    if extensions:
        for key, value in extensions.items():
            document.setdefault(key, value)
    return orjson.dumps(document)
