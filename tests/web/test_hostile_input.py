"""Property-based hostile input: whatever JSON arrives, the answer is a 2xx or a 4xx problem
document, never a 500 (SECURITY.md "Input and access control")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Backend

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
    embedded: Backend, make_client: Callable[..., Any], path: str, body: Any
) -> None:
    harness = await make_client(embedded, RATE_LIMITS_ENABLED="false")
    response = await harness.client.post(path, json=body)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"]
