"""The OpenAPI document as a contract: every operation is named and lists how it fails (as
problem documents), admin routes say they need an admin, bodies are camelCase on the wire, and
every body has an example the API accepts."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args

from fastapi.routing import APIRoute
from pydantic import BaseModel, TypeAdapter

from empulse.app import create_app
from empulse.artists.schemas import ApplicationIn
from empulse.auth.schemas import RegisterIn
from empulse.config import load_settings
from empulse.submissions.schemas import SubmissionPayload
from tests.auth.helpers import bearer, signed_in
from tests.conftest import Backend, Harness

SUCCESS = {"200", "201", "202", "204", "206", "302", "307"}


async def _document(embedded: Backend, make_client: Callable[..., Any]) -> dict[str, Any]:
    harness: Harness = await make_client(embedded)
    response = await harness.client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


async def test_every_operation_is_named_and_documents_its_failures(
    embedded: Backend, make_client: Callable[..., Any]
) -> None:
    document = await _document(embedded, make_client)
    problems = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            codes = set(operation.get("responses", {}))
            if not operation.get("summary"):
                problems.append(f"{where}: no summary")
            if method in {"post", "put", "patch", "delete"} and not codes - SUCCESS:
                problems.append(f"{where}: no documented error response")
            if path.startswith("/api/v1/admin") and not {"401", "403"} <= codes:
                problems.append(f"{where}: does not document 401 and 403")
            if path.startswith(("/api/v1/admin", "/api/v1/users/me")) and not operation.get(
                "security"
            ):
                problems.append(f"{where}: does not say how to authenticate")
            if operation.get("security") and "401" not in codes:
                problems.append(f"{where}: authenticates but does not document 401")
            if "requestBody" in operation and not {"400", "413", "415"} <= codes:
                problems.append(f"{where}: takes a body but does not document 400, 413 and 415")
    assert problems == []
    assert set(document["components"]["securitySchemes"]) == {"bearerToken", "sessionCookie"}


async def test_bodies_are_camel_case_on_the_wire(
    embedded: Backend, make_client: Callable[..., Any]
) -> None:
    document = await _document(embedded, make_client)
    snake = [
        f"{name}.{field}"
        for name, schema in document["components"]["schemas"].items()
        for field in schema.get("properties", {})
        if "_" in field
    ]
    assert snake == []


def _model_in(annotation: Any) -> type[BaseModel]:
    """The model of a body annotation (`RefreshIn | None` and the like)."""
    candidates = [annotation, *get_args(annotation)]
    return next(c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel))


def test_every_body_has_examples_that_the_api_accepts(tmp_path: Path) -> None:
    """ENGINEERING.md: the document is a product, with examples. Each example must pass the
    same validation as a request body, or the docs would teach clients to send a 422."""
    settings = load_settings(EMPULSE_ENV="test", EMPULSE_DATA_DIR=str(tmp_path))
    app = create_app(settings, configure_logs=False)
    checked = []
    for route in app.routes:
        if not isinstance(route, APIRoute) or not route.dependant.body_params:
            continue
        (body,) = route.dependant.body_params
        annotation = body.field_info.annotation
        assert annotation is not None
        examples = _model_in(annotation).model_json_schema().get("examples")
        assert examples, f"{route.path}: the body has no example"
        for example in examples:
            TypeAdapter(annotation).validate_python(example)
        checked.append(route.path)
    assert len(checked) >= 15

    document = app.openapi()
    upload = document["paths"]["/api/v1/submissions"]["post"]["requestBody"]
    payload = upload["content"]["multipart/form-data"]["schema"]["properties"]["payload"]
    for example in payload["examples"]:
        SubmissionPayload.model_validate(json.loads(example))


async def test_every_failure_is_documented_as_a_problem_document(
    embedded: Backend, make_client: Callable[..., Any]
) -> None:
    """Clients learn the shape of every error body from the document (RFC 9457)."""
    document = await _document(embedded, make_client)
    undocumented = [
        f"{method.upper()} {path} {status}"
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        for status, response in operation["responses"].items()
        if status[0] in "45"
        and response.get("content", {}).get("application/problem+json", {}).get("schema")
        != {"$ref": "#/components/schemas/Problem"}
    ]
    assert undocumented == []
    problem = document["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail", "code", "requestId"}


async def test_the_documented_register_and_application_examples_are_accepted(
    embedded: Backend, make_client: Callable[..., Any]
) -> None:
    """The rules a model cannot check (password strength, one application per user) pass too."""
    harness: Harness = await make_client(embedded)
    headers = bearer(await signed_in(harness, "applicant@example.com"))
    (form,) = ApplicationIn.model_json_schema()["examples"]
    response = await harness.client.post("/api/v1/artist/applications", json=form, headers=headers)
    assert response.status_code == 201, response.text
    (register,) = RegisterIn.model_json_schema()["examples"]
    response = await harness.client.post("/api/v1/auth/register", json=register)
    assert response.status_code == 202, response.text  # a weak password would be a 422
