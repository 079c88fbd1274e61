"""CSRF protection for cookie sessions: a signed double-submit token bound to the session.

The token is `nonce.HMAC(key, binding.nonce)`, where the binding is the session id (or
"anonymous" before login). It travels twice: in a cookie the page's script can read, and in the
`X-CSRF-Token` header. A cross-site request can make the browser send the cookie but cannot
read it to set the header; and a token planted by a sibling subdomain or kept from another
session fails the HMAC (OWASP CSRF Prevention Cheat Sheet, "Signed Double-Submit Cookie").
"""

from __future__ import annotations

import secrets

from empulse.core.crypto import constant_time_equals, sign

ANONYMOUS = "anonymous"


def issue(key: bytes, binding: str) -> str:
    nonce = secrets.token_urlsafe(24)
    return f"{nonce}.{sign(key, f'{binding}.{nonce}')}"


def is_valid(key: bytes, binding: str, header_value: str | None, cookie_value: str | None) -> bool:
    if not header_value or not cookie_value:
        return False
    if not constant_time_equals(header_value, cookie_value):
        return False
    nonce, _, signature = header_value.partition(".")
    if not nonce or not signature:
        return False
    return constant_time_equals(signature, sign(key, f"{binding}.{nonce}"))
