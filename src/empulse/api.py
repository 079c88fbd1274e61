"""Mounts every domain's router under /api/v1."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from empulse import __version__
from empulse.artists.endpoints import router as artists_router
from empulse.auth.endpoints import csrf_router
from empulse.auth.endpoints import router as auth_router
from empulse.files.endpoints import router as files_router
from empulse.jobs.endpoints import router as jobs_router
from empulse.review.endpoints import router as review_router
from empulse.submissions.endpoints import router as submissions_router
from empulse.users.endpoints import admin_users_router
from empulse.users.endpoints import router as users_router
from empulse.web.ratelimit import RateLimit

API_PREFIX = "/api/v1"
DOCS_URL = f"{API_PREFIX}/docs"
OPENAPI_URL = f"{API_PREFIX}/openapi.json"


class ApiIndex(BaseModel):
    name: str
    version: str
    docs: str
    openapi: str


# Every route under /api/v1 counts against the default per-IP (and per-user) limit; routes add
# their own, tighter limits on top.
api_router = APIRouter(prefix=API_PREFIX, dependencies=[Depends(RateLimit("default"))])


api_router.include_router(auth_router)
api_router.include_router(csrf_router)
api_router.include_router(users_router)
api_router.include_router(artists_router)
api_router.include_router(submissions_router)
api_router.include_router(review_router)
api_router.include_router(admin_users_router)
api_router.include_router(jobs_router)
api_router.include_router(files_router)


@api_router.get("", response_model=ApiIndex, tags=["meta"], summary="API index")
async def api_index() -> ApiIndex:
    """Names this API and points at its documentation."""
    return ApiIndex(name="EmPulse API", version=__version__, docs=DOCS_URL, openapi=OPENAPI_URL)
