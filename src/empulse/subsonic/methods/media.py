"""stream and download (the stored audio, with ranges), getCoverArt (the nearest stored size).

A stream is not a play: plays come from `scrobble`. Until renditions exist (the media pipeline)
every stream is the original file, whatever `format` and `maxBitRate` ask; the song objects
name its real type, size and bitrate, so a client knows what it gets.
"""

from __future__ import annotations

from typing import Any

from fastapi import Response
from fastapi.responses import RedirectResponse

from empulse.catalog.repository import playable_audio
from empulse.infra.storage import content_disposition
from empulse.playlists import service as playlists
from empulse.streaming.endpoints import send_audio
from empulse.subsonic import repository
from empulse.subsonic.call import Call, method
from empulse.subsonic.envelope import not_found
from empulse.subsonic.methods import common
from empulse.subsonic.params import as_id
from empulse.web.ratelimit import enforce


async def _audio(call: Call) -> Any:
    track_id = common.id_of(call)
    request = call.request
    keys = [("ip", request.state.client_ip or "unknown"), ("user", str(call.caller.user_id))]
    await enforce(request, "streams", keys)
    async with call.services.read_sessionmaker() as session:
        audio = await playable_audio(session, track_id)
    if audio is None:
        raise not_found("Song")
    return audio


@method("stream")
async def stream(call: Call) -> Response:
    # Read, so that a wrong type is refused as elsewhere; the original is sent regardless.
    call.params.integer("maxBitRate", 0)
    call.params.text("format", max_length=20)
    call.params.boolean("estimateContentLength", False)
    return await send_audio(call.request, call.services, await _audio(call))


@method("download")
async def download(call: Call) -> Response:
    audio = await _audio(call)
    response = await send_audio(call.request, call.services, audio)
    response.headers["Content-Disposition"] = content_disposition(
        audio.original_filename or "audio"
    )
    return response


@method("getCoverArt")
async def get_cover_art(call: Call) -> Response:
    """The stored size nearest to `size` (the largest without it), by a redirect to its
    immutable public URL."""
    raw = call.params.required("id", max_length=100)
    size = call.params.integer("size", None, low=1, high=10_000)
    kind, _, rest = raw.partition("-")
    if kind not in ("al", "ar", "pl"):
        kind, rest = "al", raw
    item_id = as_id(rest, "Cover art")
    async with call.services.read_sessionmaker() as session:
        if kind == "pl":
            await playlists.visible(session, item_id, call.caller.user_id)
        images = await repository.cover_images(session, kind, item_id)
    if not images:
        raise not_found("Cover art")
    chosen = (
        min(images, key=lambda image: (abs(image["size"] - size), -image["size"]))
        if size is not None
        else max(images, key=lambda image: image["size"])
    )
    return RedirectResponse(
        call.url(chosen["key"]), status_code=302, headers={"Cache-Control": "private, max-age=3600"}
    )
