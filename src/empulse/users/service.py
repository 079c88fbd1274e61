"""Rules about accounts: admins made from the CLI, changes made by admins and by the user
(the email address), the data export, deletion."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from empulse.accounts import repository as accounts
from empulse.artists import repository as artists
from empulse.audit import repository as audit_repository
from empulse.audit import service as audit
from empulse.audit.service import RequestMeta
from empulse.auth import emails
from empulse.auth import repository as auth_repository
from empulse.auth.schemas import UserOut
from empulse.auth.service import (
    InvalidCredentials,
    InvalidToken,
    announce_revoked,
    confirm_password,
    link_for_account,
)
from empulse.core.crypto import hash_token
from empulse.core.db import keep_despite_refusal, utcnow
from empulse.core.emails import typed_address
from empulse.core.errors import Conflict, NotFound, ValidationFailed
from empulse.core.passwords import check_password_policy, hash_password
from empulse.infra.email import enqueue_email, mask_address
from empulse.models import DEFAULT_PRIVACY, TokenPurpose, User, UserRole
from empulse.services import Services
from empulse.users import repository
from empulse.users.schemas import (
    Export,
    ExportedEvent,
    ExportedSession,
    PrivacyPreferences,
    export_schema,
)


@dataclass(frozen=True, slots=True)
class AdminResult:
    user: User
    created: bool


async def create_or_promote_admin(
    session: AsyncSession, *, email: str, password: str | None, name: str | None = None
) -> AdminResult:
    """Make `email` an admin: promote the existing user, or create a verified admin account.

    There is no default admin: this (through `empulse create-admin`) is the only way to make
    the first one (SECURITY.md "Passwords and login"). Never commits.
    """
    existing = await accounts.get_by_email(session, email)
    if existing is not None:
        existing.role = UserRole.ADMIN.value
        if password:
            check_password_policy(password, user_inputs=[existing.email, existing.name])
            existing.password_hash = hash_password(password)
        await session.flush()
        return AdminResult(existing, created=False)
    if not password:
        raise ValueError("a new admin account needs a password")
    user = await create_verified_user(
        session, email=email, password=password, name=name, role=UserRole.ADMIN
    )
    return AdminResult(user, created=True)


async def create_verified_user(
    session: AsyncSession,
    *,
    email: str,
    password: str,
    name: str | None = None,
    role: UserRole = UserRole.USER,
) -> User:
    """An account whose address counts as confirmed, for operators' tools (the CLI, demo data);
    the password policy applies as it does to everyone. Never commits."""
    address = typed_address(email)
    display_name = name or address.split("@", 1)[0]
    check_password_policy(password, user_inputs=[address, display_name])
    user = repository.add(
        session,
        User(
            email=address,
            name=display_name[:100],
            password_hash=hash_password(password),
            role=role.value,
            email_verified_at=utcnow(),
        ),
    )
    await session.flush()
    return user


class OwnAccount(Conflict):
    code = "own_account"
    title = "Not your own account"


class NoArtistProfile(Conflict):
    code = "no_artist_profile"
    title = "No artist profile"


async def update_user(
    session: AsyncSession,
    services: Services,
    *,
    admin_id: uuid.UUID,
    user_id: uuid.UUID,
    role: str | None,
    disabled: bool | None,
    meta: RequestMeta,
) -> User:
    """An admin changes another user's role or disables the account (never their own: that
    would let the last admin lock everyone out). Disabling revokes every session, on every
    process once the change commits. Never commits."""
    if user_id == admin_id:
        raise OwnAccount("Another administrator changes your role or disables your account.")
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    revoked: list[uuid.UUID] = []
    changes: dict[str, object] = {}
    if role is not None and role != user.role:
        if role == UserRole.ARTIST.value and not await artists.artist_of_user(session, user.id):
            raise NoArtistProfile(
                "Artists are made by approving their application; this user has no profile."
            )
        changes["role"] = [user.role, role]
        user.role = role
    if disabled is not None and disabled != (user.disabled_at is not None):
        changes["disabled"] = disabled
        user.disabled_at = utcnow() if disabled else None
        if disabled:
            await session.flush()  # the user row first: see `auth.repository.record_sign_in`
            revoked = await auth_repository.revoke_sessions(session, user.id, "disabled")
            # The account's id too: its app passwords and keys stop on every process.
            announce_revoked(session, services, [*revoked, user.id])
    if changes:
        audit.record(
            session,
            "user_updated",
            meta,
            user_id=admin_id,
            target_user_id=str(user.id),
            sessions_revoked=len(revoked),
            **changes,
        )
    await session.flush()
    return user


async def confirm_password_or_refuse(
    session: AsyncSession,
    services: Services,
    meta: RequestMeta,
    user_id: uuid.UUID,
    password: str,
    *,
    failure_event: str,
) -> User:
    """The account, when `password` is its password; otherwise the refusal, whose audit record
    (`failure_event`) stands although the request fails."""
    user = await confirm_password(services, user_id, password)
    if user is None:
        audit.record(session, failure_event, meta, user_id=user_id)
        keep_despite_refusal(session)
        raise InvalidCredentials
    return user


async def delete_account(
    session: AsyncSession, services: Services, user: User, request_id: str | None
) -> None:
    """Delete the account, its sessions and tokens, its artist application, submissions and
    published releases (the database cascades), and, by a job that runs after the commit, every
    file it stored; its owner is emailed, and the audit log keeps its events without the link
    to the person. Its sessions stop working on every process once this commits. Never
    commits.

    The first write claims the row (`repository.claim_for_deletion`): a second deletion in
    flight waits for this one and then finds no account, and an upload finishing meanwhile
    cannot add files that the list below would miss. `user` is the account as it was when its
    password was confirmed: if the password changed since, nothing is deleted."""
    if not await repository.claim_for_deletion(session, user.id, user.credentials_version):
        if await session.get(User, user.id) is None:
            raise NotFound("No such user.")
        raise InvalidCredentials
    session_ids = await auth_repository.session_ids_of(session, user.id)
    for part in services.account_data:
        if part.before_deletion is not None:
            await part.before_deletion(session, services, user)
    enqueue_email(session, services.job_sealer, emails.account_deleted(user.email, user.name))
    await audit.forget_user(session, user.id)
    await repository.delete_user(session, user.id)
    audit.record(session, "account_deleted", RequestMeta(None, None, request_id))
    announce_revoked(session, services, [*session_ids, user.id])
    await session.flush()


def privacy_of(user: User) -> PrivacyPreferences:
    """The user's choices, with the defaults for any they never made."""
    return PrivacyPreferences.model_validate({**DEFAULT_PRIVACY, **(user.privacy or {})})


