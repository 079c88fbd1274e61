"""Whole journeys against a real `empulse serve` process, over TCP, with its own background jobs:
a listener in a browser-like cookie session; a native app's user who resets a password, manages
sessions and deletes the account; and an artist and an admin taking an EP from application to
the catalog, where a listener plays it, also in a Subsonic player app (subsonic_player.py). On
the embedded defaults (SQLite, local files, outbox) and on the production services (PostgreSQL,
Redis, S3, SMTP), rate limits on."""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.cookiejar import Cookie, CookieJar
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson
import pytest

from tests.artists.helpers import TEST_SSN, application
from tests.auth.helpers import NEW_PASSWORD, PASSWORD
from tests.conftest import empty_tables
from tests.e2e.subsonic_player import a_whole_session
from tests.submissions.helpers import ep_files, ep_payload
from tests.support import secrets
from tests.support.fixtures import LiveServers, S3Server, ServerProcess, SmtpCapture

APP_URL = "https://app.empulse.test"


class BrowserJar(CookieJar):
    """Browsers treat loopback as a secure context and send `Secure` cookies to it over plain
    HTTP (W3C Secure Contexts, "potentially trustworthy origins"). Python's cookie jar sends
    them over https only, and httpx copies a client's cookies into a default jar for each
    request, so this jar records which cookies came marked `Secure` and stores them unmarked."""

    def __init__(self) -> None:
        super().__init__()
        self.marked_secure: set[str] = set()

    def set_cookie(self, cookie: Cookie) -> None:
        if cookie.secure and cookie.domain in {"127.0.0.1", "localhost"}:
            self.marked_secure.add(cookie.name)
            cookie.secure = False
        super().set_cookie(cookie)


@dataclass
class Journey:
    server: ServerProcess
    read_mail: Callable[[int], list[EmailMessage]]

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.server.url, timeout=30, **kwargs)

    def mail_to(self, address: str, subject_part: str) -> EmailMessage:
        """The first message to `address` whose subject holds `subject_part`, once it is sent
        by the server's own job runner."""
        count = 1
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for message in self.read_mail(count):
                if address in str(message["To"]) and subject_part in str(message["Subject"]):
                    return message
            count += 1
        raise AssertionError(f"no message to {address} about {subject_part!r}")


def _processed(client: httpx.Client, admin: dict[str, str], submission_id: str) -> list[Any]:
    """The submission's files once the media pipeline has processed every track."""
    deadline = time.monotonic() + 60
    while True:
        files: list[Any] = client.get(
            f"/api/v1/admin/submissions/{submission_id}", headers=admin
        ).json()["files"]
        statuses = {f["pipeline"]["status"] for f in files if f["role"] == "audio"}
        if statuses == {"done"}:
            return files
        assert "failed" not in statuses, files
        assert time.monotonic() < deadline, files
        time.sleep(0.1)  # polls while the server's job runner works


def _outbox_reader(directory: Path) -> Callable[[int], list[EmailMessage]]:
    def read(count: int) -> list[EmailMessage]:
        deadline = time.monotonic() + 30
        while True:
            paths = sorted(directory.glob("*.eml")) if directory.exists() else []
            if len(paths) >= count or time.monotonic() > deadline:
                break
            time.sleep(0.05)  # polls the folder the server's job runner writes to
        messages = []
        for path in paths:
            message = message_from_bytes(path.read_bytes(), policy=policy.default)
            assert isinstance(message, EmailMessage)
            messages.append(message)
        return messages

    return read


