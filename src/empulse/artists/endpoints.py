"""HTTP for /artist: apply to become an artist, and follow the application."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, status

from empulse.artists import service
from empulse.artists.schemas import ApplicationIn, ApplicationOut
from empulse.audit.service import RequestMeta
from empulse.auth.dependencies import CurrentPrincipal, require_principal
from empulse.services import AppServices, DbSession, ReadSession
from empulse.web.paths import API_PREFIX
from empulse.web.ratelimit import RateLimit

router = APIRouter(prefix=f"{API_PREFIX}/artist", tags=["artists"])

_apply_responses: dict[int | str, dict[str, str]] = {
    401: {"description": "Not signed in (code: not_authenticated)"},
    409: {"description": "An application is open (application_open) or already an artist "
          "(already_artist)"},
    422: {"description": "Invalid fields (validation_failed), listed in `errors`"},
    429: {"description": "More than the daily limit of applications (rate_limited)"},
}  # fmt: skip


@router.post(
    "/applications",
    status_code=status.HTTP_201_CREATED,
    response_model=ApplicationOut,
    summary="Apply to become an artist",
    responses=_apply_responses,
    dependencies=[Depends(require_principal), Depends(RateLimit("applications"))],
)
async def apply(
    body: ApplicationIn,
    principal: CurrentPrincipal,
    request: Request,
    session: DbSession,
    services: AppServices,
) -> ApplicationOut:
    """Creator mediums, artist name, contact email, signed documents, the W-9 and the digital
    signature. The W-9 is encrypted before it is stored; the tax id is only ever shown masked.
    One open application per account."""
    application = await service.apply(
        session, services.w9_cipher, principal.user_id, body, RequestMeta.of(request)
    )
    return service.application_out(application)


# The seed web client's path for the same form.
router.add_api_route(
    "/signup",
    apply,
    methods=["POST"],
    status_code=status.HTTP_201_CREATED,
    response_model=ApplicationOut,
    summary="Apply to become an artist (the seed's path)",
    responses=_apply_responses,
    dependencies=[Depends(require_principal), Depends(RateLimit("applications"))],
    deprecated=True,
)


@router.get(
    "/applications/me",
    response_model=ApplicationOut,
    summary="My latest application",
    responses={404: {"description": "No application yet (code: no_application)"}},
)
async def my_application(principal: CurrentPrincipal, session: ReadSession) -> ApplicationOut:
    """Its status and, once reviewed, the reviewer's reason."""
    return service.application_out(await service.my_application(session, principal.user_id))
