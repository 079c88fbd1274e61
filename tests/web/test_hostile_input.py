"""Property-based hostile input: whatever JSON arrives, the answer is a 2xx or a 4xx problem
document, never a 500 (SECURITY.md "Input and access control")."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.artists.helpers import admin_headers, application
from tests.auth.helpers import PASSWORD as PW
from tests.conftest import Backend, Harness
from tests.web.test_problems import assert_problem

# What a JSON client can send: finite floats, 64-bit-range integers, any text.
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
auth_bodies = (
    st.fixed_dictionaries(
        {},
        optional={
            "email": json_values | st.emails(),
            "password": json_values | st.text(min_size=0, max_size=200),
            "name": json_values,
            "session": json_values | st.sampled_from(["token", "cookie"]),
            "token": json_values,
            "refreshToken": json_values,
        },
    )
    | json_values
)

PATHS = [
    "/api/v1/auth/register",
    "/api/v1/auth/login",
    "/api/v1/auth/verify",
    "/api/v1/auth/refresh",
    "/api/v1/auth/forgot-password",
    "/api/v1/auth/reset-password",
]


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(path=st.sampled_from(PATHS), body=auth_bodies)
async def test_auth_endpoints_never_answer_500(
    backend: Backend, make_client: Callable[..., Any], path: str, body: Any
) -> None:
    # One service for every example of a run (the fixture lives as long as the run does):
    # starting an app per example was most of this test's time.
    harness: Harness | None = getattr(make_client, "hostile_input_harness", None)
    if harness is None:
        harness = await make_client(backend, RATE_LIMITS_ENABLED="false")
        make_client.hostile_input_harness = harness  # type: ignore[attr-defined]
    response = await harness.client.post(path, json=body)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/v1/auth/register", {"email": "a@b.example", "password": PW, "name": "\x00"}),
        ("POST", "/api/v1/auth/login", {"email": "a\x00@example.com", "password": PW}),
        ("POST", "/api/v1/auth/forgot-password", {"email": "\x00"}),
        ("PATCH", "/api/v1/users/me", {"name": "Ada\x00Lovelace"}),
        ("POST", "/api/v1/artist/applications", application(w9_businessName="Acme\x00")),
        ("POST", "/api/v1/artist/applications", {**application(), "extra\x00": 1}),
        ("GET", "/api/v1/admin/users?q=a%00b", None),
        ("GET", "/api/v1/admin/jobs?kind=a%00b", None),
    ],
)
async def test_a_nul_character_anywhere_is_refused_not_a_500(
    backend: Backend, make_client: Callable[..., Any], method: str, path: str, body: Any
) -> None:
    """PostgreSQL's text cannot hold U+0000 (SQLite's can): a NUL in a body, however deeply
    nested, or in a query parameter is a 422, on every backend, never a database error."""
    harness = await make_client(backend, RATE_LIMITS_ENABLED="false")
    headers = await admin_headers(harness)
    response = await harness.client.request(method, path, json=body, headers=headers)
    problem = assert_problem(response, 422, "validation_failed")
    assert "\x00" not in response.text
    assert problem["errors"]


@pytest.mark.parametrize("depth", [40, 500, 921, 990, 5000])
async def test_deeply_nested_json_is_refused_not_a_500(
    embedded: Backend, make_client: Callable[..., Any], depth: int
) -> None:
    """SECURITY.md "Input and access control": deep JSON nesting is a 4xx, never a 500, at
    every depth: past the limit of the API's bodies, and near the decoder's own."""
    harness = await make_client(embedded, RATE_LIMITS_ENABLED="false")
    nested = "[" * depth + "]" * depth
    body = f'{{"email": "a@b.example", "password": "{PW}", "name": {nested}}}'
    response = await harness.client.post(
        "/api/v1/auth/register", content=body, headers={"content-type": "application/json"}
    )
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"] == "application/problem+json"


ROW_ID = "3f1c2a9e-7b4d-4e21-9a0c-5d6e7f8a9b0c"


def _cursor(*parts: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(parts))).rstrip(b"=").decode()


# Each list's cursors name its order (core/pagination.Order).
LISTS = {
    "/api/v1/admin/users": "users:newest",
    "/api/v1/admin/jobs": "jobs:newest",
    "/api/v1/submissions": "submissions:newest",
}


@pytest.mark.parametrize(
    "values",
    [
        ("2020-01-01T00:00:00", ROW_ID),  # a time without its zone
        ("2020-01-01", ROW_ID),
        (5, ROW_ID),
        ("2020-01-01T00:00:00+00:00", "not-a-uuid"),
        ("2020-01-01T00:00:00+00:00",),
        ("2020-01-01T00:00:00+00:00", ROW_ID, "extra"),
        (None, None),
        ({"a": 1}, [ROW_ID]),
    ],
)
async def test_a_forged_cursor_is_refused_not_a_500(
    backend: Backend, make_client: Callable[..., Any], values: tuple[Any, ...]
) -> None:
    """Cursors are opaque, but a client can forge one: every list answers 400 invalid_cursor,
    also to a forgery that names the list's own order."""
    harness = await make_client(backend, RATE_LIMITS_ENABLED="false")
    headers = await admin_headers(harness)
    for path, order in LISTS.items():
        for cursor in (_cursor(order, *values), _cursor(*values), "not base64 at all!"):
            response = await harness.client.get(path, params={"cursor": cursor}, headers=headers)
            assert_problem(response, 400, "invalid_cursor")


