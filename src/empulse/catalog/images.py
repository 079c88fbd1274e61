"""Public images (album covers, artist images) at the fixed sizes, under immutable keys.

A key names its owner and the SHA-256 of its bytes (`public/covers/<album>/<sha256>.jpg`), so
the bytes under a key never change: clients and CDNs may cache them for a year, and a new
image is a new URL. Keys are per owner, so deleting one account's images never removes an
identical image of another's.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

from empulse.catalog.schemas import ImageOut


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
