"""Email addresses: the address we keep and send to, and the key we compare by.

The two differ on purpose. Accounts are compared by a key (NFKC, case-folded), so that
look-alikes cannot make a second account: `ada@` in fullwidth letters and `ada@`, `straße@` and
`strasse@`. But the key can be another person's mailbox (`straße@` folds to `strasse@`, the
Kelvin sign U+212A in `Kelvin@` to `kelvin@`), so nothing is ever sent to it or shown as the
address: the address kept is the one the user typed, with only its ASCII letters lowercased
(SECURITY.md "Passwords and login").
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email


class InvalidEmailError(ValueError):
    pass


_FORBIDDEN = frozenset("\r\n\x00,;<>")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _validated(candidate: str) -> str:
    """`candidate`'s normal form (NFC, the domain lowercased) once its syntax is checked."""
    # CR/LF and the other characters that could end a header or start another address.
    if any(ch in _FORBIDDEN for ch in candidate):
        raise InvalidEmailError("The email address contains characters that are not allowed.")
    try:
        return validate_email(candidate, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise InvalidEmailError(str(exc)) from exc


@lru_cache(maxsize=4096)
def email_key(raw: str) -> str:
    """The key accounts are compared by: NFKC, case-folded, syntax-checked. Never an address
    to send to.

    Remembered for the last few thousand inputs: a sign-in computes it twice (the rate limit's
    key, the lookup), and the syntax check costs ~0.2 ms of CPU. Refusals are not remembered."""
    return _validated(unicodedata.normalize("NFKC", raw.strip())).casefold()


def typed_address(raw: str) -> str:
    """The address as the user typed it, syntax-checked, with ASCII letters lowercased: what
    is stored and mailed. Its key must be valid too (`email_key`)."""
    email_key(raw)
    typed = raw.strip()
    # Checked as typed too, but not replaced by the validator's normal form: its NFC alone
    # turns the Kelvin sign into a K.
    _validated(typed)
    return typed.translate(_ASCII_LOWER)