async def test_a_cursor_of_another_list_is_refused(
    embedded: Backend, make_client: Callable[..., Any]
) -> None:
    """A cursor works on the list that issued it, and is refused by any other."""
    harness = await make_client(embedded, RATE_LIMITS_ENABLED="false")
    headers = await admin_headers(harness)
    await admin_headers(harness, email="second-admin@example.com")
    first = await harness.client.get("/api/v1/admin/users", params={"limit": 1}, headers=headers)
    cursor = first.json()["nextCursor"]
    assert cursor is not None
    second = await harness.client.get(
        "/api/v1/admin/users", params={"limit": 1, "cursor": cursor}, headers=headers
    )
    assert second.status_code == 200
    assert second.json()["items"][0]["id"] != first.json()["items"][0]["id"]
    for path in ("/api/v1/admin/jobs", "/api/v1/admin/audit-events"):
        response = await harness.client.get(path, params={"cursor": cursor}, headers=headers)
        assert_problem(response, 400, "invalid_cursor")


@pytest.mark.parametrize(
    "name",
    [
        "Ada\nLovelace",
        "Ada\r",
        "Ada\x1b[31m",
        "Ada\u2028",
        # Bidirectional overrides and isolates reorder how a name reads (Trojan Source).
        "Ada \u202enimda",
        "\u202aAda",
        "Ada\u2066x\u2069",
        "Ada\u2068",
    ],
)
async def test_a_display_name_is_one_line_of_text(
    embedded: Backend, make_client: Callable[..., Any], name: str
) -> None:
    """A user's name is greeted in every email and shown on one line: no line breaks or other
    control characters, at registration or later."""
    harness = await make_client(embedded, RATE_LIMITS_ENABLED="false")
    registered = await harness.client.post(
        "/api/v1/auth/register", json={"email": "a@b.example", "password": PW, "name": name}
    )
    assert_problem(registered, 422, "validation_failed")
    headers = await admin_headers(harness)
    renamed = await harness.client.patch("/api/v1/users/me", json={"name": name}, headers=headers)
    assert_problem(renamed, 422, "validation_failed")


async def test_a_right_to_left_name_with_its_marks_is_kept(
    embedded: Backend, make_client: Callable[..., Any]
) -> None:
    """Refusing overrides does not refuse right-to-left names, nor the implicit marks that
    such names use (U+200F)."""
    harness = await make_client(embedded, RATE_LIMITS_ENABLED="false")
    headers = await admin_headers(harness)
    name = "\u0641\u064a\u0631\u0648\u0632\u200f DJ"
    renamed = await harness.client.patch("/api/v1/users/me", json={"name": name}, headers=headers)
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == name
