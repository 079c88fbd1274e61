"""HTTP for /auth and /csrf-token: parse, rate-limit, call the service, shape the response."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from empulse.audit.service import RequestMeta
from empulse.auth import csrf, repository, service
from empulse.auth.dependencies import (
    ACCESS_COOKIE,
    CSRF_COOKIE,
    REFRESH_COOKIE,
    REFRESH_COOKIE_PATH,
    CurrentPrincipal,
    OptionalPrincipal,
    Principal,
    limit_password_checks,
    require_csrf,
)
from empulse.auth.devices import describe_device
from empulse.auth.schemas import (
    AcceptedOut,
    ChangePasswordIn,
    CookieSessionOut,
    CsrfOut,
    EmailIn,
    LoginIn,
    LogoutIn,
    RefreshIn,
    RegisterIn,
    ResetPasswordIn,
    SessionOut,
    TokenIn,
    TokenPairOut,
    TokenSessionOut,
    UserOut,
)
from empulse.auth.service import IssuedSession
from empulse.core.emails import InvalidEmailError, email_key
from empulse.core.errors import NotFound, ValidationFailed
from empulse.infra.ratelimit import OnBackendError
from empulse.models import AuthSession, Transport
from empulse.services import AppServices, DbSession, ReadSession, Services
from empulse.web.paths import API_PREFIX
from empulse.web.ratelimit import enforce

router = APIRouter(prefix=f"{API_PREFIX}/auth", tags=["auth"])
csrf_router = APIRouter(prefix=API_PREFIX, tags=["auth"])

ACCEPTED = "If the address can receive mail, a message is on its way."


def _problem(description: str, *codes: str) -> dict[str, Any]:
    return {"description": f"{description} (codes: {', '.join(codes)})"}


async def _limit(request: Request, name: str, email: str | None = None) -> None:
    """Throttle on the client address and, when given, on the normalised email, so that a
    refusal looks the same whether or not the address has an account. If Redis fails, the
    in-process limiter keeps counting (auth throttles never fail open)."""
    keys = [("ip", request.state.client_ip or "unknown")]
    if email is not None:
        try:
            keys.append(("email", email_key(email)))
        except InvalidEmailError:
            keys.append(("email", email.strip().casefold()))
    await enforce(request, name, keys, on_backend_error=OnBackendError.LOCAL)


def _set_cookie_session(response: Response, services: Services, issued: IssuedSession) -> str:
    settings = services.settings
    response.set_cookie(
        ACCESS_COOKIE,
        issued.access_token,
        max_age=issued.expires_in,
        path="/",
        secure=True,
        httponly=True,
        samesite="lax",
    )
    response.set_cookie(
        REFRESH_COOKIE,
        issued.refresh_token,
        max_age=settings.refresh_token_days * 86400,
        path=REFRESH_COOKIE_PATH,
        secure=True,
        httponly=True,
        samesite="lax",
    )
    token = csrf.issue(services.csrf_key, str(issued.session_id))
    response.set_cookie(CSRF_COOKIE, token, path="/", secure=True, httponly=False, samesite="lax")
    return token


def _clear_cookie_session(response: Response) -> None:
    response.delete_cookie(ACCESS_COOKIE, path="/", secure=True, httponly=True, samesite="lax")
    response.delete_cookie(
        REFRESH_COOKIE, path=REFRESH_COOKIE_PATH, secure=True, httponly=True, samesite="lax"
    )
    response.delete_cookie(CSRF_COOKIE, path="/", secure=True, samesite="lax")


@router.post(
    "/register",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=AcceptedOut,
    summary="Create an account",
    responses={
        422: _problem("Invalid field or weak password", "validation_failed", "weak_password"),
        429: _problem("Too many attempts", "rate_limited"),
    },
)
async def register(
    body: RegisterIn, request: Request, session: DbSession, services: AppServices
) -> AcceptedOut:
    """Always 202 with the same body: a verification email goes to a new address, a notice to
    an address that already has an account (no account enumeration). Only a registration that
    passes validation counts against the limit: each one sends mail, and a person correcting a
    weak password is not locked out of registering."""
    try:
        key = email_key(body.email)
    except InvalidEmailError as exc:
        raise ValidationFailed(
            "The email address is not valid.",
            extensions={
                "errors": [
                    {"field": "email", "in": "body", "message": str(exc), "type": "value_error"}
                ]
            },
        ) from exc
    await service.check_new_password(body.password, email=key, name=body.name)
    await _limit(request, "register", body.email)
    await service.register(
        session,
        services,
        RequestMeta.of(request),
        email=body.email,
        password=body.password,
        name=body.name.strip(),
    )
    return AcceptedOut(message=ACCEPTED)


@router.post(
    "/verify",
    response_model=UserOut,
    summary="Confirm an email address",
    responses={400: _problem("Invalid, used or expired token", "invalid_token")},
)
async def verify(body: TokenIn, request: Request, session: DbSession) -> UserOut:
    return UserOut.of(await service.verify_email(session, RequestMeta.of(request), body.token))


@router.post(
    "/verify/resend",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=AcceptedOut,
    summary="Send the verification email again",
)
async def resend_verification(
    body: EmailIn, request: Request, session: DbSession, services: AppServices
) -> AcceptedOut:
    await _limit(request, "password_reset", body.email)
    await service.resend_verification(session, services, body.email)
    return AcceptedOut(message=ACCEPTED)


@router.post(
    "/login",
    response_model=TokenSessionOut | CookieSessionOut,
    summary="Sign in",
    responses={
        401: _problem("Wrong email or password, or locked/disabled account", "invalid_credentials"),
        403: _problem("Email not verified", "email_not_verified"),
        429: _problem("Too many attempts", "rate_limited"),
    },
)
async def login(
    body: LoginIn,
    request: Request,
    response: Response,
    session: DbSession,
    services: AppServices,
) -> TokenSessionOut | CookieSessionOut:
    """`session: "token"` returns both tokens in the body (native apps); `"cookie"` sets
    HttpOnly cookies and returns the user and a CSRF token (browsers)."""
    await _limit(request, "login", body.email)
    issued = await service.login(
        session,
        services,
        RequestMeta.of(request),
        email=body.email,
        password=body.password,
        transport=body.session,
    )
    if body.session is Transport.COOKIE:
        token = _set_cookie_session(response, services, issued)
        return CookieSessionOut(
            user=UserOut.of(issued.user), csrf_token=token, expires_in=issued.expires_in
        )
    return TokenSessionOut(
        user=UserOut.of(issued.user),
        access_token=issued.access_token,
        refresh_token=issued.refresh_token,
        expires_in=issued.expires_in,
    )


@router.post(
    "/refresh",
    response_model=TokenPairOut | CookieSessionOut,
    summary="Rotate the refresh token",
    responses={
        401: _problem("Invalid, used or revoked refresh token", "invalid_refresh_token"),
        403: _problem("Cookie refresh without the session's CSRF token", "csrf_failed"),
    },
)
async def refresh(
    request: Request,
    response: Response,
    session: DbSession,
    services: AppServices,
    body: RefreshIn | None = None,
) -> TokenPairOut | CookieSessionOut:
    """Takes `{refreshToken}` or the refresh cookie. The presented token stops working; using
    it again revokes the whole session. With the cookie, the request also carries the
    session's CSRF token (`X-CSRF-Token`, readable from its cookie after a reload): the cookie
    is sent by the browser on its own, so without the header a page of a sibling subdomain
    (same site, so SameSite does not stop it) could rotate the session's tokens."""
    body_token = body.refresh_token if body is not None else None
    from_cookie = body_token is None
    token = body_token or request.cookies.get(REFRESH_COOKIE)
    if not token:
        raise service.RefreshRejected("Send the refresh token.")
    await _limit(request, "default")
    if from_cookie:
        # Before the token is used: a forged request must not rotate it.
        session_id = await service.session_of_refresh_token(services, token)
        if session_id is not None:
            require_csrf(request, services.csrf_key, session_id)
    result = await service.refresh(session, services, RequestMeta.of(request), token)
    if from_cookie:
        csrf_token = _set_cookie_session(response, services, result)
        return CookieSessionOut(
            user=UserOut.of(result.user), csrf_token=csrf_token, expires_in=result.expires_in
        )
    return TokenPairOut(
        access_token=result.access_token,
        refresh_token=result.refresh_token,
        expires_in=result.expires_in,
    )


