"""Per-request context: request id, client address, the access log line, metrics, last-resort 500.

A pure ASGI middleware (no BaseHTTPMiddleware) so that context variables bound here are seen by
the endpoint and streaming bodies are not buffered.
"""

from __future__ import annotations

import ipaddress
import os
import re
import time
from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from empulse.core import metrics
from empulse.core.errors import PROBLEM_MEDIA_TYPE, problem_body
from empulse.core.logging import (
    bind_request_context,
    get_logger,
    reset_request_context,
    write_access_line,
)
from empulse.web.security_headers import SecurityHeaders

REQUEST_ID_HEADER = b"x-request-id"
_VALID_REQUEST_ID = re.compile(rb"[A-Za-z0-9][A-Za-z0-9._:-]{7,127}")

error_log = get_logger("empulse.error")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _parse_ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def resolve_client_ip(
    peer: str | None, forwarded_for: str | None, trusted: Sequence[Network]
) -> str | None:
    """The client's address: the socket peer, unless that peer is a trusted proxy.

    Behind trusted proxies, X-Forwarded-For is read from the right, skipping trusted hops; the
    first untrusted address is the client. Anything left of it was written by the client and is
    ignored (OWASP ASVS 5.0 V4.1; MDN "X-Forwarded-For: Selecting an IP address").
    """
    if peer is None or not trusted:
        return peer
    peer_ip = _parse_ip(peer)
    if peer_ip is None or not any(peer_ip in network for network in trusted):
        return peer
    if not forwarded_for:
        return peer
    candidate = peer
    for hop in reversed(forwarded_for.split(",")):
        hop_ip = _parse_ip(hop)
        if hop_ip is None:
            break
        candidate = str(hop_ip)
        if not any(hop_ip in network for network in trusted):
            break
    return candidate


class RequestContextMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        security_headers: SecurityHeaders,
        trusted_proxies: Sequence[Network] = (),
    ) -> None:
        self.app = app
        self.security_headers = security_headers
        self.trusted_proxies = tuple(trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started = time.perf_counter()
        forwarded_for: str | None = None
        request_id: str | None = None
        for name, value in scope["headers"]:
            if name == REQUEST_ID_HEADER and request_id is None:
                if _VALID_REQUEST_ID.fullmatch(value):
                    request_id = value.decode("ascii")
            elif name == b"x-forwarded-for" and self.trusted_proxies:
                forwarded_for = value.decode("latin-1")
        if request_id is None:
            request_id = os.urandom(16).hex()

        peer = scope.get("client")
        client_ip = resolve_client_ip(
            peer[0] if peer else None, forwarded_for, self.trusted_proxies
        )
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["client_ip"] = client_ip

        extra_headers = [
            *self.security_headers.for_path(scope["path"]),
            (REQUEST_ID_HEADER, request_id.encode("ascii")),
        ]
        status = 500
        response_started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                message["headers"] = SecurityHeaders.apply(
                    list(message.get("headers", ())), extra_headers
                )
            await send(message)

        token = bind_request_context(request_id=request_id)
        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            error_log.exception("unhandled_exception", path=scope.get("path"))
            if response_started:
                raise
            status = 500
            body = problem_body(
                status=500,
                code="internal_error",
                detail="An unexpected error occurred. Quote the request id when reporting it.",
                request_id=request_id,
            )
            await send_wrapper(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
        finally:
            duration = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path_format", None) or getattr(route, "path", None)
            if template is None and status != 404 and scope.get("root_path"):
                template = f"{scope['root_path']}/{{path}}"  # a mounted app (docs assets)
            route_label = template or "unmatched"
            method = scope["method"]
            metrics.observe_request(method, route_label, status, duration)
            write_access_line(
                {
                    "method": method,
                    "route": route_label,
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round(duration * 1000, 2),
                    "client_ip": client_ip,
                    "user_id": state.get("user_id"),
                }
            )
            reset_request_context(token)
