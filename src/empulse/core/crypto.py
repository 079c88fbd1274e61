"""Secrets made and kept: random tokens, their stored hashes, sealed payloads, encrypted fields."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets

from cryptography.exceptions import InvalidTag
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
    context (a row id, a job kind), so it cannot be moved to another.

    Seals under the first key; opens under any of them, so what was sealed before a key
    rotation (a queued email job) still opens while the older key is configured."""

    def __init__(self, key: bytes, older: list[bytes] | None = None) -> None:
        self._aead = AESGCM(key)
        self._older = [AESGCM(k) for k in older or []]

    def seal(self, plaintext: bytes, associated_data: bytes) -> str:
        nonce = os.urandom(12)
        ciphertext = self._aead.encrypt(nonce, plaintext, associated_data)
        return base64.urlsafe_b64encode(nonce + ciphertext).decode()

    def open(self, sealed: str, associated_data: bytes) -> bytes:
        raw = base64.urlsafe_b64decode(sealed.encode())
        for aead in (self._aead, *self._older):
            try:
                return aead.decrypt(raw[:12], raw[12:], associated_data)
            except InvalidTag:
                continue
        raise InvalidTag


class DecryptionError(Exception):
    """A field ciphertext that is corrupt, moved to another row, or under an unknown key."""


_FIELD_FORMAT = 1


def key_id(master_key_hex: str) -> str:
    """A short public name for a key (8 hex chars), derived one-way so it reveals nothing."""
    return derive_key(master_key_hex, "key-id")[:4].hex()


class FieldCipher:
    """Field encryption for data at rest (SECURITY.md "Sensitive data"): AES-256-GCM with a
    96-bit random nonce, the key's id stored in the ciphertext so older keys still decrypt
    during a rotation, and the row's id as associated data, so a ciphertext copied into
    another row does not decrypt.

    Layout: format (1 byte) | key id (4 bytes) | nonce (12 bytes) | ciphertext and GCM tag.
    The format byte and key id are authenticated too (they are part of the associated data).
    """

    def __init__(self, purpose: str, current_key_hex: str, older_keys_hex: list[str]) -> None:
        self.purpose = purpose
        self.current_key_id = key_id(current_key_hex)
        self._keys: dict[bytes, AESGCM] = {}
        for master in [current_key_hex, *older_keys_hex]:
            self._keys.setdefault(
                bytes.fromhex(key_id(master)), AESGCM(derive_key(master, f"field:{purpose}"))
            )

    @property
    def known_key_ids(self) -> list[str]:
        """The current key's id first, then the older keys' ids."""
        return [key.hex() for key in self._keys]

    def _associated(self, header: bytes, row_id: str) -> bytes:
        return header + f"{self.purpose}:{row_id}".encode()

    def encrypt(self, plaintext: bytes, row_id: str) -> bytes:
        header = bytes([_FIELD_FORMAT]) + bytes.fromhex(self.current_key_id)
        nonce = os.urandom(12)
        aead = self._keys[header[1:5]]
        return header + nonce + aead.encrypt(nonce, plaintext, self._associated(header, row_id))

    def decrypt(self, blob: bytes, row_id: str) -> bytes:
        if len(blob) < 1 + 4 + 12 + 16 or blob[0] != _FIELD_FORMAT:
            raise DecryptionError("not a field ciphertext")
        header, nonce, body = blob[:5], blob[5:17], blob[17:]
        aead = self._keys.get(header[1:5])
        if aead is None:
            raise DecryptionError(f"encrypted under unknown key {header[1:5].hex()}")
        try:
            return aead.decrypt(nonce, body, self._associated(header, row_id))
        except InvalidTag as exc:
            raise DecryptionError("ciphertext does not authenticate") from exc

    @staticmethod
    def key_id_of(blob: bytes) -> str:
        return blob[1:5].hex()


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def public_id(prefix: str, length: int = 10) -> str:
    """A human-readable id such as `APP-7K3M9Q2XRT`: 50 bits from the CSPRNG (not a clock or a
    counter, so ids reveal neither volume nor timing), in Crockford's base32 (no I, L, O, U)."""
    return f"{prefix}-" + "".join(secrets.choice(_CROCKFORD) for _ in range(length))
