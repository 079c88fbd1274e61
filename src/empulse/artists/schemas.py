"""Bodies of /artist: the application form with the seed's JSON names, and what is shown back.

Every rule that can be checked on the form alone lives here, so a bad form gets a 422 naming
each field; the rules that need the database (one open application) live in the service.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    ValidationInfo,
    field_validator,
)

from empulse.core.schemas import EmailAddress, Schema, SingleLine, with_examples

MEDIUMS = (
    "music",
    "podcast",
    "spoken_word",
    "audiobook",
    "dj_mix",
    "sound_design",
    "field_recording",
)
REQUIRED_DOCUMENTS = ("artist_agreement", "terms_of_service", "privacy_policy")
OPTIONAL_DOCUMENTS = ("content_policy", "distribution_agreement")


class TaxClassification(StrEnum):
    INDIVIDUAL = "individual"
    SOLE_PROPRIETOR = "sole_proprietor"
    SINGLE_MEMBER_LLC = "single_member_llc"
    C_CORPORATION = "c_corporation"
    S_CORPORATION = "s_corporation"
    PARTNERSHIP = "partnership"
    TRUST_ESTATE = "trust_estate"
    LLC = "llc"


# Who may give which number (IRS Form W-9, Part I): a person gives an SSN; a sole proprietor or
# single-member LLC may give either; every other entity gives an EIN.
SSN_ALLOWED = {
    TaxClassification.INDIVIDUAL,
    TaxClassification.SOLE_PROPRIETOR,
    TaxClassification.SINGLE_MEMBER_LLC,
}
EIN_ALLOWED = set(TaxClassification) - {TaxClassification.INDIVIDUAL}

_SSN = re.compile(r"^(\d{3})-?(\d{2})-?(\d{4})$")
_EIN = re.compile(r"^(\d{2})-?(\d{7})$")
# EIN prefixes the IRS has never assigned (IRS "How EINs are assigned and valid EIN prefixes").
_UNASSIGNED_EIN_PREFIXES = {
    "00", "07", "08", "09", "17", "18", "19", "28", "29", "49", "69", "70", "78", "79", "89",
    "96", "97",
}  # fmt: skip


def parse_ssn(value: str) -> str | None:
    """The nine digits of a well-formed SSN, or None. Area 000, 666 and 9xx, group 00 and
    serial 0000 are never issued (SSA, "Social Security Number Randomization")."""
    match = _SSN.match(value)
    if match is None:
        return None
    area, group, serial = match.groups()
    if area in ("000", "666") or area.startswith("9") or group == "00" or serial == "0000":
        return None
    return area + group + serial


def parse_ein(value: str) -> str | None:
    match = _EIN.match(value)
    if match is None or match.group(1) in _UNASSIGNED_EIN_PREFIXES:
        return None
    return match.group(1) + match.group(2)


def mask_tax_id(last4: str) -> str:
    """At most the last four digits (SECURITY.md "Sensitive data")."""
    return f"***-**-{last4}"


def _stripped(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


Text = Annotated[SingleLine, BeforeValidator(_stripped)]


def _lowercase_choice(choices: tuple[str, ...], what: str) -> Any:
    def check(values: list[str]) -> list[str]:
        seen: list[str] = []
        for raw in values:
            value = raw.strip().lower().replace(" ", "_").replace("-", "_")
            if value not in choices:
                raise ValueError(f"unknown {what} {raw!r}; choose from: {', '.join(choices)}")
            if value not in seen:
                seen.append(value)
        return seen

    return AfterValidator(check)


class AccountInfo(Schema):
    email: EmailAddress = Field(description="Contact email for the artist.")
    artist_name: Text = Field(min_length=2, max_length=100)


class Address(Schema):
    street: Text = Field(min_length=3, max_length=200)
    city: Text = Field(min_length=2, max_length=100)
    state: Text = Field(min_length=2, max_length=2, description="Two-letter US state code.")
    zip: Text = Field(pattern=r"^\d{5}(-\d{4})?$", description="ZIP or ZIP+4.")

    @field_validator("state")
    @classmethod
    def _state(cls, value: str) -> str:
        if not value.isalpha():
            raise ValueError("use the two-letter state code, e.g. CA")
        return value.upper()


class W9In(Schema):
    # The classification comes first: the rules on the tax id and the business name depend on
    # it, and each is checked on its own field (fields are validated in order), so its error
    # names that field.
    tax_classification: TaxClassification
    tax_id: Text = Field(min_length=9, max_length=11, description="SSN or EIN, digits or dashed.")
    business_name: Text | None = Field(
        default=None, max_length=200, validate_default=True, description="Required for entities."
    )
    address: Address
    completed: bool = Field(description="The form is complete and certified (must be true).")

    @field_validator("tax_id")
    @classmethod
    def _tax_id_for_the_classification(cls, value: str, info: ValidationInfo) -> str:
        classification = info.data.get("tax_classification")
        ssn, ein = parse_ssn(value), parse_ein(value)
        if ssn is None and ein is None:
            expected = {
                None: "an SSN (NNN-NN-NNNN) or an EIN (NN-NNNNNNN)",
                TaxClassification.INDIVIDUAL: "an SSN (NNN-NN-NNNN)",
            }.get(classification, "an EIN (NN-NNNNNNN)")
            raise ValueError(f"not a valid tax id; expected {expected}")
        if classification is None:  # its own error is reported
            return value
        if ssn is not None and classification not in SSN_ALLOWED:
            raise ValueError("entities give an EIN (NN-NNNNNNN), not an SSN")
        if ein is not None and classification not in EIN_ALLOWED:
            raise ValueError("individuals give an SSN (NNN-NN-NNNN), not an EIN")
        return value

    @field_validator("business_name")
    @classmethod
    def _business_name_for_entities(cls, value: str | None, info: ValidationInfo) -> str | None:
        classification = info.data.get("tax_classification")
        if classification is not None and classification not in SSN_ALLOWED and not value:
            raise ValueError("required for this tax classification")
        return value

    @field_validator("completed")
    @classmethod
    def _certified(cls, value: bool) -> bool:
        if not value:
            raise ValueError("the W-9 must be completed and certified")
        return value

    @property
    def tax_id_digits(self) -> str:
        digits = parse_ssn(self.tax_id) or parse_ein(self.tax_id)
        assert digits is not None
        return digits


class ProRegistration(Schema):
    organization: Text | None = Field(
        default=None, max_length=60, description="e.g. ASCAP, BMI, SESAC, GMR, PRS, SOCAN."
    )
    ipi_number: Text | None = Field(default=None, pattern=r"^\d{9,11}$")
    member_id: Text | None = Field(default=None, max_length=60)


class ApplicationIn(Schema):
    model_config = with_examples(
        {
            "selectedMediums": ["music", "podcast"],
            "accountInfo": {"email": "ada@example.com", "artistName": "The Lanterns"},
            "documentsSigned": ["artist_agreement", "terms_of_service", "privacy_policy"],
            "w9Data": {
                # The number printed on a sample card in 1938, voided since.
                "taxId": "078-05-1120",
                "taxClassification": "individual",
                "businessName": None,
                "address": {
                    "street": "1 Main St",
                    "city": "Springfield",
                    "state": "IL",
                    "zip": "62701",
                },
                "completed": True,
            },
            "proRegistration": {"organization": "BMI", "ipiNumber": "00123456789"},
            "digitalSignature": "Ada Lovelace",
        }
    )

    selected_mediums: Annotated[
        list[str], _lowercase_choice(MEDIUMS, "medium"), Field(min_length=1, max_length=10)
    ]
    account_info: AccountInfo
    documents_signed: Annotated[
        list[str],
        _lowercase_choice(REQUIRED_DOCUMENTS + OPTIONAL_DOCUMENTS, "document"),
        Field(min_length=1, max_length=10),
    ]
    w9_data: W9In
    pro_registration: ProRegistration | None = None
    digital_signature: Text = Field(
        min_length=2, max_length=200, description="The signer's full legal name, typed."
    )

    @field_validator("documents_signed")
    @classmethod
    def _all_required_signed(cls, value: list[str]) -> list[str]:
        missing = [doc for doc in REQUIRED_DOCUMENTS if doc not in value]
        if missing:
            raise ValueError(f"these documents must be signed: {', '.join(missing)}")
        return value


class ApplicationOut(Schema):
    id: uuid.UUID
    application_id: str = Field(description="Human-readable id, `APP-…`.")
    status: str
    artist_name: str
    selected_mediums: list[str]
    tax_id: str = Field(description="Masked; at most the last four digits.")
    tax_classification: str
    created_at: datetime
    reviewed_at: datetime | None
    review_reason: str | None


class ApplicationRecordOut(ApplicationOut):
    """The application as its applicant filled it in; the tax id still masked (the rest of the
    W-9 stays encrypted: only an audited admin call opens it)."""

    contact_email: str
    documents_signed: list[str]
    pro_registration: dict[str, Any] | None
    digital_signature: str


class ExportedLink(Schema):
    url: str
    label: str | None = None


class ExportedArtistProfile(Schema):
    id: uuid.UUID
    name: str
    bio: str | None
    links: list[ExportedLink]
    selected_mediums: list[str]
    created_at: datetime
