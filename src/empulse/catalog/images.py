"""Public images (album covers, artist images) at the fixed sizes, under immutable keys.

A key names its owner and the SHA-256 of its bytes (`public/covers/<album>/<sha256>.jpg`), so
the bytes under a key never change: clients and CDNs may cache them for a year, and a new
image is a new URL. Keys are per owner, so deleting one account's images never removes an
identical image of another's.
"""

from __future__ import annotations

import hashlib
import tempfile
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import anyio.to_thread
from sqlalchemy.ext.asyncio import AsyncSession

from empulse.catalog.schemas import ImageOut
from empulse.core.errors import ValidationFailed
from empulse.services import Services
from empulse.submissions import media
from empulse.submissions import repository as submissions
from empulse.submissions.upload import Upload, enqueue_object_deletion

IMAGE_TYPES = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
# The OpenAPI request body of a route whose body is an image of one of these types.
IMAGE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            kind: {"schema": {"type": "string", "format": "binary"}} for kind in IMAGE_TYPES
        },
    }
}


def public_image(
    folder: str, owner_id: uuid.UUID, sha256: str, details: Mapping[str, Any]
) -> dict[str, Any]:
    """One size of an image as stored on its owner's row."""
    return {
        "size": int(details["size"]),
        "key": f"public/{folder}/{owner_id.hex}/{sha256}.jpg",
        "width": int(details["width"]),
        "height": int(details["height"]),
    }


def images_out(images: list[dict[str, Any]] | None, url: Callable[[str], str]) -> list[ImageOut]:
    return [
        ImageOut(size=i["size"], url=url(i["key"]), width=i["width"], height=i["height"])
        for i in images or []
    ]


def _render(data: bytes, extension: str) -> list[media.Cover]:
    with tempfile.NamedTemporaryFile(suffix=f".{extension}") as spool:
        spool.write(data)
        spool.flush()
        image = media.decode_cover(Path(spool.name), extension)
    return media.render_covers(image, media.COVER_SIZES)


async def store_image(
    services: Services, folder: str, owner_id: uuid.UUID, data: bytes, content_type: str
) -> list[dict[str, Any]]:
    """An uploaded image (a request's body, of type `content_type`): decoded within the pixel
    bound, re-encoded without metadata at the cover sizes, stored under public keys. The files
    are pending until `adopt_image` runs in a transaction that commits; otherwise the
    pending-upload sweep deletes them. Holds no database lock of the caller's."""
    if not data:
        raise ValidationFailed("Send the image as the request body.")
    extension = IMAGE_TYPES.get(content_type.split(";")[0].strip().lower())
    if extension is None:
        raise media.UnsupportedFile("Send the image as image/jpeg, image/png or image/webp.")
    rendered = await anyio.to_thread.run_sync(_render, data, extension)
    images: list[dict[str, Any]] = []
    for cover in rendered:
        sha256 = hashlib.sha256(cover.jpeg).hexdigest()
        details = {"size": cover.size, "width": cover.width, "height": cover.height}
        images.append(public_image(folder, owner_id, sha256, details))
    keys = [image["key"] for image in images]
    upload = Upload(services)
    await upload.remember_keys(keys)
    try:
        for cover, key in zip(rendered, keys, strict=True):
            await services.storage.put_bytes(key, cover.jpeg, "image/jpeg")
    except BaseException:
        await upload.discard()
        raise
    return images


async def adopt_image(
    session: AsyncSession, old: list[dict[str, Any]], new: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """In the transaction that puts `new` (from `store_image`) in place of `old`: the new
    files are kept, the old ones deleted once it commits."""
    keys = {image["key"] for image in new}
    await submissions.end_pending(session, list(keys))
    enqueue_object_deletion(session, [image["key"] for image in old if image["key"] not in keys])
    return new
