"""What artists/ keeps about an account: the artist profile and the applications (their rows go
with the account, by the database's cascade)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from empulse.accounts.data import AccountData
from empulse.artists import repository
from empulse.artists.schemas import ApplicationRecordOut, ExportedArtistProfile, ExportedLink
from empulse.artists.service import application_record_out
from empulse.models import User


async def _profile(session: AsyncSession, _: Any, user: User) -> ExportedArtistProfile | None:
    profile = await repository.artist_of_user(session, user.id)
    if profile is None:
        return None
    return ExportedArtistProfile(
        id=profile.id,
        name=profile.name,
        bio=profile.bio,
        links=[ExportedLink(url=link["url"], label=link.get("label")) for link in profile.links],
        selected_mediums=profile.mediums,
        created_at=profile.created_at,
    )


async def _applications(session: AsyncSession, _: Any, user: User) -> list[ApplicationRecordOut]:
    return [
        application_record_out(application)
        for application in await repository.applications_of(session, user.id)
    ]


ARTIST_PROFILE = AccountData(
    key="artist_profile",
    schema=ExportedArtistProfile | None,
    description="The artist profile an approved application made.",
    export=_profile,
)
ARTIST_APPLICATIONS = AccountData(
    key="artist_applications",
    schema=list[ApplicationRecordOut],
    description="Every artist application as it was filled in; tax ids masked.",
    export=_applications,
)
