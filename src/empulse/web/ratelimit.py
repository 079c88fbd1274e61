"""The rate-limit dependency: `Depends(RateLimit("login"))` on a route or a router.

Each request is counted per client IP and, when the user is known, per user as well; both must
have room. The numbers come from `Settings.rate_limits`
(PRODUCT.md's defaults, overridable with `RATE_LIMITS`). Every limited response carries
`X-RateLimit-Limit`; a refusal is a 429 problem document with `Retry-After`,
`X-RateLimit-Remaining` and `X-RateLimit-Reset`. All of a request's keys are counted in one
call to the limiter (one Redis round trip).
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request, Response

from empulse.core import metrics
from empulse.core.errors import RateLimited
from empulse.infra.ratelimit import Decision, OnBackendError, RateLimiter


def _headers(decision: Decision) -> dict[str, str]:
    headers = {"X-RateLimit-Limit": str(decision.limit)}
    if not decision.allowed:
        headers["X-RateLimit-Remaining"] = "0"
        headers["X-RateLimit-Reset"] = str(decision.retry_after)
    return headers


async def enforce(
    request: Request,
    name: str,
    keys: list[tuple[str, str]],
    *,
    on_backend_error: OnBackendError = OnBackendError.ALLOW,
) -> Decision | None:
    """Count the request under limit `name` for every (kind, value) key, together; raise 429
    when one of them is full (the request then counts under none).

    Returns the decision, for the response headers; None when limits are off.
    """
    limiter: RateLimiter = request.app.state.services.rate_limiter
    if not limiter.enabled:
        return None
    item = request.app.state.services.rate_limit_items[name]
    decision = await limiter.hit(item, name, keys, on_backend_error=on_backend_error)
    if not decision.allowed:
        kind = keys[decision.refused_by or 0][0]
        metrics.RATE_LIMIT_REJECTIONS.labels(name, kind).inc()
        headers = _headers(decision)
        headers["Retry-After"] = str(decision.retry_after)
        raise RateLimited(
            f"Too many requests. Try again in {decision.retry_after} seconds.",
            headers=headers,
        )
    return decision


class RateLimit:
    """A FastAPI dependency that applies the named limit per IP and per user.

    The user is the one authentication has put on the request state, when it ran first (list
    `require_principal` before the limit); `identify` names the user otherwise, for a limit that
    runs before authentication (the default limit, on every route)."""

    def __init__(
        self,
        name: str,
        *,
        on_backend_error: OnBackendError = OnBackendError.ALLOW,
        identify: Callable[[Request], str | None] | None = None,
    ) -> None:
        self.name = name
        self.on_backend_error = on_backend_error
        self.identify = identify

    async def __call__(self, request: Request, response: Response) -> None:
        if not request.app.state.services.rate_limiter.enabled:
            return
        keys = [("ip", request.state.client_ip or "unknown")]
        user_id = getattr(request.state, "user_id", None)
        if user_id is None and self.identify is not None:
            user_id = self.identify(request)
        if user_id is not None:
            keys.append(("user", str(user_id)))
        decision = await enforce(request, self.name, keys, on_backend_error=self.on_backend_error)
        if decision is not None:
            response.headers.update(_headers(decision))
