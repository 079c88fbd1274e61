"""Who is calling: the access token from `Authorization: Bearer` or the session cookie.

Transport (header or cookie) is separate from the token strategy (a JWT whose `sid` must name a
live session). Cookie-authenticated unsafe requests must also carry the CSRF token; bearer
requests carry no ambient credential and are exempt (SECURITY.md "Browser requests").
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request

from empulse.auth import csrf, repository
from empulse.auth.tokens import InvalidTokenError, decode_access_token
from empulse.core import metrics
from empulse.core.errors import AppError, Forbidden, Unauthorized
from empulse.core.logging import get_logger
from empulse.infra.ratelimit import OnBackendError
from empulse.services import Services, get_services
from empulse.web.paths import API_PREFIX
from empulse.web.ratelimit import enforce

ACCESS_COOKIE = "__Host-empulse_access"
REFRESH_COOKIE = "__Secure-empulse_refresh"
REFRESH_COOKIE_PATH = "/api/v1/auth"
CSRF_COOKIE = "__Host-empulse_csrf"
CSRF_HEADER = "x-csrf-token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

log = get_logger("empulse.auth")


class CsrfFailed(AppError):
    status = 403
    code = "csrf_failed"
    title = "CSRF token missing or invalid"


class InvalidAccessToken(Unauthorized):
    code = "invalid_token"
    title = "Invalid access token"


def require_csrf(
    request: Request, key: bytes, session_id: uuid.UUID, user_id: uuid.UUID | None = None
) -> None:
    """An unsafe request that authenticates by cookie carries the session's CSRF token in the
    `X-CSRF-Token` header (and the cookie); 403 `csrf_failed` otherwise."""
    if csrf.is_valid(
        key, str(session_id), request.headers.get(CSRF_HEADER), request.cookies.get(CSRF_COOKIE)
    ):
        return
    log.warning("csrf_rejected", user_id=str(user_id) if user_id else None, path=request.url.path)
    metrics.AUTH_REJECTIONS.labels("csrf").inc()
    raise CsrfFailed("Send the X-CSRF-Token header with the token from GET /csrf-token.")


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: uuid.UUID
    session_id: uuid.UUID
    role: str
    via: Literal["bearer", "cookie"]


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


async def session_is_live(services: Services, session_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    if services.session_cache.is_known_live(session_id):
        return True
    live = await repository.is_session_live(services.read_engine, session_id, user_id)
    if live:
        services.session_cache.remember_live(session_id)
    return live


def _access_token(request: Request) -> tuple[str, Literal["bearer", "cookie"]] | None:
    token = _bearer(request)
    if token is not None:
        return token, "bearer"
    cookie = request.cookies.get(ACCESS_COOKIE)
    return (cookie, "cookie") if cookie is not None else None


def token_user_id(request: Request) -> str | None:
    """The user a valid access token names, or None; never raises. For rate-limit keys that are
    counted before authentication runs: the signature makes the id the caller's own (a session
    that has ended is refused later, by authentication). Verified tokens are remembered, so
    authentication checking the same token again costs a lookup."""
    found = _access_token(request)
    if found is None:
        return None
    try:
        claims = decode_access_token(get_services(request).jwt_secret, found[0])
    except InvalidTokenError:
        return None
    return str(claims.user_id)


async def optional_principal(request: Request) -> Principal | None:
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    found = _access_token(request)
    if found is None:
        return None
    token, via = found
    services = get_services(request)
    try:
        claims = decode_access_token(services.jwt_secret, token)
    except InvalidTokenError as exc:
        log.info("access_token_rejected", reason=str(exc))
        metrics.AUTH_REJECTIONS.labels("invalid_token").inc()
        raise InvalidAccessToken("The access token is invalid or expired.") from exc
    if not await session_is_live(services, claims.session_id, claims.user_id):
        log.info("access_token_session_ended", user_id=str(claims.user_id))
        metrics.AUTH_REJECTIONS.labels("session_ended").inc()
        raise InvalidAccessToken("This session has ended. Sign in again.", code="session_ended")
    if via == "cookie" and request.method not in _SAFE_METHODS:
        require_csrf(request, services.csrf_key, claims.session_id, claims.user_id)
    principal = Principal(claims.user_id, claims.session_id, claims.role, via)
    request.state.principal = principal
    request.state.user_id = str(claims.user_id)
    return principal


async def require_principal(request: Request) -> Principal:
    # Calls optional_principal itself rather than depending on it: FastAPI solves a cached
    # dependency's whole sub-tree again each time it is named, and a signed-in route names
    # this one twice (its router's and its own), so one level less is less work on every such
    # request. optional_principal keeps its answer on the request state either way.
    principal = await optional_principal(request)
    if principal is None:
        raise Unauthorized("Sign in to do this.")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(require_principal)]
OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]


async def require_admin(request: Request, principal: CurrentPrincipal) -> Principal:
    """An admin, as the database says now (a demotion takes effect at once, not when the
    access token expires). Others get 403 (SECURITY.md "Input and access control")."""
    services = get_services(request)
    async with services.read_sessionmaker() as session:
        user = await repository.get_user(session, principal.user_id)
    if user is None or user.role != "ADMIN" or user.disabled_at is not None:
        log.warning("admin_route_refused", user_id=str(principal.user_id), path=request.url.path)
        raise Forbidden("This needs an administrator.", code="admin_required")
    return principal


AdminPrincipal = Annotated[Principal, Depends(require_admin)]


async def limit_password_checks(request: Request, user_id: uuid.UUID) -> None:
    """Throttle a signed-in user's password confirmation (change password, delete account) as a
    login is throttled, per client address and per account: whoever holds a stolen session
    cannot guess its password faster than the sign-in form allows, from however many
    addresses. If Redis fails, the in-process limiter keeps counting."""
    keys = [("ip", request.state.client_ip or "unknown"), ("user", str(user_id))]
    await enforce(request, "login", keys, on_backend_error=OnBackendError.LOCAL)


def admin_router(prefix: str) -> APIRouter:
    """A router under /admin whose every route requires an administrator."""
    return APIRouter(
        prefix=f"{API_PREFIX}/admin{prefix}",
        tags=["admin"],
        dependencies=[Depends(require_admin)],
        responses={
            401: {"description": "Not signed in (code: not_authenticated)"},
            403: {"description": "Not an administrator (code: admin_required)"},
        },
    )
