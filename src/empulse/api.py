"""Mounts every domain's router under /api/v1 (each router declares its full path)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel

from empulse import __version__
from empulse.account_data import ACCOUNT_DATA
from empulse.artists.endpoints import router as artists_router
from empulse.audit.endpoints import router as audit_router
from empulse.auth.dependencies import token_user_id
from empulse.auth.endpoints import csrf_router
from empulse.auth.endpoints import router as auth_router
from empulse.catalog.endpoints import albums_router, genres_router
from empulse.catalog.endpoints import artists_router as catalog_artists_router
from empulse.catalog.endpoints import router as catalog_router
from empulse.files.endpoints import router as files_router
from empulse.jobs.endpoints import router as jobs_router
from empulse.library.endpoints import router as library_router
from empulse.media.endpoints import admin as media_admin_router
from empulse.media.endpoints import router as media_router
from empulse.playlists.endpoints import router as playlists_router
from empulse.playlists.endpoints import users_router as user_playlists_router
from empulse.plays.endpoints import router as plays_router
from empulse.profiles.endpoints import router as profiles_router
from empulse.review.endpoints import router as review_router
from empulse.search.endpoints import router as search_router
from empulse.streaming.endpoints import router as streaming_router
from empulse.submissions.endpoints import router as submissions_router
from empulse.subsonic.endpoints import router as subsonic_router
from empulse.subsonic.rest import router as rest_router
from empulse.users.endpoints import admin_users_router, confirm_email_router
from empulse.users.endpoints import router as users_router
from empulse.users.schemas import export_schema
from empulse.web.paths import API_PREFIX, DOCS_URL, OPENAPI_URL
from empulse.web.ratelimit import RateLimit
from empulse.web.routing import add_routes


class ApiIndex(BaseModel):
    name: str
    version: str
    docs: str
    openapi: str


index_router = APIRouter(prefix=API_PREFIX)


@index_router.get("", response_model=ApiIndex, tags=["meta"], summary="API index")
async def api_index() -> ApiIndex:
    """Names this API and points at its documentation."""
    return ApiIndex(name="EmPulse API", version=__version__, docs=DOCS_URL, openapi=OPENAPI_URL)


root_router = APIRouter()


@root_router.get(
    "/",
    response_model=ApiIndex,
    tags=["meta"],
    summary="Where the API and its documentation are",
    responses={307: {"description": "A browser is sent to the documentation page."}},
)
async def root(request: Request) -> ApiIndex | RedirectResponse:
    """A browser (asking for HTML) is sent to the documentation page; any other client gets
    the API index."""
    if "text/html" in request.headers.get("accept", ""):
        return RedirectResponse(DOCS_URL, status_code=307)
    return await api_index()


API_ROUTERS = (
    auth_router,
    csrf_router,
    users_router,
    confirm_email_router,
    artists_router,
    submissions_router,
    # Before the catalog's /artists/{id}, which would otherwise take "me" for an id.
    profiles_router,
    catalog_router,
    media_router,
    albums_router,
    catalog_artists_router,
    genres_router,
    library_router,
    plays_router,
    playlists_router,
    user_playlists_router,
    search_router,
    subsonic_router,
    review_router,
    media_admin_router,
    admin_users_router,
    jobs_router,
    audit_router,
    files_router,
    index_router,
    root_router,
)


def include_api(app: FastAPI) -> None:
    """Every route of every router straight on the app (web/routing.py says why). Every route
    under /api/v1 counts against the default limit per IP and, when an access token names a
    user, per user; routes add their own, tighter limits on top."""
    default = RateLimit("default", identify=token_user_id)
    # The export's schema names every domain's part of an account (accounts/data).
    response_models = {"export_me": export_schema(ACCOUNT_DATA)}
    for router in API_ROUTERS:
        add_routes(app, router, dependencies=[Depends(default)], response_models=response_models)
    # Streams count under their own, larger limit (a player reads a track in several ranges).
    add_routes(app, streaming_router)
    # The Subsonic API (/rest) counts calls under its own limits, once it knows the account.
    add_routes(app, rest_router)
