"""HTTP for /users/me (profile, privacy preferences, data export, account deletion) and for
/admin/users (list, search, change role, disable)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from empulse.audit.service import RequestMeta
from empulse.auth.dependencies import (
    AdminPrincipal,
    CurrentPrincipal,
    admin_router,
    limit_password_checks,
)
from empulse.auth.schemas import AcceptedOut, TokenIn, UserOut
from empulse.core.errors import NotFound
from empulse.core.pagination import Cursor, Limit, Page, PageRequest
from empulse.core.schemas import WITHOUT_NUL
from empulse.infra.ratelimit import OnBackendError
from empulse.models import User
from empulse.services import AppServices, DbSession, ReadSession
from empulse.users import repository, service
from empulse.users.schemas import (
    AdminUserOut,
    AdminUserPatch,
    ChangeEmailIn,
    DeleteMeIn,
    Export,
    PrivacyPreferences,
    Role,
    UpdateMeIn,
)
from empulse.web.paths import API_PREFIX
from empulse.web.ratelimit import enforce

router = APIRouter(prefix=f"{API_PREFIX}/users/me", tags=["users"])
EMAIL_CHANGE_ACCEPTED = "Follow the link we are sending to the new address to finish the change."
admin_users_router = admin_router("/users")
# The link of a change of address lands with the other account links, under /auth.
confirm_email_router = APIRouter(prefix=f"{API_PREFIX}/auth", tags=["auth"])


async def _me(session: DbSession, principal: CurrentPrincipal) -> User:
    user = await session.get(User, principal.user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


@router.patch("", response_model=UserOut, summary="Update my profile")
async def update_me(body: UpdateMeIn, principal: CurrentPrincipal, session: DbSession) -> UserOut:
    user = await _me(session, principal)
    user.name = body.name.strip()
    await session.flush()
    return UserOut.of(user)


@router.get("/privacy-preferences", response_model=PrivacyPreferences, summary="My privacy")
async def get_privacy(principal: CurrentPrincipal, session: DbSession) -> PrivacyPreferences:
    return service.privacy_of(await _me(session, principal))


@router.put("/privacy-preferences", response_model=PrivacyPreferences, summary="Set my privacy")
async def put_privacy(
    body: PrivacyPreferences, principal: CurrentPrincipal, session: DbSession
) -> PrivacyPreferences:
    user = await _me(session, principal)
    user.privacy = body.model_dump(by_alias=True)
    await session.flush()
    return service.privacy_of(user)


@router.get(
    "/export",
    response_model=Export,
    summary="Download all my data",
    responses={200: {"description": "A JSON file (`Content-Disposition: attachment`)."}},
)
async def export_me(
    principal: CurrentPrincipal, session: DbSession, services: AppServices
) -> Response:
    document = await service.export(session, services, await _me(session, principal))
    return Response(
        document.model_dump_json(by_alias=True, indent=2),
        media_type="application/json",
        headers={"Content-Disposition": 'attachment; filename="empulse-export.json"'},
    )


@router.post(
    "/email",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=AcceptedOut,
    summary="Change my email address",
    responses={
        401: {"description": "Wrong password (code: invalid_credentials)"},
        422: {"description": "Not a valid address, or already yours (same_email)"},
        429: {"description": "Too many requests, per client, account or address (rate_limited)"},
    },
)
async def change_email(
    body: ChangeEmailIn,
    principal: CurrentPrincipal,
    request: Request,
    session: DbSession,
    services: AppServices,
) -> AcceptedOut:
    """Needs the password. Sends a link to the new address; the account changes address when
    it is followed (`POST /auth/confirm-email`). The current address is told. The answer is the
    same whether or not the new address already has an account. Each request mails someone, so
    it counts as a password-reset request does (per client address, account and new address),
    besides the password check's own limit."""
    await enforce(
        request,
        "password_reset",
        [
            ("ip", request.state.client_ip or "unknown"),
            ("user", str(principal.user_id)),
            ("email", body.new_email),
        ],
        on_backend_error=OnBackendError.LOCAL,
    )
    await limit_password_checks(request, principal.user_id)
    user = await service.confirm_password_or_refuse(
        session,
        services,
        RequestMeta.of(request),
        principal.user_id,
        body.password,
        failure_event="email_change_failed",
    )
    await service.request_email_change(
        session, services, RequestMeta.of(request), user, body.new_email
    )
    return AcceptedOut(message=EMAIL_CHANGE_ACCEPTED)


