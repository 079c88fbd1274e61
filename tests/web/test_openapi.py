"""The OpenAPI document as a contract: every operation is named and lists how it fails, admin
routes say they need an admin, and bodies are camelCase on the wire."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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
