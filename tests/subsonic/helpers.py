"""Acting as a Subsonic player app would: an app password made on the JSON API, then calls to
/rest with token authentication (a new salt each time), answered in JSON or XML."""

from __future__ import annotations

import hashlib
import secrets as random
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

import httpx

from tests.auth.helpers import bearer, signed_in
from tests.conftest import Harness
from tests.support import secrets

NS = "{http://subsonic.org/restapi}"


@dataclass
class Player:
    email: str
    password: str
    headers: dict[str, str]

    def auth(self) -> dict[str, str]:
        salt = random.token_hex(8)
        token = hashlib.md5((self.password + salt).encode(), usedforsecurity=False).hexdigest()
        return {"u": self.email, "t": token, "s": salt, "v": "1.16.1", "c": "test-player"}


async def player(
    harness: Harness, email: str = "listener@example.com", name: str = "Ada"
) -> Player:
    """A signed-in listener with an app password."""
    headers = bearer(await signed_in(harness, email, name))
    harness.client.cookies.clear()
    made = await harness.client.post(
        "/api/v1/users/me/app-passwords", json={"name": "phone"}, headers=headers
    )
    assert made.status_code == 201, made.text
    password = made.json()["password"]
    secrets.remember(password)
    return Player(email, password, headers)


async def call(
    harness: Harness,
    method: str,
    params: dict[str, Any] | list[tuple[str, Any]],
    *,
    fmt: str = "json",
) -> Any:
    """The `subsonic-response` of a call, as a dict (JSON) or an element (XML)."""
    query = list(params.items()) if isinstance(params, dict) else list(params)
    answer = await harness.client.get(f"/rest/{method}", params=[*query, ("f", fmt)])
    assert answer.status_code == 200, answer.text
    if fmt == "xml":
        assert answer.headers["content-type"].startswith("text/xml")
        root = ET.fromstring(answer.content)  # noqa: S314
        assert root.tag == f"{NS}subsonic-response"
        return root
    return answer.json()["subsonic-response"]


async def ok(harness: Harness, method: str, who: Player, **params: Any) -> dict[str, Any]:
    body: dict[str, Any] = await call(harness, method, {**who.auth(), **params})
    assert body["status"] == "ok", body
    return body


def error_code(body: Any) -> int:
    """The failure's code, from either format."""
    if isinstance(body, ET.Element):
        assert body.get("status") == "failed"
        error = body.find(f"{NS}error")
        assert error is not None
        return int(error.get("code", "-1"))
    assert body["status"] == "failed", body
    return int(body["error"]["code"])


def fetch(response: httpx.Response) -> Any:
    return response.json()["subsonic-response"]
