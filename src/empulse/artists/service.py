"""Artist onboarding rules: apply once at a time, encrypt the W-9 before it touches the database."""

from __future__ import annotations

import uuid

import orjson
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from empulse.accounts import repository as accounts
from empulse.artists import repository
from empulse.artists.schemas import (
    ApplicationIn,
    ApplicationOut,
    ApplicationRecordOut,
    mask_tax_id,
)
from empulse.audit import service as audit
from empulse.audit.service import RequestMeta
from empulse.core.crypto import FieldCipher, public_id
from empulse.core.errors import Conflict, NotFound
from empulse.models import ArtistApplication


class ApplicationOpen(Conflict):
    code = "application_open"
    title = "An application is already open"


class AlreadyArtist(Conflict):
    code = "already_artist"
    title = "Already an artist"


def w9_document(body: ApplicationIn) -> dict[str, object]:
    """The W-9 as it is encrypted: the form's fields, the tax id as digits only."""
    w9 = body.w9_data
    return {
        "taxId": w9.tax_id_digits,
        "taxClassification": w9.tax_classification.value,
        "businessName": w9.business_name,
        "address": w9.address.model_dump(by_alias=True),
        "completed": w9.completed,
        "signature": body.digital_signature,
    }


def encrypt_w9(cipher: FieldCipher, application: ArtistApplication, w9: dict[str, object]) -> None:
    application.w9_ciphertext = cipher.encrypt(orjson.dumps(w9), str(application.id))
    application.w9_key_id = cipher.current_key_id


def decrypt_w9(cipher: FieldCipher, application: ArtistApplication) -> dict[str, object]:
    document: dict[str, object] = orjson.loads(
        cipher.decrypt(application.w9_ciphertext, str(application.id))
    )
    return document


def application_out(application: ArtistApplication) -> ApplicationOut:
    return ApplicationOut(
        id=application.id,
        application_id=application.public_id,
        status=application.status,
        artist_name=application.artist_name,
        selected_mediums=application.mediums,
        tax_id=mask_tax_id(application.tax_id_last4),
        tax_classification=application.tax_classification,
        created_at=application.created_at,
        reviewed_at=application.reviewed_at,
        review_reason=application.review_reason,
    )


def application_record_out(application: ArtistApplication) -> ApplicationRecordOut:
    return ApplicationRecordOut(
        **application_out(application).model_dump(),
        contact_email=application.contact_email,
        documents_signed=application.documents_signed,
        pro_registration=application.pro_registration,
        digital_signature=application.digital_signature,
    )


async def apply(
    session: AsyncSession,
    cipher: FieldCipher,
    user_id: uuid.UUID,
    body: ApplicationIn,
    meta: RequestMeta,
) -> ArtistApplication:
    # The account's row first: a deletion of it in flight is waited for, and then this fails
    # cleanly instead of on the foreign key (accounts/repository.lock_referenced).
    if not await accounts.lock_referenced(session, user_id):
        raise NotFound("No such user.")
    if await repository.artist_of_user(session, user_id) is not None:
        raise AlreadyArtist("This account is already an artist.")
    if await repository.has_open_application(session, user_id):
        raise ApplicationOpen("An application is already waiting for review.")
    application = ArtistApplication(
        id=uuid.uuid4(),
        public_id=public_id("APP"),
        user_id=user_id,
        artist_name=body.account_info.artist_name,
        contact_email=body.account_info.email,
        mediums=body.selected_mediums,
        documents_signed=body.documents_signed,
        pro_registration=(
            body.pro_registration.model_dump(by_alias=True, exclude_none=True)
            if body.pro_registration
            else None
        ),
        digital_signature=body.digital_signature,
        tax_classification=body.w9_data.tax_classification.value,
        tax_id_last4=body.w9_data.tax_id_digits[-4:],
    )
    encrypt_w9(cipher, application, w9_document(body))
    session.add(application)
    try:
        # The partial unique index decides between two racing submissions.
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise ApplicationOpen("An application is already waiting for review.") from exc
    audit.record(
        session,
        "artist_application_submitted",
        meta,
        user_id=user_id,
        application_id=str(application.id),
    )
    return application


async def my_application(session: AsyncSession, user_id: uuid.UUID) -> ArtistApplication:
    application = await repository.latest_application(session, user_id)
    if application is None:
        raise NotFound("You have not applied yet.", code="no_application")
    return application