@pytest.fixture(params=["embedded", "services"])
def journey(request: pytest.FixtureRequest, live_server: LiveServers) -> Iterator[Journey]:
    env = {
        "APP_URL": APP_URL,
        "EMPULSE_JOBS_IN_PROCESS": "true",
        # Limits stay on; every journey comes from 127.0.0.1, and the native app's confirms
        # its password more often in a minute (six times) than the sign-in limit's five.
        "RATE_LIMITS": "login=10/minute",
    }
    database: str | None = None
    if request.param == "embedded":
        read_mail = _outbox_reader(live_server.data_dir / "outbox")
    else:
        database = request.getfixturevalue("live_server_postgres_url")
        s3: S3Server = request.getfixturevalue("s3_server")
        smtp: SmtpCapture = request.getfixturevalue("smtp_server")
        env |= {
            "DATABASE_URL": database,
            "REDIS_URL": request.getfixturevalue("redis_server_url"),
            "REDIS_KEY_PREFIX": f"test-{uuid.uuid4().hex}",
            **s3.settings(),
            **smtp.settings(),
        }
        read_mail = smtp.wait_for
    try:
        server = live_server.start(env=env)
        live_server.create_admin("admin@example.com", PASSWORD, env)
        yield Journey(server, read_mail)
        output = server.output()
        assert "Traceback" not in output, output
        assert not secrets.leaked_into(output)
        assert TEST_SSN not in output
    finally:
        if database:
            asyncio.run(empty_tables(database))


def _link_token(message: EmailMessage, path: str) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    text: str = body.get_content()
    match = re.search(r"(\S+" + re.escape(path) + r"\?token=\S+)", text)
    assert match, text
    assert match.group(1).startswith(f"{APP_URL}{path}?")
    token = parse_qs(urlsplit(match.group(1)).query)["token"][0]
    secrets.remember(token)
    return token


def _register_and_verify(journey: Journey, client: httpx.Client, email: str, name: str) -> None:
    registered = client.post(
        "/api/v1/auth/register", json={"email": email, "password": PASSWORD, "name": name}
    )
    assert registered.status_code == 202, registered.text
    token = _link_token(journey.mail_to(email, "Confirm"), "/verify-email")
    verified = client.post("/api/v1/auth/verify", json={"token": token})
    assert verified.status_code == 200, verified.text


