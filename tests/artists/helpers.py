"""Acting as applicants and admins: a valid application form, an admin session."""

from __future__ import annotations

import copy
from typing import Any

from empulse.core.db import session_scope
from empulse.services import Services
from empulse.users.service import create_or_promote_admin
from tests.auth.helpers import PASSWORD, bearer, login, signed_in
from tests.conftest import Harness
from tests.support import secrets

# Well-formed, never-issued-looking test numbers (area 123 and EIN prefix 12 are valid forms).
TEST_SSN = "123-45-6789"
TEST_EIN = "12-3456789"
secrets.remember(TEST_SSN, "123456789", TEST_EIN)

APPLICATION: dict[str, Any] = {
    "selectedMediums": ["Music", "podcast"],
    "accountInfo": {"email": "Contact@Example.com", "artistName": "The Lanterns"},
    "documentsSigned": ["artist_agreement", "terms_of_service", "privacy_policy"],
    "w9Data": {
        "taxId": TEST_SSN,
        "taxClassification": "individual",
        "businessName": None,
        "address": {"street": "1 Main St", "city": "Springfield", "state": "il", "zip": "62701"},
        "completed": True,
    },
    "proRegistration": {"organization": "BMI", "ipiNumber": "00052210040"},
    "digitalSignature": "Ada Lovelace",
}


def application(**changes: Any) -> dict[str, Any]:
    """The valid form with top-level or `w9Data.<field>` changes."""
    body = copy.deepcopy(APPLICATION)
    for name, value in changes.items():
        if name.startswith("w9_"):
            body["w9Data"][name[3:]] = value
        else:
            body[name] = value
    return body


async def admin_headers(harness: Harness, email: str = "admin@example.com") -> dict[str, str]:
    services: Services = harness.app.state.services
    async with session_scope(services.sessionmaker) as session:
        await create_or_promote_admin(session, email=email, password=PASSWORD, name="Admin")
    response = await login(harness, email)
    assert response.status_code == 200, response.text
    return bearer(response.json())


async def applicant(harness: Harness, email: str) -> dict[str, str]:
    """A verified user who has applied; returns their bearer headers."""
    headers = bearer(await signed_in(harness, email))
    response = await harness.client.post(
        "/api/v1/artist/applications", json=application(), headers=headers
    )
    assert response.status_code == 201, response.text
    return headers


async def approved_artist(harness: Harness, email: str, admin: dict[str, str]) -> dict[str, str]:
    """A user whose application an admin approved; returns fresh bearer headers."""
    headers = await applicant(harness, email)
    mine = await harness.client.get("/api/v1/artist/applications/me", headers=headers)
    response = await harness.client.post(
        f"/api/v1/admin/applications/{mine.json()['id']}/approve", headers=admin
    )
    assert response.status_code == 200, response.text
    return headers
