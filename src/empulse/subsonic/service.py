"""Who may use the Subsonic API: app passwords and API keys, and checking them on every call.

The account's own password is never accepted by /rest: Subsonic's token authentication sends
`md5(password + salt)`, which only a server that can read the password can check, and the
account password stays an argon2id hash. Player apps get generated app passwords instead, kept
encrypted (`AppPassword`), or API keys (the `apiKeyAuthentication` extension), kept as hashes.

A check that the database answered is remembered by this process (`SessionCache`) under the
account's id until SESSION_CACHE_SECONDS pass or the id is revoked: revoking an app password
or a key, a password change or reset, disabling or deleting the account announce that id to
every process (over Redis when configured), so it stops working everywhere at once. Players
pick a new salt for every call, so what is remembered is the account's app passwords, and each
call's token is computed against them (microseconds, no database). Checks that go to the
database count against `subsonic_auth` per address and per account: a player's first call,
and every wrong password.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from empulse.accounts import repository as accounts
from empulse.audit import service as audit
from empulse.audit.service import RequestMeta
from empulse.auth.service import announce_revoked
from empulse.core.crypto import DecryptionError, FieldCipher, hash_token, new_token
from empulse.core.db import session_scope, utcnow
from empulse.core.emails import InvalidEmailError, email_key
from empulse.core.errors import AppError, NotFound
from empulse.core.logging import get_logger
from empulse.models import ApiKey, AppPassword, User
from empulse.models.user import UserCredentials
from empulse.services import Services
from empulse.subsonic import repository
from empulse.subsonic.envelope import Code, SubsonicError

log = get_logger("empulse.subsonic")

# Each check decrypts the account's app passwords: their number is bounded.
MAX_CREDENTIALS = 20
_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"  # no 0/o, 1/l: typed into a phone by hand
API_KEY_PREFIX = "emp_"


class TooManyCredentials(AppError):
    status = 409
    code = "too_many_credentials"
    title = "Too many app passwords or keys"


@dataclass(frozen=True, slots=True)
class Caller:
    """The account a /rest call acts for."""

    user_id: uuid.UUID
    email: str
    name: str
    role: str


@dataclass(frozen=True, slots=True)
class _Account:
    caller: Caller
    verified: bool
    disabled: bool
    # (app password id, the password), to check each call's token against.
    secrets: tuple[tuple[uuid.UUID, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a /rest call presented: `u` with `p` or `t`+`s`, or `apiKey` alone."""

    username: str | None = None
    password: str | None = None
    token: str | None = None
    salt: str | None = None
    api_key: str | None = None


def new_app_password() -> str:
    """24 characters in groups of four (120 bits), easy to type into a player."""
    chars = "".join(secrets.choice(_ALPHABET) for _ in range(24))
    return "-".join(chars[i : i + 4] for i in range(0, 24, 4))


def _user_key(username: str) -> str:
    return f"subsonic-user:{email_key(username)}"


def _api_key_key(key_hash: str) -> str:
    return f"subsonic-key:{key_hash}"


async def _make_room(
    session: AsyncSession, model: type[AppPassword] | type[ApiKey], user_id: uuid.UUID
) -> None:
    if not await accounts.lock_referenced(session, user_id):
        raise NotFound("No such user.")
    if await repository.count_credentials(session, model, user_id) >= MAX_CREDENTIALS:
        raise TooManyCredentials(
            f"An account has at most {MAX_CREDENTIALS} of these; revoke one you no longer use."
        )


async def create_app_password(
    session: AsyncSession,
    cipher: FieldCipher,
    meta: RequestMeta,
    user_id: uuid.UUID,
    name: str,
) -> tuple[AppPassword, str]:
    """The new app password's row, and the password (shown once, never again)."""
    await _make_room(session, AppPassword, user_id)
    password = new_app_password()
    row_id = uuid.uuid4()
    ciphertext = cipher.encrypt(password.encode(), str(row_id))
    row = AppPassword(
        id=row_id,
        user_id=user_id,
        name=name,
        secret_ciphertext=ciphertext,
        key_id=FieldCipher.key_id_of(ciphertext),
        created_at=utcnow(),
    )
    session.add(row)
    audit.record(session, "app_password_created", meta, user_id=user_id, credential=str(row_id))
    await session.flush()
    return row, password


async def create_api_key(
    session: AsyncSession, meta: RequestMeta, user_id: uuid.UUID, name: str
) -> tuple[ApiKey, str]:
    await _make_room(session, ApiKey, user_id)
    key = API_KEY_PREFIX + new_token(32)
    row = ApiKey(user_id=user_id, name=name, key_hash=hash_token(key), created_at=utcnow())
    session.add(row)
    await session.flush()
    audit.record(session, "api_key_created", meta, user_id=user_id, credential=str(row.id))
    return row, key


async def revoke(
    session: AsyncSession,
    services: Services,
    meta: RequestMeta,
    model: type[AppPassword] | type[ApiKey],
    user_id: uuid.UUID,
    credential_id: uuid.UUID,
) -> None:
    """Stops working on every process once this commits (404 when it is not the caller's)."""
    if not await repository.delete_credential(session, model, user_id, credential_id):
        raise NotFound("No such app password or key.")
    event = "app_password_revoked" if model is AppPassword else "api_key_revoked"
    audit.record(session, event, meta, user_id=user_id, credential=str(credential_id))
    announce_revoked(session, services, [user_id])


