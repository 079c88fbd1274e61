"""Acting as a user would: register, read the email, verify, sign in."""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from empulse.core.emails import typed_address
from empulse.media.service import MEDIA_PIPELINE
from empulse.services import Services
from tests.conftest import Harness
from tests.support import secrets
from tests.support.metrics import sample

PASSWORD = "lantern-orchid-velvet-2718"
NEW_PASSWORD = "copper-meadow-sparrow-9041"
secrets.remember(PASSWORD, NEW_PASSWORD)


async def deliver(harness: Harness, *, media: bool = False) -> None:
    """Run every due job now (the in-process runner would, a moment later); the media
    pipeline's only when `media` (it encodes every uploaded track four times: tests that do
    not look at renditions stream the original, as before the pipeline has run)."""
    services: Services = harness.app.state.services
    kinds = [kind for kind in services.job_runner.handlers if media or kind != MEDIA_PIPELINE]
    while await services.job_runner.run_due(kinds):
        pass


def outbox(harness: Harness) -> list[EmailMessage]:
    directory: Path = harness.settings.outbox_dir
    if not directory.exists():
        return []
    messages = []
    for path in sorted(directory.glob("*.eml")):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(message, EmailMessage)
        messages.append(message)
    return messages


def text_of(message: EmailMessage, subtype: str = "plain") -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None
    content: str = part.get_content()
    return content


def token_in(message: EmailMessage, path: str) -> str:
    match = re.search(r"(https://\S+" + re.escape(path) + r"\?token=\S+)", text_of(message))
    assert match, text_of(message)
    url = match.group(1)
    token = parse_qs(urlsplit(url).query)["token"][0]
    secrets.remember(token)
    return token


async def register(harness: Harness, email: str, name: str = "Ada") -> httpx.Response:
    return await harness.client.post(
        "/api/v1/auth/register", json={"email": email, "password": PASSWORD, "name": name}
    )


async def registered_and_verified(harness: Harness, email: str, name: str = "Ada") -> None:
    assert (await register(harness, email, name)).status_code == 202
    await deliver(harness)
    # The newest link sent to this address (mail for other accounts may be delivered with it).
    message = [
        m
        for m in outbox(harness)
        if m["To"] == typed_address(email) and "/verify-email?" in text_of(m)
    ][-1]
    token = token_in(message, "/verify-email")
    response = await harness.client.post("/api/v1/auth/verify", json={"token": token})
    assert response.status_code == 200, response.text


async def login(
    harness: Harness, email: str, password: str = PASSWORD, mode: str = "token"
) -> httpx.Response:
    response = await harness.client.post(
        "/api/v1/auth/login", json={"email": email, "password": password, "session": mode}
    )
    _remember_session(response)
    return response


async def signed_in(harness: Harness, email: str, name: str = "Ada") -> dict[str, Any]:
    """A verified user signed in with a bearer session; returns the login body."""
    await registered_and_verified(harness, email, name)
    response = await login(harness, email)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _remember_session(response: httpx.Response) -> None:
    if response.status_code == 200:
        body = response.json()
        secrets.remember(body.get("accessToken"), body.get("refreshToken"), body.get("csrfToken"))
        for name in ("__Host-empulse_access", "__Secure-empulse_refresh"):
            secrets.remember(response.cookies.get(name))


def bearer(body: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {body['accessToken']}"}


async def hashes(harness: Harness, operation: str) -> float:
    """How many passwords the service has hashed (`hash`) or verified (`verify`) so far, from
    its /metrics."""
    text = (await harness.client.get("/metrics")).text
    return sample(text, f'empulse_password_hash_seconds_count{{operation="{operation}"}}')
