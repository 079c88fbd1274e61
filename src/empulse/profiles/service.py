"""Editing an artist's public profile. The image is decoded within the pixel bound and
re-encoded at the cover sizes, as covers are (submissions/media), and stored under public,
content-addressed keys (catalog/images); the previous image is deleted once the new one is
committed."""

from __future__ import annotations

import hashlib
import tempfile
import uuid
from pathlib import Path
from typing import Any

import anyio.to_thread
from sqlalchemy.ext.asyncio import AsyncSession

from empulse.artists import repository as artists
from empulse.audit import service as audit
from empulse.audit.service import RequestMeta
from empulse.catalog.images import images_out, public_image
from empulse.catalog.schemas import LinkOut
from empulse.core.errors import Forbidden, ValidationFailed
from empulse.models import Artist
from empulse.profiles.schemas import ProfileIn, ProfileOut
from empulse.services import Services
from empulse.submissions import media
from empulse.submissions import repository as submissions
from empulse.submissions.upload import Upload, enqueue_object_deletion

IMAGE_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}


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


def _render(data: bytes, extension: str) -> list[media.Cover]:
    with tempfile.NamedTemporaryFile(suffix=f".{extension}") as spool:
        spool.write(data)
        spool.flush()
        image = media.decode_cover(Path(spool.name), extension)
    return media.render_covers(image, media.COVER_SIZES)


async def replace_image(
    session: AsyncSession,
    services: Services,
    user_id: uuid.UUID,
    data: bytes,
    content_type: str,
    meta: RequestMeta,
) -> Artist:
    artist = await own_artist(session, user_id)
    if not data:
        raise ValidationFailed("Send the image as the request body.")
    extension = IMAGE_EXTENSIONS.get(content_type.split(";")[0].strip().lower())
    if extension is None:
        raise media.UnsupportedFile("Send the image as image/jpeg, image/png or image/webp.")
    rendered = await anyio.to_thread.run_sync(_render, data, extension)
    images: list[dict[str, Any]] = []
    for cover in rendered:
        sha256 = hashlib.sha256(cover.jpeg).hexdigest()
        details = {"size": cover.size, "width": cover.width, "height": cover.height}
        images.append(public_image("artists", artist.id, sha256, details))
    keys = [image["key"] for image in images]
    upload = Upload(services)
    await upload.remember_keys(keys)
    try:
        for cover, key in zip(rendered, keys, strict=True):
            await services.storage.put_bytes(key, cover.jpeg, "image/jpeg")
    except BaseException:
        await upload.discard()
        raise
    replaced = [image["key"] for image in artist.images if image["key"] not in keys]
    artist.images = images
    await submissions.end_pending(session, keys)
    enqueue_object_deletion(session, replaced)
    audit.record(session, "artist_image_replaced", meta, user_id=user_id)
    return artist