# --- checking a call ------------------------------------------------------------------------


def _token_matches(password: str, credentials: Credentials) -> bool:
    if credentials.token is not None and credentials.salt is not None:
        # The protocol's own construction (Subsonic 1.13): md5 is what clients send.
        expected = hashlib.md5(
            (password + credentials.salt).encode(), usedforsecurity=False
        ).hexdigest()
        return hmac.compare_digest(expected, credentials.token.lower())
    if credentials.password is not None:
        return hmac.compare_digest(password.encode(), credentials.password.encode())
    return False


def _matching(account: _Account, credentials: Credentials) -> uuid.UUID | None:
    for credential_id, password in account.secrets:
        if _token_matches(password, credentials):
            return credential_id
    return None


def _state_refusal(account: _Account) -> tuple[str, SubsonicError] | None:
    """Why the account may not call now, if it may not: disabled (40, as a wrong password:
    nothing said about the account) or its address unconfirmed (50)."""
    if account.disabled:
        return "disabled", SubsonicError(Code.WRONG_CREDENTIALS, "Wrong username or password")
    if not account.verified:
        return "unverified", SubsonicError(Code.NOT_AUTHORIZED, "Confirm your email address first")
    return None


def _admitted(account: _Account) -> Caller:
    refusal = _state_refusal(account)
    if refusal is not None:
        raise refusal[1]
    return account.caller


async def _refuse(
    services: Services,
    meta: RequestMeta,
    reason: str,
    error: SubsonicError,
    user_id: uuid.UUID | None = None,
) -> SubsonicError:
    async with session_scope(services.sessionmaker) as session:
        audit.record(session, "subsonic_auth_failed", meta, user_id=user_id, reason=reason)
    log.info("subsonic_auth_failed", reason=reason, user_id=str(user_id) if user_id else None)
    return error


def _account_of(user: User | UserCredentials, found: tuple[tuple[uuid.UUID, str], ...]) -> _Account:
    return _Account(
        caller=Caller(user.id, user.email, user.name, user.role),
        verified=user.email_verified_at is not None,
        disabled=user.disabled_at is not None,
        secrets=found,
    )


async def cached_caller(services: Services, credentials: Credentials) -> Caller | None:
    """The caller, when this process has checked these credentials' account recently and
    nothing was revoked since; None when the database must be asked."""
    cache = services.session_cache
    if credentials.api_key is not None:
        account: _Account | None = cache.known_credential(
            _api_key_key(hash_token(credentials.api_key))
        )
        return _admitted(account) if account is not None else None
    assert credentials.username is not None
    try:
        account = cache.known_credential(_user_key(credentials.username))
    except InvalidEmailError:
        return None
    if account is None or _matching(account, credentials) is None:
        return None
    return _admitted(account)


async def checked_caller(services: Services, meta: RequestMeta, credentials: Credentials) -> Caller:
    """The caller, as the database says now; every refusal is audit-logged."""
    if credentials.api_key is not None:
        return await _check_api_key(services, meta, credentials.api_key)
    assert credentials.username is not None
    wrong = SubsonicError(Code.WRONG_CREDENTIALS, "Wrong username or password")
    try:
        key = _user_key(credentials.username)
    except InvalidEmailError:
        raise await _refuse(services, meta, "unknown_user", wrong) from None
    user = await accounts.credentials_by_email(services.read_engine, credentials.username)
    if user is None:
        raise await _refuse(services, meta, "unknown_user", wrong)
    async with services.read_sessionmaker() as read:
        rows = await repository.app_passwords_of(read, user.id)
    found = []
    for row in rows:
        try:
            secret = services.app_password_cipher.decrypt(row.secret_ciphertext, str(row.id))
        except DecryptionError as exc:
            log.error("app_password_undecryptable", credential=str(row.id), error=str(exc))
            continue
        found.append((row.id, secret.decode()))
    account = _account_of(user, tuple(found))
    matched = _matching(account, credentials)
    if matched is None:
        raise await _refuse(services, meta, "wrong_password", wrong, user.id)
    refusal = _state_refusal(account)
    if refusal is not None:
        raise await _refuse(services, meta, refusal[0], refusal[1], user.id)
    services.session_cache.remember_credential(key, user.id, account)
    async with session_scope(services.sessionmaker) as session:
        await repository.mark_used(session, AppPassword, matched, utcnow())
    return account.caller


async def _check_api_key(services: Services, meta: RequestMeta, api_key: str) -> Caller:
    key_hash = hash_token(api_key)
    async with services.read_sessionmaker() as read:
        row = await repository.api_key_by_hash(read, key_hash)
        user = await read.get(User, row.user_id) if row is not None else None
    if row is None or user is None:
        error = SubsonicError(Code.INVALID_API_KEY, "Invalid API key")
        raise await _refuse(services, meta, "unknown_api_key", error)
    account = _account_of(user, ())
    refusal = _state_refusal(account)
    if refusal is not None:
        raise await _refuse(services, meta, refusal[0], refusal[1], user.id)
    services.session_cache.remember_credential(_api_key_key(key_hash), user.id, account)
    async with session_scope(services.sessionmaker) as session:
        await repository.mark_used(session, ApiKey, row.id, utcnow())
    return account.caller
