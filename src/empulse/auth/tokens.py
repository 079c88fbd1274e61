"""Access tokens: short-lived HS256 JWTs that name a session (`sid`) checked on each request."""

from __future__ import annotations

import base64
import functools
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

# One allow-listed algorithm; the key is ours, never chosen by a header (jku, x5u, kid, jwk are
# ignored by PyJWT when a key is passed). RFC 8725 section 3.1.
ALGORITHM = "HS256"
AUDIENCE = "empulse:access"
ISSUER = "empulse"


class InvalidTokenError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: uuid.UUID
    session_id: uuid.UUID
    role: str
    expires_at: datetime


def issue_access_token(
    secret: str, *, user_id: uuid.UUID, session_id: uuid.UUID, role: str, ttl: timedelta
) -> tuple[str, int]:
    now = datetime.now(UTC)
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(user_id),
        "sid": str(session_id),
        "role": role,
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM), int(ttl.total_seconds())


@functools.lru_cache(maxsize=4)
def _verification_key(secret: str) -> jwt.PyJWK:
    """The secret prepared once as an HS256 key (PyJWT otherwise re-checks the raw secret's
    form and length on every decode); bound to HS256, whatever a token's header says."""
    raw = base64.urlsafe_b64encode(secret.encode()).rstrip(b"=").decode()
    return jwt.PyJWK({"kty": "oct", "k": raw, "alg": ALGORITHM})


# Tokens already verified, by (secret, token): a client presents the same access token on every
# request for its lifetime, and verifying it again (HMAC, base64, JSON, claim checks) is a tenth
# of the CPU of a small authenticated request. Only exact bytes that passed verification hit; the
# expiry is still checked on every use; revocation is the session check's job, not this one's.
_VERIFIED_MAX = 4096
_verified: dict[tuple[str, str], AccessClaims] = {}
_LEEWAY_SECONDS = 5


def decode_access_token(secret: str, token: str, *, now: datetime | None = None) -> AccessClaims:
    now = now or datetime.now(UTC)
    key = (secret, token)
    claims = _verified.get(key)
    if claims is None:
        claims = _verify(secret, token)
        if len(_verified) >= _VERIFIED_MAX:
            del _verified[next(iter(_verified))]  # the oldest
        _verified[key] = claims
    if now >= claims.expires_at + timedelta(seconds=_LEEWAY_SECONDS):
        _verified.pop(key, None)
        raise InvalidTokenError("ExpiredSignatureError")
    return claims


def _verify(secret: str, token: str) -> AccessClaims:
    try:
        claims = jwt.decode(
            token,
            _verification_key(secret),
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "sid", "aud", "iss"]},
            leeway=_LEEWAY_SECONDS,
        )
        return AccessClaims(
            user_id=uuid.UUID(claims["sub"]),
            session_id=uuid.UUID(claims["sid"]),
            role=str(claims.get("role", "USER")),
            expires_at=datetime.fromtimestamp(claims["exp"], UTC),
        )
    except (jwt.PyJWTError, ValueError, KeyError, TypeError) as exc:
        raise InvalidTokenError(type(exc).__name__) from exc
