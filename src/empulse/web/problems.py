"""Exception handlers: every error leaves as an RFC 9457 problem document."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from empulse.core.db import (
    DatabaseConflict,
    DatabaseUnavailable,
    is_transient_conflict,
    is_unavailable_error,
)
from empulse.core.errors import (
    PROBLEM_MEDIA_TYPE,
    AppError,
    InvalidFields,
    code_for_status,
    problem_body,
)
from empulse.core.logging import get_logger
from empulse.web.body_limit import body_error

log = get_logger("empulse.errors")


def problem_response(
    request: Request,
    *,
    status: int,
    code: str,
    detail: str | None = None,
    title: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    extensions: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body = problem_body(
        status=status,
        code=code,
        detail=detail,
        title=title,
        request_id=getattr(request.state, "request_id", None),
        errors=errors,
        extensions=extensions,
    )
    return Response(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _field_path(location: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in location)


async def _app_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AppError)
    if exc.status >= 500:
        log.warning("service_unavailable", code=exc.instance_code, detail=exc.detail)
    return problem_response(
        request,
        status=exc.status,
        code=exc.instance_code,
        title=exc.title,
        detail=exc.detail,
        extensions=exc.extensions,
        headers=exc.headers,
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    body_refusal = body_error(exc)
    if body_refusal is not None:
        return await _app_error(request, body_refusal)
    detail = exc.detail if isinstance(exc.detail, str) else None
    if exc.status_code == 404:
        detail = "No resource at this address."
    elif exc.status_code == 405:
        detail = f"{request.method} is not supported here."
    return problem_response(
        request,
        status=exc.status_code,
        code=code_for_status(exc.status_code),
        detail=detail,
        headers=exc.headers,
    )


def _message(error: Mapping[str, Any]) -> str:
    """Pydantic's message, without the "Value error, " it puts before the text of a rule of
    ours: the text already says what is wrong."""
    message = str(error.get("msg", "invalid"))
    if error.get("type") == "value_error":
        return message.removeprefix("Value error, ")
    return message


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError | InvalidFields)
    errors = []
    for error in exc.errors() if isinstance(exc, RequestValidationError) else exc.errors:
        location = list(error.get("loc", ()))
        errors.append(
            {
                "field": _field_path(location[1:] if len(location) > 1 else location),
                "in": str(location[0]) if location else "body",
                "message": _message(error),
                "type": error.get("type", "value_error"),
            }
        )
    return problem_response(
        request,
        status=422,
        code="validation_failed",
        title="Validation failed",
        detail="The request has invalid fields; see `errors`.",
        errors=errors,
    )


async def _database_error(request: Request, exc: Exception) -> Response:
    if is_unavailable_error(exc):
        log.warning("database_unavailable", error=type(exc).__name__)
        return await _app_error(request, DatabaseUnavailable())
    if is_transient_conflict(exc):
        # Nothing was written (the transaction was rolled back); the client may send it again.
        log.warning("database_conflict", error=type(exc).__name__)
        return await _app_error(request, DatabaseConflict())
    raise exc


def register_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(InvalidFields, _validation_error)
    app.add_exception_handler(SQLAlchemyError, _database_error)
    app.add_exception_handler(OSError, _database_error)
