"""HTTP for /users/me: profile, privacy preferences, data export, account deletion."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response, status
from sqlalchemy import select

from empulse.audit import service as audit
from empulse.audit.service import RequestMeta
from empulse.auth import emails
from empulse.auth.dependencies import CurrentPrincipal
from empulse.auth.schemas import UserOut
from empulse.auth.service import InvalidCredentials, check_password
from empulse.core.errors import NotFound
from empulse.infra.email import enqueue_email
from empulse.models import DEFAULT_PRIVACY, AuditEvent, AuthSession, User
from empulse.services import AppServices, DbSession
from empulse.users.schemas import DeleteMeIn, PrivacyPreferences, UpdateMeIn

router = APIRouter(prefix="/users/me", tags=["users"])


async def _me(session: DbSession, principal: CurrentPrincipal) -> User:
    user = await session.get(User, principal.user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


def _privacy(user: User) -> PrivacyPreferences:
    return PrivacyPreferences.model_validate({**DEFAULT_PRIVACY, **(user.privacy or {})})


@router.patch("", response_model=UserOut, summary="Update my profile")
async def update_me(body: UpdateMeIn, principal: CurrentPrincipal, session: DbSession) -> UserOut:
    user = await _me(session, principal)
    user.name = body.name.strip()
    await session.flush()
    return UserOut.of(user)


@router.get("/privacy-preferences", response_model=PrivacyPreferences, summary="My privacy")
async def get_privacy(principal: CurrentPrincipal, session: DbSession) -> PrivacyPreferences:
    return _privacy(await _me(session, principal))


@router.put("/privacy-preferences", response_model=PrivacyPreferences, summary="Set my privacy")
async def put_privacy(
    body: PrivacyPreferences, principal: CurrentPrincipal, session: DbSession
) -> PrivacyPreferences:
    user = await _me(session, principal)
    user.privacy = body.model_dump(by_alias=True)
    await session.flush()
    return _privacy(user)


@router.get(
    "/export",
    summary="Download all my data",
    response_class=Response,
    responses={
        200: {
            "content": {"application/json": {}},
            "description": "Everything stored about the account, as a JSON file.",
        }
    },
)
async def export_me(principal: CurrentPrincipal, session: DbSession) -> Response:
    user = await _me(session, principal)
    sessions = (
        await session.scalars(
            select(AuthSession)
            .where(AuthSession.user_id == user.id)
            .order_by(AuthSession.created_at)
        )
    ).all()
    events = (
        await session.scalars(
            select(AuditEvent).where(AuditEvent.user_id == user.id).order_by(AuditEvent.occurred_at)
        )
    ).all()
    document: dict[str, Any] = {
        "exportedAt": datetime.now(UTC),
        "user": UserOut.of(user).model_dump(by_alias=True),
        "privacyPreferences": _privacy(user).model_dump(by_alias=True),
        "sessions": [
            {
                "id": s.id,
                "createdAt": s.created_at,
                "lastUsedAt": s.last_used_at,
                "expiresAt": s.expires_at,
                "revokedAt": s.revoked_at,
                "ip": s.ip,
                "userAgent": s.user_agent,
            }
            for s in sessions
        ],
        "securityEvents": [
            {"event": e.event, "occurredAt": e.occurred_at, "ip": e.ip, "userAgent": e.user_agent}
            for e in events
        ],
    }
    return Response(
        orjson.dumps(document, default=str, option=orjson.OPT_INDENT_2),
        media_type="application/json",
        headers={"Content-Disposition": 'attachment; filename="empulse-export.json"'},
    )


@router.delete(
    "",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete my account",
    responses={401: {"description": "Wrong password (code: invalid_credentials)"}},
)
async def delete_me(
    body: DeleteMeIn,
    principal: CurrentPrincipal,
    request: Request,
    session: DbSession,
    services: AppServices,
) -> Response:
    """Needs the password. Deletes the account, its sessions and tokens; the audit log keeps
    the events without the link to the person."""
    user = await _me(session, principal)
    if not await check_password(user.password_hash, body.password):
        raise InvalidCredentials
    session_ids = list(
        await session.scalars(select(AuthSession.id).where(AuthSession.user_id == user.id))
    )
    enqueue_email(session, services.job_sealer, emails.account_deleted(user.email, user.name))
    await audit.forget_user(session, user.id)
    await session.delete(user)
    audit.record(session, "account_deleted", RequestMeta(None, None, request.state.request_id))
    await session.commit()
    await services.session_cache.revoked(session_ids)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
