"""CORS for the configured origins (Starlette's implementation), skipped for requests that
carry no `Origin` header: those are not cross-origin browser requests, and most API traffic
(native apps, servers, probes) is of that kind. A refused preflight is a problem document, as
every other refusal (Starlette answers it with plain text)."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from empulse.core.errors import PROBLEM_MEDIA_TYPE, problem_body


class CorsMiddleware:
    def __init__(self, app: ASGIApp, *, allowed_origins: Sequence[str]) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=list(allowed_origins),
            allow_credentials=True,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-CSRF-Token", "X-Request-ID"],
            expose_headers=[
                "X-Request-ID",
                "Retry-After",
                "X-RateLimit-Limit",
                "X-RateLimit-Remaining",
                "X-RateLimit-Reset",
            ],
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not any(name == b"origin" for name, _ in scope["headers"]):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            response = self.cors.preflight_response(request_headers=headers)
            if response.status_code >= 400:
                response = _refused_preflight(scope, response)
            await response(scope, receive, send)
            return
        await self.cors(scope, receive, send)


def _refused_preflight(scope: Scope, refusal: Response) -> Response:
    """Starlette's refusal ("Disallowed CORS origin, method") as a problem document, without
    any `Access-Control-Allow-*` header, so the browser blocks the request."""
    detail = bytes(refusal.body).decode() + "."
    request_id = scope.get("state", {}).get("request_id")
    body = problem_body(
        status=refusal.status_code, code="cors_refused", detail=detail, request_id=request_id
    )
    return Response(body, status_code=refusal.status_code, media_type=PROBLEM_MEDIA_TYPE)
