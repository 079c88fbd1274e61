"""CORS for configured origins only, and the offline docs page."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from tests.conftest import Backend
from tests.web.test_problems import assert_problem

ORIGIN = "https://app.empulse.test"


async def test_cors_allows_a_configured_origin_with_credentials(
    embedded: Backend, make_client: Callable[..., Any]
) -> None:
    harness = await make_client(embedded, ALLOWED_ORIGINS=ORIGIN)
    preflight = await harness.client.options(
        "/api/v1",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, x-csrf-token",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == ORIGIN
    assert preflight.headers["access-control-allow-credentials"] == "true"
    response = await harness.client.get("/api/v1", headers={"Origin": ORIGIN})
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert "x-request-id" in response.headers["access-control-expose-headers"].lower()


async def test_cors_refuses_other_origins_and_never_answers_star(
    embedded: Backend, make_client: Callable[..., Any]
) -> None:
    """ASVS 5.0 V3.4.2: CORS only for configured origins, never `*` with credentials."""
    harness = await make_client(embedded, ALLOWED_ORIGINS=ORIGIN)
    preflight = await harness.client.options(
        "/api/v1",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    problem = assert_problem(preflight, 400, "cors_refused")
    assert "origin" in problem["detail"]
    assert "access-control-allow-origin" not in preflight.headers
    assert preflight.headers["x-content-type-options"] == "nosniff"
    response = await harness.client.get("/api/v1", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in response.headers


async def test_hsts_is_sent_in_production_only(
    embedded: Backend, make_client: Callable[..., Any]
) -> None:
    production = await make_client(
        embedded,
        EMPULSE_ENV="production",
        JWT_SECRET="Zq8vN2kLr5Tx1Wm9Hc4Bf7Yd3Gs6Pj0Ae8Ku2Xo5Vn1Ri4",
        ENCRYPTION_KEY="9f1c2b7a4e6d8f0a3c5b7e9d1f2a4c6e8b0d2f4a6c8e0b2d4f6a8c0e2b4d6f8a",
        APP_URL="https://app.empulse.test",
    )
    response = await production.client.get("/api/health")
    assert response.headers["strict-transport-security"].startswith("max-age=")


async def test_docs_page_loads_only_local_assets(
    embedded: Backend, make_client: Callable[..., Any]
) -> None:
    harness = await make_client(embedded)
    page = await harness.client.get("/api/v1/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    # No CDN: every script and stylesheet is served from this origin, and exists.
    references = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert references
    for reference in references:
        assert reference.startswith("/api/v1/docs"), reference
        asset = await harness.client.get(reference)
        assert asset.status_code == 200, reference
        assert asset.headers["x-content-type-options"] == "nosniff"
    # No inline script: the page works under its own strict CSP.
    assert re.search(r"<script>(?!</script>)", page.text) is None
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp


async def test_openapi_document_describes_the_api(
    embedded: Backend, make_client: Callable[..., Any]
) -> None:
    harness = await make_client(embedded)
    response = await harness.client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["info"]["title"] == "EmPulse API"
    assert "/api/health/ready" in document["paths"]
    assert "/api/v1" in document["paths"]
