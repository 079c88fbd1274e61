"""HTTP for /artists/me: the artist's own public profile."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from empulse.audit.service import RequestMeta
from empulse.auth.dependencies import CurrentPrincipal, require_principal
from empulse.catalog.images import IMAGE_BODY
from empulse.profiles import service
from empulse.profiles.schemas import ProfileIn, ProfileOut
from empulse.services import AppServices, DbSession, ReadSession
from empulse.web.paths import API_PREFIX

router = APIRouter(
    prefix=f"{API_PREFIX}/artists/me",
    tags=["artists"],
    dependencies=[Depends(require_principal)],
    responses={
        401: {"description": "Not signed in (not_authenticated)"},
        403: {"description": "Not an approved artist (not_an_artist)"},
    },
)
IMAGE_PATH = f"{API_PREFIX}/artists/me/image"


@router.get("", response_model=ProfileOut, summary="My artist profile")
async def my_profile(
    principal: CurrentPrincipal, session: ReadSession, services: AppServices
) -> ProfileOut:
    return service.profile_out(await service.own_artist(session, principal.user_id), services)


@router.patch(
    "",
    response_model=ProfileOut,
    summary="Edit my artist profile",
    responses={422: {"description": "Invalid fields (validation_failed)"}},
)
async def edit_profile(
    body: ProfileIn,
    principal: CurrentPrincipal,
    request: Request,
    session: DbSession,
    services: AppServices,
) -> ProfileOut:
    """Name, bio (up to 2,000 characters) and up to five http(s) links; the catalog shows the
    change at once."""
    artist = await service.update_profile(session, principal.user_id, body, RequestMeta.of(request))
    return service.profile_out(artist, services)


@router.put(
    "/image",
    response_model=ProfileOut,
    summary="Replace my artist image",
    openapi_extra=IMAGE_BODY,
    responses={
        413: {"description": "Larger than MAX_COVER_BYTES (payload_too_large)"},
        422: {
            "description": "Not an image of its type, too many pixels, too small (unsupported_file)"
        },
    },
)
async def replace_image(
    principal: CurrentPrincipal,
    request: Request,
    session: DbSession,
    services: AppServices,
) -> ProfileOut:
    """The body is the image (JPEG, PNG or WebP, as its `Content-Type` says, up to
    `MAX_COVER_BYTES`): decoded within the pixel bound, re-encoded without metadata at the
    cover sizes (1200, 600, 300)."""
    data = await request.body()
    artist = await service.replace_image(
        session,
        services,
        principal.user_id,
        data,
        request.headers.get("content-type", ""),
        RequestMeta.of(request),
    )
    return service.profile_out(artist, services)
