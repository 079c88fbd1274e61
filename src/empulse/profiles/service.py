"""Editing an artist's public profile. The image is decoded within the pixel bound and
re-encoded at the cover sizes, as covers are (submissions/media), and stored under public,
content-addressed keys (catalog/images); the previous image is deleted once the new one is
committed."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from empulse.artists import repository as artists
from empulse.audit import service as audit
from empulse.audit.service import RequestMeta
from empulse.catalog import images
from empulse.catalog.images import images_out
from empulse.catalog.schemas import LinkOut
from empulse.core.errors import Forbidden
from empulse.models import Artist
from empulse.profiles.schemas import ProfileIn, ProfileOut
from empulse.services import Services


class NotAnArtist(Forbidden):
    code = "not_an_artist"
    title = "Not an artist"


async def own_artist(session: AsyncSession, user_id: uuid.UUID) -> Artist:
    artist = await artists.active_artist_of_user(session, user_id)
    if artist is None:
        raise NotAnArtist("Only an approved artist has a profile to edit.")
    return artist


def profile_out(artist: Artist, services: Services) -> ProfileOut:
    return ProfileOut(
        id=str(artist.id),
        name=artist.name,
        bio=artist.bio,
        links=[LinkOut(url=link["url"], label=link.get("label")) for link in artist.links],
        images=images_out(artist.images, services.storage.public_url),
    )


async def update_profile(
    session: AsyncSession, user_id: uuid.UUID, changes: ProfileIn, meta: RequestMeta
) -> Artist:
    artist = await own_artist(session, user_id)
    sent = changes.model_fields_set
    if "name" in sent and changes.name is not None:
        artist.name = changes.name
    if "bio" in sent:
        artist.bio = changes.bio or None
    if "links" in sent:
        artist.links = [link.model_dump() for link in changes.links or []]
    audit.record(session, "artist_profile_updated", meta, user_id=user_id, fields=sorted(sent))
    return artist


async def replace_image(
    session: AsyncSession,
    services: Services,
    user_id: uuid.UUID,
    data: bytes,
    content_type: str,
    meta: RequestMeta,
) -> Artist:
    artist = await own_artist(session, user_id)
    stored = await images.store_image(services, "artists", artist.id, data, content_type)
    artist.images = await images.adopt_image(session, artist.images, stored)
    audit.record(session, "artist_image_replaced", meta, user_id=user_id)
    return artist
