"""HTTP for a listener's Subsonic credentials: app passwords (typed into player apps as the
password) and API keys (the `apiKeyAuthentication` extension). Each is shown once, when made."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Request, Response, status

from empulse.audit.service import RequestMeta
from empulse.auth.dependencies import CurrentPrincipal, require_principal
from empulse.models import ApiKey, AppPassword
from empulse.services import AppServices, DbSession, ReadSession
from empulse.subsonic import repository, service
from empulse.subsonic.schemas import CredentialIn, CredentialOut, NewApiKeyOut, NewAppPasswordOut
from empulse.web.paths import API_PREFIX

router = APIRouter(
    prefix=f"{API_PREFIX}/users/me",
    tags=["subsonic"],
    dependencies=[Depends(require_principal)],
    responses={401: {"description": "Not signed in (not_authenticated)"}},
)
_TOO_MANY: dict[int | str, dict[str, Any]] = {
    409: {"description": "The account has 20 already (too_many_credentials)"}
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "Not one of the caller's (not_found)"}
}


def _out(row: AppPassword | ApiKey) -> CredentialOut:
    return CredentialOut(
        id=row.id, name=row.name, created_at=row.created_at, last_used_at=row.last_used_at
    )


@router.post(
    "/app-passwords",
    status_code=status.HTTP_201_CREATED,
    response_model=NewAppPasswordOut,
    summary="Make an app password for a Subsonic player",
    responses=_TOO_MANY,
)
async def create_app_password(
    body: CredentialIn,
    request: Request,
    response: Response,
    principal: CurrentPrincipal,
    session: DbSession,
    services: AppServices,
) -> NewAppPasswordOut:
    """The password is shown once: type it into the player, with your email address as the
    username and this server's address. A password change or reset revokes every app
    password."""
    row, password = await service.create_app_password(
        session, services.app_password_cipher, RequestMeta.of(request), principal.user_id, body.name
    )
    response.headers["Cache-Control"] = "no-store"
    return NewAppPasswordOut(**_out(row).model_dump(), password=password)


@router.get("/app-passwords", response_model=list[CredentialOut], summary="List your app passwords")
async def list_app_passwords(
    principal: CurrentPrincipal, session: ReadSession
) -> list[CredentialOut]:
    """Names and dates only: a password is never shown again."""
    return [_out(row) for row in await repository.app_passwords_of(session, principal.user_id)]


@router.delete(
    "/app-passwords/{credential_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke an app password",
    responses=_NOT_FOUND,
)
async def revoke_app_password(
    credential_id: uuid.UUID,
    request: Request,
    principal: CurrentPrincipal,
    session: DbSession,
    services: AppServices,
) -> Response:
    """It stops working at once, on every server process."""
    await service.revoke(
        session, services, RequestMeta.of(request), AppPassword, principal.user_id, credential_id
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/api-keys",
    status_code=status.HTTP_201_CREATED,
    response_model=NewApiKeyOut,
    summary="Make an API key for a Subsonic player",
    responses=_TOO_MANY,
)
async def create_api_key(
    body: CredentialIn,
    request: Request,
    response: Response,
    principal: CurrentPrincipal,
    session: DbSession,
) -> NewApiKeyOut:
    """For players that support OpenSubsonic's `apiKeyAuthentication`: the key alone signs
    them in. Shown once; only its hash is kept."""
    row, key = await service.create_api_key(
        session, RequestMeta.of(request), principal.user_id, body.name
    )
    response.headers["Cache-Control"] = "no-store"
    return NewApiKeyOut(**_out(row).model_dump(), api_key=key)


@router.get("/api-keys", response_model=list[CredentialOut], summary="List your API keys")
async def list_api_keys(principal: CurrentPrincipal, session: ReadSession) -> list[CredentialOut]:
    return [_out(row) for row in await repository.api_keys_of(session, principal.user_id)]


@router.delete(
    "/api-keys/{credential_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke an API key",
    responses=_NOT_FOUND,
)
async def revoke_api_key(
    credential_id: uuid.UUID,
    request: Request,
    principal: CurrentPrincipal,
    session: DbSession,
    services: AppServices,
) -> Response:
    """It stops working at once, on every server process."""
    await service.revoke(
        session, services, RequestMeta.of(request), ApiKey, principal.user_id, credential_id
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