async def export(session: AsyncSession, services: Services, user: User) -> Export:
    """Everything stored about `user`, for the right of access and portability: the account,
    its sessions and security events, and each domain's part (`services.account_data`: the
    artist application as it was filled in, the profile it made, every release with links to
    its files). Tax ids stay masked: the download is open to anyone at the keyboard, and the
    full W-9 is the applicant's own paper."""
    parts = {part.key: await part.export(session, services, user) for part in services.account_data}
    return export_schema(services.account_data)(
        exported_at=utcnow(),
        user=UserOut.of(user),
        privacy_preferences=privacy_of(user),
        sessions=[
            ExportedSession.model_validate(row)
            for row in await auth_repository.sessions_of(session, user.id)
        ],
        security_events=[
            ExportedEvent.model_validate(event)
            for event in await audit_repository.events_of(session, user.id)
        ],
        **parts,
    )


class SameEmail(ValidationFailed):
    code = "same_email"


class EmailTaken(Conflict):
    code = "email_taken"
    title = "The address has an account"


async def request_email_change(
    session: AsyncSession, services: Services, meta: RequestMeta, user: User, new_email: str
) -> None:
    """Send a confirmation link to `new_email` (as typed); the address changes only when it
    is followed. The current address is told either way. An address that already has an
    account gets a notice instead of a link, and the caller sees no difference (no account
    enumeration). `user` was read when the password was confirmed; the link carries its
    credentials version, so a password change meanwhile kills it. Never commits."""
    if new_email == user.email:
        raise SameEmail("This is already your address.")
    # The same key is the user's own account: a correction of how the address is written
    # (an account from before addresses were kept as typed holds the folded form).
    holder = await accounts.get_by_email(session, new_email)
    if holder is not None and holder.id == user.id:
        holder = None
    if holder is not None:
        enqueue_email(
            session, services.job_sealer, emails.address_in_use(holder.email, holder.name)
        )
    else:
        url = await link_for_account(
            session, services, user, TokenPurpose.CHANGE_EMAIL, new_email=new_email
        )
        if url is None:  # the account was deleted meanwhile
            raise NotFound("No such user.")
        enqueue_email(session, services.job_sealer, emails.confirm_new_address(new_email, url))
    enqueue_email(
        session,
        services.job_sealer,
        emails.email_change_requested(user.email, user.name, mask_address(new_email)),
    )
    audit.record(
        session, "email_change_requested", meta, user_id=user.id, address_in_use=holder is not None
    )


async def confirm_email_change(
    session: AsyncSession, services: Services, meta: RequestMeta, token: str
) -> User:
    """Follow the link sent to the new address: the account signs in with it from now on, the
    address counts as verified (the link reached it), and every outstanding reset or
    verification link dies (sent to the old address, or made for the old credentials). The old
    address is told. The account is locked before the link is used, as in `verify_email`.
    Never commits."""
    token_hash = hash_token(token)
    found = await auth_repository.find_action_token(session, token_hash, TokenPurpose.CHANGE_EMAIL)
    if found is None or not await accounts.lock_referenced(session, found[0]):
        raise InvalidToken("This confirmation link is invalid, used or expired.")
    used = await auth_repository.consume_action_token(
        session, token_hash, TokenPurpose.CHANGE_EMAIL
    )
    user = await auth_repository.get_user(session, used.user_id) if used else None
    if (
        used is None
        or used.new_email is None
        or user is None
        or user.credentials_version != used.credentials_version
        or user.disabled_at is not None  # an administrator disabled it since the link was sent
    ):
        raise InvalidToken("This confirmation link is invalid, used or expired.")
    old_email = user.email
    user.email = used.new_email
    user.email_verified_at = utcnow()
    user.credentials_version += 1
    try:
        await session.flush()
    except IntegrityError as exc:  # another account took the address since the link was sent
        raise EmailTaken("Another account uses this address now.") from exc
    enqueue_email(
        session,
        services.job_sealer,
        emails.email_changed(old_email, user.name, mask_address(user.email)),
    )
    audit.record(session, "email_changed", meta, user_id=user.id)
    return user
