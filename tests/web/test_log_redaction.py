"""Secrets never reach the logs (SECURITY.md "Sensitive data")."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from empulse.core.logging import REDACTED, get_logger

BEARER = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhYmMifQ.c2lnbmF0dXJlLXZhbHVl"
PASSWORD = "correct horse battery staple 42!"
TAX_ID = "123-45-6789"
EIN = "12-3456789"
COOKIE = "session-cookie-value-8f2a"
REFRESH = "rt_5b1e9c3f7a2d4e6f8091a2b3c4d5e6f7"


async def test_authorization_cookies_and_error_details_are_not_logged(
    client: httpx.AsyncClient, logs: Callable[[], str]
) -> None:
    """ASVS 5.0 V16.2.5: the request log carries no credentials."""
    await client.get(
        "/api/v1/_test/boom",
        headers={"Authorization": f"Bearer {BEARER}", "Cookie": f"__Host-session={COOKIE}"},
    )
    output = logs()
    assert "request" in output
    assert BEARER not in output
    assert COOKIE not in output


def test_structured_fields_are_redacted_by_name_and_by_shape(logs: Callable[[], str]) -> None:
    """ASVS 5.0 V16.2.5: passwords, tokens, cookies, Authorization and tax ids never logged."""
    log = get_logger("tests.redaction")
    log.info(
        "login_attempt",
        password=PASSWORD,
        refresh_token=REFRESH,
        authorization=f"Bearer {BEARER}",
        headers={"cookie": COOKIE, "user-agent": "pytest"},
        w9Data={"taxId": TAX_ID},
        note=f"user typed {TAX_ID} and EIN {EIN} into the name field; jwt {BEARER}",
        url=f"https://app.empulse.test/reset?token={REFRESH}",
        tokenType="bearer",
    )
    output = logs()
    assert "login_attempt" in output
    for secret in (PASSWORD, REFRESH, BEARER, COOKIE, TAX_ID, EIN):
        assert secret not in output, secret
    assert REDACTED in output
    assert "pytest" in output  # ordinary values survive
    assert '"tokenType":"bearer"' in output
