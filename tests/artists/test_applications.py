"""Artist applications: the form's rules, one open application, the W-9 never shown in full."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from empulse.core.db import session_scope
from empulse.models import ArtistApplication
from empulse.services import Services
from tests.artists.helpers import TEST_EIN, application
from tests.auth.helpers import bearer, signed_in
from tests.conftest import Backend, Harness


async def _user(
    make_client: Callable[..., Any], backend: Backend
) -> tuple[Harness, dict[str, str]]:
    harness: Harness = await make_client(backend)
    return harness, bearer(await signed_in(harness, "artist@example.com"))


async def test_an_application_is_accepted_and_shows_only_a_masked_tax_id(
    backend: Backend, make_client: Callable[..., Any]
) -> None:
    """ASVS 14.2.6: the tax id is returned masked, never in full."""
    harness, headers = await _user(make_client, backend)
    response = await harness.client.post(
        "/api/v1/artist/applications", json=application(), headers=headers
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert re.fullmatch(r"APP-[0-9A-HJKMNP-TV-Z]{10}", body["applicationId"])
    assert body["status"] == "pending"
    assert body["taxId"] == "***-**-6789"
    assert body["selectedMediums"] == ["music", "podcast"]
    assert "6789" not in response.text.replace("***-**-6789", "")
    assert "123-45" not in response.text
    assert "12345" not in response.text

    mine = await harness.client.get("/api/v1/artist/applications/me", headers=headers)
    assert mine.status_code == 200
    assert mine.json()["applicationId"] == body["applicationId"]
    assert mine.json()["reviewReason"] is None


async def test_the_seed_signup_path_takes_the_same_form(
    embedded: Backend, make_client: Callable[..., Any]
) -> None:
    harness, headers = await _user(make_client, embedded)
    response = await harness.client.post(
        "/api/v1/artist/signup", json=application(), headers=headers
    )
    assert response.status_code == 201
    assert response.json()["applicationId"].startswith("APP-")


async def test_applying_needs_a_signed_in_user(
    embedded: Backend, make_client: Callable[..., Any]
) -> None:
    harness: Harness = await make_client(embedded)
    response = await harness.client.post("/api/v1/artist/applications", json=application())
    assert response.status_code == 401


async def test_one_open_application_per_user_even_when_sent_in_parallel(
    backend: Backend, make_client: Callable[..., Any]
) -> None:
    harness, headers = await _user(make_client, backend)
    responses = await asyncio.gather(
        *(
            harness.client.post("/api/v1/artist/applications", json=application(), headers=headers)
            for _ in range(4)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201, 409, 409, 409]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"application_open"}


@pytest.mark.parametrize(
    ("changes", "field_hint"),
    [
        ({"selectedMediums": ["juggling"]}, "selectedMediums"),
        ({"selectedMediums": []}, "selectedMediums"),
        ({"accountInfo": {"email": "not-an-email", "artistName": "X Y"}}, "accountInfo.email"),
        ({"accountInfo": {"email": "a@example.com", "artistName": "X"}}, "accountInfo.artistName"),
        ({"documentsSigned": ["artist_agreement"]}, "documentsSigned"),
        ({"digitalSignature": " "}, "digitalSignature"),
        ({"w9_taxId": "123-45-678"}, "w9Data.taxId"),
        ({"w9_taxId": "000-12-3456"}, "w9Data.taxId"),
        ({"w9_taxId": TEST_EIN}, "w9Data.taxId"),  # an EIN for an individual
        ({"w9_taxClassification": "c_corporation", "w9_businessName": "Acme"},
         "w9Data.taxId"),  # an SSN for an entity
        ({"w9_taxClassification": "llc", "w9_taxId": TEST_EIN}, "w9Data.businessName"),
        ({"w9_taxClassification": "pirate"}, "w9Data.taxClassification"),
        ({"w9_completed": False}, "w9Data.completed"),
        ({"w9_address": {"street": "1 Main", "city": "X", "state": "IL", "zip": "1"}},
         "w9Data.address"),
        ({"status": "approved"}, "status"),
        ({"accountInfo": {"email": "a@example.com", "artistName": "DJ\nX"}}, "accountInfo"),
        ({"w9_address": {"street": "1 Main\u2028St", "city": "Springfield", "state": "IL",
                         "zip": "62701"}}, "w9Data"),
    ],
)  # fmt: skip
async def test_invalid_forms_are_refused_field_by_field(
    embedded: Backend,
    make_client: Callable[..., Any],
    changes: dict[str, Any],
    field_hint: str,
) -> None:
    harness, headers = await _user(make_client, embedded)
    response = await harness.client.post(
        "/api/v1/artist/applications", json=application(**changes), headers=headers
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "validation_failed"
    assert any(error["field"].startswith(field_hint) for error in problem["errors"]), problem
    assert not any(error["message"].startswith("Value error") for error in problem["errors"])
    assert "123-45" not in response.text
    assert "3456789" not in response.text


async def test_an_entity_applies_with_an_ein(
    embedded: Backend, make_client: Callable[..., Any]
) -> None:
    harness, headers = await _user(make_client, embedded)
    body = application(
        w9_taxClassification="llc", w9_taxId=TEST_EIN, w9_businessName="Lantern Music LLC"
    )
    response = await harness.client.post("/api/v1/artist/applications", json=body, headers=headers)
    assert response.status_code == 201, response.text
    assert response.json()["taxId"] == "***-**-6789"


async def test_the_stored_w9_holds_no_plaintext_and_is_bound_to_its_row(
    backend: Backend, make_client: Callable[..., Any]
) -> None:
    """ASVS 11.3.2/14.2.4: AES-256-GCM with the row id as associated data; tamper-evident."""
    from empulse.core.crypto import DecryptionError

    harness, headers = await _user(make_client, backend)
    other = bearer(await signed_in(harness, "other@example.com"))
    await harness.client.post("/api/v1/artist/applications", json=application(), headers=other)
    await harness.client.post("/api/v1/artist/applications", json=application(), headers=headers)

    services: Services = harness.app.state.services
    async with session_scope(services.sessionmaker) as session:
        rows = list(await session.scalars(select(ArtistApplication)))
    assert len(rows) == 2
    first, second = rows
    for row in rows:
        assert b"123456789" not in row.w9_ciphertext
        assert b"123-45-6789" not in row.w9_ciphertext
        assert b"Springfield" not in row.w9_ciphertext
        assert row.w9_key_id == services.w9_cipher.current_key_id
    cipher = services.w9_cipher
    assert b"123456789" in cipher.decrypt(first.w9_ciphertext, str(first.id))
    flipped = bytearray(first.w9_ciphertext)
    flipped[-5] ^= 0x01
    with pytest.raises(DecryptionError):
        cipher.decrypt(bytes(flipped), str(first.id))
    with pytest.raises(DecryptionError):
        cipher.decrypt(first.w9_ciphertext, str(second.id))
    # Two encryptions of the same form differ (random nonce).
    assert first.w9_ciphertext[5:17] != second.w9_ciphertext[5:17]
