"""The OpenAPI document, completed with what every route shares: how a signed-in caller
authenticates, and the failures the framework itself answers before an endpoint runs.

Endpoints document their own failures (their `responses=`); the ones added here come from
shared layers, so they are derived from each route instead of repeated on every one:

- a route that reads the caller (`optional_principal`, and so `require_principal` and the admin
  check) can answer 401, and takes the access token as a bearer header or the session cookie;
- a body read by hand (web/json_body.py) is documented as FastAPI documents a body
  parameter: its model's schemas in the components, and the operation's `requestBody`;
- a route with a request body can answer 400 (a request that cannot be read), 413 (too large,
  counted as it streams) and 415 (another content type);
- a paginated route (a `cursor` parameter) answers 400 to a cursor it did not issue;
- every failure is a problem document (RFC 9457), described once as the `Problem` schema.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.encoders import jsonable_encoder
from fastapi.openapi.models import Schema
from fastapi.routing import APIRoute
from pydantic.json_schema import models_json_schema

from empulse.web.json_body import JsonBody


def security_schemes(cookie_name: str) -> dict[str, Any]:
    return {
        "bearerToken": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": 'The access token from `POST /auth/login` with `session: "token"`.',
        },
        "sessionCookie": {
            "type": "apiKey",
            "in": "cookie",
            "name": cookie_name,
            "description": (
                'Set by `POST /auth/login` with `session: "cookie"`; unsafe methods also need '
                "the `X-CSRF-Token` header."
            ),
        },
    }


_AUTHENTICATION_FAILURE = {
    "description": (
        "Not signed in, or the access token is invalid, expired or of an ended session "
        "(codes: not_authenticated, invalid_token, session_ended)"
    )
}
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": (
        "An RFC 9457 problem document. `code` is stable and snake_case: match on it, not on "
        "`title` or `detail`, which are for people. `requestId` is also in the logs and the "
        "`X-Request-ID` header. A 422 lists each invalid field in `errors`; some failures add "
        "members of their own (a readiness check's `checks`)."
    ),
    "required": ["type", "title", "status", "detail", "code", "requestId"],
    "properties": {
        "type": {"type": "string", "description": "`urn:empulse:problem:` and the code."},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "code": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
        "requestId": {"type": ["string", "null"]},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "in", "message", "type"],
                "properties": {
                    "field": {"type": "string", "description": "Dotted path, camelCase."},
                    "in": {"type": "string", "description": "body, query, path or header."},
                    "message": {"type": "string"},
                    "type": {"type": "string", "description": "The kind of error."},
                },
            },
        },
    },
    "examples": [
        {
            "type": "urn:empulse:problem:invalid_credentials",
            "title": "Invalid credentials",
            "status": 401,
            "detail": "The email or password is incorrect.",
            "code": "invalid_credentials",
            "requestId": "0a713b5441f85633112dc16e8e63500e",
        }
    ],
}


def _problem_content() -> dict[str, Any]:
    return {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


_INVALID_CURSOR = {"description": "The cursor is not one this API issued (code: invalid_cursor)"}
_BODY_FAILURES = {
    "400": {
        "description": (
            "The request cannot be read: an invalid Content-Length (bad_request), or a multipart "
            "body cut short (malformed_multipart). A body that is not valid JSON is a 422 whose "
            "`errors` say `json_invalid`."
        )
    },
    "408": {
        "description": (
            "The body arrived slower than the minimum rate (code: request_timeout); the "
            "connection is closed"
        )
    },
    "413": {"description": "The body is larger than allowed (code: payload_too_large)"},
    "415": {"description": "The body is not of a content type this route takes"},
}


def install(
    app: FastAPI,
    *,
    authenticators: Collection[Callable[..., Any]],
    session_cookie: str,
) -> None:
    """Serve the completed document. `authenticators` are the dependencies that read the
    caller's credentials (a route depending on one, at any depth, says so), and
    `session_cookie` the cookie they read."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            complete(document, app.routes, authenticators, session_cookie)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def complete(
    document: dict[str, Any],
    routes: Iterable[Any],
    authenticators: Collection[Callable[..., Any]],
    session_cookie: str,
) -> None:
    """Add the shared failures and the security schemes to `document`, in place."""
    authenticated = {
        (method.lower(), route.path_format)
        for route in routes
        if isinstance(route, APIRoute) and _depends_on(route.dependant, authenticators)
        for method in route.methods or ()
    }
    components = document.setdefault("components", {})
    components.setdefault("securitySchemes", {}).update(security_schemes(session_cookie))
    schemas = components.setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    _document_hand_read_bodies(document, routes, schemas)
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            if (method, path) in authenticated:
                responses.setdefault("401", _AUTHENTICATION_FAILURE)
                operation.setdefault("security", [{"bearerToken": []}, {"sessionCookie": []}])
            if "requestBody" in operation:
                for status, response in _BODY_FAILURES.items():
                    responses.setdefault(status, response)
            parameters = operation.get("parameters", [])
            if any(parameter.get("name") == "cursor" for parameter in parameters):
                responses.setdefault("400", _INVALID_CURSOR)
            for status, response in responses.items():
                if status[0] in "45" and "content" not in response:
                    response["content"] = _problem_content()


def _depends_on(dependant: Dependant, calls: Collection[Callable[..., Any]]) -> bool:
    return any(
        dependency.call in calls or _depends_on(dependency, calls)
        for dependency in dependant.dependencies
    )


def _document_hand_read_bodies(
    document: dict[str, Any], routes: Iterable[Any], schemas: dict[str, Any]
) -> None:
    for route in routes:
        if not isinstance(route, APIRoute):
            continue
        bodies = [
            dependency.call.model
            for dependency in _dependencies(route.dependant)
            if isinstance(dependency.call, JsonBody)
        ]
        if not bodies:
            continue
        [model] = bodies  # a request has one body
        _, top = models_json_schema([(model, "validation")], by_alias=True, ref_template=_COMPONENT)
        for name, generated in top.get("$defs", {}).items():
            # As FastAPI writes its document: through its model, without null members.
            schema = jsonable_encoder(Schema(**generated), by_alias=True, exclude_none=True)
            if schemas.setdefault(name, schema) != schema:
                raise RuntimeError(f"Two different schemas are named {name} in the document")
        body = {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": _COMPONENT.format(model=model.__name__)}}
            },
        }
        for method in route.methods or ():
            document["paths"][route.path_format][method.lower()]["requestBody"] = body


_COMPONENT = "#/components/schemas/{model}"


def _dependencies(dependant: Dependant) -> Iterator[Dependant]:
    for dependency in dependant.dependencies:
        yield dependency
        yield from _dependencies(dependency)