async def _end_sessions(
    principal: Principal,
    request: Request,
    response: Response,
    session: AsyncSession,
    services: Services,
    *,
    all_devices: bool,
) -> Response:
    await service.logout(
        session,
        services,
        RequestMeta.of(request),
        user_id=principal.user_id,
        session_id=principal.session_id,
        all_devices=all_devices,
    )
    _clear_cookie_session(response)
    response.status_code = status.HTTP_204_NO_CONTENT
    return response


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, summary="Sign out")
async def logout(
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
    session: DbSession,
    services: AppServices,
    body: LogoutIn | None = None,
) -> Response:
    """Ends this session, or every session with `allDevices: true`."""
    return await _end_sessions(
        principal,
        request,
        response,
        session,
        services,
        all_devices=bool(body and body.all_devices),
    )


@router.post("/logout-all", status_code=status.HTTP_204_NO_CONTENT, summary="Sign out everywhere")
async def logout_all(
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
    session: DbSession,
    services: AppServices,
) -> Response:
    return await _end_sessions(principal, request, response, session, services, all_devices=True)


@router.get("/sessions", response_model=list[SessionOut], summary="Signed-in devices")
async def list_sessions(principal: CurrentPrincipal, session: ReadSession) -> list[SessionOut]:
    rows: list[AuthSession] = await repository.list_live_sessions(session, principal.user_id)
    return [
        SessionOut(
            id=row.id,
            device=describe_device(row.user_agent),
            ip=row.ip,
            user_agent=row.user_agent,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            current=row.id == principal.session_id,
        )
        for row in rows
    ]


