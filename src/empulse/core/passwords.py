"""Password hashing (argon2id) and the password policy (SECURITY.md "Passwords and login")."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from zxcvbn import zxcvbn

from empulse.core import metrics

# OWASP Password Storage Cheat Sheet, argon2id minimum: m=19 MiB, t=2, p=1.
HASHER = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1, hash_len=32, salt_len=16)

MIN_LENGTH = 8
MAX_LENGTH = 128
# zxcvbn scores 0-4; 3 is "safely unguessable: moderate protection from offline attacks".
MIN_SCORE = 3
# zxcvbn refuses longer input (its matching grows faster than linearly: ~15 ms of CPU at 72
# characters, ~75 ms at 128), so a longer passphrase is judged by its first 72 characters.
SCORED_LENGTH = 72


class WeakPasswordError(ValueError):
    """The password breaks the policy; the message says why, for the user."""


def check_password_policy(password: str, *, user_inputs: list[str] | None = None) -> None:
    """Length 8-128 characters of any Unicode, and not guessable: no composition rules. Over
    72 characters, the first 72 must be strong on their own."""
    if len(password) < MIN_LENGTH:
        raise WeakPasswordError(f"Use at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        raise WeakPasswordError(f"Use at most {MAX_LENGTH} characters.")
    inputs = [value for value in user_inputs or [] if value]
    result = zxcvbn(password[:SCORED_LENGTH], user_inputs=inputs, max_length=SCORED_LENGTH)
    if result["score"] < MIN_SCORE:
        feedback = result.get("feedback") or {}
        hint = feedback.get("warning") or "This password is too easy to guess."
        suggestions = " ".join(feedback.get("suggestions") or [])
        raise WeakPasswordError(f"{hint} {suggestions}".strip())


_HASHING = metrics.PASSWORD_HASHING.labels("hash")
_VERIFYING = metrics.PASSWORD_HASHING.labels("verify")


def hash_password(password: str) -> str:
    with _HASHING.time():
        return HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    with _VERIFYING.time():
        try:
            return HASHER.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


def needs_rehash(password_hash: str) -> bool:
    return HASHER.check_needs_rehash(password_hash)
