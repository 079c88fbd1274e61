"""The rate-limit dependency: `Depends(RateLimit("login"))` on a route or a router.

Each request is counted per client IP and, once authentication has put a user id on the request
state, per user as well; both must have room. The numbers come from `Settings.rate_limits`
(PRODUCT.md's defaults, overridable with `RATE_LIMITS`). Every limited response carries
`X-RateLimit-Limit`; a refusal is a 429 problem document with `Retry-After`,
`X-RateLimit-Remaining` and `X-RateLimit-Reset` (reading the window back is a second Redis round
trip, paid only when refusing).
"""

from __future__ import annotations

from fastapi import Request, Response

from empulse.core import metrics
from empulse.core.errors import RateLimited
from empulse.infra.ratelimit import Decision, OnBackendError, RateLimiter


def _headers(decision: Decision) -> dict[str, str]:
    headers = {"X-RateLimit-Limit": str(decision.limit)}
    if decision.remaining is not None:
        headers["X-RateLimit-Remaining"] = str(decision.remaining)
        headers["X-RateLimit-Reset"] = str(decision.retry_after)
    return headers


async def enforce(
    request: Request,
    name: str,
    keys: list[tuple[str, str]],
    *,
    on_backend_error: OnBackendError = OnBackendError.ALLOW,
) -> Decision | None:
    """Count the request under limit `name` for each (kind, value) key; raise 429 when full.

    Returns the tightest decision, for the response headers; None when limits are off.
    """
    limiter: RateLimiter = request.app.state.services.rate_limiter
    if not limiter.enabled:
        return None
    item = request.app.state.services.rate_limit_items[name]
    tightest: Decision | None = None
    for kind, value in keys:
        decision = await limiter.hit(item, name, kind, value, on_backend_error=on_backend_error)
        if not decision.allowed:
            metrics.RATE_LIMIT_REJECTIONS.labels(name, kind).inc()
            headers = _headers(decision)
            headers["Retry-After"] = str(decision.retry_after)
            raise RateLimited(
                f"Too many requests. Try again in {decision.retry_after} seconds.",
                headers=headers,
            )
        if tightest is None or decision.limit < tightest.limit:
            tightest = decision
    return tightest


class RateLimit:
    """A FastAPI dependency that applies the named limit per IP and per user."""

    def __init__(
        self, name: str, *, on_backend_error: OnBackendError = OnBackendError.ALLOW
    ) -> None:
        self.name = name
        self.on_backend_error = on_backend_error

    async def __call__(self, request: Request, response: Response) -> None:
        keys = [("ip", request.state.client_ip or "unknown")]
        user_id = getattr(request.state, "user_id", None)
        if user_id is not None:
            keys.append(("user", str(user_id)))
        decision = await enforce(request, self.name, keys, on_backend_error=self.on_backend_error)
        if decision is not None:
            response.headers.update(_headers(decision))