@router.delete(
    "/sessions/{session_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Sign out one device",
    responses={404: _problem("No such session of yours", "not_found")},
)
async def revoke_session(
    session_id: uuid.UUID,
    principal: CurrentPrincipal,
    request: Request,
    session: DbSession,
    services: AppServices,
) -> Response:
    await service.revoke_one(
        session,
        services,
        RequestMeta.of(request),
        user_id=principal.user_id,
        session_id=session_id,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/forgot-password",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=AcceptedOut,
    summary="Email a password reset link",
)
async def forgot_password(
    body: EmailIn, request: Request, session: DbSession, services: AppServices
) -> AcceptedOut:
    """Always 202 with the same body, whether or not the address has an account."""
    await _limit(request, "password_reset", body.email)
    await service.forgot_password(session, services, body.email)
    return AcceptedOut(message=ACCEPTED)


@router.post(
    "/reset-password",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Set a new password from a reset link",
    responses={
        400: _problem("Invalid, used or expired token", "invalid_token"),
        422: _problem("Weak password", "weak_password"),
    },
)
async def reset_password(
    body: ResetPasswordIn, request: Request, session: DbSession, services: AppServices
) -> Response:
    """Signs out every session and does not sign in: the user logs in with the new password."""
    await _limit(request, "password_reset")
    await service.reset_password(
        session, services, RequestMeta.of(request), token=body.token, password=body.password
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/change-password",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Change the password",
    responses={
        401: _problem("Wrong current password", "invalid_credentials"),
        422: _problem("Weak password", "weak_password"),
        429: _problem("Too many attempts (per address and per account)", "rate_limited"),
    },
)
async def change_password(
    body: ChangePasswordIn,
    principal: CurrentPrincipal,
    request: Request,
    session: DbSession,
    services: AppServices,
) -> Response:
    """Needs the current password; signs out every other session."""
    await limit_password_checks(request, principal.user_id)
    await service.change_password(
        session,
        services,
        RequestMeta.of(request),
        user_id=principal.user_id,
        current_session_id=principal.session_id,
        current_password=body.current_password,
        new_password=body.new_password,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", response_model=UserOut, summary="The signed-in user")
async def me(principal: CurrentPrincipal, services: AppServices) -> UserOut:
    row = await repository.profile(services.read_engine, principal.user_id)
    if row is None:
        raise NotFound("No such user.")
    return UserOut.of(row)


@csrf_router.get("/csrf-token", response_model=CsrfOut, summary="Issue a CSRF token")
async def csrf_token(
    principal: OptionalPrincipal, response: Response, services: AppServices
) -> CsrfOut:
    """For cookie sessions: the token to send as `X-CSRF-Token` on unsafe requests, also set
    as a cookie. Bound to the current session (or to no session before sign-in)."""
    binding = str(principal.session_id) if principal else csrf.ANONYMOUS
    token = csrf.issue(services.csrf_key, binding)
    response.set_cookie(CSRF_COOKIE, token, path="/", secure=True, httponly=False, samesite="lax")
    return CsrfOut(csrf_token=token)
