"""ping, getLicense, getOpenSubsonicExtensions, getUser, getMusicFolders, getScanStatus."""

from __future__ import annotations

from typing import Any

from empulse.core.emails import InvalidEmailError, email_key
from empulse.subsonic.call import Call, method
from empulse.subsonic.envelope import Code, SubsonicError
from empulse.subsonic.shapes import ROOT_FOLDER_ID, ROOT_FOLDER_NAME

EXTENSIONS = [
    {"name": "formPost", "versions": [1]},
    {"name": "apiKeyAuthentication", "versions": [1]},
]


@method("ping")
async def ping(call: Call) -> dict[str, Any]:
    return {}


@method("getLicense")
async def get_license(call: Call) -> dict[str, Any]:
    return {"license": {"valid": True, "email": call.caller.email}}


@method("getOpenSubsonicExtensions", public=True)
async def get_extensions(call: Call) -> dict[str, Any]:
    return {"openSubsonicExtensions": EXTENSIONS}


def _same_account(username: str, email: str) -> bool:
    try:
        return email_key(username) == email_key(email)
    except InvalidEmailError:
        return False


@method("getUser")
async def get_user(call: Call) -> dict[str, Any]:
    """Only the caller's own (a listener sees no other account); roles as a listener has them:
    stream, download, playlists, scrobbling."""
    username = call.params.required("username", max_length=320)
    if not _same_account(username, call.caller.email):
        raise SubsonicError(Code.NOT_AUTHORIZED, "You may only read your own user")
    return {
        "user": {
            "username": call.caller.email,
            "email": call.caller.email,
            "scrobblingEnabled": True,
            "adminRole": False,
            "settingsRole": False,
            "downloadRole": True,
            "uploadRole": False,
            "playlistRole": True,
            "coverArtRole": False,
            "commentRole": False,
            "podcastRole": False,
            "streamRole": True,
            "jukeboxRole": False,
            "shareRole": False,
            "videoConversionRole": False,
            "folder": [ROOT_FOLDER_ID],
        }
    }


@method("getMusicFolders")
async def get_music_folders(call: Call) -> dict[str, Any]:
    return {"musicFolders": {"musicFolder": [{"id": ROOT_FOLDER_ID, "name": ROOT_FOLDER_NAME}]}}


@method("getScanStatus", "startScan")
async def get_scan_status(call: Call) -> dict[str, Any]:
    """The catalog is indexed as it is published: there is never a scan to wait for."""
    return {"scanStatus": {"scanning": False}}
