"""stream and download (the stored audio, with ranges), getCoverArt (the nearest stored size).

A stream is not a play: plays come from `scrobble`. Without `format` or `maxBitRate` a stream
is the file as uploaded (what the song object's `contentType`, `suffix` and `size` describe,
and what every client can play); with them, the media pipeline's rendition the JSON API would
choose (media.service.stream_choice): `format` opus, aac (or m4a), mp3, raw (the original);
`maxBitRate` alone means Opus within it, as Navidrome does by default.
"""

from __future__ import annotations

from typing import Any

from fastapi import Response
from fastapi.responses import RedirectResponse

from empulse.catalog.repository import playable_audio
from empulse.infra.storage import content_disposition
from empulse.playlists import service as playlists
from empulse.streaming.endpoints import send_audio
from empulse.streaming.service import AudioFile, chosen_audio
from empulse.subsonic import repository
from empulse.subsonic.call import Call, method
from empulse.subsonic.envelope import not_found
from empulse.subsonic.methods import common
from empulse.subsonic.params import as_id
from empulse.web.ratelimit import enforce


async def _limit(call: Call) -> None:
    request = call.request
    keys = [("ip", request.state.client_ip or "unknown"), ("user", str(call.caller.user_id))]
    await enforce(request, "streams", keys)


async def _audio(call: Call) -> Any:
    track_id = common.id_of(call)
    await _limit(call)
    async with call.services.read_sessionmaker() as session:
        audio = await playable_audio(session, track_id)
    if audio is None:
        raise not_found("Song")
    return audio


_FORMATS = {
    "raw": "original",
    "opus": "opus",
    "ogg": "opus",
    "aac": "aac",
    "m4a": "aac",
    "mp3": "mp3",
}


@method("stream")
async def stream(call: Call) -> Response:
    max_kbps = call.params.integer("maxBitRate", 0, high=100_000) or None
    asked = (call.params.text("format", max_length=20) or "").lower()
    # Content-Length is always exact: there is nothing to estimate.
    call.params.boolean("estimateContentLength", False)
    fmt = _FORMATS.get(asked) or ("opus" if max_kbps else "original")
    track_id = common.id_of(call)
    await _limit(call)
    async with call.services.read_sessionmaker() as session:
        chosen = await chosen_audio(call.services, session, track_id, fmt, max_kbps)
    if chosen is None:
        raise not_found("Song")
    return await send_audio(call.request, call.services, chosen)


@method("download")
async def download(call: Call) -> Response:
    audio = await _audio(call)
    response = await send_audio(call.request, call.services, AudioFile.of(audio))
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