@router.delete(
    "",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete my account",
    responses={
        401: {"description": "Wrong password (code: invalid_credentials)"},
        429: {"description": "Too many attempts, per address and per account (rate_limited)"},
    },
)
async def delete_me(
    body: DeleteMeIn,
    principal: CurrentPrincipal,
    request: Request,
    session: DbSession,
    services: AppServices,
) -> Response:
    """Needs the password. Deletes the account, its sessions and tokens, its artist
    application, submissions and published releases, and (by a job that runs after the commit)
    every stored file of theirs; the audit log keeps the events without the link to the
    person."""
    await limit_password_checks(request, principal.user_id)
    user = await service.confirm_password_or_refuse(
        session,
        services,
        RequestMeta.of(request),
        principal.user_id,
        body.password,
        failure_event="account_deletion_failed",
    )
    await service.delete_account(session, services, user, request.state.request_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _admin_user(user: User) -> AdminUserOut:
    return AdminUserOut(
        id=user.id,
        email=user.email,
        name=user.name,
        role=user.role,
        email_verified=user.email_verified_at is not None,
        disabled=user.disabled_at is not None,
        disabled_at=user.disabled_at,
        locked_until=user.locked_until,
        created_at=user.created_at,
    )


@admin_users_router.get("", response_model=Page[AdminUserOut], summary="List and search users")
async def list_users(
    session: ReadSession,
    limit: Limit = 50,
    cursor: Cursor = None,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=100,
            pattern=WITHOUT_NUL,
            description="Part of the email or name, any case.",
        ),
    ] = None,
    role: Role | None = None,
    disabled: Annotated[bool | None, Query(description="Only disabled (or enabled) ones.")] = None,
) -> Page[AdminUserOut]:
    """Newest first, with a cursor."""
    rows = await repository.search(
        session, query=q, role=role, disabled=disabled, page=PageRequest(limit, cursor)
    )
    return rows.shaped(_admin_user)


@admin_users_router.get(
    "/{user_id}",
    response_model=AdminUserOut,
    summary="One user",
    responses={404: {"description": "No such user (not_found)"}},
)
async def get_user(user_id: uuid.UUID, session: ReadSession) -> AdminUserOut:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return _admin_user(user)


@admin_users_router.patch(
    "/{user_id}",
    response_model=AdminUserOut,
    summary="Change a user's role, or disable the account",
    responses={
        404: {"description": "No such user (not_found)"},
        409: {
            "description": "Your own account (own_account), or ARTIST for a user without an "
            "artist profile (no_artist_profile)"
        },
        422: {"description": "Neither `role` nor `disabled` given, or an unknown role"},
    },
)
async def update_user(
    user_id: uuid.UUID,
    body: AdminUserPatch,
    admin: AdminPrincipal,
    request: Request,
    session: DbSession,
    services: AppServices,
) -> AdminUserOut:
    """Disabling revokes every session of the user at once (on every server process) and
    refuses new sign-ins; re-enabling lets them sign in again. A user set back to USER from
    ARTIST keeps their published catalog but cannot submit. Each change is audit-logged."""
    user = await service.update_user(
        session,
        services,
        admin_id=admin.user_id,
        user_id=user_id,
        role=body.role,
        disabled=body.disabled,
        meta=RequestMeta.of(request),
    )
    return _admin_user(user)


@confirm_email_router.post(
    "/confirm-email",
    response_model=UserOut,
    summary="Confirm a new email address",
    responses={
        400: {"description": "Invalid, used or expired link (codes: invalid_token)"},
        409: {"description": "Another account took the address meanwhile (codes: email_taken)"},
    },
)
async def confirm_email(
    body: TokenIn, request: Request, session: DbSession, services: AppServices
) -> UserOut:
    """The link sent to the new address by `POST /users/me/email` (it need not be opened where
    the change was asked for). The account signs in with the new address from now on; reset
    and verification links sent before stop working."""
    user = await service.confirm_email_change(
        session, services, RequestMeta.of(request), body.token
    )
    return UserOut.of(user)
