"""Email address normalisation: the form we store, compare and send to."""

from __future__ import annotations

import unicodedata

from email_validator import EmailNotValidError, validate_email


class InvalidEmailError(ValueError):
    pass


def normalise_email(raw: str) -> str:
    """NFKC, case-folded, syntax-checked. Rejects CR/LF and other header-injection characters."""
    candidate = unicodedata.normalize("NFKC", raw.strip())
    if any(ch in candidate for ch in "\r\n\x00,;<>"):
        raise InvalidEmailError("The email address contains characters that are not allowed.")
    try:
        validated = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidEmailError(str(exc)) from exc
    return validated.normalized.casefold()
