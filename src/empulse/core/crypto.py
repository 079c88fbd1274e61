"""Secrets made and kept: random tokens, their stored hashes, sealed (encrypted) payloads."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def new_token(nbytes: int = 32) -> str:
    """A URL-safe token from the CSPRNG (256 bits by default; ASVS asks for at least 128)."""
    return secrets.token_urlsafe(nbytes)


def hash_token(token: str) -> str:
    """What the database keeps of a token. The token has full entropy, so a plain SHA-256 is
    enough (no salt or work factor needed, unlike passwords); a stolen table reveals nothing
    usable (polar `kit/crypto.py` does the same)."""
    return hashlib.sha256(token.encode()).hexdigest()


def derive_key(master_key_hex: str, purpose: str) -> bytes:
    """A 256-bit key for one purpose, derived from ENCRYPTION_KEY with HKDF (RFC 5869), so one
    master key never encrypts two kinds of data directly."""
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=f"empulse:{purpose}".encode()
    ).derive(bytes.fromhex(master_key_hex))


def sign(key: bytes, message: str) -> str:
    digest = hmac.new(key, message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def constant_time_equals(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


class Sealer:
    """AES-256-GCM with a random 96-bit nonce; the associated data binds a ciphertext to its
    context (a row id, a job kind), so it cannot be moved to another."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, plaintext: bytes, associated_data: bytes) -> str:
        nonce = os.urandom(12)
        ciphertext = self._aead.encrypt(nonce, plaintext, associated_data)
        return base64.urlsafe_b64encode(nonce + ciphertext).decode()

    def open(self, sealed: str, associated_data: bytes) -> bytes:
        raw = base64.urlsafe_b64decode(sealed.encode())
        return self._aead.decrypt(raw[:12], raw[12:], associated_data)