def _bearer(client: httpx.Client, email: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    body = response.json()
    secrets.remember(body["accessToken"], body["refreshToken"])
    return {"Authorization": f"Bearer {body['accessToken']}"}


def test_a_listener_in_a_browser_cookie_session(journey: Journey) -> None:
    email = "listener@example.com"
    origin = {"Origin": journey.server.url}
    jar = BrowserJar()
    with journey.client(cookies=jar, headers=origin) as browser:
        _register_and_verify(journey, browser, email, "Lis")
        signed_in = browser.post(
            "/api/v1/auth/login", json={"email": email, "password": PASSWORD, "session": "cookie"}
        )
        assert signed_in.status_code == 200, signed_in.text
        assert "accessToken" not in signed_in.json()
        assert {"__Host-empulse_access", "__Secure-empulse_refresh"} <= jar.marked_secure
        csrf = {"X-CSRF-Token": signed_in.json()["csrfToken"]}
        secrets.remember(*(cookie.value for cookie in browser.cookies.jar))

        me = browser.get("/api/v1/auth/me")
        assert me.status_code == 200
        assert me.json()["email"] == email
        assert me.json()["emailVerified"] is True

        unsafe = {"name": "Listener"}
        assert browser.patch("/api/v1/users/me", json=unsafe).status_code == 403  # no CSRF token
        renamed = browser.patch("/api/v1/users/me", json=unsafe, headers=csrf)
        assert renamed.status_code == 200, renamed.text
        assert renamed.json()["name"] == "Listener"

        export = browser.get("/api/v1/users/me/export")
        assert export.status_code == 200
        assert "attachment" in export.headers["content-disposition"]
        assert export.json()["user"]["name"] == "Listener"

        old_access = browser.cookies.get("__Host-empulse_access")
        refreshed = browser.post("/api/v1/auth/refresh", headers=csrf)
        assert refreshed.status_code == 200, refreshed.text
        assert browser.cookies.get("__Host-empulse_access") != old_access
        csrf = {"X-CSRF-Token": refreshed.json()["csrfToken"]}
        secrets.remember(*(cookie.value for cookie in browser.cookies.jar))

        changed = browser.post(
            "/api/v1/auth/change-password",
            json={"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD},
            headers=csrf,
        )
        assert changed.status_code == 204, changed.text
        journey.mail_to(email, "password was changed")

        assert browser.post("/api/v1/auth/logout", headers=csrf).status_code == 204
        assert browser.get("/api/v1/auth/me").status_code == 401
        old = browser.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        assert old.status_code == 401


def test_an_artist_and_an_admin_take_an_ep_from_application_to_the_catalog_and_it_plays(
    journey: Journey,
) -> None:
    email = "artist@example.com"
    with journey.client() as client:
        admin = _bearer(client, "admin@example.com")
        _register_and_verify(journey, client, email, "Ada")
        artist = _bearer(client, email)

        applied = client.post("/api/v1/artist/applications", json=application(), headers=artist)
        assert applied.status_code == 201, applied.text
        assert applied.json()["applicationId"].startswith("APP-")
        application_id = applied.json()["id"]
        pending = client.get("/api/v1/admin/applications?status=pending", headers=admin)
        assert [item["id"] for item in pending.json()["items"]] == [application_id]
        masked = client.get(f"/api/v1/admin/applications/{application_id}", headers=admin)
        assert masked.json()["taxId"] == "***-**-6789"
        w9 = client.get(f"/api/v1/admin/applications/{application_id}/w9", headers=admin)
        assert w9.json()["taxId"] == TEST_SSN.replace("-", "")
        approved = client.post(
            f"/api/v1/admin/applications/{application_id}/approve", headers=admin
        )
        assert approved.status_code == 200, approved.text
        journey.mail_to(email, "approved")

        submitted = client.post(
            "/api/v1/submissions",
            data={"payload": orjson.dumps(ep_payload(2)).decode()},
            files=ep_files(2),
            headers=artist,
        )
        assert submitted.status_code == 201, submitted.text
        assert submitted.json()["submissionId"].startswith("TRK-")
        submission_id = submitted.json()["id"]

        # The server's job runner makes the renditions; the reviewer hears the Opus one and
        # sees each track's loudness and waveform before deciding.
        files = _processed(client, admin, submission_id)
        opus = [f for f in files if f["details"].get("rendition") == "opus-160"]
        assert len(opus) == 2
        heard = client.get(opus[0]["url"])
        assert heard.status_code == 200
        assert heard.content.startswith(b"OggS")
        for track in (f for f in files if f["role"] == "audio"):
            assert -40 < track["pipeline"]["loudness"]["integratedLufs"] < 0
            assert 0 < len(track["pipeline"]["waveform"]) <= 200

        detail = client.get(f"/api/v1/admin/submissions/{submission_id}", headers=admin)
        assert detail.status_code == 200
        audio = next(f for f in detail.json()["files"] if f["role"] == "audio")
        downloaded = client.get(audio["url"])  # relative for local files, presigned for S3
        assert downloaded.status_code == 200
        assert hashlib.sha256(downloaded.content).hexdigest() == audio["sha256"]

        published = client.post(f"/api/v1/admin/submissions/{submission_id}/approve", headers=admin)
        assert published.status_code == 200, published.text
        journey.mail_to(email, "is published")
        mine = client.get(f"/api/v1/submissions/{submission_id}", headers=artist)
        assert mine.json()["status"] == "approved"
        tracks = client.get("/api/v1/admin/tracks", headers=admin).json()["items"]
        assert sorted(track["title"] for track in tracks) == ["Song 1", "Song 2"]

        # A listener finds it and plays it, whole (sent zero-copy from local disk) and seeking.
        _register_and_verify(journey, client, "listener@example.com", "Lin")
        listener = _bearer(client, "listener@example.com")
        album = client.get("/api/v1/albums").json()["items"][0]
        listed = client.get(f"/api/v1/albums/{album['id']}").json()["tracks"]
        stream = f"/api/v1/tracks/{listed[0]['id']}/stream"
        whole = client.get(stream, headers=listener)
        assert whole.status_code == 200, whole.text
        expected = whole.headers["etag"].strip('"')
        assert hashlib.sha256(whole.content).hexdigest() == expected
        size = len(whole.content)
        pieces = [
            client.get(stream, headers={**listener, "Range": f"bytes={start}-{start + 4095}"})
            for start in range(0, size, 4096)
        ]
        assert {piece.status_code for piece in pieces} == {206}
        assert hashlib.sha256(b"".join(p.content for p in pieces)).hexdigest() == expected
        # On a phone: Opus at 96 kbit/s (the default above is the 160 kbit/s one).
        phone = client.get(f"{stream}?format=opus&maxBitRate=96", headers=listener)
        assert phone.status_code == 200
        assert phone.headers["content-type"] == "audio/ogg"
        assert len(phone.content) < size

    # And in a Subsonic player app, a whole session.
    a_whole_session(journey.server, "listener@example.com", "The Lanterns", "Lanterns EP")


def test_a_native_app_resets_a_password_manages_sessions_moves_and_deletes_the_account(
    journey: Journey,
) -> None:
    email = "app-user@example.com"
    with journey.client(headers={"User-Agent": "EmPulse/1.0 okhttp/4.12"}) as app:
        _register_and_verify(journey, app, email, "Appy")

        forgot = app.post("/api/v1/auth/forgot-password", json={"email": email})
        assert forgot.status_code == 202
        token = _link_token(journey.mail_to(email, "Reset"), "/reset-password")
        new_password = {"token": token, "password": NEW_PASSWORD}
        reset = app.post("/api/v1/auth/reset-password", json=new_password)
        assert reset.status_code == 204, reset.text
        again = app.post("/api/v1/auth/reset-password", json=new_password)
        assert again.status_code == 400  # a link works once

        def sign_in() -> dict[str, str]:
            response = app.post(
                "/api/v1/auth/login", json={"email": email, "password": NEW_PASSWORD}
            )
            assert response.status_code == 200, response.text
            body = response.json()
            secrets.remember(body["accessToken"], body["refreshToken"])
            return {"Authorization": f"Bearer {body['accessToken']}"}

        phone, tablet = sign_in(), sign_in()
        sessions = app.get("/api/v1/auth/sessions", headers=phone).json()
        assert len(sessions) == 2
        assert {session["device"] for session in sessions} == {"Android app"}
        other = next(session["id"] for session in sessions if not session["current"])
        assert app.delete(f"/api/v1/auth/sessions/{other}", headers=phone).status_code == 204
        assert app.get("/api/v1/auth/me", headers=tablet).status_code == 401

        privacy = {
            "marketingEmails": True,
            "showListeningActivity": False,
            "publicProfile": False,
            "analytics": False,
        }
        assert (
            app.put("/api/v1/users/me/privacy-preferences", json=privacy, headers=phone).json()
            == privacy
        )
        assert app.get("/api/v1/users/me/privacy-preferences", headers=phone).json() == privacy

        # A new address, confirmed from its mailbox; the old one is told at both steps.
        moved = "app-user@elsewhere.example.com"
        asked = app.post(
            "/api/v1/users/me/email",
            json={"newEmail": moved, "password": NEW_PASSWORD},
            headers=phone,
        )
        assert asked.status_code == 202, asked.text
        journey.mail_to(email, "A new email address was requested")
        confirm = _link_token(journey.mail_to(moved, "Confirm your new"), "/confirm-email")
        confirmed = app.post("/api/v1/auth/confirm-email", json={"token": confirm})
        assert confirmed.status_code == 200, confirmed.text
        assert confirmed.json()["email"] == moved
        journey.mail_to(email, "address was changed")
        email = moved

        assert app.post("/api/v1/auth/logout-all", headers=phone).status_code == 204
        assert app.get("/api/v1/auth/me", headers=phone).status_code == 401

        last = sign_in()
        deleted = app.request(
            "DELETE", "/api/v1/users/me", json={"password": NEW_PASSWORD}, headers=last
        )
        assert deleted.status_code == 204, deleted.text
        journey.mail_to(email, "was deleted")
        gone = app.post("/api/v1/auth/login", json={"email": email, "password": NEW_PASSWORD})
        assert gone.status_code == 401
